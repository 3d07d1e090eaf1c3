/**
 * Emits sha256x4.wat: 4-lane SHA-256 (i32x4 lanes, one message per lane) with the SigV4 presign
 * chain (canonical request → string-to-sign HMAC inner → HMAC outer → hex) in one call, and the
 * part-number tails it hashes. Rounds are unrolled here because WAT has no macros. Run by build.sh:
 * `tsx emit-wat.ts > sha256x4.wat`.
 *
 * Memory layout (bytes, layout.ts): midstates A/B/C at 0/32/64 (8 native i32 words each), stsRest
 * at 128 (< 64 bytes), scratch state at 256 (8 v128), message block at 384 (16 v128), per-lane
 * string-to-sign buffers at 640 (4 × 192), part numbers at 4096; callers put tails and outputs at
 * 8192 and above.
 */

import { layout as L } from './layout.ts';

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
];

const out: string[] = [];
const emit = (line: string): void => {
  out.push(line);
};

const splat = (x: number): string => `(v128.const i32x4 ${x | 0} ${x | 0} ${x | 0} ${x | 0})`;
// x << n as a multiply where `mul`: V8 issues vector shifts on one port and JSC spends two cycles
// on each, so moving some left shifts to the multiplier measured ~15% faster on Bun, same on Node.
const shl = (x: string, n: number, mul: boolean): string =>
  mul ? `(i32x4.mul ${x} ${splat(2 ** n)})` : `(i32x4.shl ${x} (i32.const ${n}))`;
/**
 * SHA-256's Σ/σ: the xor of x rotated right by each of `rotations` ([n, left shift as multiply])
 * and, for σ, shifted right by `shift`. One left-to-right xor chain of the shifts (rather than
 * or-ing each rotation first) keeps fewer vectors live: ~6% faster on Node.
 */
const sigma = (x: string, rotations: [number, boolean][], shift?: number): string => {
  const terms = rotations.flatMap(([n, mul]) => [`(i32x4.shr_u ${x} (i32.const ${n}))`, shl(x, 32 - n, mul)]);
  if (shift !== undefined) terms.push(`(i32x4.shr_u ${x} (i32.const ${shift}))`);
  return terms.reduce((acc, t) => `(v128.xor ${acc} ${t})`);
};
const add = (...xs: string[]): string => xs.reduce((acc, x) => `(i32x4.add ${acc} ${x})`);
const get = (name: string): string => `(local.get $${name})`;

// The message schedule runs in place in BLOCK (a ring of 16 words) rather than in 16 locals:
// fewer live vectors than registers (spills) measured ~20% faster on Bun, same on Node.
const word = (j: number): string => `(v128.load offset=${L.block + 16 * (j % 16)} (i32.const 0))`;
function emitScheduleWord(t: number): void {
  if (t < 16) {
    emit(`    (local.set $w ${word(t)})`);
    return;
  }
  emit(`    (local.set $t1 ${word(t - 15)})`);
  emit(`    (local.set $t2 ${word(t - 2)})`);
  const s0 = sigma(get('t1'), [[7, false], [18, false]], 3);
  const s1 = sigma(get('t2'), [[17, false], [19, false]], 10);
  emit(`    (local.set $w ${add(word(t), s0, word(t - 7), s1)})`);
  // w[t] is read again up to round t + 2 ≤ 63.
  if (t <= 61) emit(`    (v128.store offset=${L.block + 16 * (t % 16)} (i32.const 0) (local.get $w))`);
}

