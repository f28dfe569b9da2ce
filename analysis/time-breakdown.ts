/**
 * Where each task's time went (docs/design.md, "Where the time went"): from a trace's Run events
 * (recorded with `start(…, { scheduling: true })`), each task's wall time split into running (its own
 * runs), queued (ready, but the thread ran something else) and waiting (the rest: I/O, timers not yet
 * due), and the runs that held the thread while others were queued — the blockers.
 */
import type { Nanos, SourceLocation, TraceEvent } from '../format/events.js';
import { durationStats, type DurationStats } from './duration-digest.js';

/** Regions shorter than this are not kept to name a blocker (a blocker worth naming runs longer). */
const NAMING_REGION_MIN_NS = 100_000;
/** Task events kept to attribute a run that began outside any task (see {@link ExecutionCollector}). */
const RECENT_MARKS = 256;
/** Events held before the first run (see {@link ExecutionCollector}). */
const PENDING_EVENTS = 16_384;
/** Blockers listed per task. */
const BLOCKERS_PER_TASK = 3;
/** What a task waited on: kinds listed per task. */
const WAITS_PER_TASK = 5;

/**
 * What a run resumed from: the async resource type (`Timeout`, `FSREQCALLBACK`, `PROMISE`…; "" for a
 * callback run inside another) and, when the trace says (format version 6), where it was created.
 */
export interface ResumedFrom {
  readonly waitedOn: string;
  /** Where the resource was created; null when unknown (always for promises). */
  readonly createdAt: SourceLocation | null;
  /** `createdAt` is the location of the region it was created in, not of the creating call. */
  readonly createdInRegion: boolean;
}

/** One kind of thing a task waited on (a resource type created at one site), and how long for. */
export interface TaskWait extends ResumedFrom {
  /** The task's runs that resumed from it. */
  readonly runs: number;
  /** The task's waiting time that ended when one of them became ready (or ran, when readiness is unknown). */
  readonly waiting: Nanos;
}

/** A run that held the thread while a task was queued; what it had resumed from (ResumedFrom) names the callback when no region does. */
export interface Blocker extends ResumedFrom {
  /** The task the run was for (0: the background task). */
  readonly task: number;
  readonly taskType: string;
  /** The region of that task the run spent the most time in (at least 0.1 ms long), else null. */
  readonly region: string | null;
  readonly location: SourceLocation | null;
  readonly start: Nanos;
  readonly duration: Nanos;
  /** The thread it ran on: 0 the main thread. */
  readonly thread: number;
  /** How much of the queued time (of this task, or of all tasks in {@link ExecutionAnalysis.blockers}) fell within the run. */
  readonly delayed: Nanos;
}

/** A task's wall time (start to end) = running + queued + waiting. */
export interface TaskTimeBreakdown {
  readonly task: number;
  readonly type: string;
  /** Its creation (the trace start when that is not in the trace). */
  readonly start: Nanos;
  readonly wall: Nanos;
  /** Its own runs, within its lifetime. */
  readonly running: Nanos;
  /** Ready to run while the thread ran something else (when readiness is known: timers, promises, immediates). */
  readonly queued: Nanos;
  /** The rest: waiting for I/O, timers and promises not yet settled — and queued time Node gave no readiness for. */
  readonly waiting: Nanos;
  readonly runs: number;
  /** Runs that resumed from I/O, whose readiness Node does not report: any queued time before them counts as waiting. */
  readonly readinessUnknown: number;
  /** The runs that held the thread while it was queued, most delay first. */
  readonly blockers: readonly Blocker[];
  /** What it waited on, most waiting first (at most five kinds with some waiting; runs inside another callback's are left out). */
  readonly waits: readonly TaskWait[];
}

/** Running, queued and waiting over the complete tasks of one type. */
export interface TaskTypeTimes {
  readonly type: string;
  readonly tasks: number;
  readonly running: DurationStats | null;
  readonly queued: DurationStats | null;
  readonly waiting: DurationStats | null;
}

/** A run that delayed other tasks, with how much and how many. */
export interface StretchBlame extends Blocker {
  /** Tasks whose queued time it held up. */
  readonly tasksDelayed: number;
}

