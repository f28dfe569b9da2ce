/**
 * The Writable a trace download hands to `start()`: it passes each chunk to the HTTP response, waits
 * for the response to drain (so a slow client holds bytes in the sink's bounded queue, not in the
 * socket's), and fails every write once the client has hung up or the response cannot be written —
 * so the sink stops writing, `stop()` settles at once, and the download's end is known.
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';

/** Why a download ended before its time. */
export type DownloadBroken = 'client-gone' | 'write-failed';

/** A trace download's writer over `res`; {@link ResponseWriter.broken} says when the download broke off. */
export class ResponseWriter extends Writable {
  #broken: DownloadBroken | null = null;
  #onBroken: ((why: DownloadBroken) => void) | null = null;
  /** Fails the write that waits for the response to drain. */
  #wakeWaiting: (() => void) | null = null;
  /** Settles when the client hangs up or a write fails (never when the download just ends). */
  readonly broken: Promise<DownloadBroken>;

  constructor(private readonly res: ServerResponse) {
    super();
    this.broken = new Promise((resolve) => (this.#onBroken = resolve));
    // The sink listens while it writes; after stop() no one does, and an error must not go unhandled.
    this.on('error', () => {});
    res.once('close', () => {
      if (!res.writableFinished) this.#break('client-gone');
    });
  }

  /**
   * Resolves once everything written to this writer has been passed to the response: nothing buffered,
   * and no writer (the sink) waiting for it to drain. Never settles if the download breaks off first.
   */
  async flushed(): Promise<'flushed'> {
    while (this.writableLength > 0 || this.writableNeedDrain) await new Promise((resolve) => this.once('drain', resolve));
    return 'flushed';
  }

  #break(why: DownloadBroken): void {
    if (this.#broken !== null) return;
    this.#broken = why;
    this.#onBroken?.(why);
    const wake = this.#wakeWaiting;
    this.#wakeWaiting = null;
    wake?.();
  }

  #failure(): Error {
    return new Error(this.#broken === 'write-failed' ? 'the response could not be written' : 'the client hung up');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#broken === null && this.res.destroyed) this.#break('client-gone');
    if (this.#broken !== null) {
      callback(this.#failure());
      return;
    }
    let drained: boolean;
    try {
      drained = this.res.write(chunk);
    } catch {
      this.#break('write-failed');
      callback(this.#failure());
      return;
    }
    if (drained) {
      callback();
      return;
    }
    const onDrain = (): void => {
      this.#wakeWaiting = null;
      callback();
    };
    this.res.once('drain', onDrain);
    this.#wakeWaiting = () => {
      this.res.off('drain', onDrain);
      callback(this.#failure());
    };
  }
}