// compress: STATE (8 v128) += rounds over BLOCK (16 v128 message words, already lane-transposed;
// clobbered). compressExpanded(kw): the same rounds with K[t] + w[t] already at kw + 16t (expand).
function emitCompress(expanded: boolean): void {
  emit(expanded ? '  (func $compressExpanded (param $kw i32)' : '  (func $compress');
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  emit(`    ${[...names, 't1', 't2', 'w'].map((n) => `(local $${n} v128)`).join(' ')}`);
  for (let i = 0; i < 8; i++) emit(`    (local.set $${names[i]} (v128.load offset=${L.state + 16 * i} (i32.const 0)))`);
  let n = [...names];
  for (let t = 0; t < 64; t++) {
    if (!expanded) emitScheduleWord(t);
    const [a, b, c, d, e, f, g, h] = n as [string, string, string, string, string, string, string, string];
    const S1 = sigma(get(e), [[6, true], [11, false], [25, true]]);
    const ch = `(v128.bitselect ${get(f)} ${get(g)} ${get(e)})`;
    const kw = expanded ? `(v128.load offset=${16 * t} (local.get $kw))` : add(splat(K[t]!), get('w'));
    emit(`    (local.set $t1 ${add(get(h), S1, ch, kw)})`);
    const S0 = sigma(get(a), [[2, false], [13, true], [22, false]]);
    const maj = `(v128.bitselect ${get(c)} ${get(b)} (v128.xor ${get(a)} ${get(b)}))`;
    emit(`    (local.set $t2 ${add(S0, maj)})`);
    // Rename instead of moving: the new e lives in d's local, the new a in h's.
    emit(`    (local.set $${d} (i32x4.add ${get(d)} ${get('t1')}))`);
    emit(`    (local.set $${h} (i32x4.add ${get('t1')} ${get('t2')}))`);
    n = [h, a, b, c, d, e, f, g];
  }
  for (let i = 0; i < 8; i++) {
    const addr = L.state + 16 * i;
    emit(`    (v128.store offset=${addr} (i32.const 0) (i32x4.add (v128.load offset=${addr} (i32.const 0)) ${get(n[i]!)}))`);
  }
  emit('  )');
}

// expand(kw): K[t] + w[t] of BLOCK's message schedule at kw + 16t (1 KiB), for compressExpanded.
function emitExpand(): void {
  emit('  (func $expand (param $kw i32)');
  emit('    (local $t1 v128) (local $t2 v128) (local $w v128)');
  for (let t = 0; t < 64; t++) {
    emitScheduleWord(t);
    emit(`    (v128.store offset=${16 * t} (local.get $kw) (i32x4.add (local.get $w) ${splat(K[t]!)}))`);
  }
  emit('  )');
}

// bswap32 of every lane, as a byte shuffle.
const bswap = (x: string): string => `(i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 ${x} ${x})`;

// loadBlock(ptr, stride): BLOCK[j] lane i = big-endian word j of the 64 bytes at ptr + i*stride.
function emitLoadBlock(): void {
  emit('  (func $loadBlock (param $p i32) (param $stride i32)');
  emit('    (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)');
  emit('    (local.set $p1 (i32.add (local.get $p) (local.get $stride)))');
  emit('    (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))');
  emit('    (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))');
  // Words 4g…4g+3 of the four lanes: a 4×4 transpose of one 16-byte row per lane (shuffles that
  // compile to single unpack instructions), then each word to big-endian.
  const row = (ptr: string, g: number) => `(v128.load offset=${16 * g} align=1 (local.get ${ptr}))`;
  const unpack = {
    lo32: '0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23',
    hi32: '8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31',
    lo64: '0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23',
    hi64: '8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31',
  };
  for (let g = 0; g < 4; g++) {
    emit(`    (local.set $t0 (i8x16.shuffle ${unpack.lo32} ${row('$p', g)} ${row('$p1', g)}))`);
    emit(`    (local.set $t1 (i8x16.shuffle ${unpack.lo32} ${row('$p2', g)} ${row('$p3', g)}))`);
    emit(`    (local.set $t2 (i8x16.shuffle ${unpack.hi32} ${row('$p', g)} ${row('$p1', g)}))`);
    emit(`    (local.set $t3 (i8x16.shuffle ${unpack.hi32} ${row('$p2', g)} ${row('$p3', g)}))`);
    const words = [
      ['lo64', '$t0', '$t1'],
      ['hi64', '$t0', '$t1'],
      ['lo64', '$t2', '$t3'],
      ['hi64', '$t2', '$t3'],
    ] as const;
    words.forEach(([half, x, y], j) => {
      const word = `(i8x16.shuffle ${unpack[half]} (local.get ${x}) (local.get ${y}))`;
      emit(`    (v128.store offset=${L.block + 16 * (4 * g + j)} (i32.const 0) ${bswap(word)})`);
    });
  }
  emit('  )');
}

