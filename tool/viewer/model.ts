/**
 * What `tstrace view` serves: the analysis of one trace, read once, and the queries of the viewer's JSON
 * API over it (filtered task, region and log lists, task pages, the visible part of the timeline). Pure
 * data in, plain JSON-friendly objects out; the HTTP layer is server.ts.
 */
import type { Nanos, ReadStatus } from '../../format/events.js';
import { formatLocation, TraceAnalyzer } from '../analysis.js';
import type { LogInfo, RegionInfo, TaskInfo, TraceAnalysis } from '../analysis-types.js';
import { bucketLowerBound, latencyBucket } from '../histogram.js';
import { readTrace, type TraceSource } from '../reader.js';
import { tasksText } from '../text-report.js';
import { CounterSeries, IntervalRow, RowPacker, type CounterPoint, type TimelineItem } from './timeline-index.js';

/** The trace as the viewer holds it. */
export interface ViewerModel {
  readonly analysis: TraceAnalysis;
  /** Region and task types, indexed by the `type` of timeline items. */
  readonly types: readonly string[];
  readonly gc: IntervalRow;
  readonly heap: CounterSeries;
  readonly tasks: RowPacker;
  /** Per flow with regions, in flow order: one row per nesting depth. */
  readonly flows: ReadonlyMap<number, IntervalRow[]>;
  /** Locations under this folder are shown relative to it. */
  readonly cwd: string;
}

/** Reads and analyses a trace, and indexes it for the timeline. */
export async function loadViewerModel(source: TraceSource, cwd: string): Promise<ViewerModel> {
  const analyzer = new TraceAnalyzer();
  const gcEvents: [Nanos, Nanos][] = [];
  const heap = new CounterSeries();
  const status: ReadStatus = await readTrace(source, (event) => {
    analyzer.add(event);
    if (event.kind === 'gc') gcEvents.push([event.ts, event.duration]);
    else if (event.kind === 'heap') heap.add(event.ts, event.bytes);
  });
  const analysis = analyzer.finish(status);

  const typeIndex = new Map<string, number>();
  const types: string[] = [];
  const typeOf = (type: string): number => {
    let index = typeIndex.get(type);
    if (index === undefined) {
      index = types.length;
      types.push(type);
      typeIndex.set(type, index);
    }
    return index;
  };

  const gc = new IntervalRow();
  gcEvents.sort((a, b) => a[0] - b[0]);
  gcEvents.forEach(([ts, duration], i) => gc.add(ts, ts + duration, i, 0));

  const tasks = new RowPacker();
  for (const task of [...analysis.tasks].sort((a, b) => a.start - b.start || a.id - b.id)) tasks.add(task.start, task.end, task.id, typeOf(task.type));

  // Depth of a region on its flow: one more than its parent's when the parent is on the same flow.
  const depth = new Int32Array(analysis.regions.length + 1);
  const flows = new Map<number, IntervalRow[]>();
  for (const region of analysis.regions) {
    const parent = region.parent === null ? null : analysis.regions[region.parent - 1];
    const d = parent && parent.flow === region.flow ? depth[parent.id] + 1 : 0;
    depth[region.id] = d;
    let rows = flows.get(region.flow);
    if (!rows) flows.set(region.flow, (rows = []));
    while (rows.length <= d) rows.push(new IntervalRow());
    rows[d].add(region.start, region.end, region.id, typeOf(region.type));
  }
  const sortedFlows = new Map([...flows.entries()].sort((a, b) => a[0] - b[0]));
  return { analysis, types, gc, heap, tasks, flows: sortedFlows, cwd };
}

// ---- queries -------------------------------------------------------------------------------------

