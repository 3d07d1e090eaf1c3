/** Linear-memory layout of the sha256x4 module (byte offsets); emit-wat.ts bakes it into the WAT. */
export const layout = {
  midA: 0,
  midB: 32,
  midC: 64,
  stsRest: 128,
  state: 256,
  block: 384,
  stsBuf: 640,
  stsStride: 192,
  /** Part numbers for writeTails, one i32 each, up to `data` (index.ts: maxBatch). */
  numbers: 4096,
  data: 8192,
} as const;