// hexState(dst, stride): 64 lowercase hex chars of STATE for lane i at dst + i*stride.
function emitHexState(): void {
  emit('  (func $hexState (param $p i32) (param $stride i32)');
  emit('    (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $x v128) (local $hi v128) (local $lo v128) (local $v1 v128) (local $v2 v128)');
  emit('    (local.set $p1 (i32.add (local.get $p) (local.get $stride)))');
  emit('    (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))');
  emit('    (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))');
  const table = '(v128.const i8x16 48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102)';
  const ptrs = ['$p', '$p1', '$p2', '$p3'];
  for (let k = 0; k < 8; k++) {
    emit(`    (local.set $x (v128.load offset=${L.state + 16 * k} (i32.const 0)))`);
    emit(`    (local.set $hi (i8x16.swizzle ${table} (v128.and (i32x4.shr_u (local.get $x) (i32.const 4)) ${splat(0x0f0f0f0f)})))`);
    emit(`    (local.set $lo (i8x16.swizzle ${table} (v128.and (local.get $x) ${splat(0x0f0f0f0f)})))`);
    // Lane i's 8 hex characters of word k: hi/lo nibble of byte 3 (most significant) down to byte 0.
    const lane = (i: number) => [3, 2, 1, 0].flatMap((byte) => [4 * i + byte, 16 + 4 * i + byte]);
    emit(`    (local.set $v1 (i8x16.shuffle ${[...lane(0), ...lane(1)].join(' ')} (local.get $hi) (local.get $lo)))`);
    emit(`    (local.set $v2 (i8x16.shuffle ${[...lane(2), ...lane(3)].join(' ')} (local.get $hi) (local.get $lo)))`);
    for (let i = 0; i < 4; i++) {
      emit(`    (v128.store64_lane offset=${8 * k} align=1 ${i & 1} (local.get ${ptrs[i]}) (local.get ${i < 2 ? '$v1' : '$v2'}))`);
    }
  }
  emit('  )');
}

