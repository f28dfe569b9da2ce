/**
 * A trace in columns, as `tstrace view` and the listing commands hold it: every task, region and log
 * in columns of typed arrays (about 110 bytes a region, where analyzeTrace's objects take several
 * hundred), read in one pass with the statistics. Items become the analysis's objects (TaskInfo,
 * RegionInfo, LogInfo) only when asked for, one at a time, so a trace of millions of regions loads in
 * seconds and in little memory.
 */
import type { Nanos, ReadStatus, SourceLocation, TraceEvent } from '../format/events.js';
import type { Listing, LogInfo, RegionInfo, TaskEventInfo, TaskInfo, TraceStats } from './analysis-types.js';
import { readTrace, type TraceSource } from './reader.js';
import type { RegionRecord } from './region-stacks.js';
import { TraceSummarizer, type TraceRecordKeeper } from './summary.js';

type Event<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;
type Column = Float64Array | Int32Array | Uint8Array;

/** Columns of one length that grow together. */
class Columns<T extends Record<string, Column>> {
  length = 0;
  private capacity: number;
  constructor(public data: T) {
    this.capacity = Object.values(data)[0].length;
  }

  /** Index of a new row (zeroed), growing every column when full. */
  push(): number {
    if (this.length === this.capacity) {
      this.capacity *= 2;
      const grown: Record<string, Column> = {};
      for (const [name, column] of Object.entries(this.data)) {
        const bigger = new (column.constructor as new (n: number) => Column)(this.capacity);
        bigger.set(column);
        grown[name] = bigger;
      }
      this.data = grown as T;
    }
    return this.length++;
  }

  /** Gives back the room grown for rows that never came (up to half of it). */
  trim(): void {
    if (this.length === this.capacity) return;
    const trimmed: Record<string, Column> = {};
    for (const [name, column] of Object.entries(this.data)) trimmed[name] = column.slice(0, Math.max(1, this.length));
    this.data = trimmed as T;
    this.capacity = Math.max(1, this.length);
  }
}

const regionColumns = (n: number) => ({
  start: new Float64Array(n),
  /** NaN while open; the trace end stands in after finish (see `complete`). */
  end: new Float64Array(n),
  complete: new Uint8Array(n),
  flow: new Float64Array(n),
  task: new Float64Array(n),
  /** The task's row, −1 for the background task. */
  taskRow: new Int32Array(n),
  /** Parent region id, 0 at the top level. */
  parent: new Float64Array(n),
  type: new Int32Array(n),
  /** Location index, -1 for none. */
  location: new Int32Array(n),
  /** Nesting depth on its own flow. */
  depth: new Int32Array(n),
  startSeq: new Float64Array(n),
  endSeq: new Float64Array(n),
});

const taskColumns = (n: number) => ({
  id: new Float64Array(n),
  /** String index of the type; the index of "" when the creation is not in the trace. */
  type: new Int32Array(n),
  /** NaN when the creation is not in the trace. */
  parent: new Float64Array(n),
  created: new Uint8Array(n),
  ended: new Uint8Array(n),
  start: new Float64Array(n),
  end: new Float64Array(n),
  createFlow: new Float64Array(n),
  endFlow: new Float64Array(n),
  createLocation: new Int32Array(n),
  endLocation: new Int32Array(n),
  createSeq: new Float64Array(n),
  endSeq: new Float64Array(n),
});

const logColumns = (n: number) => ({
  ts: new Float64Array(n),
  flow: new Float64Array(n),
  task: new Float64Array(n),
  /** The task's row, −1 for the background task. */
  taskRow: new Int32Array(n),
  category: new Int32Array(n),
  location: new Int32Array(n),
  seq: new Float64Array(n),
});

/** Task → items in compressed-row form: the items of task row `t` are `items[offsets[t] .. offsets[t + 1])`. */
interface Grouped {
  readonly offsets: Int32Array;
  readonly items: Int32Array;
}

