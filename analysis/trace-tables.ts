/**
 * A trace in columns, as `tstrace view` and the listing commands hold it: every task, region and log
 * in columns of typed arrays (about 110 bytes a region, where analyzeTrace's objects take several
 * hundred), read in one pass with the statistics. Items become the analysis's objects (TaskInfo,
 * RegionInfo, LogInfo) only when asked for, one at a time, so a trace of millions of regions loads in
 * seconds and in little memory.
 */
import type { Nanos, ReadStatus, SourceLocation, TraceEvent } from '../format/events.js';
import { OTEL_TRACE_CATEGORY, parseTraceparent, type TraceContext } from '../format/trace-context.js';
import type { Listing, LogInfo, RegionInfo, TaskEventInfo, TaskInfo, TraceStats } from './analysis-types.js';
import { IdIndex } from './id-index.js';
import { sortRows } from './sort-rows.js';
import { typeMatcher } from './type-pattern.js';
import { readTrace, type TraceSource } from './reader.js';
import type { RegionRecord } from './region-stacks.js';
import { TraceSummarizer, type OpenTasks, type TraceRecordKeeper } from './summary.js';

type Event<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;
type Column = Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;
/** An index into the strings or the locations: 16 bits while they are few (they nearly always are), 32 once they are not. */
type IndexColumn = Uint16Array | Int32Array;
/** The largest index a 16-bit index column holds. */
const NARROW_INDEX_MAX = 0xffff;
const indexColumn = (n: number): IndexColumn => new Uint16Array(n);

type ColumnType = { new (length: number): Column; new (buffer: ArrayBuffer): Column; readonly BYTES_PER_ELEMENT: number };
type ColumnView = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Column;

// ES2024's resizable ArrayBuffer (Node 20+), declared here: the project's lib is ES2022.
interface ResizableBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
}
const ResizableBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableBuffer;
const resizable = typeof (ArrayBuffer.prototype as Partial<ResizableBuffer>).resize === 'function';

/** Tables beyond this many rows grow in place: their columns move to resizable buffers. */
const IN_PLACE_FROM = 1 << 16;
/** The largest resizable buffer every supported Node allows (Node 20: 4 GiB). */
const MAX_COLUMN_BYTES = 2 ** 32;

/**
 * Columns of one length that grow together. A big table's columns are resizable buffers, so they grow
 * and are trimmed in place: no copies of hundreds of megabytes, no twice the memory while growing.
 * Small tables (most of them: tests, fuzzing, small traces) stay in plain arrays, which reserve no
 * address space.
 */
class Columns<T extends Record<string, Column>> {
  length = 0;
  private capacity: number;
  private inPlace = false;
  constructor(public data: T) {
    this.capacity = Object.values(data)[0].length;
  }

  /** Index of a new row (zeroed), growing every column when full. */
  push(): number {
    if (this.length === this.capacity) this.grow(this.capacity * 2);
    return this.length++;
  }

  /** Gives back the room grown for rows that never came. */
  trim(): void {
    const rows = Math.max(1, this.length);
    if (rows === this.capacity) return;
    const trimmed: Record<string, Column> = {};
    for (const [name, column] of Object.entries(this.data)) {
      // In place, a view of the rows: shrinking the buffer would zero (touch) the room never used, which holds no memory.
      trimmed[name] = this.inPlace ? new (column.constructor as ColumnView)(column.buffer, 0, rows) : column.slice(0, rows);
    }
    this.data = trimmed as T;
    this.capacity = rows;
  }

  /** Makes the named index columns 32-bit (an index outgrew 16 bits), keeping their rows. */
  widen(names: readonly (keyof T & string)[]): void {
    // Every index past 16 bits asks: only the first one does anything.
    if (names.every((name) => this.data[name] instanceof Int32Array)) return;
    const data: Record<string, Column> = { ...this.data };
    for (const name of names) {
      if (data[name] instanceof Int32Array) continue;
      const wide = this.inPlace ? new Int32Array(new ResizableBuffer(this.capacity * 4, { maxByteLength: MAX_COLUMN_BYTES })) : new Int32Array(this.capacity);
      wide.set(data[name].subarray(0, this.length));
      data[name] = wide;
    }
    this.data = data as T;
  }

