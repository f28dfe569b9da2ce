/**
 * The walk the timeline exports (Chrome JSON, Perfetto protobuf) share: trace events in, a well-formed
 * timeline out — region slices strictly nested on one track per flow, task slices (each task once, on a
 * row of its own while it is open), instants for logs and misuse, GC slices that never overlap,
 * counters whose times never go back, and the arrows task → first region and fork → first region.
 * Misuse is repaired here, once, and reported as warnings; a {@link SliceSink} only writes the result
 * in its format. Memory: the regions and tasks open at one time, a bit per flow and task id, the
 * pending arrows — never the events.
 */
import { formatDuration } from '../analysis/format-duration.js';
import { IdSet } from '../analysis/id-set.js';
import { pairRegionEnd } from '../analysis/region-stacks.js';
import type { MisuseName, Nanos, ReadStatus, SourceLocation, TraceEvent, TraceHeader } from '../format/events.js';
import { OTEL_TRACE_CATEGORY, parseTraceparent, type TraceContext } from '../format/trace-context.js';
import { WarningList } from './export-io.js';

/** Log messages longer than this are cut in event names (the whole message stays in args). */
const MAX_LOG_NAME = 120;
/** Flows forked but without a region yet, remembered for the fork arrow to their first region (oldest forgotten first). */
const MAX_PENDING_FORKS = 10_000;

type EventOf<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;

/** A region open on a flow's track, as written: its slice may have been begun again after a repair. */
export interface WalkedRegion<R> {
  readonly type: string;
  /** What the sink made of the region when it started ({@link SliceSink.regionData}). */
  readonly data: R;
  /** Trace time of the slice currently open for it. */
  beganAt: Nanos;
  /** Its slice was ended and begun again by a repair: this is the continuation. */
  continued: boolean;
}

/** Where an arrow starts: the begin of the slice it binds to (its flow and time). */
export interface ArrowSource {
  readonly flow: number;
  readonly ts: Nanos;
}

/** Runs (scheduling events) at least this long are also drawn on their thread's "long runs" track (docs/export.md). */
export const LONG_RUN_NS = 10_000_000;
/** Names of ended tasks kept for the runs recorded after their end. */
const ENDED_NAMES = 1024;

/** An arrow ending at a region slice that is beginning now. */
export interface Arrow {
  /** `fork`: from the region a flow was forked under; `subtask`: from the region a task was created in. */
  readonly name: 'fork' | 'subtask';
  /** The new flow's id (fork) or the task's id (subtask). */
  readonly id: number;
  readonly from: ArrowSource;
}

export interface WalkedTask {
  /** The slice name: the task type, or `task N` when it has none (or was created before the trace). */
  readonly name: string;
  readonly start: Nanos;
  readonly parent: number;
  /** The flow it was created (or, created before the trace, ended) on. */
  readonly flow: number;
  /** Its row, the lowest one free since before it started; -1 without rows or when created before the trace. */
  readonly row: number;
  /** Ended but not created in the trace: it begins at the trace start. */
  readonly beforeTrace: boolean;
  /** Arrow from where the task was created to its first region, until that region starts. */
  arrow: ArrowSource | null;
  /** The W3C trace context recorded with it (its `otel.trace` log, right after its creation), once read. */
  traceContext: TraceContext | null;
}

/** A format's writer of the walked timeline. Times are trace times (ns since the trace start). */
export interface SliceSink<R> {
  /** What to keep for a region while it is open (its name and args, in the format's terms). */
  regionData(event: EventOf<'regionStart'>): R;
  /** `flow` has its first slice or instant: name its track. `thread`: 0 the main thread, else the worker's `threadId` it ran on. */
  newFlow(flow: number, thread: number): void;
  /** A region slice begins on `flow` at `region.beganAt`; `arrows` end at it. */
  beginSlice(flow: number, region: WalkedRegion<R>, arrows: readonly Arrow[]): void;
  endSlice(flow: number, ts: Nanos, region: WalkedRegion<R>): void;
  /** A log on its flow's track at `ts`; `task` is its task while that is open. */
  log(event: EventOf<'log'>, ts: Nanos, task: WalkedTask | undefined): void;
  misuse(event: EventOf<'misuse'>, ts: Nanos, text: string): void;
  /** `newRow`: the task's row is used for the first time. */
  taskBegin(id: number, task: WalkedTask, location: SourceLocation | null, newRow: boolean): void;
  taskEnd(id: number, task: WalkedTask, ts: Nanos, flow: number, location: SourceLocation | null): void;
  /** A GC slice on the GC track, `start` to `end` (`start` moved past the previous GC when they overlap). */
  gcSlice(event: EventOf<'gc'>, start: Nanos, end: Nanos): void;
  /** A GC that lies within the previous one: an instant. */
  gcInstant(event: EventOf<'gc'>): void;
  heap(ts: Nanos, bytes: number): void;
  eventLoop(ts: Nanos, utilization: number): void;
  dropped(ts: Nanos, count: number): void;
  /**
   * A run (scheduling events, format version 5): `flow` ran on its thread from `event.ts` for
   * `event.duration`; `taskName` names its task (its type, `task N`, or "background"). Runs arrive when
   * they end, so they are not in time order with the other events. Optional: a sink without it draws none.
   */
  run?(event: EventOf<'run'>, taskName: string): void;
  /** Everything open has ended at `end`, the trace end. */
  finish(status: ReadStatus, end: Nanos, dropped: number): void;
}

