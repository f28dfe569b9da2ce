/**
 * The analysis `go tool trace` does for user annotations — tasks, regions, logs — computed while the
 * events stream by.
 */
import type { MisuseName, Nanos, ReadStatus, SourceLocation, TraceEvent } from '../format/events.js';
import type {
  LogCategoryStats,
  LogInfo,
  Problem,
  ProblemKind,
  RegionGroupStats,
  RegionInfo,
  TaskEventInfo,
  TaskInfo,
  TaskTypeStats,
  TraceAnalysis,
  TraceSummary,
} from './analysis-types.js';
import { durationHistogram } from './histogram.js';
import { durationStats } from './percentiles.js';
import { readTrace, type TraceSource } from './reader.js';
import { RegionStacks, type RegionRecord } from './region-stacks.js';

/** A task's history while reading: region entries point at the region, whose end may still be unknown. */
type PendingTaskEvent =
  | Exclude<TaskEventInfo, { kind: 'regionStart' } | { kind: 'regionEnd' }>
  | { kind: 'regionStart'; region: RegionRecord }
  | { kind: 'regionEnd'; ts: Nanos; flow: number; region: RegionRecord };

interface TaskRecord {
  readonly id: number;
  type: string;
  parent: number | null;
  created: boolean;
  ended: boolean;
  start: Nanos;
  end: Nanos;
  readonly flows: Set<number>;
  readonly regions: RegionRecord[];
  readonly events: PendingTaskEvent[];
}

const misuseMessages: Record<MisuseName, string> = {
  regionEndedTwice: 'was ended more than once; only the first end counts',
  regionEndedOutOfOrder: 'was ended before a region nested in it; the regions of a flow must end innermost first',
  regionEndedOnOtherFlow: 'was ended on another flow than the one that started it',
};

/** `file:line:column function`, the way the CLI prints a location. */
export function formatLocation(location: SourceLocation | null): string {
  if (!location) return '';
  const where = `${location.file}:${location.line}:${location.column}`;
  return location.function ? `${where} ${location.function}` : where;
}

/**
 * Analyses a trace one event at a time: feed it every event of a trace in file order with
 * {@link TraceAnalyzer.add}, then call {@link TraceAnalyzer.finish} once with the read status. It keeps
 * a record per task, region and log, never the events themselves.
 */
export class TraceAnalyzer {
  private readonly tasks = new Map<number, TaskRecord>();
  private readonly regionStacks = new RegionStacks();
  private readonly regions: RegionRecord[] = [];
  private readonly logs: LogInfo[] = [];
  private readonly problems: Problem[] = [];
  /** Per flow: the runtime announced an out-of-order end, and how many regions were nested in the ended one. */
  private readonly announcedOutOfOrder = new Map<number, number>();
  private events = 0;
  private lastTs = 0;
  private droppedEvents = 0;
  private gcCount = 0;
  private gcTime = 0;

  /** Accounts for one event. Events must come in file order. */
  add(event: TraceEvent): void {
    this.events++;
    if (event.ts > this.lastTs) this.lastTs = event.ts;
    switch (event.kind) {
      case 'flowStart':
        this.regionStacks.fork(event.flow, event.parentFlow);
        break;
      case 'taskCreate':
        this.taskCreate(event);
        break;
      case 'taskEnd':
        this.taskEnd(event);
        break;
      case 'regionStart':
        this.regionStart(event);
        break;
      case 'regionEnd':
        this.regionEnd(event);
        break;
      case 'log':
        this.log(event);
        break;
      case 'gc':
        this.gcCount++;
        this.gcTime += event.duration;
        break;
      case 'dropped':
        this.droppedEvents += event.count;
        break;
      case 'misuse':
        this.misuse(event);
        break;
      case 'heap':
      case 'eventLoop':
        break;
    }
  }

  /** The analysis of the events added so far, read as `status` says. Call once, after the last event. */
  finish(status: ReadStatus): TraceAnalysis {
    const traceEnd = Math.max(this.lastTs, status.footer?.endTs ?? 0);
    const regions = this.regions.map((region) => regionInfo(region, traceEnd));
    const tasks = this.taskInfos(traceEnd, regions);
    const header = status.header;
    const summary: TraceSummary = {
      duration: traceEnd,
      events: this.events,
      dropped: status.footer ? status.footer.dropped : this.droppedEvents,
      gcCount: this.gcCount,
      gcTime: this.gcTime,
      tasks: tasks.length,
      regions: regions.length,
      logs: this.logs.length,
      startTime: header ? new Date(Number(header.wallClockOriginNs / 1_000_000n)).toISOString() : null,
      pid: header?.pid ?? null,
      nodeVersion: header?.nodeVersion ?? null,
      commandLine: header?.command ?? null,
    };
    return {
      summary,
      status,
      tasks,
      regions,
      logs: this.logs,
      taskTypes: taskTypeStats(tasks),
      regionGroups: regionGroupStats(regions),
      logCategories: logCategoryStats(this.logs),
      problems: this.problems,
    };
  }

