/**
 * Go 1.25's `runtime/trace.FlightRecorder` for tstrace: the last seconds of events always kept in
 * memory, written out as a complete trace when something interesting happens. docs/design.md
 * ("Flight recorder") says how.
 */
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { beginSession, endSessionIfUnused, sessionScheduling, THREAD_FLUSH_TIMEOUT_MS, type StartOptions } from './api.js';
import { FlightRing, type Snapshot } from './flight-ring.js';
import { S, flush } from './recorder.js';
import { writeChunks } from './snapshot-writer.js';
import { ThreadCollector, collectorOf } from './thread-collector.js';

/** How much a {@link FlightRecorder} keeps, and the execution events it records. */
export interface FlightRecorderOptions extends Pick<StartOptions, 'gc' | 'heap' | 'eventLoop' | 'sampleInterval' | 'captureLocations' | 'scheduling'> {
  /**
   * Milliseconds {@link FlightRecorder.writeTo} waits for worker threads to send what they recorded
   * since their last flush, before it takes the snapshot (a busy worker answers when it yields; a
   * terminated one never). Default 500.
   */
  threadFlushTimeout?: number;
  /**
   * Milliseconds of the most recent events to keep at least (Go's `MinAge`). Default 10,000. A target:
   * `maxBytes` wins when both cannot be met.
   */
  minAge?: number;
  /**
   * Bytes of encoded events to keep at most (Go's `MaxBytes`). Default 10 MiB. Wins over `minAge`: when
   * `minAge` of events takes more, the window is shorter. Events are kept in batches of up to 64 KiB,
   * so a bound below a few batches keeps little.
   */
  maxBytes?: number;
}

/** `minAge` when the options do not say (Go's default: 10 s). */
export const DEFAULT_MIN_AGE_MS = 10_000;
/** `maxBytes` when the options do not say (Go's default: 10 MiB). */
export const DEFAULT_MAX_BYTES = 10 << 20;

/** The recorder running now, if any: one per process (as in Go). */
let running: FlightRecorder | null = null;

/** The running recorder of this copy of tstrace, or null (the HTTP endpoint serves its window). */
export function runningFlightRecorder(): FlightRecorder | null {
  return running;
}

/**
 * Keeps a moving window of the most recent trace events in memory — at least `minAge` of them, in at
 * most `maxBytes` — and writes it out on demand as a complete trace ({@link FlightRecorder.writeTo}):
 * call it when a request was too slow or a health check failed, and the seconds before are on disk.
 *
 * At most one flight recorder runs at a time in a process. It may run alongside a trace written with
 * `start()`: both see the same events, each in a trace of its own, and stopping one does not stop the
 * other. Tasks and regions that began before a snapshot's window and were still open at its start are
 * in the snapshot with their type, task and parent, marked as having begun before the trace (the reader's
 * `beganBefore`), rather than as lost starts.
 */
export class FlightRecorder {
  readonly #minAgeNs: number;
  readonly #maxBytes: number;
  readonly #options: FlightRecorderOptions;
  #ring: FlightRing | null = null;
  /** The writeTo calls in progress, one after another. */
  #writing: Promise<unknown> = Promise.resolve();

  /** Throws a RangeError when `minAge` or `maxBytes` is not a positive number. */
  constructor(options: FlightRecorderOptions = {}) {
    const minAge = options.minAge ?? DEFAULT_MIN_AGE_MS;
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (typeof minAge !== 'number' || !(minAge > 0) || !Number.isFinite(minAge)) {
      throw new RangeError(`tstrace FlightRecorder: minAge must be a positive number of milliseconds, not ${String(minAge)}`);
    }
    if (typeof maxBytes !== 'number' || !(maxBytes > 0) || !Number.isFinite(maxBytes)) {
      throw new RangeError(`tstrace FlightRecorder: maxBytes must be a positive number of bytes, not ${String(maxBytes)}`);
    }
    this.#minAgeNs = minAge * 1e6;
    this.#maxBytes = maxBytes;
    this.#options = { ...options };
  }