export interface ExecutionAnalysis {
  /** Runs in the trace (0: recorded without scheduling events: nothing else here means anything). */
  readonly runs: number;
  /** Per task with any run, by id. */
  readonly tasks: readonly TaskTimeBreakdown[];
  /** Per task type (complete tasks), by type. */
  readonly taskTypes: readonly TaskTypeTimes[];
  /** Runs that delayed other tasks, most delay first. */
  readonly blockers: readonly StretchBlame[];
}

interface RegionSpan {
  readonly type: string;
  readonly location: SourceLocation | null;
  readonly start: Nanos;
  readonly end: Nanos;
}

interface OpenRegion {
  readonly type: string;
  readonly task: number;
  readonly location: SourceLocation | null;
  readonly start: Nanos;
}

interface TaskSpan {
  type: string;
  start: Nanos;
  end: Nanos;
  created: boolean;
  ended: boolean;
}

/**
 * Collects what the breakdown needs while a trace streams by: the runs, the tasks' lifetimes and the
 * regions (at least 0.1 ms long) that name blockers. Feed it every event in file order with
 * {@link add}; then {@link finish}. Memory grows with the runs, not with the other events.
 */
export class ExecutionCollector {
  private readonly runStart: number[] = [];
  private readonly runDuration: number[] = [];
  /** −1: readiness unknown. */
  private readonly runQueued: number[] = [];
  private readonly runTask: number[] = [];
  private readonly runThread: number[] = [];
  /** What each run resumed from: an index into `resumedFrom` (equal ones are one object). */
  private readonly runFrom: number[] = [];
  private readonly resumedFrom: ResumedFrom[] = [];
  private readonly resumedIndex = new Map<string, number>();
  private readonly tasks = new Map<number, TaskSpan>();
  private readonly open = new Map<string, OpenRegion[]>();
  private readonly regions = new Map<number, RegionSpan[]>();
  /** The last task events (time, task, thread), to attribute runs recorded with task 0. */
  private readonly markTs = new Float64Array(RECENT_MARKS);
  private readonly markTask = new Float64Array(RECENT_MARKS);
  private readonly markThread = new Float64Array(RECENT_MARKS);
  private marks = 0;
  private lastTs = 0;
  /**
   * Until the first run, events are only held in a bounded buffer: a trace without scheduling events
   * costs no memory here (tstrace stats reads any trace in bounded memory), and one with them has its
   * first run within the first flush of the recorder (at most 8,192 events).
   */
  private active = false;
  /** A ring of the last PENDING_EVENTS events; `held` counts all that went in. */
  private pending: (TraceEvent | undefined)[] = [];
  private held = 0;

  add(event: TraceEvent): void {
    if (!this.active) {
      if (event.kind !== 'run') {
        this.pending[this.held++ % PENDING_EVENTS] = event;
        return;
      }
      this.active = true;
      for (let i = Math.max(0, this.held - PENDING_EVENTS); i < this.held; i++) this.take(this.pending[i % PENDING_EVENTS]!);
      this.pending = [];
    }
    this.take(event);
  }

  private take(event: TraceEvent): void {
    if (event.ts > this.lastTs) this.lastTs = event.ts;
    const thread = event.thread ?? 0;
    switch (event.kind) {
      case 'run':
        this.addRun(event.ts, event.duration, event.queued, event.task, thread);
        this.runFrom.push(this.fromIndex(event.waitedOn, event.createdAt ?? null, event.createdInRegion === true));
        if (event.ts + event.duration > this.lastTs) this.lastTs = event.ts + event.duration;
        break;
      case 'taskCreate': {
        const span = this.task(event.task);
        if (!span.created) Object.assign(span, { type: event.type, start: event.ts, created: true });
        this.mark(event.ts, event.task, thread);
        break;
      }
      case 'taskEnd': {
        const span = this.task(event.task);
        if (!span.ended) Object.assign(span, { end: event.ts, ended: true });
        this.mark(event.ts, event.task, thread);
        break;
      }
      case 'log':
        if (event.task !== 0) this.mark(event.ts, event.task, thread);
        break;
      case 'regionStart': {
        const key = `${thread}:${event.flow}`;
        let stack = this.open.get(key);
        if (stack === undefined) this.open.set(key, (stack = []));
        stack.push({ type: event.type, task: event.task, location: event.location, start: event.ts });
        if (event.task !== 0) this.mark(event.ts, event.task, thread);
        break;
      }
      case 'regionEnd': {
        const stack = this.open.get(`${thread}:${event.flow}`);
        if (stack === undefined) break;
        let i = stack.length - 1;
        while (i >= 0 && stack[i].type !== event.type) i--;
        if (i < 0) break;
        const [region] = stack.splice(i, 1);
        this.keepRegion(region, event.ts);
        break;
      }
      default:
        break;
    }
  }