  private grow(capacity: number): void {
    if (capacity * 8 > MAX_COLUMN_BYTES) throw new RangeError(`a trace with more than ${MAX_COLUMN_BYTES / 8} tasks, regions or logs is more than tstrace can hold in memory`);
    if (this.inPlace) {
      for (const column of Object.values(this.data)) (column.buffer as ResizableBuffer).resize(capacity * column.BYTES_PER_ELEMENT);
    } else {
      const inPlace = capacity > IN_PLACE_FROM && resizable;
      const grown: Record<string, Column> = {};
      for (const [name, column] of Object.entries(this.data)) {
        const type = column.constructor as ColumnType;
        // A view of a resizable buffer without a length follows the buffer's size.
        const bigger = inPlace ? new type(new ResizableBuffer(capacity * type.BYTES_PER_ELEMENT, { maxByteLength: MAX_COLUMN_BYTES })) : new type(capacity);
        bigger.set(column);
        grown[name] = bigger;
      }
      this.data = grown as T;
      this.inPlace = inPlace;
    }
    this.capacity = capacity;
  }
}

// Every byte of a region's row counts: `tstrace view` holds one per region of a 10-million-event
// trace. Flows are indexes into `TraceTables.flowIds`; a row's task is its task row (the id is there);
// A `tie` orders events of one time: how many events of that time came right before it in the file
// (up to 255), so that a task's history lists them in file order (a byte, where the position in the file took four).
const regionColumns = (n: number) => ({
  start: new Float64Array(n),
  /** NaN while open; the trace end stands in after finish (see `complete`). */
  end: new Float64Array(n),
  complete: new Uint8Array(n),
  /** Index of the flow in `flowIds`. */
  flow: new Int32Array(n),
  /** The task's row, −1 for the background task. */
  taskRow: new Int32Array(n),
  /** Parent region id, 0 at the top level. */
  parent: new Int32Array(n),
  type: indexColumn(n),
  /** Location index (0: none). */
  location: indexColumn(n),
  /** Nesting depth on its own flow (at most MAX_DEPTH). */
  depth: new Uint16Array(n),
  startTie: new Uint8Array(n),
  endTie: new Uint8Array(n),
});

/** Log messages up to this long are shared by the logs that repeat them, the first {@link KEPT_MESSAGES} distinct ones. */
const SHARED_MESSAGE_LENGTH = 64;
const KEPT_MESSAGES = 1 << 16;

/** Deeper regions share the deepest row of their lane. */
const MAX_DEPTH = 0xffff;
/** Ties beyond this many events of one time are listed in the order a task's history gathers them. */
const MAX_TIE = 0xff;

const taskColumns = (n: number) => ({
  id: new Float64Array(n),
  /** String index of the type; the index of "" when the creation is not in the trace. */
  type: indexColumn(n),
  /** NaN when the creation is not in the trace. */
  parent: new Float64Array(n),
  created: new Uint8Array(n),
  ended: new Uint8Array(n),
  start: new Float64Array(n),
  end: new Float64Array(n),
  /** Flow indexes, as `regions.flow`. */
  createFlow: new Int32Array(n),
  endFlow: new Int32Array(n),
  createLocation: indexColumn(n),
  endLocation: indexColumn(n),
  createTie: new Uint8Array(n),
  endTie: new Uint8Array(n),
});

const logColumns = (n: number) => ({
  ts: new Float64Array(n),
  /** Index of the flow in `flowIds`. */
  flow: new Int32Array(n),
  /** The task's row, −1 for the background task. */
  taskRow: new Int32Array(n),
  category: indexColumn(n),
  location: indexColumn(n),
  tie: new Uint8Array(n),
});

/** Task → items in compressed-row form: the items of task row `t` are `items[offsets[t] .. offsets[t + 1])`. */
interface Grouped {
  readonly offsets: Int32Array;
  readonly items: Int32Array;
}