/** Groups item indexes by the task row `rowOf(item)` (−1: none), keeping item order. */
function groupByTask(count: number, tasks: number, rowOf: (item: number) => number): Grouped {
  const offsets = new Int32Array(tasks + 1);
  for (let i = 0; i < count; i++) {
    const row = rowOf(i);
    if (row >= 0) offsets[row + 1]++;
  }
  for (let t = 0; t < tasks; t++) offsets[t + 1] += offsets[t];
  const fill = offsets.slice(0, tasks);
  const items = new Int32Array(offsets[tasks]);
  for (let i = 0; i < count; i++) {
    const row = rowOf(i);
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

/** The tasks, regions and logs of a trace, with its statistics. Build with {@link loadTraceTables}. */
export class TraceTables {
  stats!: TraceStats;
  /** Region and task types, and log categories: indexes in the columns. */
  readonly strings = new Interned<string>();
  readonly locations = new Interned<SourceLocation>();
  readonly regions = new Columns(regionColumns(1024));
  readonly tasks = new Columns(taskColumns(256));
  readonly logs = new Columns(logColumns(256));
  readonly messages: string[] = [];
  /** Task id → row. */
  private readonly taskRows = new Map<number, number>();
  /** Task rows by id, ascending (after finish). */
  taskOrder = new Int32Array(0);
  taskRegions!: Grouped;
  taskLogs!: Grouped;
  taskChildren!: Grouped;
  traceEnd: Nanos = 0;
  private seq = 0;
  /** Let go at finish: its stacks of open regions, per flow, are no use afterwards. */
  private summarizer: TraceSummarizer | null;

  /** `maxProblems`: problems listed in the statistics (default LISTED_PROBLEMS, as `stats` lists). */
  constructor(options: { readonly maxProblems?: number } = {}) {
    this.summarizer = new TraceSummarizer({ maxProblems: options.maxProblems, records: this.recordKeeper() });
  }

  add(event: TraceEvent): void {
    this.seq++;
    this.summarizer?.add(event);
  }

  finish(status: ReadStatus): void {
    const summarizer = this.summarizer;
    if (!summarizer) throw new Error('TraceTables.finish was called twice');
    this.summarizer = null;
    this.stats = summarizer.finish(status);
    this.traceEnd = summarizer.traceEnd(status);
    this.regions.trim();
    this.tasks.trim();
    this.logs.trim();
    const r = this.regions.data;
    for (let i = 0; i < this.regions.length; i++) {
      if (!r.complete[i]) r.end[i] = this.traceEnd;
    }
    const t = this.tasks.data;
    for (let i = 0; i < this.tasks.length; i++) {
      if (!t.ended[i]) t.end[i] = this.traceEnd;
    }
    this.taskOrder = Int32Array.from({ length: this.tasks.length }, (_, i) => i).sort((a, b) => t.id[a] - t.id[b]);
    const tasks = this.tasks.length;
    this.taskRegions = groupByTask(this.regions.length, tasks, (i) => r.taskRow[i]);
    this.taskLogs = groupByTask(this.logs.length, tasks, (i) => this.logs.data.taskRow[i]);
    // Children in id order: group the rows taken in id order.
    const byId = this.taskOrder;
    const children = groupByTask(tasks, tasks, (k) => {
      const parent = t.parent[byId[k]];
      return parent > 0 ? (this.taskRows.get(parent) ?? -1) : -1;
    });
    this.taskChildren = { offsets: children.offsets, items: children.items.map((k) => byId[k]) };
  }

  /** The row of task `id`, or −1. */
  taskRow(id: number): number {
    return this.taskRows.get(id) ?? -1;
  }

  location(index: number): SourceLocation | null {
    return index < 0 ? null : this.locations.values[index];
  }

  region(i: number): RegionInfo {
    const r = this.regions.data;
    return {
      id: i + 1,
      type: this.strings.values[r.type[i]],
      task: r.task[i],
      flow: r.flow[i],
      parent: r.parent[i] === 0 ? null : r.parent[i],
      start: r.start[i],
      end: r.end[i],
      complete: r.complete[i] === 1,
      duration: r.end[i] - r.start[i],
      location: this.location(r.location[i]),
    };
  }

  log(i: number): LogInfo {
    const l = this.logs.data;
    return { ts: l.ts[i], flow: l.flow[i], task: l.task[i], category: this.strings.values[l.category[i]], message: this.messages[i], location: this.location(l.location[i]) };
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
    const regionIds: number[] = [];
    const events: { event: TaskEventInfo; seq: number }[] = [];
    const flows = new Set<number>();
    if (t.created[row]) {
      events.push({ event: { kind: 'create', ts: t.start[row], flow: t.createFlow[row], parent: t.parent[row], location: this.location(t.createLocation[row]) }, seq: t.createSeq[row] });
      flows.add(t.createFlow[row]);
    }
    if (t.ended[row]) {
      events.push({ event: { kind: 'end', ts: t.end[row], flow: t.endFlow[row], location: this.location(t.endLocation[row]) }, seq: t.endSeq[row] });
      flows.add(t.endFlow[row]);
    }
    const { offsets, items } = this.taskRegions;
    // Straight from the columns: a task page (or analyzeTrace) makes many of these.
    for (let k = offsets[row]; k < offsets[row + 1]; k++) {
      const i = items[k];
      const id = i + 1;
      const flow = r.flow[i];
      const type = this.strings.values[r.type[i]];
      const complete = r.complete[i] === 1;
      regionIds.push(id);
      flows.add(flow);
      events.push({
        event: { kind: 'regionStart', ts: r.start[i], flow, region: id, type, duration: r.end[i] - r.start[i], complete, location: this.location(r.location[i]) },
        seq: r.startSeq[i],
      });
      if (complete) events.push({ event: { kind: 'regionEnd', ts: r.end[i], flow, region: id, type }, seq: r.endSeq[i] });
    }
    const logs = this.taskLogs;
    const l = this.logs.data;
    for (let k = logs.offsets[row]; k < logs.offsets[row + 1]; k++) {
      const i = logs.items[k];
      flows.add(l.flow[i]);
      events.push({
        event: { kind: 'log', ts: l.ts[i], flow: l.flow[i], category: this.strings.values[l.category[i]], message: this.messages[i], location: this.location(l.location[i]) },
        seq: l.seq[i],
      });
    }
    events.sort((a, b) => a.event.ts - b.event.ts || a.seq - b.seq);
    const children = this.taskChildren;
    return {
      id: t.id[row],
      type: this.taskType(row),
      parent: Number.isNaN(t.parent[row]) ? null : t.parent[row],
      children: Array.from(children.items.subarray(children.offsets[row], children.offsets[row + 1]), (child) => t.id[child]),
      complete: this.complete(row),
      created: t.created[row] === 1,
      ended: t.ended[row] === 1,
      start: t.start[row],
      end: t.end[row],
      latency: this.latency(row),
      flows: [...flows].sort((a, b) => a - b),
      regions: regionIds,
      events: events.map((e) => e.event),
    };
  }

  /** The tasks by id, those of type `type` only when given, each made when asked for. */
  taskListing(type?: string): Listing<TaskInfo> {
    const typeIndex = type === undefined ? -1 : this.strings.find(type);
    const rows = type === undefined ? this.taskOrder : this.taskOrder.filter((row) => this.tasks.data.type[row] === typeIndex);
    return { length: rows.length, at: (k) => this.task(rows[k]) };
  }

  /** The regions by id, those of type `type` only when given, each made when asked for. */
  regionListing(type?: string): Listing<RegionInfo> {
    if (type === undefined) return { length: this.regions.length, at: (i) => this.region(i) };
    const typeIndex = this.strings.find(type);
    const types = this.regions.data.type;
    const selected: number[] = [];
    for (let i = 0; i < this.regions.length; i++) if (types[i] === typeIndex) selected.push(i);
    const indexes = Int32Array.from(selected);
    return { length: indexes.length, at: (k) => this.region(indexes[k]) };
  }

  /** The logs in file order, each made when asked for. */
  logListing(): Listing<LogInfo> {
    return { length: this.logs.length, at: (i) => this.log(i) };
  }

  /** The row of task `id`, added (unknown: type "", not created) when first seen. */
  private knownTask(id: number): number {
    let row = this.taskRows.get(id);
    if (row === undefined) {
      row = this.tasks.push();
      const t = this.tasks.data;
      t.id[row] = id;
      t.type[row] = this.strings.of('');
      t.parent[row] = NaN;
      this.taskRows.set(id, row);
    }
    return row;
  }

  private locationIndex(location: SourceLocation | null): number {
    return location === null ? -1 : this.locations.of(location);
  }

  private recordKeeper(): TraceRecordKeeper {
    return {
      taskCreated: (event: Event<'taskCreate'>) => {
        const row = this.knownTask(event.task);
        const t = this.tasks.data;
        t.created[row] = 1;
        t.type[row] = this.strings.of(event.type);
        t.parent[row] = event.parent;
        t.start[row] = event.ts;
        t.createFlow[row] = event.flow;
        t.createLocation[row] = this.locationIndex(event.location);
        t.createSeq[row] = this.seq;
        if (event.parent !== 0) this.knownTask(event.parent);
      },
      taskEnded: (event: Event<'taskEnd'>) => {
        const row = this.knownTask(event.task);
        const t = this.tasks.data;
        t.ended[row] = 1;
        t.end[row] = event.ts;
        t.endFlow[row] = event.flow;
        t.endLocation[row] = this.locationIndex(event.location);
        t.endSeq[row] = this.seq;
      },
      regionStarted: (event: Event<'regionStart'>, region: RegionRecord) => {
        const i = this.regions.push();
        const r = this.regions.data;
        const parent = region.parent;
        r.start[i] = event.ts;
        r.end[i] = NaN;
        r.flow[i] = event.flow;
        r.task[i] = event.task;
        r.parent[i] = parent === null ? 0 : parent.id;
        r.type[i] = this.strings.of(event.type);
        r.location[i] = this.locationIndex(event.location);
        r.depth[i] = parent !== null && parent.flow === event.flow ? r.depth[parent.id - 1] + 1 : 0;
        r.startSeq[i] = this.seq;
        r.taskRow[i] = event.task === 0 ? -1 : this.knownTask(event.task);
      },
      regionEnded: (event: Event<'regionEnd'>, region: RegionRecord) => {
        const r = this.regions.data;
        const i = region.id - 1;
        r.end[i] = event.ts;
        r.complete[i] = 1;
        r.endSeq[i] = this.seq;
      },
      logged: (event: Event<'log'>) => {
        const i = this.logs.push();
        const l = this.logs.data;
        l.ts[i] = event.ts;
        l.flow[i] = event.flow;
        l.task[i] = event.task;
        l.category[i] = this.strings.of(event.category);
        l.location[i] = this.locationIndex(event.location);
        l.seq[i] = this.seq;
        this.messages.push(event.message);
        l.taskRow[i] = event.task === 0 ? -1 : this.knownTask(event.task);
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
