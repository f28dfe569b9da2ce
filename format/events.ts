/** The events a reader yields: what the binary format means, with strings and locations resolved. */

/** Where an event happened in the source: interned, so equal locations are the same object. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The enclosing function's name, or "" when unknown. */
  readonly function: string;
}

/** Nanoseconds since the trace's clock origin (see TraceHeader). */
export type Nanos = number;

export type MisuseName = 'regionEndedTwice' | 'regionEndedOutOfOrder' | 'regionEndedOnOtherFlow';

/**
 * An event as the reader yields it. `thread` (format version 4) is the worker thread it was recorded
 * on (`worker_threads.threadId`); absent on the main thread's events. Flow and task ids are unique
 * across the threads of a trace, so a flow belongs to one thread and a task may span several.
 */
export type TraceEvent = TraceEventOnThread & { thread?: number };

export type TraceEventOnThread =
  /**
   * A new flow (a lane of regions) forked from `parentFlow`, under the region that has `regionsAbove`
   * open regions of the parent flow above it (when there are fewer, the parent flow's own fork parent).
   */
  | { kind: 'flowStart'; ts: Nanos; flow: number; parentFlow: number; regionsAbove: number }
  /**
   * A task's creation. With `beganBefore` (a flight-recorder snapshot), the task was created that many
   * ns before `ts` — the trace start — and is carried over: its creation itself is not in the trace.
   */
  | { kind: 'taskCreate'; ts: Nanos; flow: number; task: number; parent: number; type: string; location: SourceLocation | null; beganBefore?: Nanos }
  | { kind: 'taskEnd'; ts: Nanos; flow: number; task: number; location: SourceLocation | null }
  /** A region's start; `beganBefore` as for `taskCreate`: a region open at the start of a snapshot. */
  | { kind: 'regionStart'; ts: Nanos; flow: number; task: number; type: string; location: SourceLocation | null; beganBefore?: Nanos }
  | { kind: 'regionEnd'; ts: Nanos; flow: number; type: string }
  | { kind: 'log'; ts: Nanos; flow: number; task: number; category: string; message: string; location: SourceLocation | null }
  /** A garbage collection: `ts` is when it started. */
  | { kind: 'gc'; ts: Nanos; duration: Nanos; gcKind: string }
  /** Heap bytes in use, sampled after a GC. */
  | { kind: 'heap'; ts: Nanos; bytes: number }
  /** Event-loop utilization (0..1) over the `interval` that ends at `ts`. */
  | { kind: 'eventLoop'; ts: Nanos; utilization: number; interval: Nanos }
  /**
   * Format version 5: `flow` ran on its thread for `task` (0: the background task) from `ts` for
   * `duration` ns without a break (docs/design.md, "Where the time went"). `queued`: how long it had
   * been ready before it started (its continuation was due or resolved while something else ran);
   * null when Node does not say when it became ready (I/O). `waitedOn`: the async resource type it
   * resumed (`Timeout`, `TCPWRAP`, `FSREQCALLBACK`, `PROMISE`…), "" when none. `createdAt` (format
   * version 6): where that resource was created — absent when unknown (always for promises); with
   * `createdInRegion` true it is the location of the region it was created in, not of the creating call.
   */
  | { kind: 'run'; ts: Nanos; flow: number; task: number; duration: Nanos; queued: Nanos | null; waitedOn: string; createdAt?: SourceLocation; createdInRegion?: boolean }
  /** `count` events were dropped (the writer could not keep up, or failed) before `ts`. */
  | { kind: 'dropped'; ts: Nanos; count: number }
  /**
   * API misuse the runtime saw; `type`/`location` are those of the region concerned. For
   * `regionEndedOutOfOrder`, `regionsAbove` open regions of the flow were nested in it: the flow's next
   * `regionEnd` ends the region that many places below the innermost one.
   */
  | { kind: 'misuse'; ts: Nanos; flow: number; misuse: MisuseName; type: string; location: SourceLocation | null; regionsAbove: number };

export type TraceEventKind = TraceEvent['kind'];

export interface TraceHeader {
  version: number;
  /** Wall-clock time (ns since the Unix epoch) of trace time 0. */
  wallClockOriginNs: bigint;
  /** `process.hrtime.bigint()` at trace time 0: Node's own trace events use this clock (÷1000). */
  hrtimeOriginNs: bigint;
  pid: number;
  nodeVersion: string;
  command: string;
}

export interface TraceFooter {
  /** Events the runtime recorded (written or dropped). */
  events: number;
  dropped: number;
  /** Trace time at stop(). */
  endTs: Nanos;
}

/** A worker thread whose events are in the trace (format version 4: a Thread frame). */
export interface TraceThread {
  /** `worker_threads.threadId` in the traced process (the main thread is 0 and has no such record). */
  readonly id: number;
  /** "worker N" unless the worker named itself. */
  readonly name: string;
  /** Trace time it joined the trace. */
  readonly ts: Nanos;
}

/** How reading ended: a complete trace, or where and why it stopped. */
export interface ReadStatus {
  /** The file had a header, no damage, and the footer that stop() writes. */
  complete: boolean;
  /** Offset just past the last frame whose events were delivered. */
  bytesRead: number;
  header: TraceHeader | null;
  footer: TraceFooter | null;
  /** The worker threads that joined the trace, in file order (absent in a status built by hand: none). */
  threads?: TraceThread[];
  /** Why reading stopped before a complete trace. */
  problem: null | {
    kind: 'truncated' | 'corrupt' | 'unfinished';
    offset: number;
    reason: string;
  };
}
