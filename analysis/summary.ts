/**
 * The statistics `go tool trace` shows for user annotations — task latencies per type, region
 * durations per (type, location), log counts, problems — computed while the events stream by, in memory
 * that grows with what is open at once (tasks, regions), not with the trace.
 */
import type { MisuseName, Nanos, ReadStatus, SourceLocation, TraceEvent } from '../format/events.js';
import type { LogCategoryStats, Problem, ProblemKind, RegionGroupStats, TaskTypeStats, TraceStats, TraceSummary } from './analysis-types.js';
import { DurationDigest } from './duration-digest.js';
import { IdSet } from './id-set.js';
import { readTrace, type TraceSource } from './reader.js';
import { RegionStacks, type RegionRecord } from './region-stacks.js';

/** Problems `summarizeTrace` lists; past this it only counts them (`problemsLeftOut`). */
export const LISTED_PROBLEMS = 1000;

type Event<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;

/**
 * What the full analysis keeps beyond the statistics: told of every event that counts (a task's first
 * creation and first end, every region start, each region end that was paired with its start, every log).
 */
export interface TraceRecordKeeper {
  taskCreated(event: Event<'taskCreate'>): void;
  taskEnded(event: Event<'taskEnd'>): void;
  regionStarted(event: Event<'regionStart'>, region: RegionRecord): void;
  regionEnded(event: Event<'regionEnd'>, region: RegionRecord): void;
  logged(event: Event<'log'>): void;
  /** When given, the open tasks are looked up in the keeper's records (which hold every task's type and start) rather than kept twice. */
  readonly openTasks?: OpenTasks;
}

/** The tasks created in the trace and not yet ended: what their latencies need. */
export interface OpenTasks {
  /** Task `id` was created in the trace at `start` (told before the keeper's `taskCreated`). */
  opened(id: number, type: string, start: Nanos): void;
  /** Task `id` ended (told before the keeper's `taskEnded`): its type and start if it was open, and it is no longer; else null. */
  closed(id: number): OpenTask | null;
}

export interface OpenTask {
  readonly type: string;
  readonly start: Nanos;
}

/** The open tasks in a map, while they are open: memory follows what is open at once. */
class OpenTaskMap implements OpenTasks {
  private readonly open = new Map<number, OpenTask>();
  opened(id: number, type: string, start: Nanos): void {
    this.open.set(id, { type, start });
  }
  closed(id: number): OpenTask | null {
    const task = this.open.get(id);
    if (task === undefined) return null;
    this.open.delete(id);
    return task;
  }
}

export interface SummarizerOptions {
  /** Problems to list; more are only counted. Default {@link LISTED_PROBLEMS}. */
  readonly maxProblems?: number;
  /** Given, it is told of the events that count, and regions get their parents (which costs memory per flow). */
  readonly records?: TraceRecordKeeper;
}

interface TaskTypeAccumulator {
  count: number;
  readonly latency: DurationDigest;
}

interface RegionGroupAccumulator {
  readonly type: string;
  readonly location: SourceLocation | null;
  count: number;
  readonly duration: DurationDigest;
}

const misuseMessages: Record<MisuseName, string> = {
  regionEndedTwice: 'was ended more than once; only the first end counts (end each region once)',
  regionEndedOutOfOrder:
    'was ended before a region nested in it; regions of one chain of execution must end innermost first (end the inner region first, or use withRegion, which ends them in order). If the nested region is that of an async function called without being awaited first (several at once in Promise.all, or not awaited at all) which started it by hand before its own first await, that function shared this chain until then: give it a chain of its own with withRegion(ctx, name, async () => …), or instrument it (// trace:region)',
  regionEndedOnOtherFlow:
    'was ended by a chain of execution that did not start it and is not inside it (a callback scheduled before the region began, or another request); end it where it began, or wrap the work in withRegion',
};

/** A runtime out-of-order misuse: its flow, its region's type, and where it was listed (-1: left out). */
interface OutOfOrderEnd {
  readonly flow: number;
  readonly type: string;
  readonly index: number;
}

