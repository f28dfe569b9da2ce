import { closeSync, openSync, write, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * Where encoded frames go. A sink never throws and never blocks the program: it queues, writes in the
 * background, and remembers the first error; the recorder drops events while `queuedBytes` is over
 * its bound or after an error.
 */
export interface Sink {
  write(chunk: Uint8Array): void;
  /** Bytes handed to the sink and not yet written. */
  readonly queuedBytes: number;
  readonly error: Error | null;
  /** At process exit: write everything synchronously if this sink can (a file we opened can). */
  writeSyncAll(): void;
  /** Resolves when every queued byte is written (and our file is closed); rejects with the first error. */
  close(): Promise<void>;
}

/** A file the tracer opened itself: async positioned writes while running, synchronous ones at exit. */
export function fileSink(path: string, first: Uint8Array): Sink {
  const fd = openSync(path, 'w');
  writeSync(fd, first);
  let position = first.length;
  const queue: { chunk: Uint8Array; at: number }[] = [];
  let inFlight: { chunk: Uint8Array; at: number } | null = null;
  let queuedBytes = 0;
  let error: Error | null = null;
  let closed = false;
  let onIdle: (() => void) | null = null;

  const pump = (): void => {
    if (inFlight || closed) return;
    const next = queue.shift();
    if (!next) {
      onIdle?.();
      return;
    }
    inFlight = next;
    write(fd, next.chunk, 0, next.chunk.length, next.at, (err, written) => {
      if (closed) return; // writeSyncAll took over
      inFlight = null;
      if (err) {
        error ??= err;
        queue.length = 0;
        queuedBytes = 0;
        onIdle?.();
        return;
      }
      queuedBytes -= written;
      if (written < next.chunk.length) queue.unshift({ chunk: next.chunk.subarray(written), at: next.at + written });
      pump();
    });
  };

  return {
    write(chunk) {
      if (error || closed) return;
      queue.push({ chunk, at: position });
      position += chunk.length;
      queuedBytes += chunk.length;
      pump();
    },
    get queuedBytes() {
      return queuedBytes;
    },
    get error() {
      return error;
    },
    writeSyncAll() {
      if (closed) return;
      closed = true;
      try {
        // The in-flight write may or may not have landed: writing the same bytes at the same place is safe.
        if (inFlight) writeSync(fd, inFlight.chunk, 0, inFlight.chunk.length, inFlight.at);
        for (const { chunk, at } of queue) writeSync(fd, chunk, 0, chunk.length, at);
        closeSync(fd);
      } catch {
        // Exiting: nothing left to report to.
      }
      queue.length = 0;
      queuedBytes = 0;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        const finish = (): void => {
          if (closed) return resolve();
          closed = true;
          try {
            closeSync(fd);
          } catch (err) {
            error ??= err as Error;
          }
          if (error) reject(error);
          else resolve();
        };
        if (!inFlight && queue.length === 0) finish();
        else onIdle = finish;
      });
    },
  };
}

/** A user's Writable: honours backpressure by queueing on our side, never by blocking. */
export function streamSink(stream: Writable, first: Uint8Array): Sink {
  const queue: Uint8Array[] = [];
  let queuedBytes = 0;
  let waitingForDrain = false;
  let pendingCallbacks = 0;
  let error: Error | null = null;
  let onIdle: (() => void) | null = null;

  const fail = (err: unknown): void => {
    error ??= err instanceof Error ? err : new Error(String(err));
    queue.length = 0;
    queuedBytes = 0;
    onIdle?.();
  };
  // A stream without an 'error' listener would crash the process on its first error.
  stream.on('error', fail);

  const idle = (): boolean => queue.length === 0 && pendingCallbacks === 0;
  const afterWrite = (chunk: Uint8Array) => (err?: Error | null): void => {
    pendingCallbacks--;
    queuedBytes -= chunk.length;
    if (err) fail(err);
    else if (idle()) onIdle?.();
  };
  const pump = (): void => {
    while (!waitingForDrain && !error && queue.length > 0) {
      const chunk = queue.shift()!;
      pendingCallbacks++;
      try {
        if (!stream.write(chunk, afterWrite(chunk))) {
          waitingForDrain = true;
          stream.once('drain', () => {
            waitingForDrain = false;
            pump();
          });
        }
      } catch (err) {
        pendingCallbacks--;
        fail(err);
      }
    }
  };

  const sink: Sink = {
    write(chunk) {
      if (error) return;
      queue.push(chunk);
      queuedBytes += chunk.length;
      pump();
    },
    get queuedBytes() {
      return queuedBytes;
    },
    get error() {
      return error;
    },
    writeSyncAll() {
      // A stream can only be written asynchronously; what is queued at exit is lost.
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        const finish = (): void => {
          onIdle = null;
          stream.off('error', fail);
          if (error) reject(error);
          else resolve();
        };
        if (error || idle()) finish();
        else onIdle = finish;
      });
    },
  };
  sink.write(first);
  return sink;
}
