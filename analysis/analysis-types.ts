/**
 * What the analysis of a trace yields: plain, JSON-friendly data (no Maps, no bigints outside
 * `status.header`). Every time is in integer nanoseconds relative to the trace start (trace time 0, the
 * moment `start()` was called); every duration is in integer nanoseconds.
 */
import type { MisuseName, Nanos, ReadStatus, SourceLocation } from '../format/events.js';
import type { HistogramBucket } from './histogram.js';
import type { DurationStats } from './duration-digest.js';
import type { ItemList } from './item-list.js';

export type { HistogramBucket } from './histogram.js';
export type { DurationStats } from './duration-digest.js';

/** Facts about the whole trace. */
export interface TraceSummary {
  /**
   * Trace end = duration: the footer's end time when the trace has a footer, else the latest event
   * time (never earlier than any event). Incomplete tasks and regions end here.
   */
  readonly duration: Nanos;
  /** Events read from the file (string and location definitions are not events). */
  readonly events: number;
  /** Events the runtime recorded but could not write: the footer's count, or the sum of `dropped` events without a footer. */
  readonly dropped: number;
  readonly gcCount: number;
  /** Sum of the garbage collections' durations. */
  readonly gcTime: Nanos;
  /** Tasks listed in `tasks` (the background task 0 is not one of them). */
  readonly tasks: number;
  readonly regions: number;
  readonly logs: number;
  /** Wall-clock time of trace time 0 (ISO 8601), from the header; null without a header. */
  readonly startTime: string | null;
  readonly pid: number | null;
  readonly nodeVersion: string | null;
  /** The traced process's command line, from the header. */
  readonly commandLine: string | null;
}

/** One entry of a task's history, in time order. */
export type TaskEventInfo = TaskEventOnFlow & {
  /** The thread it happened on: 0 the main thread, else a worker's `threadId` (the flow's thread). */
  readonly thread: number;
};

type TaskEventOnFlow =
  | { readonly kind: 'create'; readonly ts: Nanos; readonly flow: number; readonly parent: number; readonly location: SourceLocation | null }
  | {
      readonly kind: 'log';
      readonly ts: Nanos;
      readonly flow: number;
      readonly category: string;
      readonly message: string;
      readonly location: SourceLocation | null;
    }
  | {
      readonly kind: 'regionStart';
      readonly ts: Nanos;
      readonly flow: number;
      /** The region's id in {@link TraceAnalysis.regions}. */
      readonly region: number;
      readonly type: string;
      /** Until the region's end, or until the trace end when it never ended (`complete` false). */
      readonly duration: Nanos;
      readonly complete: boolean;
      readonly location: SourceLocation | null;
    }
  | { readonly kind: 'regionEnd'; readonly ts: Nanos; readonly flow: number; readonly region: number; readonly type: string }
  | { readonly kind: 'end'; readonly ts: Nanos; readonly flow: number; readonly location: SourceLocation | null };

/** A task (Go's `trace.Task`): a logical operation with a latency, made of regions, logs and subtasks. */
export interface TaskInfo {
  readonly id: number;
  /** The task type; "" when the task's creation is not in the trace (unless it {@link TaskInfo.beganBefore | began before} it). */
  readonly type: string;
  /** The parent task's id (0 = the background task); null when the creation is not in the trace (unless it began before it). */
  readonly parent: number | null;
  /**
   * For a task that began before the trace and was still open at its start — a flight-recorder snapshot
   * carries such tasks with their type and parent — how long before the trace start (ns) it was created;
   * else null. Such a task is not `created` (its creation is not in the trace: the trace start stands
   * in) and is no problem.
   */
  readonly beganBefore: Nanos | null;
  /** Ids of the tasks created with this one as parent, ascending. */
  readonly children: readonly number[];
  /** Whether both the creation and the first end are in the trace. */
  readonly complete: boolean;
  /** Whether the creation is in the trace; when not, the trace start (0) stands in for `start`. */
  readonly created: boolean;
  /** Whether an end is in the trace; when not, the trace end stands in for `end`. */
  readonly ended: boolean;
  readonly start: Nanos;
  /** The first end: later ends do not count. */
  readonly end: Nanos;
  /** `end − start`; for an incomplete task, measured to/from the stand-ins. */
  readonly latency: Nanos;
  /** Flows of the task's creation, end, logs and regions, ascending. */
  readonly flows: readonly number[];
  /**
   * Threads of those (0: the main thread; else worker `threadId`s), ascending: a task whose parts ran
   * in worker threads lists them all.
   */
  readonly threads: readonly number[];
  /** Ids of the regions started for this task, in start order. */
  readonly regions: readonly number[];
  /** Creation, logs, region starts and ends, end: in time order (ties keep file order). */
  readonly events: readonly TaskEventInfo[];
}