/** The state of one flow's track while regions are open on it; dropped when none are. */
interface FlowTrack<R> {
  readonly stack: WalkedRegion<R>[];
  /** The thread of the flow (0: the main thread). */
  readonly thread: number;
  /** Latest time written on the track: later events are never placed before it. */
  lastTs: Nanos;
  /** The runtime announced that the next region end is out of order, with this many regions nested in it. */
  outOfOrderAbove: number | undefined;
}

const misuseText: Record<MisuseName, string> = {
  regionEndedTwice: 'ended twice',
  regionEndedOutOfOrder: 'ended out of order',
  regionEndedOnOtherFlow: 'ended on another flow',
};

/** Walks trace events in file order into a {@link SliceSink}; call {@link finish} once at the end. */
export class SliceWalker<R> {
  private readonly flows = new Map<number, FlowTrack<R>>();
  private readonly namedFlows = new IdSet();
  private readonly tasks = new Map<number, WalkedTask>();
  private readonly endedTasks = new IdSet();
  /** Names of the tasks ended last (at most ENDED_NAMES), for the runs that ended them. */
  private readonly endedNames = new Map<number, string>();
  private readonly pendingForks = new Map<number, ArrowSource>();
  private readonly rows: TaskRows | null;
  private readonly warnings = new WarningList();
  private lastTs = 0;
  /**
   * Latest time written on any flow's track of each thread (index: 0 the main thread, else the worker's
   * `threadId`): where a flow of that thread whose track was dropped starts again. Per thread, because a
   * thread's events are in time order in the file, but worker threads' batches arrive after the main
   * thread's of the same time.
   */
  private readonly tracksTs = new Map<number, Nanos>();
  /** The main thread's entry of `tracksTs`, kept apart: most traces have no other. */
  private mainTracksTs = 0;
  private gcEnd = 0;
  private heapTs = 0;
  private eventLoopTs = 0;
  private dropped = 0;

  /** `taskRows`: lay tasks out on rows (a task on the lowest row free since before it started). */
  constructor(
    private readonly sink: SliceSink<R>,
    taskRows: boolean,
  ) {
    this.rows = taskRows ? new TaskRows() : null;
  }

  add(event: TraceEvent): void {
    if (event.ts > this.lastTs) this.lastTs = event.ts;
    switch (event.kind) {
      case 'flowStart':
        return this.flowStart(event);
      case 'regionStart':
        return this.regionStart(event);
      case 'regionEnd':
        return this.regionEnd(event);
      case 'taskCreate':
        return this.taskCreate(event);
      case 'taskEnd':
        return this.taskEnd(event);
      case 'log': {
        const task = event.task === 0 ? undefined : this.tasks.get(event.task);
        if (task && task.traceContext === null && event.category === OTEL_TRACE_CATEGORY) task.traceContext = parseTraceparent(event.message);
        return this.sink.log(event, this.instantTs(event.flow, event.thread ?? 0, event.ts), task);
      }
      case 'misuse':
        return this.misuse(event);
      case 'gc':
        return this.gc(event);
      case 'heap':
        this.heapTs = Math.max(this.heapTs, event.ts);
        return this.sink.heap(this.heapTs, event.bytes);
      case 'eventLoop':
        // A sample covers the interval that ends at its time: the counter takes its value from the interval's start.
        this.eventLoopTs = Math.max(this.eventLoopTs, event.ts - event.interval, 0);
        return this.sink.eventLoop(this.eventLoopTs, event.utilization);
      case 'dropped':
        this.dropped += event.count;
        return this.sink.dropped(event.ts, event.count);
      case 'run':
        return this.run(event);
    }
  }