/** `/api/summary`: the overview. */
export function summaryJson(model: ViewerModel) {
  const { analysis } = model;
  const { status } = analysis;
  return {
    summary: analysis.summary,
    status: {
      complete: status.complete,
      problem: status.problem ? { kind: status.problem.kind, offset: status.problem.offset, reason: status.problem.reason } : null,
      bytesRead: status.bytesRead,
    },
    problems: analysis.problems.map((p) => ({ ...p, location: formatLocation(p.location) })),
    logCategories: analysis.logCategories,
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
  return model.analysis.taskTypes.map((t) => ({ ...t, histogram: t.histogram.map(bucketJson) }));
}

/** `/api/region-groups`: each group with its index, by which `/api/regions?group=` lists its regions. */
export function regionGroupsJson(model: ViewerModel) {
  return model.analysis.regionGroups.map((g, index) => ({ ...g, index, location: formatLocation(g.location), histogram: g.histogram.map(bucketJson) }));
}

/** Paging of a list: `offset` (default 0) and `limit` (default 200, at most 5000). */
function page<T>(items: readonly T[], query: URLSearchParams): { total: number; offset: number; items: T[] } {
  const offset = Math.max(0, Math.floor(Number(query.get('offset') ?? 0)) || 0);
  const limit = Math.min(5000, Math.max(1, Math.floor(Number(query.get('limit') ?? 200)) || 200));
  return { total: items.length, offset, items: items.slice(offset, offset + limit) };
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
 * `/api/tasks`: tasks filtered by `type` (exact), `complete` (`true`/`false`), latency `min` (inclusive)
 * and `max` (exclusive) in ns, histogram `bucket` (the complete tasks of that latency bucket), and `log`
 * (a log message of the task contains it); paged.
 */
export function tasksJson(model: ViewerModel, query: URLSearchParams) {
  const type = query.get('type');
  const complete = query.get('complete');
  const min = numberParam(query, 'min');
  const max = numberParam(query, 'max');
  const bucket = numberParam(query, 'bucket');
  const log = query.get('log') || null;
  const tasks = model.analysis.tasks.filter(
    (task) =>
      (type === null || task.type === type) &&
      (complete === null || complete === '' || String(task.complete) === complete) &&
      (min === null || task.latency >= min) &&
      (max === null || task.latency < max) &&
      (bucket === null || (task.complete && latencyBucket(task.latency) === bucket)) &&
      (log === null || task.events.some((e) => e.kind === 'log' && e.message.includes(log))),
  );
  const result = page(tasks, query);
  return { ...result, items: result.items.map(taskRow) };
}

/** `/api/task/:id`: the task, its events as `tstrace tasks` prints them, its children, its parent's type. */
export function taskJson(model: ViewerModel, id: number) {
  const tasks = model.analysis.tasks;
  const task = findById(tasks, id);
  if (!task) return null;
  const children = task.children.map((child) => findById(tasks, child)).filter((t): t is TaskInfo => t !== undefined).map(taskRow);
  const parent = task.parent ? findById(tasks, task.parent) : undefined;
  return {
    ...task,
    events: task.events.map((e) => ('location' in e ? { ...e, location: formatLocation(e.location) } : e)),
    text: tasksText([task], { cwd: model.cwd }),
    childTasks: children,
    parentType: parent ? parent.type : null,
  };
}

function findById<T extends { id: number }>(items: readonly T[], id: number): T | undefined {
  let low = 0;
  let high = items.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (items[mid].id === id) return items[mid];
    if (items[mid].id < id) low = mid + 1;
    else high = mid - 1;
  }
  return undefined;
}

/** `/api/regions`: the regions of a `group` (index in `/api/region-groups`) or of a `type`; paged. */
export function regionsJson(model: ViewerModel, query: URLSearchParams) {
  const { regions, regionGroups } = model.analysis;
  const groupIndex = numberParam(query, 'group');
  const group = groupIndex === null ? null : regionGroups[groupIndex];
  const type = group ? group.type : query.get('type');
  const where = group ? formatLocation(group.location) : null;
  const selected = regions.filter((r) => (type === null || r.type === type) && (where === null || formatLocation(r.location) === where));
  const result = page(selected, query);
  return { ...result, items: result.items.map((r: RegionInfo) => ({ ...r, location: formatLocation(r.location) })) };
}

/** `/api/logs`: logs filtered by `category` (exact) and `text` (the message contains it); paged. */
export function logsJson(model: ViewerModel, query: URLSearchParams) {
  const category = query.get('category') || null;
  const text = query.get('text') || null;
  const logs = model.analysis.logs.filter((l: LogInfo) => (category === null || l.category === category) && (text === null || l.message.includes(text)));
  const result = page(logs, query);
  return { ...result, items: result.items.map((l) => ({ ...l, location: formatLocation(l.location) })) };
}

/** One lane of the timeline: a row per nesting depth (flows) or per packed row (tasks). */
interface LaneJson {
  readonly id: string;
  readonly label: string;
  readonly kind: 'gc' | 'tasks' | 'flow';
  readonly rows: TimelineItem[][];
}

/**
 * `/api/timeline?from=&to=&px=[&flows=1,2]`: what is visible of `[from, to]` (ns) on `px` pixels — the GC
 * lane, the task lane, one lane per flow (all of them, or the `flows` listed), and the heap counter —
 * with intervals narrower than a pixel merged (see timeline-index.ts).
 */
export function timelineJson(model: ViewerModel, query: URLSearchParams) {
  const duration = model.analysis.summary.duration;
  let from = numberParam(query, 'from') ?? 0;
  let to = numberParam(query, 'to') ?? duration;
  if (!(to > from)) [from, to] = [0, Math.max(duration, 1)];
  const px = Math.min(20_000, Math.max(1, Math.floor(numberParam(query, 'px') ?? 1000)));
  const nsPerPixel = (to - from) / px;
  const flowFilter = query.get('flows');
  const only = flowFilter ? new Set(flowFilter.split(',').map(Number)) : null;
  const lanes: LaneJson[] = [];
  if (!only && model.gc.length > 0) lanes.push({ id: 'gc', label: 'GC', kind: 'gc', rows: [model.gc.visible(from, to, nsPerPixel)] });
  if (!only && model.tasks.rows.length > 0) lanes.push({ id: 'tasks', label: 'tasks', kind: 'tasks', rows: model.tasks.rows.map((row) => row.visible(from, to, nsPerPixel)) });
  for (const [flow, rows] of model.flows) {
    if (only && !only.has(flow)) continue;
    lanes.push({ id: `flow:${flow}`, label: `flow ${flow}`, kind: 'flow', rows: rows.map((row) => row.visible(from, to, nsPerPixel)) });
  }
  const heap: { max: number; points: CounterPoint[] } | null = !only && model.heap.length > 0 ? { max: model.heap.max, points: model.heap.visible(from, to, nsPerPixel) } : null;
  return { from, to, px, duration, types: model.types, lanes, heap };
}