  private task(id: number): TaskRecord {
    let task = this.tasks.get(id);
    if (!task) {
      task = { id, type: '', parent: null, created: false, ended: false, start: 0, end: 0, flows: new Set(), regions: [], events: [] };
      this.tasks.set(id, task);
    }
    return task;
  }

  private taskCreate(event: Extract<TraceEvent, { kind: 'taskCreate' }>): void {
    const task = this.task(event.task);
    if (task.created) {
      this.problem('taskCreatedTwice', `task ${event.task} was created again (as "${event.type}"); the first creation counts`, event.ts, event.flow, null, event.task, event.location);
      return;
    }
    task.created = true;
    task.type = event.type;
    task.parent = event.parent;
    task.start = event.ts;
    task.flows.add(event.flow);
    task.events.push({ kind: 'create', ts: event.ts, flow: event.flow, parent: event.parent, location: event.location });
    // A parent created before the trace started is known only by id: an incomplete task.
    if (event.parent !== 0) this.task(event.parent);
  }

  private taskEnd(event: Extract<TraceEvent, { kind: 'taskEnd' }>): void {
    const task = this.task(event.task);
    if (task.ended) {
      this.problem('taskEndedTwice', `task ${event.task} was ended again; only the first end counts`, event.ts, event.flow, null, event.task, event.location);
      return;
    }
    task.ended = true;
    task.end = event.ts;
    task.flows.add(event.flow);
    task.events.push({ kind: 'end', ts: event.ts, flow: event.flow, location: event.location });
  }

  private regionStart(event: Extract<TraceEvent, { kind: 'regionStart' }>): void {
    const region = this.regionStacks.start(event.ts, event.flow, event.task, event.type, event.location);
    this.regions.push(region);
    if (event.task === 0) return;
    const task = this.task(event.task);
    task.regions.push(region);
    task.flows.add(event.flow);
    task.events.push({ kind: 'regionStart', region });
  }

  private regionEnd(event: Extract<TraceEvent, { kind: 'regionEnd' }>): void {
    const regionsAbove = this.announcedOutOfOrder.get(event.flow);
    this.announcedOutOfOrder.delete(event.flow);
    const { region, outOfOrder } = this.regionStacks.end(event.ts, event.flow, event.type, regionsAbove);
    const announced = regionsAbove !== undefined;
    if (!region) {
      const lost = this.droppedEvents > 0 ? `; ${this.droppedEvents} events were dropped before it, which may have included its start` : '';
      this.problem('regionEndUnmatched', `region "${event.type}" ended, but no region of that type is open on flow ${event.flow}${lost}`, event.ts, event.flow, event.type, null, null);
      return;
    }
    if (outOfOrder && !announced) {
      this.problem('regionEndedOutOfOrder', `region "${region.type}" ${misuseMessages.regionEndedOutOfOrder}`, event.ts, event.flow, region.type, null, region.location);
    }
    if (region.task === 0) return;
    const task = this.task(region.task);
    task.flows.add(event.flow);
    task.events.push({ kind: 'regionEnd', ts: event.ts, flow: event.flow, region });
  }

  private log(event: Extract<TraceEvent, { kind: 'log' }>): void {
    const info: LogInfo = { ts: event.ts, flow: event.flow, task: event.task, category: event.category, message: event.message, location: event.location };
    this.logs.push(info);
    if (event.task === 0) return;
    const task = this.task(event.task);
    task.flows.add(event.flow);
    task.events.push({ kind: 'log', ts: event.ts, flow: event.flow, category: event.category, message: event.message, location: event.location });
  }

  private misuse(event: Extract<TraceEvent, { kind: 'misuse' }>): void {
    if (event.misuse === 'regionEndedOutOfOrder') {
      this.announcedOutOfOrder.set(event.flow, event.regionsAbove);
    }
    this.problems.push({
      kind: event.misuse,
      source: 'runtime',
      message: `region "${event.type}" ${misuseMessages[event.misuse]}`,
      ts: event.ts,
      flow: event.flow,
      regionType: event.type,
      task: null,
      location: event.location,
    });
  }