  /** The breakdown of the trace read so far; `traceEnd` stands in for missing ends. */
  finish(traceEnd: Nanos): ExecutionAnalysis {
    const end = Math.max(traceEnd, this.lastTs);
    for (const stack of this.open.values()) for (const region of stack) this.keepRegion(region, end);
    this.open.clear();
    return breakdown(this, end);
  }

  private task(id: number): TaskSpan {
    let span = this.tasks.get(id);
    if (span === undefined) this.tasks.set(id, (span = { type: '', start: 0, end: Number.NaN, created: false, ended: false }));
    return span;
  }

  private fromIndex(waitedOn: string, createdAt: SourceLocation | null, createdInRegion: boolean): number {
    // Most runs have no site (promises): their type is the key, with no string made per run.
    const key = createdAt === null ? waitedOn : `${waitedOn}\0${createdAt.file}:${createdAt.line}:${createdAt.column}:${createdAt.function}\0${createdInRegion ? 1 : 0}`;
    let index = this.resumedIndex.get(key);
    if (index === undefined) this.resumedIndex.set(key, (index = this.resumedFrom.push({ waitedOn, createdAt, createdInRegion }) - 1));
    return index;
  }

  private mark(ts: Nanos, task: number, thread: number): void {
    const i = this.marks++ % RECENT_MARKS;
    this.markTs[i] = ts;
    this.markTask[i] = task;
    this.markThread[i] = thread;
  }

  private keepRegion(region: OpenRegion, end: Nanos): void {
    if (region.task === 0 || end - region.start < NAMING_REGION_MIN_NS) return;
    let list = this.regions.get(region.task);
    if (list === undefined) this.regions.set(region.task, (list = []));
    list.push({ type: region.type, location: region.location, start: region.start, end });
  }

  /**
   * A run recorded with task 0 began outside any task; if its own code created a task or started a
   * region of one (those events lie inside it, and come before it in the file), it ran for that task.
   */
  private addRun(start: Nanos, duration: Nanos, queued: Nanos | null, task: number, thread: number): void {
    if (task === 0) {
      const end = start + duration;
      for (let k = 1; k <= Math.min(this.marks, RECENT_MARKS); k++) {
        const i = (this.marks - k) % RECENT_MARKS;
        const ts = this.markTs[i];
        if (ts < start) break;
        if (ts <= end && this.markThread[i] === thread) task = this.markTask[i];
      }
    }
    this.runStart.push(start);
    this.runDuration.push(duration);
    this.runQueued.push(queued ?? -1);
    this.runTask.push(task);
    this.runThread.push(thread);
  }

  /**
   * The task each run read so far was for, in file order: its own, or for a run recorded with task 0,
   * the task it is attributed to (see {@link addRun}) — as the breakdown and its blockers name them.
   */
  runTasks(): readonly number[] {
    return this.runTask;
  }

  /** @internal For {@link breakdown}. */
  get data() {
    return {
      start: this.runStart,
      duration: this.runDuration,
      queued: this.runQueued,
      task: this.runTask,
      thread: this.runThread,
      from: this.runFrom,
      resumedFrom: this.resumedFrom,
      tasks: this.tasks,
      regions: this.regions,
    };
  }
}

type Interval = [Nanos, Nanos];

