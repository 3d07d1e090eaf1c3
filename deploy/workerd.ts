/**
 * workerd (Cloudflare Workers) entry for the plan function: the module worker of
 * functions/index.ts, plus the SIMD SHA-256 module for the presigner. workerd refuses to compile
 * WASM at run time, so wrangler bundles sha256x4.wasm as a compiled module (its default rule for
 * `*.wasm`) and it is handed over here; without it the presigner would sign with the scalar path.
 */
import { useSha256x4Module } from '../functions/s3/presign.ts';
import sha256x4 from '../functions/s3/simd/sha256x4.wasm';

useSha256x4Module(sha256x4);

export { default } from '../functions/index.ts';
