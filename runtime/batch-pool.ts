/**
 * Batch buffers used again: a batch the file sink has written comes back here, and the next batch is
 * copied into it instead of into fresh memory. Fresh memory is paid for in page faults as it is first
 * written (10 µs a page on some VMs, about 20 ns an event); a trace that streams to a file reuses a few
 * buffers instead. Only buffers this pool made come back, and only from the owner that wrote them
 * (the file sink: once `fs.write` is done the kernel has the bytes); a batch kept elsewhere (a flight
 * recorder's window, a user's stream) is simply never released, and the garbage collector takes it.
 */

/** Room of each pooled buffer: a batch (64 KB) and its last event; a bigger batch is allocated as before. */
const CAPACITY = 128 * 1024;
/** At most this many idle buffers are kept (2 MB). */
const MAX_IDLE = 16;

const idle: ArrayBuffer[] = [];
/** Buffers this pool made. */
const made = new WeakSet<ArrayBuffer>();

/** A buffer of `length` bytes for a batch: an idle one when there is one. */
export function acquireBatch(length: number): Uint8Array {
  if (length > CAPACITY) return new Uint8Array(length);
  let buffer = idle.pop();
  if (buffer === undefined) {
    buffer = new ArrayBuffer(CAPACITY);
    made.add(buffer);
  }
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