/** Groups item indexes `0 .. count` by their task row `rowOf[item]` (−1: none), keeping item order. */
function groupByTask(count: number, tasks: number, rowOf: Int32Array): Grouped {
  const offsets = new Int32Array(tasks + 1);
  for (let i = 0; i < count; i++) {
    const row = rowOf[i];
    if (row >= 0) offsets[row + 1]++;
  }
  for (let t = 0; t < tasks; t++) offsets[t + 1] += offsets[t];
  const fill = offsets.slice(0, tasks);
  const items = new Int32Array(offsets[tasks]);
  for (let i = 0; i < count; i++) {
    const row = rowOf[i];
    if (row >= 0) items[fill[row]++] = i;
  }
  return { offsets, items };
}

/** Interns strings or locations into a table of indexes. */
class Interned<T> {
  readonly values: T[] = [];
  private readonly index = new Map<T, number>();

  of(value: T): number {
    let i = this.index.get(value);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      this.index.set(value, i);
    }
    return i;
  }

  /** The index of `value`, −1 when it was never interned (then nothing has it). */
  find(value: T): number {
    return this.index.get(value) ?? -1;
  }
}

/** Numbers ids (flows) as first seen: {@link IdIndex} rather than a `Map`, for a million flows. */
class InternedIds {
  readonly values: number[] = [];
  private readonly index = new IdIndex();

  of(id: number): number {
    let i = this.index.get(id);
    if (i < 0) {
      i = this.values.push(id) - 1;
      this.index.set(id, i);
    }
    return i;
  }
}

/** The tasks, regions and logs of a trace, with its statistics. Build with {@link loadTraceTables}. */
export class TraceTables {
  stats!: TraceStats;
  /** Region and task types, and log categories: indexes in the columns. */
  readonly strings = new Interned<string>();
  /** Source locations; index 0 is none (null). */
  readonly locations = new Interned<SourceLocation | null>();
  readonly regions = new Columns(regionColumns(1024));
  readonly tasks = new Columns(taskColumns(256));
  /** RegionInfo.beganBefore by region index and TaskInfo.beganBefore by task row: only flight-recorder snapshots have any. */
  private readonly regionBeganBefore = new Map<number, Nanos>();
  private readonly taskBeganBefore = new Map<number, Nanos>();
  readonly logs = new Columns(logColumns(256));
  readonly messages: string[] = [];
  /** The flows, by the index the columns hold; ascending after finish. */
  flowIds = new Float64Array(0);
  /** The thread of each flow, by the same index (0: the main thread), after finish. */
  flowThreads = new Float64Array(0);
  /** Worker threads' flows (flow id → thread), from the events; the main thread's flows are not in it. */
  private readonly workerFlows = new Map<number, number>();
  private lastWorkerFlow = -1;
  /** Task rows by id, ascending (after finish). */
  taskOrder = new Int32Array(0);
  /** Each task's regions, logs and children: made when a task is first asked for (the timeline and statistics need none). */
  private grouped: { readonly regions: Grouped; readonly logs: Grouped; readonly children: Grouped } | null = null;
  /** By task row taken in id order (`taskOrder`): its parent's row, −1 for none; let go once grouped. */
  private parentRows: Int32Array | null = null;
  traceEnd: Nanos = 0;
  /** By task row: the W3C trace context recorded with the task (its first valid `otel.trace` log). */
  readonly traceContexts = new Map<number, TraceContext>();
  /** By task row, after finish: the trace id of the task, its own or its nearest ancestor's. */
  readonly traceIds = new Map<number, string>();
  /** The tie of the event being added (see regionColumns), and the time of the one before. */
  private tie = 0;
  private lastTs = NaN;
  private lastTask = NaN;
  private lastTaskRow = -1;
  /** While reading: task id → row, flow → index (let go at finish, when binary searches take over), the short messages kept. */
  private loading: { readonly taskRows: IdIndex; readonly flows: InternedIds; summarizer: TraceSummarizer; readonly messages: Map<string, string> } | null;

