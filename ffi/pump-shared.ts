/** The SharedArrayBuffer layout the pump and its worker thread agree on. */
export const SLOT_FREE = 0;
/** Filled by the main thread, waiting for the worker. */
export const SLOT_SUBMITTED = 1;
/** Taken by the worker. */
export const SLOT_ACTIVE = 2;
export const SLOT_DONE = 3;
export const SLOT_FAILED = 4;
export const SLOT_CANCELLED = 5;

/** ctl[0]: stop flag; ctl[1]: jobs submitted since the worker last looked. */
export const CTL_INTS = 4;
/** Per slot ints: state, socketFd, fileFd, cancel, errno. */
export const SLOT_INTS = 5;
/** Per slot doubles: offset, length, sent. */
export const SLOT_DOUBLES = 3;

export interface PumpViews {
  ctl: Int32Array;
  ints: Int32Array;
  nums: Float64Array;
}

export function pumpBuffer(slots: number): SharedArrayBuffer {
  return new SharedArrayBuffer(8 * SLOT_DOUBLES * slots + 4 * (CTL_INTS + SLOT_INTS * slots) + 8);
}

export function pumpViews(buffer: SharedArrayBuffer, slots: number): PumpViews {
  const nums = new Float64Array(buffer, 0, SLOT_DOUBLES * slots);
  const ctl = new Int32Array(buffer, nums.byteLength, CTL_INTS);
  const ints = new Int32Array(buffer, nums.byteLength + ctl.byteLength, SLOT_INTS * slots);
  return { ctl, ints, nums };
}