/** A region (Go's `trace.Region`): a timed interval of one flow, nested in its parent region. */
export interface RegionInfo {
  /** Assigned by the reader in start order, from 1. */
  readonly id: number;
  readonly type: string;
  /** The task it was started for (0 = the background task). */
  readonly task: number;
  readonly flow: number;
  /** The thread of its flow: 0 the main thread, else a worker's `threadId`. */
  readonly thread: number;
  /**
   * The innermost region open on the same flow when it started; for the first regions of a forked
   * flow, the region open on the parent flow at the fork. Null at the top level.
   */
  readonly parent: number | null;
  readonly start: Nanos;
  /** When it ended; the trace end when it never ended (`complete` false). */
  readonly end: Nanos;
  /** Whether its end is in the trace. */
  readonly complete: boolean;
  /** `end − start`. */
  readonly duration: Nanos;
  /**
   * For a region that began before the trace and was still open at its start (a flight-recorder
   * snapshot carries those), how long before the trace start (ns) it began; else null. Its `start` is
   * the trace start, its duration only the part in the trace: it is left out of its group's duration
   * statistics, and is no problem.
   */
  readonly beganBefore: Nanos | null;
  /** Where it was started, when the trace recorded it. */
  readonly location: SourceLocation | null;
}

export interface LogInfo {
  readonly ts: Nanos;
  readonly flow: number;
  /** The thread of its flow: 0 the main thread, else a worker's `threadId`. */
  readonly thread: number;
  /** 0 = the background task. */
  readonly task: number;
  readonly category: string;
  readonly message: string;
  readonly location: SourceLocation | null;
}

/** Tasks of one type. */
export interface TaskTypeStats {
  readonly type: string;
  /** All tasks of the type, complete or not. */
  readonly count: number;
  readonly complete: number;
  /** Latency over the complete tasks; null when none is complete. */
  readonly latency: DurationStats | null;
  /** Latency histogram of the complete tasks. */
  readonly histogram: readonly HistogramBucket[];
}

/** Regions of one type started at one source location. */
export interface RegionGroupStats {
  readonly type: string;
  readonly location: SourceLocation | null;
  /** All regions of the group, complete or not. */
  readonly count: number;
  readonly complete: number;
  /** Duration over the complete regions; null when none is complete. */
  readonly duration: DurationStats | null;
  /** Duration histogram of the complete regions. */
  readonly histogram: readonly HistogramBucket[];
}

export interface LogCategoryStats {
  readonly category: string;
  readonly count: number;
}

/**
 * What went wrong in the traced program's use of the API, or in the trace's structure:
 * - `regionEndedTwice`, `regionEndedOutOfOrder`, `regionEndedOnOtherFlow`: misuse the runtime recorded
 *   (`source: 'runtime'`); the reader also reports `regionEndedOutOfOrder` itself when a trace lacks
 *   the runtime's record of it.
 * - `regionEndUnmatched`: a region end with no open region of that type on its flow (a lost start,
 *   when events were dropped).
 * - `taskCreatedTwice`, `taskEndedTwice`: a task id created or ended again; only the first counts.
 * A task that ends without a creation in the trace is not a problem: it is an incomplete task. Nor are
 * tasks and regions that began before the trace (`beganBefore`).
 */
export type ProblemKind = MisuseName | 'regionEndUnmatched' | 'taskCreatedTwice' | 'taskEndedTwice';

export interface Problem {
  readonly kind: ProblemKind;
  /** Who noticed: the traced program's runtime (a `misuse` event), or the reader. */
  readonly source: 'runtime' | 'reader';
  readonly message: string;
  readonly ts: Nanos;
  readonly flow: number | null;
  /** The region concerned, for region problems. */
  readonly regionType: string | null;
  /** The task concerned, for task problems. */
  readonly task: number | null;
  /** Where the region concerned was started (or the task call was made), when recorded. */
  readonly location: SourceLocation | null;
}

/** Items listed one at a time — an array ({@link listOf}), or items made on demand (see trace-tables.ts). */
export interface Listing<T> {
  readonly length: number;
  at(index: number): T;
}

/** An array as a {@link Listing}. */
export function listOf<T>(items: readonly T[]): Listing<T> {
  return { length: items.length, at: (index) => items[index] };
}

/** The statistics of a trace; see {@link summarizeTrace}. */
export interface TraceStats {
  readonly summary: TraceSummary;
  /** How reading ended (complete, or where and why it stopped): the statistics cover what was read. */
  readonly status: ReadStatus;
  /** By type. */
  readonly taskTypes: readonly TaskTypeStats[];
  /** By type, then location. */
  readonly regionGroups: readonly RegionGroupStats[];
  /** By category. */
  readonly logCategories: readonly LogCategoryStats[];
  /** In file order: all of them in an analysis, the first 1000 in a summary. */
  readonly problems: readonly Problem[];
  /** Problems found but not listed in `problems`. */
  readonly problemsLeftOut: number;
}

/** Everything the analysis computes: the statistics, and every task, region and log; see {@link analyzeTrace}. */
export interface TraceAnalysis extends TraceStats {
  /** By id, ascending; the background task 0 is not listed. Each made when asked for (see {@link ItemList}). */
  readonly tasks: ItemList<TaskInfo>;
  /** By id (start order). */
  readonly regions: ItemList<RegionInfo>;
  /** In file (time) order. */
  readonly logs: ItemList<LogInfo>;
}
