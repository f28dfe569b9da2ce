/**
 * Batch buffers used again: a batch the file sink has written comes back here, and the next batch is
 * copied into it instead of into fresh memory. Fresh memory is paid for in page faults as it is first
 * written (10 µs a page on some VMs, about 20 ns an event); a trace that streams to a file reuses a few
 * buffers instead. Only buffers this pool made come back, and only from the owner that wrote them
 * (the file sink: once `fs.write` is done the kernel has the bytes); a batch kept elsewhere (a flight
 * recorder's window, a user's stream) is simply never released, and the garbage collector takes it.
 */

/** Batches above this are allocated as before, and not pooled (a batch is cut at 64 KB, plus its last event). */
const MAX_POOLED = 128 * 1024;
/** Fresh buffers are sized in steps of this, so that one serves later batches of about its size. */
const STEP = 16 * 1024;
/** At most this many idle buffers are kept (512 KB for batches of a full hot buffer, 1.3 MB for 64 KB ones). */
const MAX_IDLE = 16;

const idle: ArrayBuffer[] = [];
/** Buffers this pool made. */
const made = new WeakSet<ArrayBuffer>();

/** A buffer of `length` bytes for a batch: an idle one that is big enough when there is one. */
export function acquireBatch(length: number): Uint8Array {
  if (length > MAX_POOLED) return new Uint8Array(length);
  for (let i = idle.length - 1; i >= 0; i--) {
    const buffer = idle[i];
    if (buffer.byteLength < length) continue;
    idle[i] = idle[idle.length - 1];
    idle.pop();
    return new Uint8Array(buffer, 0, length);
  }
  // None fits: the oldest idle one makes room, so that the pool follows the batches' size.
  if (idle.length === MAX_IDLE) idle.shift();
  // Fresh memory costs a page fault for each page first written, and a system call per buffer above
  // malloc's mmap threshold (128 KB): only the room this batch needs, rounded up to a step. (A fixed
  // 128 KB per buffer cost 217 µs per batch of 28 KB on this VM while the file's queue grew; this, 88.)
  const buffer = new ArrayBuffer(Math.ceil(length / STEP) * STEP);
  made.add(buffer);
  return new Uint8Array(buffer, 0, length);
}

/** Gives back a batch from {@link acquireBatch} that nothing will read again. */
export function releaseBatch(batch: Uint8Array): void {
  const buffer = batch.buffer as ArrayBuffer;
  // A buffer released twice is pooled once (the idle list is short).
  if (idle.length >= MAX_IDLE || !made.has(buffer) || idle.includes(buffer)) return;
  idle.push(buffer);
}

/** @internal How many buffers wait to be used again (tests: the pool is in use). */
export const idleBatchBuffers = (): number => idle.length;