  /** `maxProblems`: problems listed in the statistics (default LISTED_PROBLEMS, as `stats` lists). */
  constructor(options: { readonly maxProblems?: number } = {}) {
    this.loading = {
      taskRows: new IdIndex(),
      flows: new InternedIds(),
      summarizer: new TraceSummarizer({ maxProblems: options.maxProblems, records: this.recordKeeper() }),
      messages: new Map(),
    };
    this.locations.of(null);
  }

  add(event: TraceEvent): void {
    this.tie = event.ts === this.lastTs ? Math.min(this.tie + 1, MAX_TIE) : 0;
    this.lastTs = event.ts;
    const thread = event.thread;
    if (thread !== undefined && 'flow' in event && event.flow !== this.lastWorkerFlow) {
      this.lastWorkerFlow = event.flow;
      this.workerFlows.set(event.flow, thread);
    }
    this.loading?.summarizer.add(event);
  }

  finish(status: ReadStatus): void {
    const loading = this.loading;
    if (!loading) throw new Error('TraceTables.finish was called twice');
    this.loading = null;
    this.stats = loading.summarizer.finish(status);
    this.traceEnd = loading.summarizer.traceEnd(status);
    this.regions.trim();
    this.tasks.trim();
    this.logs.trim();
    this.sortFlows(loading.flows.values);
    // Without worker threads every flow is the main thread's (0): no look-up per flow.
    this.flowThreads = this.workerFlows.size === 0 ? new Float64Array(this.flowIds.length) : Float64Array.from(this.flowIds, (flow) => this.workerFlows.get(flow) ?? 0);
    const r = this.regions.data;
    for (let i = 0; i < this.regions.length; i++) {
      if (!r.complete[i]) r.end[i] = this.traceEnd;
    }
    const t = this.tasks.data;
    for (let i = 0; i < this.tasks.length; i++) {
      if (!t.ended[i]) t.end[i] = this.traceEnd;
    }
    const rows = new Int32Array(this.tasks.length);
    for (let i = 0; i < rows.length; i++) rows[i] = i;
    this.taskOrder = sortRows(rows, (a, b) => t.id[a] - t.id[b]);
    const tasks = this.tasks.length;
    const byId = this.taskOrder;
    const parentRows = new Int32Array(tasks);
    for (let k = 0; k < tasks; k++) {
      const parent = t.parent[byId[k]];
      parentRows[k] = parent > 0 ? loading.taskRows.get(parent) : -1;
    }
    this.parentRows = parentRows;
    if (this.traceContexts.size > 0) this.inheritTraceIds();
  }

  /** Each task's regions, logs and children (in id order), grouped when first needed. */
  private groups(): { readonly regions: Grouped; readonly logs: Grouped; readonly children: Grouped } {
    if (this.grouped) return this.grouped;
    const tasks = this.tasks.length;
    // Children in id order: group the rows taken in id order.
    const byId = this.taskOrder;
    const children = groupByTask(tasks, tasks, this.parentRows!);
    this.parentRows = null;
    return (this.grouped = {
      regions: groupByTask(this.regions.length, tasks, this.regions.data.taskRow),
      logs: groupByTask(this.logs.length, tasks, this.logs.data.taskRow),
      children: { offsets: children.offsets, items: children.items.map((k) => byId[k]) },
    });
  }

  /** Each task's trace id: its own, else its parent's (parents have smaller ids: they were created first). */
  private inheritTraceIds(): void {
    const t = this.tasks.data;
    for (const row of this.taskOrder) {
      const own = this.traceContexts.get(row)?.traceId;
      const parent = t.parent[row];
      const inherited = own ?? (parent > 0 ? this.traceIds.get(this.taskRow(parent)) : undefined);
      if (inherited !== undefined) this.traceIds.set(row, inherited);
    }
  }