  /** Closes what is still open at the trace end (the footer's end time, or the last event); returns the warnings. */
  finish(status: ReadStatus): string[] {
    const end = Math.max(this.lastTs, this.gcEnd, status.footer?.endTs ?? 0);
    for (const [flow, track] of this.flows) {
      for (let i = track.stack.length - 1; i >= 0; i--) {
        const region = track.stack[i];
        this.warnings.add('regions still open at the trace end', `region "${region.type}" on flow ${flow} was still open at the end of the trace; it ends there`);
        this.sink.endSlice(flow, Math.max(end, track.lastTs), region);
      }
    }
    this.flows.clear();
    for (const [id, task] of this.tasks) this.endTask(id, task, end, task.flow, null);
    this.tasks.clear();
    this.sink.finish(status, end, this.dropped);
    return this.warnings.list();
  }

  // ---- regions ------------------------------------------------------------------------------------

  private flowStart(event: EventOf<'flowStart'>): void {
    const parent = this.flows.get(event.parentFlow);
    // The region the flow was forked under: `regionsAbove` open regions below the parent flow's innermost.
    const top = parent?.stack[parent.stack.length - 1 - event.regionsAbove];
    if (!top) return;
    if (this.pendingForks.size >= MAX_PENDING_FORKS) this.pendingForks.delete(this.pendingForks.keys().next().value as number);
    this.pendingForks.set(event.flow, { flow: event.parentFlow, ts: top.beganAt });
  }

  private regionStart(event: EventOf<'regionStart'>): void {
    const { flow } = event;
    let track = this.flows.get(flow);
    if (!track) {
      // A flow seen before had its track dropped with its last time: its events may not go back before any
      // time written on a track since (only a damaged trace has such events).
      track = { stack: [], thread: event.thread ?? 0, lastTs: this.namedFlows.has(flow) ? Math.max(event.ts, this.threadTracksTs(event.thread ?? 0)) : event.ts, outOfOrderAbove: undefined };
      this.flows.set(flow, track);
    }
    const ts = this.onTrack(flow, track, event.ts);
    const region: WalkedRegion<R> = { type: event.type, data: this.sink.regionData(event), beganAt: ts, continued: false };
    track.stack.push(region);

    const arrows: Arrow[] = [];
    const fork = this.pendingForks.get(flow);
    if (fork) {
      this.pendingForks.delete(flow);
      if (fork.ts <= ts) arrows.push({ name: 'fork', id: flow, from: fork }); // none back in time (a damaged trace)
    }
    const task = event.task === 0 ? undefined : this.tasks.get(event.task);
    if (task?.arrow) {
      if (task.arrow.ts <= ts) arrows.push({ name: 'subtask', id: event.task, from: task.arrow });
      task.arrow = null;
    }
    this.nameFlow(flow, event.thread ?? 0);
    this.sink.beginSlice(flow, region, arrows);
  }

  private regionEnd(event: EventOf<'regionEnd'>): void {
    const { flow, type } = event;
    const track = this.flows.get(flow);
    const above = track?.outOfOrderAbove;
    if (track) track.outOfOrderAbove = undefined;
    const index = track ? pairRegionEnd(track.stack, type, above ?? 0) : -1;
    if (!track || index < 0) {
      const lost = this.dropped > 0 ? ` (${this.dropped} events were dropped before it, which may have included its start)` : '';
      this.warnings.add('region ends without a start', `region "${type}" ended on flow ${flow} at ${formatDuration(event.ts)}, but no region of that type was open there${lost}; the end is left out`);
      return;
    }
    const ts = this.onTrack(flow, track, event.ts);
    const { stack } = track;
    const inner = stack.splice(index + 1);
    for (let i = inner.length - 1; i >= 0; i--) this.sink.endSlice(flow, ts, inner[i]);
    this.sink.endSlice(flow, ts, stack[index]);
    stack.pop();
    if (inner.length > 0) {
      this.warnings.add(
        'regions ended out of order',
        `region "${type}" on flow ${flow} ended at ${formatDuration(event.ts)} before ${inner.length === 1 ? 'a region' : `${inner.length} regions`} nested in it (${inner
          .map((r) => `"${r.type}"`)
          .join(', ')}); ${inner.length === 1 ? 'it is' : 'they are'} ended there too and continued as new slices`,
      );
      for (const region of inner) {
        region.beganAt = ts;
        region.continued = true;
        stack.push(region);
        this.sink.beginSlice(flow, region, []);
      }
    }
    if (stack.length === 0) this.flows.delete(flow);
  }

