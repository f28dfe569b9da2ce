import { closeSync, openSync, writev, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { releaseBatch } from './batch-pool.js';

/**
 * Where encoded frames go. A sink never throws and never blocks the program: it queues, writes in the
 * background, and remembers the first error; the recorder drops events while `queuedBytes` is over
 * its bound or after an error.
 */
export interface Sink {
  write(chunk: Uint8Array): void;
  /** Bytes handed to the sink and not yet written. */
  readonly queuedBytes: number;
  /** It gives each chunk back to the batch pool (batch-pool.ts) once written: chunks may come from it. */
  readonly releasesBatches?: boolean;
  readonly error: Error | null;
  /** At process exit: write everything synchronously if this sink can (a file we opened can). */
  writeSyncAll(): void;
  /** Resolves when every queued byte is written (and our file is closed); rejects with the first error. */
  close(): Promise<void>;
}

// Sinks are classes so that every trace's sink has the same shape and the same methods: object
// literals with fresh closures per start() make V8 throw away flush()'s optimised code ("wrong call
// target") from the second trace of a process on.

/** A file the tracer opened itself: async positioned writes while running, synchronous ones at exit. */
export function fileSink(path: string, first: Uint8Array): Sink {
  return new FileSink(openSync(path, 'w'), first);
}

interface PositionedChunk {
  chunk: Uint8Array;
  at: number;
  /** The whole chunk written (`chunk` is its rest after a short write): given back once all of it is written. */
  whole: Uint8Array;
}

/** At most this many chunks go in one `writev` (Linux's IOV_MAX is 1024). */
const MAX_CHUNKS_PER_WRITE = 1024;

class FileSink implements Sink {
  queuedBytes = 0;
  readonly releasesBatches = true;
  error: Error | null = null;
  private position: number;
  private readonly queue: PositionedChunk[] = [];
  /** The chunks of the write under way, in file order (they are contiguous). */
  private inFlight: PositionedChunk[] | null = null;
  private closed = false;
  private onIdle: (() => void) | null = null;

  constructor(
    private readonly fd: number,
    first: Uint8Array,
  ) {
    writeSync(fd, first);
    this.position = first.length;
  }

  write(chunk: Uint8Array): void {
    if (this.error || this.closed) return;
    this.queue.push({ chunk, at: this.position, whole: chunk });
    this.position += chunk.length;
    this.queuedBytes += chunk.length;
    this.pump();
  }

  /** Writes everything queued in one `writev`: the backlog of a busy loop goes in one system call, and its buffers come back together. */
  private pump(): void {
    if (this.inFlight || this.closed) return;
    if (this.queue.length === 0) {
      this.onIdle?.();
      return;
    }
    const pieces = this.queue.splice(0, MAX_CHUNKS_PER_WRITE);
    this.inFlight = pieces;
    writev(
      this.fd,
      pieces.map((p) => p.chunk),
      pieces[0].at,
      this.afterWrite,
    );
  }

  private readonly afterWrite = (err: NodeJS.ErrnoException | null, written: number): void => {
    if (this.closed) return; // writeSyncAll took over
    const pieces = this.inFlight!;
    this.inFlight = null;
    if (err) {
      this.error ??= err;
      this.queue.length = 0;
      this.queuedBytes = 0;
      this.onIdle?.();
      return;
    }
    this.queuedBytes -= written;
    let left = written;
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (left >= piece.chunk.length) {
        left -= piece.chunk.length;
        releaseBatch(piece.whole);
        continue;
      }
      // A short write: the rest of this piece and the pieces after it go first next time.
      this.queue.unshift({ chunk: piece.chunk.subarray(left), at: piece.at + left, whole: piece.whole }, ...pieces.slice(i + 1));
      break;
    }
    this.pump();
  };

  writeSyncAll(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      // The in-flight write may or may not have landed: writing the same bytes at the same place is safe.
      for (const { chunk, at } of [...(this.inFlight ?? []), ...this.queue]) writeSync(this.fd, chunk, 0, chunk.length, at);
      closeSync(this.fd);
    } catch {
      // Exiting: nothing left to report to.
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (): void => {
        if (this.closed) return resolve();
        this.closed = true;
        try {
          closeSync(this.fd);
        } catch (err) {
          this.error ??= err as Error;
        }
        if (this.error) reject(this.error);
        else resolve();
      };
      if (!this.inFlight && this.queue.length === 0) finish();
      else this.onIdle = finish;
    });
  }
}

/** A user's Writable: honours backpressure by queueing on our side, never by blocking. */
export function streamSink(stream: Writable, first: Uint8Array): Sink {
  const sink = new StreamSink(stream);
  sink.write(first);
  return sink;
}

class StreamSink implements Sink {
  queuedBytes = 0;
  error: Error | null = null;
  private readonly queue: Uint8Array[] = [];
  private waitingForDrain = false;
  private pendingCallbacks = 0;
  private onIdle: (() => void) | null = null;

  constructor(private readonly stream: Writable) {
    // A stream without an 'error' listener would crash the process on its first error.
    stream.on('error', this.fail);
  }

  write(chunk: Uint8Array): void {
    if (this.error) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.pump();
  }

  private readonly fail = (err: unknown): void => {
    this.error ??= err instanceof Error ? err : new Error(String(err));
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.onIdle?.();
  };

  private idle(): boolean {
    return this.queue.length === 0 && this.pendingCallbacks === 0;
  }

  private afterWrite(chunk: Uint8Array): (err?: Error | null) => void {
    return (err) => {
      this.pendingCallbacks--;
      this.queuedBytes -= chunk.length;
      if (err) this.fail(err);
      else if (this.idle()) this.onIdle?.();
    };
  }

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    this.pump();
  };

  private pump(): void {
    while (!this.waitingForDrain && !this.error && this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      this.pendingCallbacks++;
      try {
        if (!this.stream.write(chunk, this.afterWrite(chunk))) {
          this.waitingForDrain = true;
          this.stream.once('drain', this.onDrain);
        }
      } catch (err) {
        this.pendingCallbacks--;
        this.fail(err);
      }
    }
  }

  writeSyncAll(): void {
    // A stream can only be written asynchronously; what is queued at exit is lost.
  }

  close(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (): void => {
        this.onIdle = null;
        this.stream.off('error', this.fail);
        if (this.error) reject(this.error);
        else resolve();
      };
      if (this.error || this.idle()) finish();
      else this.onIdle = finish;
    });
  }
}