  /** The row of task `id`, or −1. */
  taskRow(id: number): number {
    if (this.loading) return this.loading.taskRows.get(id);
    const order = this.taskOrder;
    const ids = this.tasks.data.id;
    let low = 0;
    let high = order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (ids[order[mid]] < id) low = mid + 1;
      else high = mid;
    }
    return low < order.length && ids[order[low]] === id ? order[low] : -1;
  }

  /** The id of the task of row `row`, 0 (the background task) for −1. */
  taskId(row: number): number {
    return row < 0 ? 0 : this.tasks.data.id[row];
  }

  location(index: number): SourceLocation | null {
    return this.locations.values[index] ?? null;
  }

  region(i: number): RegionInfo {
    const r = this.regions.data;
    return {
      id: i + 1,
      type: this.strings.values[r.type[i]],
      task: this.taskId(r.taskRow[i]),
      flow: this.flowIds[r.flow[i]],
      thread: this.flowThreads[r.flow[i]],
      parent: r.parent[i] === 0 ? null : r.parent[i],
      start: r.start[i],
      end: r.end[i],
      complete: r.complete[i] === 1,
      duration: r.end[i] - r.start[i],
      location: this.location(r.location[i]),
      beganBefore: this.regionBeganBefore.get(i) ?? null,
    };
  }

  log(i: number): LogInfo {
    const l = this.logs.data;
    return {
      ts: l.ts[i],
      flow: this.flowIds[l.flow[i]],
      thread: this.flowThreads[l.flow[i]],
      task: this.taskId(l.taskRow[i]),
      category: this.strings.values[l.category[i]],
      message: this.messages[i],
      location: this.location(l.location[i]),
    };
  }

  /** Latency of task row `row`, measured to/from the stand-ins when incomplete. */
  latency(row: number): Nanos {
    return this.tasks.data.end[row] - this.tasks.data.start[row];
  }

  complete(row: number): boolean {
    return this.tasks.data.created[row] === 1 && this.tasks.data.ended[row] === 1;
  }

  taskType(row: number): string {
    return this.strings.values[this.tasks.data.type[row]];
  }

  /** The task of row `row` as analyzeTrace lists it, history included. */
  task(row: number): TaskInfo {
    const t = this.tasks.data;
    const r = this.regions.data;
    const flowIds = this.flowIds;
    const flowThreads = this.flowThreads;
    const regionIds: number[] = [];
    const events: { event: TaskEventInfo; tie: number }[] = [];
    const flows = new Set<number>();
    if (t.created[row]) {
      const flow = flowIds[t.createFlow[row]];
      events.push({ event: { kind: 'create', ts: t.start[row], flow, thread: flowThreads[t.createFlow[row]], parent: t.parent[row], location: this.location(t.createLocation[row]) }, tie: t.createTie[row] });
      flows.add(flow);
    }
    if (t.ended[row]) {
      const flow = flowIds[t.endFlow[row]];
      events.push({ event: { kind: 'end', ts: t.end[row], flow, thread: flowThreads[t.endFlow[row]], location: this.location(t.endLocation[row]) }, tie: t.endTie[row] });
      flows.add(flow);
    }
    const grouped = this.groups();
    const { offsets, items } = grouped.regions;
    // Straight from the columns: a task page (or analyzeTrace) makes many of these.
    for (let k = offsets[row]; k < offsets[row + 1]; k++) {
      const i = items[k];
      const id = i + 1;
      const flow = flowIds[r.flow[i]];
      const thread = flowThreads[r.flow[i]];
      const type = this.strings.values[r.type[i]];
      const complete = r.complete[i] === 1;
      regionIds.push(id);
      flows.add(flow);
      events.push({
        event: { kind: 'regionStart', ts: r.start[i], flow, thread, region: id, type, duration: r.end[i] - r.start[i], complete, location: this.location(r.location[i]) },
        tie: r.startTie[i],
      });
      if (complete) events.push({ event: { kind: 'regionEnd', ts: r.end[i], flow, thread, region: id, type }, tie: r.endTie[i] });
    }
    const logs = grouped.logs;
    const l = this.logs.data;
    for (let k = logs.offsets[row]; k < logs.offsets[row + 1]; k++) {
      const i = logs.items[k];
      const flow = flowIds[l.flow[i]];
      flows.add(flow);
      events.push({
        event: { kind: 'log', ts: l.ts[i], flow, thread: flowThreads[l.flow[i]], category: this.strings.values[l.category[i]], message: this.messages[i], location: this.location(l.location[i]) },
        tie: l.tie[i],
      });
    }
    // Stable: events of one time and tie stay in the order gathered (creation, end, regions, logs).
    events.sort((a, b) => a.event.ts - b.event.ts || a.tie - b.tie);
    const children = grouped.children;
    return {
      id: t.id[row],
      type: this.taskType(row),
      parent: Number.isNaN(t.parent[row]) ? null : t.parent[row],
      beganBefore: this.taskBeganBefore.get(row) ?? null,
      children: Array.from(children.items.subarray(children.offsets[row], children.offsets[row + 1]), (child) => t.id[child]),
      complete: this.complete(row),
      created: t.created[row] === 1,
      ended: t.ended[row] === 1,
      start: t.start[row],
      end: t.end[row],
      latency: this.latency(row),
      flows: [...flows].sort((a, b) => a - b),
      threads: [...new Set(events.map((e) => e.event.thread))].sort((a, b) => a - b),
      traceId: this.traceIds.get(row) ?? null,
      parentSpanId: this.traceContexts.get(row)?.spanId ?? null,
      regions: regionIds,
      events: events.map((e) => e.event),
    };
  }

  /**
   * The tasks by id, or slowest first (`sort: 'latency'`), those whose type matches `type` ({@link typeMatcher})
   * only when given, the first `limit` only when given; each made when asked for.
   */
  taskListing(options: ListingOptions = {}): Listing<TaskInfo> {
    const types = this.tasks.data.type;
    const matches = this.typesMatching(options.type);
    let rows = matches ? this.taskOrder.filter((row) => matches[types[row]] === 1) : this.taskOrder;
    const traceId = options.traceId?.toLowerCase();
    if (traceId !== undefined) rows = rows.filter((row) => this.traceIds.get(row) === traceId);
    if (options.sort === 'latency') rows = rows.slice().sort((a, b) => this.latency(b) - this.latency(a) || this.tasks.data.id[a] - this.tasks.data.id[b]);
    return limited(rows, options.limit, (row) => this.task(row));
  }

  /**
   * The regions by id, or longest first (`sort: 'duration'`), those whose type matches `type` only when
   * given, the first `limit` only when given; each made when asked for.
   */
  regionListing(options: ListingOptions = {}): Listing<RegionInfo> {
    const r = this.regions.data;
    const matches = this.typesMatching(options.type);
    if (!matches && options.sort !== 'duration') return limited(this.regions.length, options.limit, (i) => this.region(i));
    const selected: number[] = [];
    for (let i = 0; i < this.regions.length; i++) if (!matches || matches[r.type[i]] === 1) selected.push(i);
    const indexes = Int32Array.from(selected);
    if (options.sort === 'duration') indexes.sort((a, b) => r.end[b] - r.start[b] - (r.end[a] - r.start[a]) || a - b);
    return limited(indexes, options.limit, (i) => this.region(i));
  }

  /** For each interned string, 1 when it is a type matching `pattern`; null when there is no pattern. */
  private typesMatching(pattern: string | undefined): Uint8Array | null {
    if (pattern === undefined) return null;
    const matcher = typeMatcher(pattern);
    return Uint8Array.from(this.strings.values, (value) => (matcher(value) ? 1 : 0));
  }

  /** The logs in file order, each made when asked for. */
  logListing(): Listing<LogInfo> {
    return { length: this.logs.length, at: (i) => this.log(i) };
  }

  /** Numbers the flows in ascending order (they were numbered as first seen), in every column that holds one. */
  private sortFlows(seen: readonly number[]): void {
    this.flowIds = Float64Array.from(seen);
    // Flows are numbered by their runtime as they start, and mostly seen in that order: nothing to renumber then.
    let ascending = true;
    for (let k = 1; k < seen.length && ascending; k++) ascending = seen[k - 1] < seen[k];
    if (ascending) return;
    // Sorted natively (no comparator: ids are distinct numbers), then each id's old index looked up.
    this.flowIds.sort();
    const oldIndex = new IdIndex();
    seen.forEach((id, old) => oldIndex.set(id, old));
    const renumbered = new Int32Array(seen.length);
    this.flowIds.forEach((id, index) => (renumbered[oldIndex.get(id)] = index));
    const remap = (column: Int32Array, length: number) => {
      for (let i = 0; i < length; i++) column[i] = renumbered[column[i]];
    };
    remap(this.regions.data.flow, this.regions.length);
    remap(this.logs.data.flow, this.logs.length);
    const t = this.tasks.data;
    // A task's creation or end missing from the trace left its flow at 0: any index will do there.
    remap(t.createFlow, this.tasks.length);
    remap(t.endFlow, this.tasks.length);
  }

  /** The row of task `id`, added (unknown: type "", not created) when first seen. */
  private knownTask(taskRows: IdIndex, id: number): number {
    // A task's events come in runs: the last one's row needs no look-up.
    if (id === this.lastTask) return this.lastTaskRow;
    let row = taskRows.get(id);
    if (row < 0) {
      const type = this.stringIndex('');
      row = this.tasks.push();
      const t = this.tasks.data;
      t.id[row] = id;
      t.type[row] = type;
      t.parent[row] = NaN;
      taskRows.set(id, row);
    }
    this.lastTask = id;
    return (this.lastTaskRow = row);
  }

  /**
   * The message to keep for a log: one string for each short message that repeats ("ok", "done"), not
   * one per log (each decoded afresh), up to {@link KEPT_MESSAGES} distinct ones.
   */
  private keptMessage(message: string): string {
    if (message.length > SHARED_MESSAGE_LENGTH) return message;
    const seen = this.loading!.messages;
    const kept = seen.get(message);
    if (kept !== undefined) return kept;
    if (seen.size < KEPT_MESSAGES) seen.set(message, message);
    return message;
  }

  private locationIndex(location: SourceLocation | null): number {
    const index = this.locations.of(location);
    if (index > NARROW_INDEX_MAX) {
      this.regions.widen(['location']);
      this.tasks.widen(['createLocation', 'endLocation']);
      this.logs.widen(['location']);
    }
    return index;
  }

  private stringIndex(value: string): number {
    const index = this.strings.of(value);
    if (index > NARROW_INDEX_MAX) {
      this.regions.widen(['type']);
      this.tasks.widen(['type']);
      this.logs.widen(['category']);
    }
    return index;
  }

  private recordKeeper(): TraceRecordKeeper {
    // Called only while loading: `this.loading` is set then.
    const taskRows = () => this.loading!.taskRows;
    // Events of one flow come in runs: the last flow's index needs no look-up.
    let lastFlow = NaN;
    let lastFlowIndex = -1;
    const flow = (id: number) => (id === lastFlow ? lastFlowIndex : ((lastFlow = id), (lastFlowIndex = this.loading!.flows.of(id))));
    // The tasks' columns hold what the summarizer needs of an open task: it is not kept twice (nor promoted to the old heap per task).
    const openTasks: OpenTasks = {
      opened: () => {},
      closed: (id) => {
        const row = taskRows().get(id);
        const t = this.tasks.data;
        return row >= 0 && t.created[row] === 1 && t.ended[row] === 0 ? { type: this.strings.values[t.type[row]], start: t.start[row] } : null;
      },
    };
    return {
      openTasks,
      taskCreated: (event: Event<'taskCreate'>) => {
        const row = this.knownTask(taskRows(), event.task);
        // Indexes first: a 16-bit index column made wider is a new column.
        const type = this.stringIndex(event.type);
        const location = this.locationIndex(event.location);
        const t = this.tasks.data;
        // A task carried into a snapshot: known type and parent, its creation not in the trace.
        t.created[row] = event.beganBefore === undefined ? 1 : 0;
        if (event.beganBefore !== undefined) this.taskBeganBefore.set(row, event.beganBefore);
        t.type[row] = type;
        t.parent[row] = event.parent;
        t.start[row] = event.ts;
        t.createFlow[row] = flow(event.flow);
        t.createLocation[row] = location;
        t.createTie[row] = this.tie;
        if (event.parent !== 0) this.knownTask(taskRows(), event.parent);
      },
      taskEnded: (event: Event<'taskEnd'>) => {
        const row = this.knownTask(taskRows(), event.task);
        const location = this.locationIndex(event.location);
        const t = this.tasks.data;
        t.ended[row] = 1;
        t.end[row] = event.ts;
        t.endFlow[row] = flow(event.flow);
        t.endLocation[row] = location;
        t.endTie[row] = this.tie;
      },
      regionStarted: (event: Event<'regionStart'>, region: RegionRecord) => {
        // Indexes first: a 16-bit index column made wider is a new column.
        const type = this.stringIndex(event.type);
        const location = this.locationIndex(event.location);
        const taskRow = event.task === 0 ? -1 : this.knownTask(taskRows(), event.task);
        const i = this.regions.push();
        const r = this.regions.data;
        const parent = region.parent;
        r.start[i] = event.ts;
        r.end[i] = NaN;
        r.flow[i] = flow(event.flow);
        r.parent[i] = parent === null ? 0 : parent.id;
        r.type[i] = type;
        r.location[i] = location;
        r.depth[i] = parent !== null && parent.flow === event.flow ? Math.min(MAX_DEPTH, r.depth[parent.id - 1] + 1) : 0;
        r.startTie[i] = this.tie;
        if (event.beganBefore !== undefined) this.regionBeganBefore.set(i, event.beganBefore);
        r.taskRow[i] = taskRow;
      },
      regionEnded: (event: Event<'regionEnd'>, region: RegionRecord) => {
        const r = this.regions.data;
        const i = region.id - 1;
        r.end[i] = event.ts;
        r.complete[i] = 1;
        r.endTie[i] = this.tie;
      },
      logged: (event: Event<'log'>) => {
        const category = this.stringIndex(event.category);
        const location = this.locationIndex(event.location);
        const taskRow = event.task === 0 ? -1 : this.knownTask(taskRows(), event.task);
        const i = this.logs.push();
        const l = this.logs.data;
        l.ts[i] = event.ts;
        l.flow[i] = flow(event.flow);
        l.category[i] = category;
        l.location[i] = location;
        l.tie[i] = this.tie;
        this.messages.push(this.keptMessage(event.message));
        l.taskRow[i] = taskRow;
        if (event.category === OTEL_TRACE_CATEGORY && l.taskRow[i] >= 0 && !this.traceContexts.has(l.taskRow[i])) {
          const context = parseTraceparent(event.message);
          if (context !== null) this.traceContexts.set(l.taskRow[i], context);
        }
      },
    };
  }
}