  private misuse(event: EventOf<'misuse'>): void {
    if (event.misuse === 'regionEndedOutOfOrder') {
      const track = this.flows.get(event.flow);
      if (track) track.outOfOrderAbove = event.regionsAbove;
    }
    this.sink.misuse(event, this.instantTs(event.flow, event.thread ?? 0, event.ts), `region "${event.type}" ${misuseText[event.misuse]}`);
  }

  /** The time of an instant on `flow`'s track (named now if new): never before what is already there. */
  private instantTs(flow: number, thread: number, ts: Nanos): Nanos {
    this.nameFlow(flow, thread);
    const track = this.flows.get(flow);
    return track ? this.onTrack(flow, track, ts) : ts;
  }

  /** The time at which to write an event on `flow`'s track: never before what is already there. */
  private onTrack(flow: number, track: FlowTrack<R>, ts: Nanos): Nanos {
    if (ts < track.lastTs) {
      this.warnings.add('timestamps going backwards', `an event on flow ${flow} at ${formatDuration(ts)} is earlier than the one before it (${formatDuration(track.lastTs)}); it is placed at ${formatDuration(track.lastTs)}`);
      return track.lastTs;
    }
    track.lastTs = ts;
    if (track.thread === 0) {
      if (ts > this.mainTracksTs) this.mainTracksTs = ts;
    } else if (ts > (this.tracksTs.get(track.thread) ?? 0)) this.tracksTs.set(track.thread, ts);
    return ts;
  }

  private threadTracksTs(thread: number): Nanos {
    return thread === 0 ? this.mainTracksTs : (this.tracksTs.get(thread) ?? 0);
  }

  private nameFlow(flow: number, thread: number): void {
    if (this.namedFlows.add(flow)) this.sink.newFlow(flow, thread);
  }

  // ---- tasks --------------------------------------------------------------------------------------

  private taskCreate(event: EventOf<'taskCreate'>): void {
    const { task: id, flow, ts } = event;
    if (this.tasks.has(id) || this.endedTasks.has(id)) {
      this.warnings.add('tasks created twice', `task ${id} was created again at ${formatDuration(ts)} (as "${event.type}"); the first creation counts`);
      return;
    }
    const track = this.flows.get(flow);
    const top = track?.stack[track.stack.length - 1];
    const arrow = event.parent !== 0 && top ? { flow, ts: top.beganAt } : null;
    const { row, isNew } = this.rows ? this.rows.take(ts) : { row: -1, isNew: false };
    const task: WalkedTask = { name: event.type || `task ${id}`, start: ts, parent: event.parent, flow, row, beforeTrace: false, arrow, traceContext: null };
    this.tasks.set(id, task);
    this.sink.taskBegin(id, task, event.location, isNew);
  }

  private taskEnd(event: EventOf<'taskEnd'>): void {
    const { task: id, ts, flow } = event;
    const task = this.tasks.get(id);
    if (task) {
      this.tasks.delete(id);
      this.endTask(id, task, ts, flow, event.location);
      return;
    }
    if (this.endedTasks.has(id)) {
      this.warnings.add('tasks ended twice', `task ${id} was ended again at ${formatDuration(ts)}; only the first end counts`);
      return;
    }
    // Created before the trace started: its slice starts at the trace start.
    const before: WalkedTask = { name: `task ${id}`, start: 0, parent: 0, flow, row: -1, beforeTrace: true, arrow: null, traceContext: null };
    this.sink.taskBegin(id, before, null, false);
    this.endTask(id, before, ts, flow, event.location);
  }

  private endTask(id: number, task: WalkedTask, end: Nanos, flow: number, location: SourceLocation | null): void {
    this.endedTasks.add(id);
    // A run is recorded when it ends, after the end of a task it ended: its name is kept a while for it.
    this.endedNames.set(id, task.name);
    if (this.endedNames.size > ENDED_NAMES) this.endedNames.delete(this.endedNames.keys().next().value!);
    let ts = end;
    if (ts < task.start) {
      this.warnings.add('timestamps going backwards', `task ${id} ended at ${formatDuration(ts)}, before its creation (${formatDuration(task.start)}); it is ended at its creation`);
      ts = task.start;
    }
    this.sink.taskEnd(id, task, ts, flow, location);
    if (task.row >= 0) this.rows!.release(task.row, ts);
  }

  // ---- runs ---------------------------------------------------------------------------------------

