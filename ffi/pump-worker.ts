/**
 * The pump's worker thread: sendfile for every active job, then a blocking poll() over their sockets
 * plus the eventfd the main thread writes when it submits or cancels. Never returns to its event loop
 * while running, so jobs come through the SharedArrayBuffer, not messages.
 */
import { EAGAIN_RESULT, ErrnoError, eventfdDrain, POLLIN, POLLOUT, PollSet, sendfile } from './libc.ts';
import {
  SLOT_ACTIVE,
  SLOT_CANCELLED,
  SLOT_DONE,
  SLOT_FAILED,
  SLOT_INTS,
  SLOT_SUBMITTED,
  SLOT_DOUBLES,
  pumpViews,
} from './pump-shared.ts';

declare const self: Worker;

interface Init {
  buffer: SharedArrayBuffer;
  slots: number;
  eventFd: number;
}

interface Job {
  slot: number;
  socketFd: number;
  fileFd: number;
  offset: number;
  end: number;
}

self.onmessage = (event: MessageEvent<Init>) => {
  const { buffer, slots, eventFd } = event.data;
  const { ctl, ints, nums } = pumpViews(buffer, slots);
  const active: Job[] = [];
  const set = new PollSet(64);

  const finish = (job: Job, state: number, errno = 0) => {
    const b = job.slot * SLOT_INTS;
    nums[job.slot * SLOT_DOUBLES + 2] = job.offset - (nums[job.slot * SLOT_DOUBLES] ?? 0);
    ints[b + 4] = errno;
    Atomics.store(ints, b, state);
    postMessage(job.slot);
  };

  while (Atomics.load(ctl, 0) === 0) {
    eventfdDrain(eventFd);
    // New jobs.
    for (let s = 0; s < slots; s++) {
      const b = s * SLOT_INTS;
      if (Atomics.compareExchange(ints, b, SLOT_SUBMITTED, SLOT_ACTIVE) !== SLOT_SUBMITTED) continue;
      const offset = nums[s * SLOT_DOUBLES] ?? 0;
      active.push({
        slot: s,
        socketFd: ints[b + 1] ?? -1,
        fileFd: ints[b + 2] ?? -1,
        offset,
        end: offset + (nums[s * SLOT_DOUBLES + 1] ?? 0),
      });
    }
    // Push every active job until its socket is full, done or failed.
    for (let i = active.length - 1; i >= 0; i--) {
      const job = active[i] as Job;
      let state = 0;
      let errno = 0;
      if (Atomics.load(ints, job.slot * SLOT_INTS + 3) !== 0) state = SLOT_CANCELLED;
      else {
        try {
          while (job.offset < job.end) {
            const n = sendfile(job.socketFd, job.fileFd, job.offset, Math.min(job.end - job.offset, 0x7fff0000));
            if (n === EAGAIN_RESULT) break;
            if (n === 0) {
              // The file ended before the range did.
              state = SLOT_FAILED;
              errno = 61; // ENODATA
              break;
            }
            job.offset += n;
          }
          if (state === 0 && job.offset >= job.end) state = SLOT_DONE;
        } catch (e) {
          state = SLOT_FAILED;
          errno = e instanceof ErrnoError ? e.errno : 5;
        }
      }
      if (state !== 0) {
        active.splice(i, 1);
        finish(job, state, errno);
      }
    }
    if (Atomics.load(ctl, 0) !== 0) break;
    set.clear();
    set.add(eventFd, POLLIN);
    for (const job of active) set.add(job.socketFd, POLLOUT);
    set.poll(-1);
  }
  for (const job of active) finish(job, SLOT_CANCELLED);
  postMessage(-1);
};