/**
 * Reads a trace into {@link TraceTables}; `onEvent`, when given, sees every event too (the timeline's
 * GC and heap). Never throws for damaged input (the statistics' status says where reading stopped).
 */
export async function loadTraceTables(source: TraceSource, onEvent?: (event: TraceEvent) => void): Promise<TraceTables> {
  const tables = new TraceTables();
  const status = await readTrace(source, (event) => {
    tables.add(event);
    onEvent?.(event);
  });
  tables.finish(status);
  return tables;
}

export interface ListingOptions {
  /** Only the items whose type matches this pattern ({@link typeMatcher}). */
  readonly type?: string;
  /** Tasks: `latency`, slowest first; regions: `duration`, longest first. Default: by id. */
  readonly sort?: 'latency' | 'duration';
  /** Only the first `limit` items (after sorting). */
  readonly limit?: number;
  /** Tasks: only those of this W3C trace id (32 hex digits; {@link TaskInfo.traceId}). */
  readonly traceId?: string;
}

/** The items at `rows` (a count: rows 0, 1, 2…), the first `limit` only when given. */
function limited<T>(rows: ArrayLike<number> | number, limit: number | undefined, item: (row: number) => T): Listing<T> {
  const count = typeof rows === 'number' ? rows : rows.length;
  const length = Math.min(count, limit ?? Infinity);
  return { length, at: typeof rows === 'number' ? item : (k) => item(rows[k]) };
}