  /** Where each thread's last run ended (runs arrive as they end, so in order on each thread). */
  private readonly runEnds = new Map<number, Nanos>();

  private run(event: EventOf<'run'>): void {
    if (this.sink.run === undefined) return;
    const end = event.ts + event.duration;
    if (end > this.lastTs) this.lastTs = end;
    // A thread runs one callback at a time: runs that overlap come from a damaged trace. Their slices
    // (on the flow's track and the thread's long-runs track) must not: the later one is cut, or left out.
    const thread = event.thread ?? 0;
    const lastEnd = this.runEnds.get(thread) ?? -Infinity;
    let shown = event;
    if (event.ts < lastEnd) {
      if (end <= lastEnd) {
        this.warnings.add('overlapping runs', `a run at ${formatDuration(event.ts)} lies within the previous run of its thread; it is left out`);
        return;
      }
      this.warnings.add('overlapping runs', `a run at ${formatDuration(event.ts)} started before the previous run of its thread ended; its slice starts at that end`);
      shown = { ...event, ts: lastEnd, duration: end - lastEnd };
    }
    this.runEnds.set(thread, end);
    const task = event.task === 0 ? undefined : this.tasks.get(event.task);
    this.sink.run(shown, event.task === 0 ? 'background' : (task?.name ?? this.endedNames.get(event.task) ?? `task ${event.task}`));
  }

  // ---- GC -----------------------------------------------------------------------------------------

  private gc(event: EventOf<'gc'>): void {
    const end = event.ts + event.duration;
    // Slices on one track must not overlap: a GC reported within the previous one becomes an instant.
    if (end <= this.gcEnd) {
      if (event.duration > 0) this.warnings.add('overlapping GCs', `a ${event.gcKind} GC at ${formatDuration(event.ts)} lies within the previous GC; it is shown as an instant only`);
      this.sink.gcInstant(event);
      return;
    }
    const start = Math.max(event.ts, this.gcEnd);
    if (start > event.ts) {
      this.warnings.add('overlapping GCs', `a ${event.gcKind} GC at ${formatDuration(event.ts)} started before the previous GC ended; its slice starts at that end`);
    }
    this.gcEnd = end;
    this.sink.gcSlice(event, start, end);
  }
}

/** Rows of tasks: a task takes the lowest row free since before it started, as go tool trace lays tasks out. */
class TaskRows {
  private readonly free: number[] = [];
  private readonly released: { row: number; at: Nanos }[] = [];
  private releasedHead = 0;
  private count = 0;

  take(at: Nanos): { row: number; isNew: boolean } {
    while (this.releasedHead < this.released.length && this.released[this.releasedHead].at < at) {
      heapPush(this.free, this.released[this.releasedHead++].row);
    }
    if (this.releasedHead > 1024 && this.releasedHead * 2 > this.released.length) {
      this.released.splice(0, this.releasedHead);
      this.releasedHead = 0;
    }
    if (this.free.length > 0) return { row: heapPop(this.free), isNew: false };
    return { row: this.count++, isNew: true };
  }

  /** The row is free for tasks that start after `at`. */
  release(row: number, at: Nanos): void {
    this.released.push({ row, at });
  }
}

function heapPush(heap: number[], value: number): void {
  let i = heap.push(value) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= heap[i]) break;
    [heap[parent], heap[i]] = [heap[i], heap[parent]];
    i = parent;
  }
}

function heapPop(heap: number[]): number {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l] < heap[m]) m = l;
      if (r < heap.length && heap[r] < heap[m]) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i], heap[m]];
      i = m;
    }
  }
  return top;
}

/** A slice name: viewers treat an empty name as missing. */
export function sliceName(name: string): string {
  return name === '' ? '(unnamed)' : name;
}

/** `category=message` as go tool trace names logs, cut for the event name. */
export function logName(category: string, message: string): string {
  const text = category === '' ? message : `${category}=${message}`;
  if (text === '') return '(empty log)';
  return text.length > MAX_LOG_NAME ? `${text.slice(0, MAX_LOG_NAME - 1)}…` : text;
}

/** `node app.mjs`: the file names of the program and of its first argument, from the command line. */
export function processName(header: TraceHeader | null): string {
  if (!header) return 'tstrace';
  const words = header.command.split(' ').filter((word) => word !== '');
  const base = (word: string): string => word.slice(Math.max(word.lastIndexOf('/'), word.lastIndexOf('\\')) + 1);
  const program = words.slice(0, 2).map(base).join(' ');
  return program === '' ? `pid ${header.pid}` : program;
}
