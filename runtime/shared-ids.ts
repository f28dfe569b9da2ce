import { getEnvironmentData, isMainThread, setEnvironmentData, threadId } from 'node:worker_threads';

/**
 * Task and flow ids are unique among all threads of a process, so a task can span threads and the
 * reader needs no renaming: every thread takes blocks of {@link ID_BLOCK} ids from counters in one
 * `SharedArrayBuffer`, which the main thread's runtime publishes as environment data at load
 * (`worker_threads.setEnvironmentData`: every worker created afterwards, and theirs, shares it). One
 * atomic add per 1,024 ids; ids stay dense and ascending on each thread.
 */
export const ID_BLOCK = 1024;
/** Index of the task id counter: never reset (task ids are process-wide, from 1). */
export const TASK_COUNTER = 0;
/** Index of the flow id counter: from 2 (1 is the main thread's root flow), never reset (a worker's flows may outlive a session). */
export const FLOW_COUNTER = 1;

/**
 * Join counters in the same buffer, one per session slot (`session % JOIN_SLOTS`): a worker counts
 * itself into a trace right before it announces that it joined, so that the main thread's `stop()`
 * knows of announcements still on their way (a worker's reply to a job can come before its hello).
 */
export const JOIN_SLOTS = 256;
const ID_BYTES = 16;

const IDS_KEY = 'tstrace.ids.v1';

/** Id counters and the thread that made them. */
export interface IdCounters {
  readonly counters: BigInt64Array;
  /** The join counters (see {@link JOIN_SLOTS}). */
  readonly joins: Int32Array;
  /** `threadId` of the thread that made them: 0 when they are the main thread's. */
  readonly owner: number;
}

interface PublishedCounters {
  readonly buffer: SharedArrayBuffer;
  readonly owner: number;
}

/**
 * The counters of this thread: the main thread's, or — in a worker created before the main thread
 * loaded the runtime, or in a process whose main thread has none (a Vitest worker thread) — counters
 * of its own, shared with the workers it creates. Only a thread sharing the main thread's counters
 * joins the main thread's traces (thread-join.ts): its ids never meet another thread's there.
 */
export function sharedIdCounters(): IdCounters {
  const published = isMainThread ? undefined : (getEnvironmentData(IDS_KEY) as PublishedCounters | undefined);
  if (published !== undefined && published.buffer instanceof SharedArrayBuffer) {
    const { buffer, owner } = published;
    // A buffer without join counters (made by an older copy of the runtime): this thread's count goes nowhere.
    const joins = buffer.byteLength >= ID_BYTES + 4 * JOIN_SLOTS ? new Int32Array(buffer, ID_BYTES, JOIN_SLOTS) : new Int32Array(JOIN_SLOTS);
    return { counters: new BigInt64Array(buffer, 0, 2), joins, owner };
  }
  const buffer = new SharedArrayBuffer(ID_BYTES + 4 * JOIN_SLOTS);
  const counters = new BigInt64Array(buffer, 0, 2);
  counters[FLOW_COUNTER] = 1n;
  const mine: PublishedCounters = { buffer, owner: threadId };
  setEnvironmentData(IDS_KEY, mine);
  return { counters, joins: new Int32Array(buffer, ID_BYTES, JOIN_SLOTS), owner: threadId };
}

/** A worker is about to announce that it joined trace `session`. */
export function countJoin(joins: Int32Array, session: number): void {
  Atomics.add(joins, session % JOIN_SLOTS, 1);
}

/** Workers counted into trace `session` so far (and into any session `JOIN_SLOTS` apart from it). */
export function joinsOf(joins: Int32Array, session: number): number {
  return Atomics.load(joins, session % JOIN_SLOTS);
}

/** Takes the next block of ids from counter `index`: returns the id before the block's first. */
export function takeIdBlock(counters: BigInt64Array, index: number): number {
  return Number(Atomics.add(counters, index, BigInt(ID_BLOCK)));
}