/** `file:line:column function`, the way the CLI prints a location. */
export function formatLocation(location: SourceLocation | null): string {
  if (!location) return '';
  const where = `${location.file}:${location.line}:${location.column}`;
  return location.function ? `${where} ${location.function}` : where;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Summarizes a trace one event at a time: feed it every event in file order with {@link add}, then
 * call {@link finish} once with the read status. Tasks are remembered while open (plus a bit per id,
 * to notice a second creation or end); regions while open; durations in {@link DurationDigest}s.
 */
export class TraceSummarizer {
  private readonly records: TraceRecordKeeper | null;
  private readonly maxProblems: number;
  private readonly regionStacks: RegionStacks;
  /** Per flow: the runtime announced an out-of-order end, and how many regions were nested in the ended one. */
  private readonly announcedOutOfOrder = new Map<number, number>();
  private readonly knownTasks = new IdSet();
  private lastKnownTask = NaN;
  private readonly createdTasks = new IdSet();
  private readonly endedTasks = new IdSet();
  /** Created, not yet ended: their type and start. */
  private readonly openTasks: OpenTasks;
  /** Ended without a creation so far (created before the trace started, as a rule): their end. */
  private readonly endedUncreated = new Map<number, Nanos>();
  private readonly taskTypes = new Map<string, TaskTypeAccumulator>();
  /** Region groups by type, then location object (locations are interned)... */
  private readonly groupsByLocation = new Map<string, Map<SourceLocation | null, RegionGroupAccumulator>>();
  /** ...and by type and printed location, so two location ids that print alike share a group. */
  private readonly groups = new Map<string, RegionGroupAccumulator>();
  private readonly logCategories = new Map<string, number>();
  private readonly problems: Problem[] = [];
  private problemsLeftOut = 0;
  /**
   * The runtime's out-of-order misuse when it was the event just added: an end from another chain
   * of a region with regions still open in it records that, then regionEndedOnOtherFlow — one mistake,
   * listed once.
   */
  private outOfOrderJustBefore: OutOfOrderEnd | null = null;
  private events = 0;
  private lastTs = 0;
  private droppedEvents = 0;
  private gcCount = 0;
  private gcTime = 0;
  private taskCount = 0;
  private createdCount = 0;
  private regionCount = 0;
  private logCount = 0;

  constructor(options: SummarizerOptions = {}) {
    this.records = options.records ?? null;
    this.maxProblems = options.maxProblems ?? LISTED_PROBLEMS;
    this.openTasks = options.records?.openTasks ?? new OpenTaskMap();
    this.regionStacks = new RegionStacks({ parents: this.records !== null });
  }

  /** Accounts for one event. Events must come in file order. */
  add(event: TraceEvent): void {
    this.events++;
    const outOfOrderJustBefore = this.outOfOrderJustBefore;
    this.outOfOrderJustBefore = null;
    if (event.ts > this.lastTs) this.lastTs = event.ts;
    switch (event.kind) {
      case 'flowStart':
        this.regionStacks.fork(event.flow, event.parentFlow, event.regionsAbove);
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
        this.logCount++;
        this.logCategories.set(event.category, (this.logCategories.get(event.category) ?? 0) + 1);
        if (event.task !== 0) this.knowTask(event.task);
        this.records?.logged(event);
        break;
      case 'gc':
        this.gcCount++;
        this.gcTime += event.duration;
        break;
      case 'dropped':
        this.droppedEvents += event.count;
        break;
      case 'misuse':
        this.misuse(event, outOfOrderJustBefore);
        break;
      case 'heap':
      case 'eventLoop':
        break;
    }
  }

  /** Trace end: the footer's end time, or the latest event's time when there is no footer. */
  traceEnd(status: ReadStatus): Nanos {
    return Math.max(this.lastTs, status.footer?.endTs ?? 0);
  }

  /** The statistics of the events added so far, read as `status` says. Call once, after the last event. */
  finish(status: ReadStatus): TraceStats {
    // Tasks never created in the trace are of type "" (unknown), and incomplete.
    const uncreated = this.taskCount - this.createdCount;
    if (uncreated > 0) this.taskType('').count += uncreated;
    const header = status.header;
    const summary: TraceSummary = {
      duration: this.traceEnd(status),
      events: this.events,
      dropped: status.footer ? status.footer.dropped : this.droppedEvents,
      gcCount: this.gcCount,
      gcTime: this.gcTime,
      tasks: this.taskCount,
      regions: this.regionCount,
      logs: this.logCount,
      startTime: header ? new Date(Number(header.wallClockOriginNs / 1_000_000n)).toISOString() : null,
      pid: header?.pid ?? null,
      nodeVersion: header?.nodeVersion ?? null,
      commandLine: header?.command ?? null,
    };
    const taskTypes: TaskTypeStats[] = [...this.taskTypes.entries()]
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([type, t]) => ({ type, count: t.count, complete: t.latency.count, latency: t.latency.stats(), histogram: t.latency.histogram() }));
    const regionGroups: RegionGroupStats[] = [...this.groups.entries()]
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([, g]) => ({
        type: g.type,
        location: g.location,
        count: g.count,
        complete: g.duration.count,
        duration: g.duration.stats(),
        histogram: g.duration.histogram(),
      }));
    const logCategories: LogCategoryStats[] = [...this.logCategories.entries()]
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([category, count]) => ({ category, count }));
    return { summary, status, taskTypes, regionGroups, logCategories, problems: this.problems, problemsLeftOut: this.problemsLeftOut };
  }

  /** Counts a task id the first time it is seen. */
  private knowTask(id: number): void {
    // A task's events come in runs: the last one known needs no look-up.
    if (id === this.lastKnownTask) return;
    if (this.knownTasks.add(id)) this.taskCount++;
    this.lastKnownTask = id;
  }

  private taskType(type: string): TaskTypeAccumulator {
    let t = this.taskTypes.get(type);
    if (!t) this.taskTypes.set(type, (t = { count: 0, latency: new DurationDigest() }));
    return t;
  }

  private taskCreate(event: Event<'taskCreate'>): void {
    if (!this.createdTasks.add(event.task)) {
      this.problem('taskCreatedTwice', `task ${event.task} was created again (as "${event.type}"); the first creation counts`, event.ts, event.flow, null, event.task, event.location);
      return;
    }
    this.knowTask(event.task);
    this.createdCount++;
    const type = this.taskType(event.type);
    type.count++;
    if (event.beganBefore !== undefined) {
      // Carried into a snapshot: its type is known, its latency is not.
      if (event.parent !== 0) this.knowTask(event.parent);
      this.records?.taskCreated(event);
      return;
    }
    const end = this.endedUncreated.get(event.task);
    if (end !== undefined) {
      this.endedUncreated.delete(event.task);
      type.latency.add(end - event.ts);
    } else {
      this.openTasks.opened(event.task, event.type, event.ts);
    }
    // A parent created before the trace started is known only by id: an incomplete task.
    if (event.parent !== 0) this.knowTask(event.parent);
    this.records?.taskCreated(event);
  }

  private taskEnd(event: Event<'taskEnd'>): void {
    if (!this.endedTasks.add(event.task)) {
      this.problem('taskEndedTwice', `task ${event.task} was ended again; only the first end counts`, event.ts, event.flow, null, event.task, event.location);
      return;
    }
    this.knowTask(event.task);
    const open = this.openTasks.closed(event.task);
    if (open) {
      this.taskType(open.type).latency.add(event.ts - open.start);
    } else if (!this.createdTasks.has(event.task)) {
      this.endedUncreated.set(event.task, event.ts);
    }
    this.records?.taskEnded(event);
  }

  private regionGroup(type: string, location: SourceLocation | null): RegionGroupAccumulator {
    let byLocation = this.groupsByLocation.get(type);
    if (!byLocation) this.groupsByLocation.set(type, (byLocation = new Map()));
    let group = byLocation.get(location);
    if (!group) {
      const key = `${type}\0${formatLocation(location)}`;
      group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = { type, location, count: 0, duration: new DurationDigest() }));
      byLocation.set(location, group);
    }
    return group;
  }

  private regionStart(event: Event<'regionStart'>): void {
    const region = this.regionStacks.start(event.ts, event.flow, event.task, event.type, event.location, event.beganBefore ?? null);
    this.regionCount++;
    this.regionGroup(event.type, event.location).count++;
    if (event.task !== 0) this.knowTask(event.task);
    this.records?.regionStarted(event, region);
  }

  private regionEnd(event: Event<'regionEnd'>): void {
    const regionsAbove = this.announcedOutOfOrder.size === 0 ? undefined : this.announcedOutOfOrder.get(event.flow);
    if (regionsAbove !== undefined) this.announcedOutOfOrder.delete(event.flow);
    const { region, outOfOrder } = this.regionStacks.end(event.ts, event.flow, event.type, regionsAbove);
    if (!region) {
      const lost = this.droppedEvents > 0 ? `; ${this.droppedEvents} events were dropped before it, which may have included its start` : '';
      this.problem('regionEndUnmatched', `region "${event.type}" ended, but no region of that type is open on flow ${event.flow}${lost}`, event.ts, event.flow, event.type, null, null);
      return;
    }
    if (outOfOrder && regionsAbove === undefined) {
      this.problem('regionEndedOutOfOrder', `region "${region.type}" ${misuseMessages.regionEndedOutOfOrder}`, event.ts, event.flow, region.type, null, region.location);
    }
    // A region that began before the trace has only part of its duration here: not a sample.
    if (region.beganBefore === null) this.regionGroup(region.type, region.location).duration.add(event.ts - region.start);
    this.records?.regionEnded(event, region);
  }

  private misuse(event: Event<'misuse'>, outOfOrderJustBefore: OutOfOrderEnd | null): void {
    if (event.misuse === 'regionEndedOutOfOrder') {
      this.announcedOutOfOrder.set(event.flow, event.regionsAbove);
      this.outOfOrderJustBefore = { flow: event.flow, type: event.type, index: this.problems.length < this.maxProblems ? this.problems.length : -1 };
    } else if (event.misuse === 'regionEndedOnOtherFlow' && outOfOrderJustBefore !== null && outOfOrderJustBefore.flow === event.flow && outOfOrderJustBefore.type === event.type) {
      // The same end: the chain it came from is the mistake, the regions left open in it what followed.
      const { index } = outOfOrderJustBefore;
      if (index >= 0) {
        const listed = this.problems[index];
        this.problems[index] = { ...listed, kind: event.misuse, message: `region "${event.type}" ${misuseMessages.regionEndedOnOtherFlow}; regions nested in it were still open` };
      }
      return;
    }
    this.listProblem({
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

  private problem(kind: ProblemKind, message: string, ts: Nanos, flow: number, regionType: string | null, task: number | null, location: SourceLocation | null): void {
    this.listProblem({ kind, source: 'reader', message, ts, flow, regionType, task, location });
  }

  private listProblem(problem: Problem): void {
    if (this.problems.length < this.maxProblems) this.problems.push(problem);
    else this.problemsLeftOut++;
  }
}

/**
 * Reads a trace (a file path, bytes, or a stream of chunks) and computes its statistics as
 * `go tool trace` shows them: the summary, task latencies per type and region durations per (type,
 * location) with percentiles and Go's histograms, log counts per category, and the problems found (the
 * first {@link LISTED_PROBLEMS}, then a count). Unlike {@link analyzeTrace} it lists no tasks, regions or
 * logs, so its memory stays bounded by what is open at once (plus a bit per task id): a
 * 10-million-event trace takes tens of megabytes. A damaged or cut-off trace is summarized up to where
 * reading stopped (`status` says where and why); only I/O errors (no such file) reject.
 */
export async function summarizeTrace(source: TraceSource): Promise<TraceStats> {
  const summarizer = new TraceSummarizer();
  const status = await readTrace(source, (event) => summarizer.add(event));
  return summarizer.finish(status);
}
