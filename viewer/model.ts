/**
 * What `tstrace view` serves: one trace, read once into columns (trace-tables.ts), and the queries of the
 * viewer's JSON API over it (filtered task, region and log lists, task pages, the visible part of the
 * timeline; with scheduling events, where each task's time went and when each flow ran: run-index.ts).
 * Pure data in, plain JSON-friendly objects out; the HTTP layer is server.ts.
 */
import type { TaskInfo, TraceStats } from '../analysis/analysis-types.js';
import { bucketLowerBound, latencyBucket } from '../analysis/histogram.js';
import type { TraceSource } from '../analysis/reader.js';
import { formatLocation } from '../analysis/summary.js';
import { sortRows } from '../analysis/sort-rows.js';
import { loadTraceTables, type TraceTables } from '../analysis/trace-tables.js';
import type { Nanos } from '../format/events.js';
import { locationText, tasksText } from '../report/text-report.js';
import { resumedText } from '../report/time-report.js';
import { CounterSeries, IntervalRow, packRows, RowPacker, type CounterPoint, type PackedRows, type TimelineItem } from './timeline-index.js';
import { RunCollector, type RunIndex, type RunJson } from './run-index.js';
import { firstLaneReaching, flowFacts, flowLifetimes, indexOfSorted, lanePerFlow, layOut, packFlows, type LaneLayout, type TimelineLayout } from './timeline-layout.js';

/** The trace as the viewer holds it. */
export interface ViewerModel {
  readonly tables: TraceTables;
  readonly stats: TraceStats;
  /** Region and task types, indexed by the `type` of timeline items. */
  readonly types: readonly string[];
  readonly gc: IntervalRow;
  readonly heap: CounterSeries;
  /** Event-loop utilization (0..1) at the end of each sampling interval. */
  readonly eventLoop: CounterSeries;
  /** The tasks, packed into rows. */
  readonly tasks: PackedRows;
  /** A lane per flow with regions or logs, in flow order. */
  readonly perFlow: TimelineLayout;
  /** The flows packed into lanes (a flow's lane is free again once its last region ended): made when first asked for. */
  packed(): TimelineLayout;
  /** The runs of the packed lanes, a row per flow lane (null without runs): made with {@link packed}. */
  packedRuns(): PackedRows | null;
  /** Locations under this folder are shown relative to it. */
  readonly cwd: string;
  /** The scheduling events (runs); null for a trace recorded without them. */
  readonly runs: RunIndex | null;
}

/** Reads a trace into columns, and indexes it for the timeline. */
export async function loadViewerModel(source: TraceSource, cwd: string): Promise<ViewerModel> {
  const gcEvents: [Nanos, Nanos][] = [];
  const heap = new CounterSeries();
  const eventLoop = new CounterSeries();
  const runCollector = new RunCollector(source);
  const tables = await loadTraceTables(source, (event) => {
    runCollector.add(event);
    if (event.kind === 'gc') gcEvents.push([event.ts, event.duration]);
    else if (event.kind === 'heap') heap.add(event.ts, event.bytes);
    else if (event.kind === 'eventLoop') eventLoop.add(event.ts, event.utilization);
  });
  const types = tables.strings.values;

  const gc = new IntervalRow();
  gcEvents.sort((a, b) => a[0] - b[0]);
  gcEvents.forEach(([ts, duration], i) => gc.add(ts, ts + duration, i, 0));

  const t = tables.tasks.data;
  const taskRows = sortRows(Int32Array.from(tables.taskOrder), (a, b) => t.start[a] - t.start[b] || t.id[a] - t.id[b]);
  const packer = new RowPacker();
  const rowOfTask = taskRows.map((row) => packer.add(t.start[row], t.end[row]));
  const tasks = packRows(packer.rows, rowOfTask, { start: t.start, end: t.end, type: t.type, id: (row) => t.id[row] }, taskRows);

  const runs = await runCollector.finish(tables);
  const fixed: Omit<LaneLayout, 'top'>[] = [];
  if (gc.length > 0) fixed.push({ id: 'gc', label: 'GC', kind: 'gc', rows: 1, firstRow: 0, flow: 0, logRow: 0 });
  // Each thread's long runs (firstRow: the index in `runs.long`).
  runs?.long.forEach(({ thread }, k) =>
    fixed.push({ id: `long-runs:${thread}`, label: thread === 0 ? 'long runs' : `worker ${thread} · long runs`, kind: 'runs', rows: 1, firstRow: k, flow: 0, logRow: 0 }),
  );
  if (tasks.rows > 0) fixed.push({ id: 'tasks', label: 'tasks', kind: 'tasks', rows: tasks.rows, firstRow: 0, flow: 0, logRow: 0 });
  // The flows' facts are made again for the packed layout rather than held (bytes per region count).
  const flows = flowFacts(tables);
  const perFlow = layOut(tables, fixed, lanePerFlow(flows), flows);
  let packed: TimelineLayout | null = null;
  let packedRuns: PackedRows | null = null;
  const pack = (): TimelineLayout => {
    if (packed) return packed;
    const flows = flowFacts(tables);
    const lanes = packFlows(flows, flowLifetimes(tables, flows));
    if (runs) {
      packedRuns = runs.inLanes(lanes.count, (flow) => {
        const k = indexOfSorted(flows.ids, flow);
        return k < 0 ? -1 : lanes.laneOf(k);
      });
    }
    return (packed = layOut(tables, fixed, lanes, flows));
  };
  return {
    tables,
    stats: tables.stats,
    types,
    gc,
    heap,
    eventLoop,
    tasks,
    perFlow,
    packed: pack,
    packedRuns: () => (pack(), packedRuns),
    cwd,
    runs,
  };
}