function emitModule(): string {
  emit(';; Generated by emit-wat.ts: do not edit, run build.sh.');
  emit('(module');
  emit('  (memory (export "memory") 2)');
  emitCompress(false);
  emitCompress(true);
  emitExpand();
  emitLoadBlock();
  emitHexState();
  emit(`  ;; splatState(mid): STATE = the 8-word midstate at mid, in every lane.
  (func $splatState (param $mid i32)
${Array.from({ length: 8 }, (_, k) => `    (v128.store offset=${L.state + 16 * k} (i32.const 0) (v128.load32_splat offset=${4 * k} (local.get $mid)))`).join('\n')}
  )
  ;; blocks(dataLen): 64-byte blocks of dataLen bytes plus SHA-256 padding.
  (func $blocks (param $len i32) (result i32)
    (i32.shr_u (i32.add (local.get $len) (i32.const 72)) (i32.const 6))
  )
  ;; pad(p, dataLen, totalLen): 0x80, zeros and the big-endian bit length of totalLen after dataLen bytes at p.
  ;; Plain stores rather than memory.fill, which V8 runs as a call out to C (measurably slower per lane).
  (func $pad (param $p i32) (param $len i32) (param $total i32)
    (local $end i32) (local $q i32) (local $bits i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (call $blocks (local.get $len)) (i32.const 6))))
    ;; The 16-byte chunk holding the tail's end keeps its first len % 16 bytes; later chunks are zeroed.
    (local.set $q (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -16))))
    (v128.store align=1 (local.get $q) (v128.and (v128.load align=1 (local.get $q))
      (i8x16.gt_u (i8x16.splat (i32.and (local.get $len) (i32.const 15))) (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15))))
    (block $done (loop $next
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br_if $done (i32.ge_u (local.get $q) (local.get $end)))
      (v128.store align=1 (local.get $q) (v128.const i32x4 0 0 0 0))
      (br $next)))
    (i32.store8 (i32.add (local.get $p) (local.get $len)) (i32.const 0x80))
    ;; Bit lengths past 2^32 never occur here (prefixes are a few KiB).
    (local.set $bits (i32.shl (local.get $total) (i32.const 3)))
    (i32.store (i32.sub (local.get $end) (i32.const 4)) (i32x4.extract_lane 0 ${bswap('(i32x4.splat (local.get $bits))')}))
  )
  ;; hashLanes(p, stride, n): compress n blocks of each lane's buffer (lane i at p + i*stride) into STATE.
  (func $hashLanes (param $p i32) (param $stride i32) (param $n i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      (call $loadBlock (local.get $p) (local.get $stride))
      (call $compress)
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next)))
  )
  ;; sha256x4(mid, prefixLen, tails, tailLen, out): SHA-256 of 4 messages = the prefixLen bytes behind
  ;; midstate mid + tailLen bytes at tails + i*stride (stride = blocks(tailLen)*64, padding written
  ;; here); 64 hex chars per lane at out + 64*i.
  (func (export "sha256x4") (param $mid i32) (param $prefixLen i32) (param $tails i32) (param $tailLen i32) (param $out i32)
    (local $stride i32) (local $i i32)
    (local.set $stride (i32.shl (call $blocks (local.get $tailLen)) (i32.const 6)))
    (block $done (loop $next
      (br_if $done (i32.eq (local.get $i) (i32.const 4)))
      (call $pad (i32.add (local.get $tails) (i32.mul (local.get $i) (local.get $stride))) (local.get $tailLen) (i32.add (local.get $prefixLen) (local.get $tailLen)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $splatState (local.get $mid))
    (call $hashLanes (local.get $tails) (local.get $stride) (call $blocks (local.get $tailLen)))
    (call $hexState (local.get $out) (i32.const 64))
  )
  ;; writeTails(n, tails, tailLen, numbers, digitsAt, digits): presignChain's tails for part numbers.
  ;; Lane 0's tail is the template; every other lane (up to n rounded up to 4) gets a copy of it,
  ;; then lane i < n gets the i32 at numbers + 4*i written as "digits" (>= 1) decimal digits at digitsAt.
  (func (export "writeTails") (param $n i32) (param $tails i32) (param $tailLen i32) (param $numbers i32) (param $digitsAt i32) (param $digits i32)
    (local $stride i32) (local $lanes i32) (local $i i32) (local $p i32) (local $v i32) (local $q i32)
    (local.set $stride (i32.shl (call $blocks (local.get $tailLen)) (i32.const 6)))
    (local.set $lanes (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)))
    ;; Copies in 16-byte chunks (no memory.copy: a call out to C in V8); a chunk may run past
    ;; tailLen but not past the slot, and presignChain pads over it.
    (local.set $i (i32.const 1))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $lanes)))
      (local.set $p (i32.add (local.get $tails) (i32.mul (local.get $i) (local.get $stride))))
      (local.set $q (i32.const 0))
      (block $copied (loop $chunk
        (br_if $copied (i32.ge_u (local.get $q) (local.get $tailLen)))
        (v128.store align=1 (i32.add (local.get $p) (local.get $q)) (v128.load align=1 (i32.add (local.get $tails) (local.get $q))))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $chunk)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $v (i32.load (i32.add (local.get $numbers) (i32.shl (local.get $i) (i32.const 2)))))
      ;; p = one past the last digit; digits are written backwards.
      (local.set $p (i32.add (i32.add (local.get $tails) (i32.mul (local.get $i) (local.get $stride))) (i32.add (local.get $digitsAt) (local.get $digits))))
      (loop $digit
        (local.set $p (i32.sub (local.get $p) (i32.const 1)))
        (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
        (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
        (br_if $digit (i32.gt_u (local.get $p) (i32.add (i32.add (local.get $tails) (i32.mul (local.get $i) (local.get $stride))) (local.get $digitsAt)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  )
  ;; presignChain(n, tails, tailLen, varBlocks, prefixLenA, stsRestLen, prefixLenB, out, kw): for each
  ;; lane i < n (rounded up to 4), h1 = SHA-256(A-prefix ‖ tail_i), inner = SHA-256(B-prefix ‖ stsRest
  ;; ‖ hex(h1)), sig = SHA-256(C-prefix (64 bytes) ‖ inner); hex(sig) at out + 64*i. Tails as in
  ;; sha256x4. Tail blocks from varBlocks on must be the same in every lane: their message schedule
  ;; is expanded once, into 1 KiB per block at kw.
  (func (export "presignChain") (param $n i32) (param $tails i32) (param $tailLen i32) (param $varBlocks i32) (param $prefixLenA i32) (param $stsRestLen i32) (param $prefixLenB i32) (param $out i32) (param $kw i32)
    (local $stride i32) (local $i i32) (local $lanes i32) (local $tailBlocks i32) (local $stsBlocks i32) (local $p i32)
    (local.set $tailBlocks (call $blocks (local.get $tailLen)))
    (local.set $stride (i32.shl (local.get $tailBlocks) (i32.const 6)))
    (local.set $lanes (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $lanes)))
      (call $pad (i32.add (local.get $tails) (i32.mul (local.get $i) (local.get $stride))) (local.get $tailLen) (i32.add (local.get $prefixLenA) (local.get $tailLen)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    ;; Per-lane string-to-sign buffers: stsRest ‖ (hex(h1), written per group) ‖ padding.
    (local.set $stsBlocks (call $blocks (i32.add (local.get $stsRestLen) (i32.const 64))))
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.eq (local.get $i) (i32.const 4)))
      (local.set $p (i32.add (i32.const ${L.stsBuf}) (i32.mul (local.get $i) (i32.const ${L.stsStride}))))
      (memory.copy (local.get $p) (i32.const ${L.stsRest}) (local.get $stsRestLen))
      (call $pad (local.get $p) (i32.add (local.get $stsRestLen) (i32.const 64)) (i32.add (local.get $prefixLenB) (i32.add (local.get $stsRestLen) (i32.const 64))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    ;; Lane 0's shared tail blocks, loaded into all four lanes (stride 0), expanded once.
    (local.set $i (local.get $varBlocks))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $tailBlocks)))
      (call $loadBlock (i32.add (local.get $tails) (i32.shl (local.get $i) (i32.const 6))) (i32.const 0))
      (call $expand (i32.add (local.get $kw) (i32.shl (i32.sub (local.get $i) (local.get $varBlocks)) (i32.const 10))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $lanes)))
      (call $splatState (i32.const ${L.midA}))
      (call $hashLanes (local.get $tails) (local.get $stride) (local.get $varBlocks))
      (local.set $p (local.get $kw))
      (block $expanded (loop $block
        (br_if $expanded (i32.ge_u (local.get $p) (i32.add (local.get $kw) (i32.shl (i32.sub (local.get $tailBlocks) (local.get $varBlocks)) (i32.const 10)))))
        (call $compressExpanded (local.get $p))
        (local.set $p (i32.add (local.get $p) (i32.const 1024)))
        (br $block)))
      (call $hexState (i32.add (i32.const ${L.stsBuf}) (local.get $stsRestLen)) (i32.const ${L.stsStride}))
      (call $splatState (i32.const ${L.midB}))
      (call $hashLanes (i32.const ${L.stsBuf}) (i32.const ${L.stsStride}) (local.get $stsBlocks))
      ;; Outer hash: the inner digest is message words 0-7 as it stands (already one word per lane).
${Array.from({ length: 8 }, (_, k) => `      (v128.store offset=${L.block + 16 * k} (i32.const 0) (v128.load offset=${L.state + 16 * k} (i32.const 0)))`).join('\n')}
      (v128.store offset=${L.block + 16 * 8} (i32.const 0) ${splat(0x80000000)})
${Array.from({ length: 6 }, (_, k) => `      (v128.store offset=${L.block + 16 * (9 + k)} (i32.const 0) (v128.const i32x4 0 0 0 0))`).join('\n')}
      (v128.store offset=${L.block + 16 * 15} (i32.const 0) ${splat(96 * 8)})
      (call $splatState (i32.const ${L.midC}))
      (call $compress)
      (call $hexState (local.get $out) (i32.const 64))
      (local.set $tails (i32.add (local.get $tails) (i32.shl (local.get $stride) (i32.const 2))))
      (local.set $out (i32.add (local.get $out) (i32.const 256)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $next)))
  )`);
  emit(')');
  return out.join('\n') + '\n';
}

console.log(emitModule());