/** The union of `intervals` (sorted and merged). */
function union(intervals: Interval[]): Interval[] {
  intervals.sort((a, b) => a[0] - b[0]);
  const out: Interval[] = [];
  for (const [s, e] of intervals) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** `from` minus `cut` (both sorted, disjoint). */
function subtract(from: Interval[], cut: Interval[]): Interval[] {
  const out: Interval[] = [];
  let j = 0;
  for (let [s, e] of from) {
    while (j < cut.length && cut[j][1] <= s) j++;
    for (let k = j; k < cut.length && cut[k][0] < e; k++) {
      if (cut[k][0] > s) out.push([s, cut[k][0]]);
      s = Math.max(s, cut[k][1]);
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}

const total = (intervals: Interval[]): Nanos => intervals.reduce((sum, [s, e]) => sum + (e - s), 0);

function breakdown(collector: ExecutionCollector, traceEnd: Nanos): ExecutionAnalysis {
  const { start, duration, queued, task, thread, from: fromOf, resumedFrom, tasks, regions } = collector.data;
  const n = start.length;
  // Runs by thread, in time order (runs of one thread never overlap, so their ends are in order too).
  const byThread = new Map<number, number[]>();
  const byTask = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    let list = byThread.get(thread[i]);
    if (list === undefined) byThread.set(thread[i], (list = []));
    list.push(i);
    if (task[i] !== 0) {
      let own = byTask.get(task[i]);
      if (own === undefined) byTask.set(task[i], (own = []));
      own.push(i);
    }
  }
  for (const list of byThread.values()) list.sort((a, b) => start[a] - start[b]);

  const blame = new Map<number, { delayed: number; tasks: number }>();
  const typeOf = (id: number): string => tasks.get(id)?.type ?? '';
  const blockerOf = (i: number, delayed: Nanos): Blocker => {
    const named = regionOf(regions.get(task[i]), start[i], start[i] + duration[i]);
    return { task: task[i], taskType: task[i] === 0 ? '' : typeOf(task[i]), region: named?.type ?? null, location: named?.location ?? null, start: start[i], duration: duration[i], thread: thread[i], delayed, ...resumedFrom[fromOf[i]] };
  };

  const results: TaskTimeBreakdown[] = [];
  for (const [id, own] of [...byTask].sort((a, b) => a[0] - b[0])) {
    const span = tasks.get(id);
    const from = span?.created ? span.start : 0;
    const to = span?.ended ? span.end : traceEnd;
    const clip = (s: Nanos, e: Nanos): Interval | null => {
      const cs = Math.max(s, from);
      const ce = Math.min(e, to);
      return ce > cs ? [cs, ce] : null;
    };
    const running: Interval[] = [];
    const ready: Interval[] = [];
    let unknown = 0;
    for (const i of own) {
      const r = clip(start[i], start[i] + duration[i]);
      if (r) running.push(r);
      if (queued[i] < 0) unknown++;
      else if (queued[i] > 0) {
        const q = clip(start[i] - queued[i], start[i]);
        if (q) ready.push(q);
      }
    }
    const ran = union(running);
    const queuedPieces = subtract(union(ready), ran);
    const runningNs = total(ran);
    const queuedNs = total(queuedPieces);
    const wall = Math.max(0, to - from);
    const waits = waitsOf(subtract(subtract([[from, to]], ran), queuedPieces), own, (i) => (queued[i] > 0 ? start[i] - queued[i] : start[i]), fromOf, resumedFrom);
    // Who held the thread while this task was queued: the runs overlapping its queued time.
    const delays = new Map<number, number>();
    const threadRuns = byThread.get(thread[own[0]]) ?? [];
    for (const [s, e] of queuedPieces) {
      let lo = 0;
      let hi = threadRuns.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (start[threadRuns[mid]] + duration[threadRuns[mid]] <= s) lo = mid + 1;
        else hi = mid;
      }
      for (let k = lo; k < threadRuns.length && start[threadRuns[k]] < e; k++) {
        const i = threadRuns[k];
        if (task[i] === id) continue;
        const overlap = Math.min(e, start[i] + duration[i]) - Math.max(s, start[i]);
        if (overlap > 0) delays.set(i, (delays.get(i) ?? 0) + overlap);
      }
    }
    for (const [i, delayed] of delays) {
      const entry = blame.get(i);
      if (entry === undefined) blame.set(i, { delayed, tasks: 1 });
      else {
        entry.delayed += delayed;
        entry.tasks++;
      }
    }
    const top = [...delays].sort((a, b) => b[1] - a[1]).slice(0, BLOCKERS_PER_TASK);
    results.push({
      task: id,
      type: typeOf(id),
      start: from,
      wall,
      running: runningNs,
      queued: queuedNs,
      waiting: Math.max(0, wall - runningNs - queuedNs),
      runs: own.length,
      readinessUnknown: unknown,
      blockers: top.map(([i, delayed]) => blockerOf(i, delayed)),
      waits,
    });
  }

  const perType = new Map<string, TaskTimeBreakdown[]>();
  for (const b of results) {
    const span = tasks.get(b.task);
    if (!span?.created || !span.ended) continue;
    let list = perType.get(b.type);
    if (list === undefined) perType.set(b.type, (list = []));
    list.push(b);
  }
  const taskTypes = [...perType]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([type, list]) => ({
      type,
      tasks: list.length,
      running: durationStats(list.map((b) => b.running)),
      queued: durationStats(list.map((b) => b.queued)),
      waiting: durationStats(list.map((b) => b.waiting)),
    }));

  const blockers = [...blame]
    .sort((a, b) => b[1].delayed - a[1].delayed || start[a[0]] - start[b[0]])
    .map(([i, { delayed, tasks: count }]) => ({ ...blockerOf(i, delayed), tasksDelayed: count }));

  return { runs: n, tasks: results, taskTypes, blockers };
}