// ---- queries -------------------------------------------------------------------------------------

/** `/api/summary`: the overview. */
export function summaryJson(model: ViewerModel) {
  const { stats } = model;
  const { status } = stats;
  return {
    summary: stats.summary,
    status: {
      complete: status.complete,
      problem: status.problem ? { kind: status.problem.kind, offset: status.problem.offset, reason: status.problem.reason } : null,
      bytesRead: status.bytesRead,
    },
    problems: stats.problems,
    problemsLeftOut: stats.problemsLeftOut,
    logCategories: stats.logCategories,
  };
}

/**
 * A histogram bucket with `upperBound`: the shortest whole-ns duration of the next bucket, so the bucket
 * holds the durations `d` with `lowerBound ≤ d < upperBound` (`lowerBound` is Go's, rounded down).
 */
function bucketJson(bucket: { bucket: number; lowerBound: Nanos; count: number }) {
  let upperBound = bucketLowerBound(bucket.bucket + 1);
  if (latencyBucket(upperBound) <= bucket.bucket) upperBound += 1;
  return { ...bucket, upperBound };
}

/** `/api/task-types`. */
export function taskTypesJson(model: ViewerModel) {
  return model.stats.taskTypes.map((t) => ({ ...t, histogram: t.histogram.map(bucketJson) }));
}

/** `/api/region-groups`: each group with its index, by which `/api/regions?group=` lists its regions. */
export function regionGroupsJson(model: ViewerModel) {
  return model.stats.regionGroups.map((g, index) => ({ ...g, index, histogram: g.histogram.map(bucketJson) }));
}

/** Paging of a list: `offset` (default 0) and `limit` (default 200, at most 5000). */
function pageOf(query: URLSearchParams): { offset: number; limit: number } {
  const offset = Math.max(0, Math.floor(Number(query.get('offset') ?? 0)) || 0);
  const limit = Math.min(5000, Math.max(1, Math.floor(Number(query.get('limit') ?? 200)) || 200));
  return { offset, limit };
}

/** The page `query` asks for of the items `0 ≤ i < count` that `keep` selects: their total, and the page as JSON. */
function page<T>(count: number, keep: (i: number) => boolean, item: (i: number) => T, query: URLSearchParams): { total: number; offset: number; items: T[] } {
  const { offset, limit } = pageOf(query);
  const items: T[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (!keep(i)) continue;
    if (total >= offset && items.length < limit) items.push(item(i));
    total++;
  }
  return { total, offset, items };
}