  private problem(
    kind: ProblemKind,
    message: string,
    ts: Nanos,
    flow: number,
    regionType: string | null,
    task: number | null,
    location: SourceLocation | null,
  ): void {
    this.problems.push({ kind, source: 'reader', message, ts, flow, regionType, task, location });
  }

  private taskInfos(traceEnd: Nanos, regions: readonly RegionInfo[]): TaskInfo[] {
    const children = new Map<number, number[]>();
    for (const task of this.tasks.values()) {
      if (task.parent === null || task.parent === 0) continue;
      const siblings = children.get(task.parent);
      if (siblings) siblings.push(task.id);
      else children.set(task.parent, [task.id]);
    }
    const infos: TaskInfo[] = [];
    for (const task of this.tasks.values()) {
      const end = task.ended ? task.end : traceEnd;
      infos.push({
        id: task.id,
        type: task.type,
        parent: task.parent,
        children: (children.get(task.id) ?? []).sort((a, b) => a - b),
        complete: task.created && task.ended,
        created: task.created,
        ended: task.ended,
        start: task.start,
        end,
        latency: end - task.start,
        flows: [...task.flows].sort((a, b) => a - b),
        regions: task.regions.map((region) => region.id),
        events: task.events.map((event) => taskEventInfo(event, regions)).sort((a, b) => a.ts - b.ts),
      });
    }
    return infos.sort((a, b) => a.id - b.id);
  }
}

function regionInfo(region: RegionRecord, traceEnd: Nanos): RegionInfo {
  const end = region.end ?? traceEnd;
  return {
    id: region.id,
    type: region.type,
    task: region.task,
    flow: region.flow,
    parent: region.parent ? region.parent.id : null,
    start: region.start,
    end,
    complete: region.end !== null,
    duration: end - region.start,
    location: region.location,
  };
}

/** `regions` is indexed by id − 1. */
function taskEventInfo(event: PendingTaskEvent, regions: readonly RegionInfo[]): TaskEventInfo {
  if (event.kind === 'regionStart') {
    const region = regions[event.region.id - 1];
    return {
      kind: 'regionStart',
      ts: region.start,
      flow: region.flow,
      region: region.id,
      type: region.type,
      duration: region.duration,
      complete: region.complete,
      location: region.location,
    };
  }
  if (event.kind === 'regionEnd') {
    return { kind: 'regionEnd', ts: event.ts, flow: event.flow, region: event.region.id, type: event.region.type };
  }
  return event;
}

function taskTypeStats(tasks: readonly TaskInfo[]): TaskTypeStats[] {
  const byType = groupBy(tasks, (task) => task.type);
  return [...byType.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([type, group]) => {
      const latencies = group.filter((task) => task.complete).map((task) => task.latency);
      return { type, count: group.length, complete: latencies.length, latency: durationStats(latencies), histogram: durationHistogram(latencies) };
    });
}

function regionGroupStats(regions: readonly RegionInfo[]): RegionGroupStats[] {
  const byKey = groupBy(regions, (region) => `${region.type}\0${formatLocation(region.location)}`);
  return [...byKey.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([, group]) => {
      const durations = group.filter((region) => region.complete).map((region) => region.duration);
      return {
        type: group[0].type,
        location: group[0].location,
        count: group.length,
        complete: durations.length,
        duration: durationStats(durations),
        histogram: durationHistogram(durations),
      };
    });
}

function logCategoryStats(logs: readonly LogInfo[]): LogCategoryStats[] {
  const byCategory = groupBy(logs, (log) => log.category);
  return [...byCategory.entries()].sort(([a], [b]) => compareStrings(a, b)).map(([category, group]) => ({ category, count: group.length }));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reads a trace (a file path, bytes, or a stream of chunks) and analyses it as `go tool trace` does:
 * tasks with latencies, parents, children, flows and histories; regions with parents, durations and
 * locations; logs; latency statistics and histograms per task type and per region (type, location);
 * and the problems found. Streams: memory grows with the number of tasks, regions and logs, not with
 * the file. A damaged or cut-off trace is analysed up to where reading stopped (`status` says where
 * and why); only I/O errors (no such file) reject.
 */
export async function analyzeTrace(source: TraceSource): Promise<TraceAnalysis> {
  const analyzer = new TraceAnalyzer();
  const status = await readTrace(source, (event) => analyzer.add(event));
  return analyzer.finish(status);
}