/**
 * What a task waited on: each of its waiting pieces (sorted) ended when the first of its runs `own` to
 * be ready after it became ready (`readyAt`), so the piece is that run's wait; grouped by what the runs
 * resumed from (`fromOf`, an index into `resumedFrom`). A piece that ends at the task's end is no one's.
 */
function waitsOf(pieces: Interval[], own: number[], readyAt: (i: number) => Nanos, fromOf: number[], resumedFrom: ResumedFrom[]): TaskWait[] {
  const byReady = own.filter((i) => resumedFrom[fromOf[i]].waitedOn !== '').sort((a, b) => readyAt(a) - readyAt(b));
  const runs = new Map<number, number>();
  const waiting = new Map<number, number>();
  for (const i of byReady) runs.set(fromOf[i], (runs.get(fromOf[i]) ?? 0) + 1);
  let k = 0;
  for (const [s, e] of pieces) {
    while (k < byReady.length && readyAt(byReady[k]) < e) k++;
    if (k === byReady.length) break;
    const from = fromOf[byReady[k]];
    waiting.set(from, (waiting.get(from) ?? 0) + (e - s));
  }
  return [...waiting]
    .map(([from, ns]) => ({ ...resumedFrom[from], runs: runs.get(from)!, waiting: ns }))
    .sort((a, b) => b.waiting - a.waiting || b.runs - a.runs)
    .slice(0, WAITS_PER_TASK);
}

/**
 * The region (of the run's task) the run spent its time in: the innermost (latest started) of those it
 * spent at least 90 % as long in as in the one it spent longest in (an enclosing region always has a
 * little more: the run began before the inner one started).
 */
function regionOf(list: RegionSpan[] | undefined, s: Nanos, e: Nanos): RegionSpan | null {
  if (list === undefined) return null;
  const overlap = (region: RegionSpan): Nanos => Math.min(e, region.end) - Math.max(s, region.start);
  let most = 0;
  for (const region of list) most = Math.max(most, overlap(region));
  if (most <= 0) return null;
  let best: RegionSpan | null = null;
  for (const region of list) if (overlap(region) >= 0.9 * most && (best === null || region.start > best.start)) best = region;
  return best;
}

/** Reads `events` through a collector: for tests and small traces. */
export function analyzeExecution(events: Iterable<TraceEvent>, traceEnd = 0): ExecutionAnalysis {
  const collector = new ExecutionCollector();
  for (const event of events) collector.add(event);
  return collector.finish(traceEnd);
}