function numberParam(query: URLSearchParams, name: string): number | null {
  const text = query.get(name);
  if (text === null || text === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** A task in lists: its facts without its events. */
function taskRow(task: TaskInfo) {
  const { events, regions, ...rest } = task;
  return { ...rest, regions: regions.length, logs: events.filter((e) => e.kind === 'log').length };
}

/**
 * A duration filter from `min` (inclusive), `max` (exclusive) and a histogram `bucket` (which also
 * requires completeness); null when the query has none of them.
 */
function durationFilter(query: URLSearchParams): ((duration: Nanos, complete: boolean) => boolean) | null {
  const min = numberParam(query, 'min');
  const max = numberParam(query, 'max');
  const bucket = numberParam(query, 'bucket');
  if (min === null && max === null && bucket === null) return null;
  return (d, complete) => (min === null || d >= min) && (max === null || d < max) && (bucket === null || (complete && latencyBucket(d) === bucket));
}

/**
 * `/api/tasks`: tasks by id, filtered by `type` (exact), `complete` (`true`/`false`), latency `min`
 * (inclusive) and `max` (exclusive) in ns, histogram `bucket` (the complete tasks of that latency
 * bucket), and `log` (a log message of the task contains it); paged.
 */
export function tasksJson(model: ViewerModel, query: URLSearchParams) {
  const { tables } = model;
  const t = tables.tasks.data;
  const type = query.get('type');
  const typeIndex = type === null ? null : model.tables.strings.find(type);
  const complete = query.get('complete') || null;
  const duration = durationFilter(query);
  const log = query.get('log') || null;
  let withLog: Uint8Array | null = null;
  if (log !== null) {
    withLog = new Uint8Array(tables.tasks.length);
    const l = tables.logs.data;
    tables.messages.forEach((message, i) => {
      if (l.taskRow[i] >= 0 && message.includes(log)) withLog![l.taskRow[i]] = 1;
    });
  }
  const order = tables.taskOrder;
  const result = page(
    order.length,
    (k) => {
      const row = order[k];
      return (
        (typeIndex === null || t.type[row] === typeIndex) &&
        (complete === null || String(tables.complete(row)) === complete) &&
        (duration === null || duration(tables.latency(row), tables.complete(row))) &&
        (withLog === null || withLog[row] === 1)
      );
    },
    (k) => taskRow(tables.task(order[k])),
    query,
  );
  return result;
}

/** `/api/task/:id`: the task, its events as `tstrace tasks` prints them, its children, its parent's type. */
export function taskJson(model: ViewerModel, id: number) {
  const { tables } = model;
  const row = tables.taskRow(id);
  if (row < 0) return null;
  const task = tables.task(row);
  const children = task.children.map((child) => taskRow(tables.task(tables.taskRow(child))));
  const parentRow = task.parent ? tables.taskRow(task.parent) : -1;
  return {
    ...task,
    text: tasksText([task], { cwd: model.cwd }),
    childTasks: children,
    parentType: parentRow >= 0 ? tables.taskType(parentRow) : null,
    time: taskTimeJson(model, id),
  };
}

/**
 * Where a task's time went, when the trace has scheduling events and the task ran: its wall time as
 * running + queued + waiting, and the runs that held the thread while it was queued (analysis/time-breakdown.ts);
 * null otherwise.
 */
function taskTimeJson(model: ViewerModel, id: number) {
  const time = model.runs?.taskTime(id) ?? null;
  if (time === null) return null;
  const { start, wall, running, queued, waiting, runs, readinessUnknown } = time;
  const where = (l: Parameters<typeof locationText>[0]): string => locationText(l, { cwd: model.cwd });
  return {
    start,
    wall,
    running,
    queued,
    waiting,
    runs,
    readinessUnknown,
    blockers: time.blockers.map((b) => ({ ...b, where: b.location ? locationText(b.location, { cwd: model.cwd }) : '', resumed: resumedText(b, where) })),
    // What it waited on, and where that was created (format version 6), as `tstrace tasks` prints it.
    waits: time.waits.map((w) => ({ ...w, text: resumedText(w, where) })),
  };
}

/**
 * `/api/regions`: regions by id, of a `group` (index in `/api/region-groups`) or of a `type`, filtered by
 * duration `min`/`max` (ns) and histogram `bucket` like tasks; paged.
 */
export function regionsJson(model: ViewerModel, query: URLSearchParams) {
  const { tables } = model;
  const r = tables.regions.data;
  const groupIndex = numberParam(query, 'group');
  const group = groupIndex === null ? null : (model.stats.regionGroups[groupIndex] ?? null);
  const type = group ? group.type : query.get('type');
  const typeIndex = type === null ? null : model.tables.strings.find(type);
  // The group's locations: every location index that prints as the group's (0, none, prints as '').
  let inGroup: ((location: number) => boolean) | null = null;
  if (group) {
    const where = formatLocation(group.location);
    const matches = tables.locations.values.map((location) => formatLocation(location) === where);
    inGroup = (location) => matches[location];
  }
  const duration = durationFilter(query);
  return page(
    tables.regions.length,
    (i) =>
      (typeIndex === null || r.type[i] === typeIndex) &&
      (inGroup === null || inGroup(r.location[i])) &&
      (duration === null || duration(r.end[i] - r.start[i], r.complete[i] === 1)),
    (i) => tables.region(i),
    query,
  );
}

/** `/api/region/:id`: one region; null when there is none. */
export function regionJson(model: ViewerModel, id: number) {
  if (!Number.isInteger(id) || id < 1 || id > model.tables.regions.length) return null;
  return model.tables.region(id - 1);
}

/** `/api/logs`: logs in time order, filtered by `category` (exact) and `text` (the message contains it); paged. */
export function logsJson(model: ViewerModel, query: URLSearchParams) {
  const { tables } = model;
  const category = query.get('category') || null;
  const categoryIndex = category === null ? null : model.tables.strings.find(category);
  const text = query.get('text') || null;
  const l = tables.logs.data;
  return page(
    tables.logs.length,
    (i) => (categoryIndex === null || l.category[i] === categoryIndex) && (text === null || tables.messages[i].includes(text)),
    (i) => tables.log(i),
    query,
  );
}

/** One lane of the timeline: a row per nesting depth (flows) or per packed row (tasks); rows outside the asked window are empty. */
interface LaneJson {
  readonly id: string;
  readonly label: string;
  readonly kind: 'gc' | 'runs' | 'tasks' | 'flow';
  /** The lane's first row in the layout. */
  readonly top: number;
  /** For `runs` (a thread's runs of at least 10 ms): items with `id` the run (see `runMarks`), `type` its task's type (−1: none). */
  readonly rows: TimelineItem[][];
  /** Flow lanes: the flow's logs, as items of no length (`id`: the log, `type`: its category), merged per pixel like regions. */
  readonly logs?: TimelineItem[];
  /** Flow lanes, in a trace with scheduling events: when the lane's flow (or flows, packed) ran, items like the `runs` lanes'. */
  readonly runs?: TimelineItem[];
}

/** What a single log mark shows on hover, and the task a click opens. */
interface LogMarkJson {
  readonly text: string;
  readonly task: number;
}

/** What a single run shows on hover, and the task a click opens. */
type RunMarkJson = RunJson & { readonly taskType: string };

/** A counter's visible samples: at most one point (min, max) per pixel column. */
interface CounterJson {
  readonly max: number;
  readonly points: CounterPoint[];
}

/** Log messages are cut to this many characters in marks' hover texts. */
const MARK_TEXT = 200;

/** With `lanes=auto`, flows are packed when there are more than this many. */
export const AUTO_PACKED_FLOWS = 200;

/** `flow` (a lane per flow, the default), `packed`, or `auto`: packed when there are many flows. */
function lanesModeOf(model: ViewerModel, asked: string | null): 'flow' | 'packed' {
  if (asked === 'packed') return 'packed';
  if (asked === 'auto') return model.perFlow.flowLanes > AUTO_PACKED_FLOWS ? 'packed' : 'flow';
  return 'flow';
}

/** The visible runs of a flow lane: of its flow, or of the flows packed into it. */
function runsOfLane(model: ViewerModel, runs: RunIndex, lane: LaneLayout, mode: 'flow' | 'packed', from: Nanos, to: Nanos, nsPerPixel: number): TimelineItem[] {
  if (lane.flow >= 0) {
    const row = runs.rowOfFlow(lane.flow);
    return row < 0 ? [] : runs.perFlow.visible(row, from, to, nsPerPixel);
  }
  const packed = mode === 'packed' ? model.packedRuns() : null;
  return packed === null ? [] : packed.visible(lane.logRow, from, to, nsPerPixel);
}

/**
 * `/api/timeline?from=&to=&px=[&top=&rows=][&flows=1,2][&lanes=packed]`: what is visible of `[from, to]`
 * (ns) on `px` pixels, with intervals narrower than a pixel merged (see timeline-index.ts): the lanes —
 * GC, tasks, a lane per flow (all of them, or the `flows` listed; with `lanes=packed`, flows sharing
 * lanes one after another; with `lanes=auto`, packed past {@link AUTO_PACKED_FLOWS} flows; `lanesMode`
 * says which) — laid out top to bottom in rows with a spacer row
 * between lanes (`layoutRows` in all), of which only the window `[top, top + rows)` is filled when asked
 * (the lanes overlapping it, their rows outside it empty; a flow lane's logs when its first row is in
 * it, with `logMarks` for the single ones); and the heap and event-loop utilization counters. With
 * scheduling events, also a `runs` lane per thread (its runs of at least 10 ms), each flow lane's `runs`,
 * and `runMarks` for the single runs shown (whose, how long, what it resumed, how long it was queued).
 */
export function timelineJson(model: ViewerModel, query: URLSearchParams) {
  const duration = model.stats.summary.duration;
  let from = numberParam(query, 'from') ?? 0;
  let to = numberParam(query, 'to') ?? duration;
  if (!(to > from)) [from, to] = [0, Math.max(duration, 1)];
  const px = Math.min(20_000, Math.max(1, Math.floor(numberParam(query, 'px') ?? 1000)));
  const nsPerPixel = (to - from) / px;
  const flowFilter = query.get('flows');
  const only = flowFilter ? new Set(flowFilter.split(',').map(Number)) : null;
  const windowTop = Math.max(0, Math.floor(numberParam(query, 'top') ?? 0));
  const windowRows = numberParam(query, 'rows');
  const windowEnd = windowRows === null ? Infinity : windowTop + Math.max(0, Math.floor(windowRows));

  const lanes: LaneJson[] = [];
  const logMarks: Record<number, LogMarkJson> = {};
  const runMarks: Record<number, RunMarkJson> = {};
  const markRuns = (items: TimelineItem[]): TimelineItem[] => {
    for (const [, , run, count, type] of items) if (count === 1 && model.runs) runMarks[run] = { ...model.runs.run(run), taskType: type >= 0 ? model.types[type] : '' };
    return items;
  };
  const lanesMode = only ? 'flow' : lanesModeOf(model, query.get('lanes'));
  const chosen = lanesMode === 'packed' ? model.packed() : model.perFlow;
  // With `flows`, the listed lanes are stacked on their own (no window).
  const picked: number[] = [];
  if (only) {
    for (const flow of only) {
      const lane = chosen.laneOfFlow(flow);
      if (lane >= 0) picked.push(lane);
    }
    picked.sort((a, b) => a - b);
  }
  const laneCount = only ? picked.length : chosen.lanes.length;
  const laneAt = (k: number): LaneLayout => chosen.lanes.at(only ? picked[k] : k);
  let stacked = 0;
  for (let k = only ? 0 : firstLaneReaching(chosen, windowTop); k < laneCount; k++) {
    const lane = laneAt(k);
    const top = only ? stacked : lane.top;
    stacked += lane.rows + 1;
    if (!only && top >= windowEnd) break;
    const rows: TimelineItem[][] = [];
    for (let row = 0; row < lane.rows; row++) {
      const shown = only || (top + row >= windowTop && top + row < windowEnd);
      if (!shown) rows.push([]);
      else if (lane.kind === 'gc') rows.push(model.gc.visible(from, to, nsPerPixel));
      else if (lane.kind === 'tasks') rows.push(model.tasks.visible(row, from, to, nsPerPixel));
      else if (lane.kind === 'runs') rows.push(markRuns(model.runs?.long[lane.firstRow]?.row.visible(from, to, nsPerPixel) ?? []));
      else rows.push(chosen.flowRows.visible(lane.firstRow + row, from, to, nsPerPixel));
    }
    if (lane.kind !== 'flow' || !(only || (top >= windowTop && top < windowEnd))) {
      lanes.push({ id: lane.id, label: lane.label, kind: lane.kind, top, rows });
      continue;
    }
    const logs = chosen.flowLogs.visible(lane.logRow, from, to, nsPerPixel);
    for (const [, , log, count] of logs) {
      if (count !== 1) continue;
      const info = model.tables.log(log);
      const message = info.message.length > MARK_TEXT ? `${info.message.slice(0, MARK_TEXT)}…` : info.message;
      logMarks[log] = { text: `${info.category}: ${message}`, task: info.task };
    }
    const runs = model.runs ? markRuns(runsOfLane(model, model.runs, lane, lanesMode, from, to, nsPerPixel)) : [];
    lanes.push({ id: lane.id, label: lane.label, kind: lane.kind, top, rows, logs, ...(model.runs ? { runs } : {}) });
  }
  const layoutRows = only ? Math.max(0, stacked - 1) : chosen.layoutRows;
  const counter = (series: CounterSeries, max: number): CounterJson | null => (!only && series.length > 0 ? { max, points: series.visible(from, to, nsPerPixel) } : null);
  const heap = counter(model.heap, model.heap.max);
  const eventLoop = counter(model.eventLoop, 1);
  return { from, to, px, duration, types: model.types, lanesMode, layoutRows, lanes, logMarks, runMarks, heap, eventLoop };
}
