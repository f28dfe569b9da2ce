/**
 * The messages between the main thread's trace and the runtime in worker threads (see docs/design.md,
 * "Worker threads"). Workers and the main thread meet on one BroadcastChannel, {@link CONTROL_CHANNEL};
 * each joined worker's batches then go on a channel of its own, which only the main thread listens to.
 */

export const CONTROL_CHANNEL = 'tstrace.threads.v1';
/**
 * Environment data (`worker_threads.setEnvironmentData`): the {@link TraceSession}s running now (the
 * trace `start()` writes, a flight recorder's), for workers created during them.
 */
export const SESSION_KEY = 'tstrace.sessions.v2';

/**
 * The batches channel of `thread` in trace `session`. A worker in two traces at once (a trace and a
 * flight recorder) has one per trace: each gets its own encoding of the worker's events.
 */
export const threadChannel = (session: number, thread: number): string => `tstrace.thread.v1.${session}.${thread}`;

/** What a worker needs to record into the main thread's trace. */
export interface TraceSession {
  /** Names the trace: `start()`'s trace number in the main thread. */
  readonly session: number;
  /** Wall-clock time (ms since the epoch, fractional) of the trace's time 0. */
  readonly wallOriginMs: number;
  readonly captureLocations: boolean;
  /** Milliseconds between a worker's background flushes (the trace's `sampleInterval`). */
  readonly flushInterval: number;
  /** Encoded bytes a worker keeps while it waits to be welcomed, before it drops events. */
  readonly maxBufferedBytes: number;
  /** Whether the main thread records scheduling (Run) events: the worker records its own then. */
  readonly scheduling: boolean;
}

/** Main thread → workers, on the control channel. */
export type ControlMessage =
  | ({ readonly kind: 'start' } & TraceSession)
  /** `thread` may post its batches on its own channel now. */
  | { readonly kind: 'welcome'; readonly session: number; readonly thread: number }
  /** Flush now, and answer `flushed` with `request` on the worker's own channel once the batches are sent; go on recording. */
  | { readonly kind: 'flush'; readonly session: number; readonly request: number }
  /** Flush, send `done`, and stop recording for `session`. */
  | { readonly kind: 'stop'; readonly session: number }
  /** Workers → main thread: `thread` records for `session` and waits to be welcomed. */
  | { readonly kind: 'hello'; readonly session: number; readonly thread: number; readonly name: string }
  /** Workers → main thread: a worker that `thread` created has exited (the main thread sees only its own workers exit). */
  | { readonly kind: 'exited'; readonly thread: number }
  /** Workers → main thread: what a worker that exits before its welcome recorded. */
  | ({ readonly kind: 'early'; readonly session: number; readonly thread: number; readonly name: string } & Readonly<ThreadTotals> & {
        readonly batches: readonly Batch[];
      });

/** An encoded ThreadEvents frame and how many events went into it. */
export interface Batch {
  readonly frame: Uint8Array;
  readonly events: number;
}

/** What a worker recorded for a trace: events handed to its encoder and, of them, dropped. */
export interface ThreadTotals {
  recorded: number;
  dropped: number;
}

/** A worker → the main thread, on the worker's own channel. */
export type ThreadMessage =
  | ({ readonly kind: 'batch' } & Batch)
  /** Everything recorded until the main thread's flush request `request` was sent before this. */
  | { readonly kind: 'flushed'; readonly request: number }
  | ({ readonly kind: 'done' } & Readonly<ThreadTotals>);