  /** Whether this recorder is recording (between {@link start} and {@link stop}). */
  get enabled(): boolean {
    return this.#ring !== null;
  }

  /** Bytes of encoded events held now: at most `maxBytes` (the preamble a snapshot adds is not counted). */
  get bufferedBytes(): number {
    return this.#ring?.bytes ?? 0;
  }

  /**
   * Starts recording. Throws if this or another flight recorder is already running (one per process,
   * as in Go). A trace started with `start()` may be running: it goes on, and so does the recorder
   * when that trace stops.
   */
  start(): void {
    if (this.#ring !== null) throw new Error('tstrace FlightRecorder.start: this flight recorder is already running');
    if (running !== null || S.flight !== null) {
      throw new Error('tstrace FlightRecorder.start: another flight recorder is already running (one per process, as in Go); stop it first');
    }
    const t0 = performance.now();
    const origin = {
      t0,
      wallNs: BigInt(Math.round((performance.timeOrigin + t0) * 1e6)),
      hrtimeNs: process.hrtime.bigint(),
    };
    if (!S.enabled) beginSession(this.#options);
    else {
      // What the hot buffer holds happened before the recorder started: it goes to the trace alone.
      flush();
      if (this.#options.captureLocations === true) S.captureLocations = true;
    }
    const ring = new FlightRing(origin, S.lastRegionSeq, this.#minAgeNs, this.#maxBytes);
    // Worker threads' events enter the ring too (also while a trace gets them: they encode them once for each).
    if (isMainThread) {
      S.traceNumber++;
      new ThreadCollector(ring, {
        session: S.traceNumber,
        wallOriginMs: performance.timeOrigin + t0,
        captureLocations: S.captureLocations,
        flushInterval: this.#options.sampleInterval ?? 100,
        maxBufferedBytes: this.#maxBytes,
        scheduling: sessionScheduling,
      });
    }
    S.flight = ring;
    this.#ring = ring;
    running = this;
  }

  /**
   * Stops recording and lets go of the window. Resolves once the {@link writeTo} calls in progress have
   * finished (their snapshots were taken when they were called). Resolves at once when not running.
   */
  async stop(): Promise<void> {
    const ring = this.#ring;
    if (ring === null) return;
    this.#ring = null;
    if (running === this) running = null;
    collectorOf(ring)?.close();
    if (S.flight === ring) {
      S.flight = null;
      endSessionIfUnused();
    }
    await this.#writing;
  }

  /**
   * Writes the window as it is now — a complete trace of at least the last `minAge` of events (less if
   * `maxBytes` is smaller, or the recorder started more recently) — to `writer`: a file path (created or
   * truncated, and closed) or a Node `Writable` (left open). Resolves with the number of bytes written;
   * rejects with the writer's error, or when the recorder is not running. The snapshot is taken when
   * `writeTo` is called — in a program with worker threads, once they have sent what they recorded until
   * then (at most `threadFlushTimeout` later); concurrent calls are written one after another, each its
   * own snapshot.
   */
  writeTo(writer: string | Writable): Promise<number> {
    const ring = this.#ring;
    if (ring === null) return Promise.reject(new Error('tstrace FlightRecorder.writeTo: the flight recorder is not running (call start() first)'));
    if (typeof writer !== 'string' && (writer === null || typeof writer !== 'object' || typeof (writer as Partial<Writable>).write !== 'function')) {
      return Promise.reject(new TypeError('tstrace FlightRecorder.writeTo: writer must be a file path or a Writable stream'));
    }
    const threads = collectorOf(ring);
    let snapshot: Snapshot | Promise<Snapshot>;
    if (threads !== null && threads.waiting) {
      snapshot = threads.flushWorkers(this.#options.threadFlushTimeout ?? THREAD_FLUSH_TIMEOUT_MS).then(() => {
        flush();
        return ring.snapshot();
      });
    } else {
      flush();
      snapshot = ring.snapshot();
    }
    const taken = snapshot;
    const written = this.#writing.then(async () => writeChunks(writer, (await taken).chunks()));
    this.#writing = written.catch(() => undefined);
    return written;
  }
}
