/**
 * Export to the Chrome Trace Event format (JSON object format) that Perfetto, the Catapult trace viewer
 * (`chrome://tracing`, `go tool trace`'s viewer), speedscope and Chrome DevTools open. The mapping is
 * documented in docs/export.md; the rules it follows (what real viewers accept) in the design notes on
 * validators. It streams: JSON is written as the events are read, and memory grows with the regions and
 * tasks open at one time, not with the trace.
 */
import type { Writable } from 'node:stream';
import { formatDuration } from '../analysis/format-duration.js';
import { IdSet } from '../analysis/id-set.js';
import type { TraceSource } from '../analysis/reader.js';
import { TraceDecoder } from '../format/decode.js';
import type { MisuseName, Nanos, ReadStatus, SourceLocation, TraceEvent, TraceHeader } from '../format/events.js';
import { decodePaced, PacedWriter, WarningList } from './export-io.js';
import type { ExportOptions, ExportResult } from './export-types.js';

export interface ChromeExportOptions extends ExportOptions {
  /**
   * Also draw every task as an `X` slice in a "Tasks" pseudo-process, one row per concurrently open task
   * (go tool trace's layout): viewers that ignore async events (speedscope, DevTools) show tasks too.
   * Default true.
   */
  taskRows?: boolean;
}

/** The synthetic thread of the "GC" track; it also carries the process-wide events (counters, process instants). */
export const GC_TID = 0x7fffffff;
/** Added to the traced process's pid to make the pid of the "Tasks" pseudo-process (real pids stay below 2^22). */
export const TASKS_PID_OFFSET = 1_000_000_000;

/** Output text collected before it is handed to the writer. */
const WRITE_BYTES = 64 * 1024;
/** Flows forked but without a region yet, remembered for the fork arrow to their first region (oldest forgotten first). */
const MAX_PENDING_FORKS = 10_000;
/** Log messages longer than this are cut in event names (the whole message stays in args). */
const MAX_LOG_NAME = 120;

/**
 * Writes the Chrome Trace Event JSON of a trace (a file path, bytes, or a stream of chunks) to `out`, as it
 * reads it. Regions become `B`/`E` slices on one thread per flow, strictly nested (misuse is repaired and
 * reported in `warnings`); tasks nestable async `b`/`e` slices with their logs as `n`; logs instants;
 * GC, heap and event-loop utilization a "GC" track and counters; task parent → child and flow fork →
 * first region arrows. Timestamps are µs on the `process.hrtime` clock, as Node's own trace events.
 *
 * Never throws for a damaged trace: it exports what was read, and `status` says where and why reading
 * stopped. Rejects on I/O errors (no such file; `out` failed). Does not end `out`: when the promise
 * resolves, everything has been written to it (honouring backpressure), and the caller ends it.
 */
export async function exportChrome(source: TraceSource, out: Writable, options: ChromeExportOptions = {}): Promise<ExportResult> {
  const output = new JsonOutput(out);
  let exporter: ChromeExporter | null = null;
  const decoder: TraceDecoder = new TraceDecoder((event) => {
    exporter ??= new ChromeExporter(output, decoder.header, options.taskRows ?? true);
    exporter.add(event);
  });
  try {
    const status = await decodePaced(source, decoder, () => output.drained(), options.onProgress);
    exporter ??= new ChromeExporter(output, status.header, options.taskRows ?? true);
    const warnings = exporter.finish(status);
    await output.drained();
    return { events: output.events, warnings, status };
  } finally {
    output.release();
  }
}

/** The `{"traceEvents":[…]` text, handed to the writer in pieces of about {@link WRITE_BYTES}. */
class JsonOutput {
  events = 0;
  private text = '{"traceEvents":[';
  private readonly writer: PacedWriter;

  constructor(out: Writable) {
    this.writer = new PacedWriter(out);
  }

  /** Stops listening to the writer. */
  release(): void {
    this.writer.release();
  }

  /** Adds one event (a JSON object's text). */
  event(json: string): void {
    this.text += this.events === 0 ? `\n${json}` : `,\n${json}`;
    this.events++;
    if (this.text.length >= WRITE_BYTES) this.flush();
  }

  /** Adds text after the events: the end of the array and the rest of the document. */
  raw(text: string): void {
    this.text += text;
  }

  /** Writes what is collected, then waits until the writer wants more. Rejects if writing failed. */
  async drained(): Promise<void> {
    this.flush();
    await this.writer.drained();
  }

  private flush(): void {
    if (this.text.length === 0) return;
    this.writer.write(this.text);
    this.text = '';
  }
}

/** A region open on a flow's track, as written: its `B` may have been re-emitted after a repair. */
interface OpenRegion {
  readonly type: string;
  /** The JSON text of the slice name. */
  readonly name: string;
  /** The `{…}` text of its args, written on its `E` (see endSlice). */
  readonly args: string;
  /** Trace time of the `B` currently open for it. */
  beganAt: Nanos;
  /** Its slice was ended and begun again by a repair: this is the continuation. */
  continued: boolean;
}

/** The state of one flow's track while regions are open on it; dropped when none are. */
interface FlowTrack {
  readonly stack: OpenRegion[];
  /** Latest time written on the track: later events are never placed before it. */
  lastTs: Nanos;
  /** The runtime announced that the next region end is out of order, with this many regions nested in it. */
  outOfOrderAbove: number | undefined;
}

/** Where a flow arrow starts: the exact `ts` and `tid` of the `B` of the slice it binds to. */
interface ArrowSource {
  readonly tid: number;
  readonly ts: Nanos;
}

interface OpenTask {
  /** The JSON text of the async slice name (the task type). */
  readonly name: string;
  readonly start: Nanos;
  readonly parent: number;
  /** The flow it was created on: its async slice's thread. */
  readonly flow: number;
  /** Row in the Tasks pseudo-process, or -1. */
  readonly row: number;
  /** Arrow from where the task was created to its first region, until that region starts. */
  arrow: ArrowSource | null;
}

const misuseText: Record<MisuseName, string> = {
  regionEndedTwice: 'ended twice',
  regionEndedOutOfOrder: 'ended out of order',
  regionEndedOnOtherFlow: 'ended on another flow',
};

/** Turns trace events into Chrome JSON events, one at a time, keeping only what is open. */
class ChromeExporter {
  private readonly pid: number;
  private readonly tasksPid: number;
  /** The hrtime origin split into whole µs and the rest in ns, so every `ts` is exact. */
  private readonly originUs: number;
  private readonly originRestNs: number;
  private readonly flows = new Map<number, FlowTrack>();
  private readonly namedFlows = new IdSet();
  private readonly tasks = new Map<number, OpenTask>();
  private readonly endedTasks = new IdSet();
  private readonly pendingForks = new Map<number, ArrowSource>();
  private readonly rows: TaskRows | null;
  private readonly warnings = new WarningList();
  private lastTs = 0;
  /** Latest time written on any flow's track: where a flow whose track was dropped starts again. */
  private tracksTs = 0;
  private gcEnd = 0;
  private heapTs = 0;
  private eventLoopTs = 0;
  private dropped = 0;

  constructor(
    private readonly output: JsonOutput,
    private readonly header: TraceHeader | null,
    taskRows: boolean,
  ) {
    this.pid = header?.pid ?? 1;
    this.tasksPid = this.pid + TASKS_PID_OFFSET;
    const origin = header?.hrtimeOriginNs ?? 0n;
    this.originUs = Number(origin / 1000n);
    this.originRestNs = Number(origin % 1000n);
    this.rows = taskRows ? new TaskRows() : null;
    this.metadata(this.pid, GC_TID, 'process_name', processName(header));
    this.metadata(this.pid, GC_TID, 'process_sort_index', 0, 'sort_index');
    this.metadata(this.pid, GC_TID, 'thread_name', 'GC');
    this.metadata(this.pid, GC_TID, 'thread_sort_index', 0, 'sort_index');
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
      case 'log':
        return this.log(event);
      case 'misuse':
        return this.misuse(event);
      case 'gc':
        return this.gc(event);
      case 'heap':
        return this.heap(event);
      case 'eventLoop':
        return this.eventLoop(event);
      case 'dropped':
        return this.droppedEvents(event);
    }
  }

  /** Closes what is still open at the trace end and writes the rest of the document; returns the warnings. */
  finish(status: ReadStatus): string[] {
    const end = Math.max(this.lastTs, this.gcEnd, status.footer?.endTs ?? 0);
    for (const [flow, track] of this.flows) {
      for (let i = track.stack.length - 1; i >= 0; i--) {
        const region = track.stack[i];
        this.warnings.add('regions still open at the trace end', `region "${region.type}" on flow ${flow} was still open at the end of the trace; it ends there`);
        this.endSlice(flow, Math.max(end, track.lastTs), region);
      }
    }
    this.flows.clear();
    for (const [id, task] of this.tasks) this.endTask(id, task, end, task.flow);
    this.tasks.clear();
    this.output.raw(`\n],\n"metadata":${JSON.stringify(this.metadataObject(status, end))}}\n`);
    return this.warnings.list();
  }

  // ---- regions ------------------------------------------------------------------------------------

  private flowStart(event: Extract<TraceEvent, { kind: 'flowStart' }>): void {
    const parent = this.flows.get(event.parentFlow);
    // The region the flow was forked under: `regionsAbove` open regions below the parent flow's innermost.
    const top = parent?.stack[parent.stack.length - 1 - event.regionsAbove];
    if (!top) return;
    if (this.pendingForks.size >= MAX_PENDING_FORKS) this.pendingForks.delete(this.pendingForks.keys().next().value as number);
    this.pendingForks.set(event.flow, { tid: event.parentFlow, ts: top.beganAt });
  }

  private regionStart(event: Extract<TraceEvent, { kind: 'regionStart' }>): void {
    const { flow } = event;
    let track = this.flows.get(flow);
    if (!track) {
      // A flow seen before had its track dropped with its last time: its events may not go back before any
      // time written on a track since (only a damaged trace has such events).
      track = { stack: [], lastTs: this.namedFlows.has(flow) ? Math.max(event.ts, this.tracksTs) : event.ts, outOfOrderAbove: undefined };
      this.flows.set(flow, track);
    }
    const ts = this.onTrack(flow, track, event.ts);
    const region: OpenRegion = { type: event.type, name: nameJson(event.type), args: regionArgs(event.task, event.location), beganAt: ts, continued: false };
    track.stack.push(region);
    this.beginSlice(flow, region);

    const fork = this.pendingForks.get(flow);
    if (fork) {
      this.pendingForks.delete(flow);
      this.arrow('fork', flow, fork, { tid: flow, ts });
    }
    const task = event.task === 0 ? undefined : this.tasks.get(event.task);
    if (task?.arrow) {
      this.arrow('subtask', event.task, task.arrow, { tid: flow, ts });
      task.arrow = null;
    }
  }

  private regionEnd(event: Extract<TraceEvent, { kind: 'regionEnd' }>): void {
    const { flow, type } = event;
    const track = this.flows.get(flow);
    const above = track?.outOfOrderAbove;
    if (track) track.outOfOrderAbove = undefined;
    const index = track ? endedRegionIndex(track.stack, type, above ?? 0) : -1;
    if (!track || index < 0) {
      const lost = this.dropped > 0 ? ` (${this.dropped} events were dropped before it, which may have included its start)` : '';
      this.warnings.add('region ends without a start', `region "${type}" ended on flow ${flow} at ${formatDuration(event.ts)}, but no region of that type was open there${lost}; the end is left out`);
      return;
    }
    const ts = this.onTrack(flow, track, event.ts);
    const { stack } = track;
    const inner = stack.splice(index + 1);
    for (let i = inner.length - 1; i >= 0; i--) this.endSlice(flow, ts, inner[i]);
    this.endSlice(flow, ts, stack[index]);
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
        this.beginSlice(flow, region);
      }
    }
    if (stack.length === 0) this.flows.delete(flow);
  }

  private misuse(event: Extract<TraceEvent, { kind: 'misuse' }>): void {
    if (event.misuse === 'regionEndedOutOfOrder') {
      const track = this.flows.get(event.flow);
      if (track) track.outOfOrderAbove = event.regionsAbove;
    }
    const args = `{"region":${JSON.stringify(event.type)},"misuse":"${event.misuse}"${locationArg(event.location)}}`;
    this.instant(event.flow, event.ts, JSON.stringify(`region "${event.type}" ${misuseText[event.misuse]}`), 'misuse', args);
  }

  /** The time at which to write an event on `flow`'s track: never before what is already there. */
  private onTrack(flow: number, track: FlowTrack, ts: Nanos): Nanos {
    if (ts < track.lastTs) {
      this.warnings.add('timestamps going backwards', `an event on flow ${flow} at ${formatDuration(ts)} is earlier than the one before it (${formatDuration(track.lastTs)}); it is placed at ${formatDuration(track.lastTs)}`);
      return track.lastTs;
    }
    track.lastTs = ts;
    if (ts > this.tracksTs) this.tracksTs = ts;
    return ts;
  }

  /**
   * A region's `B` has no args and its `E` has them all: Catapult and Perfetto merge the two (Catapult
   * warns when both give one arg), and speedscope, which names frames by name and args and reads only the
   * `B`'s, shows plain region names.
   */
  private beginSlice(flow: number, region: OpenRegion): void {
    this.nameFlow(flow);
    this.output.event(`{"ph":"B","name":${region.name},"cat":"region","ts":${this.us(region.beganAt)},"pid":${this.pid},"tid":${flow}}`);
  }

  private endSlice(flow: number, ts: Nanos, region: OpenRegion): void {
    const args = region.continued ? `${region.args.slice(0, -1)},"continued":true}` : region.args;
    this.output.event(`{"ph":"E","name":${region.name},"cat":"region","ts":${this.us(ts)},"pid":${this.pid},"tid":${flow},"args":${args}}`);
  }

  /**
   * A v1 flow arrow between two region slices. Both ends are placed at the exact `ts`, `tid` and `cat` of
   * the `B` of the slice they bind to (`f` with `bp: "e"`): every viewer binds them the same way.
   */
  private arrow(name: 'fork' | 'subtask', id: number, from: ArrowSource, to: ArrowSource): void {
    if (to.ts < from.ts) return; // an arrow back in time (a damaged trace): none
    const common = `"name":"${name}","cat":"region","id":${id},"pid":${this.pid}`;
    this.output.event(`{"ph":"s",${common},"ts":${this.us(from.ts)},"tid":${from.tid}}`);
    this.output.event(`{"ph":"f","bp":"e",${common},"ts":${this.us(to.ts)},"tid":${to.tid}}`);
  }

  private nameFlow(flow: number): void {
    if (!this.namedFlows.add(flow)) return;
    this.metadata(this.pid, flow, 'thread_name', `flow ${flow}`);
    this.metadata(this.pid, flow, 'thread_sort_index', flow, 'sort_index');
  }

  // ---- tasks and logs -----------------------------------------------------------------------------

  private taskCreate(event: Extract<TraceEvent, { kind: 'taskCreate' }>): void {
    const { task: id, flow, ts } = event;
    if (this.tasks.has(id) || this.endedTasks.has(id)) {
      this.warnings.add('tasks created twice', `task ${id} was created again at ${formatDuration(ts)} (as "${event.type}"); the first creation counts`);
      return;
    }
    const name = nameJson(event.type || `task ${id}`);
    const track = this.flows.get(flow);
    const top = track?.stack[track.stack.length - 1];
    const arrow = event.parent !== 0 && top ? { tid: flow, ts: top.beganAt } : null;
    const { row, isNew } = this.rows ? this.rows.take(ts) : { row: -1, isNew: false };
    this.tasks.set(id, { name, start: ts, parent: event.parent, flow, row, arrow });
    const args = `{"id":${id},"parent":${event.parent}${locationArg(event.location)}}`;
    this.output.event(`{"ph":"b","name":${name},"cat":"task","id2":{"local":"0x${id.toString(16)}"},"ts":${this.us(ts)},"pid":${this.pid},"tid":${flow},"args":${args}}`);
    if (isNew) {
      if (row === 0) {
        this.metadata(this.tasksPid, 1, 'process_name', 'Tasks');
        this.metadata(this.tasksPid, 1, 'process_sort_index', 1, 'sort_index');
      }
      this.metadata(this.tasksPid, row + 1, 'thread_name', `tasks ${row + 1}`);
      this.metadata(this.tasksPid, row + 1, 'thread_sort_index', row + 1, 'sort_index');
    }
  }

  private taskEnd(event: Extract<TraceEvent, { kind: 'taskEnd' }>): void {
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
    const name = nameJson(`task ${id}`);
    this.output.event(`{"ph":"b","name":${name},"cat":"task","id2":{"local":"0x${id.toString(16)}"},"ts":${this.us(0)},"pid":${this.pid},"tid":${flow},"args":{"id":${id},"created":"before the trace started"}}`);
    this.endTask(id, { name, start: 0, parent: 0, flow, row: -1, arrow: null }, ts, flow, event.location);
  }

  private endTask(id: number, task: OpenTask, end: Nanos, tid: number, location: SourceLocation | null = null): void {
    this.endedTasks.add(id);
    let ts = end;
    if (ts < task.start) {
      this.warnings.add('timestamps going backwards', `task ${id} ended at ${formatDuration(ts)}, before its creation (${formatDuration(task.start)}); it is ended at its creation`);
      ts = task.start;
    }
    const args = location ? `,"args":{${locationArg(location).slice(1)}}` : '';
    this.output.event(`{"ph":"e","name":${task.name},"cat":"task","id2":{"local":"0x${id.toString(16)}"},"ts":${this.us(ts)},"pid":${this.pid},"tid":${tid}${args}}`);
    if (task.row >= 0) {
      this.output.event(
        `{"ph":"X","name":${task.name},"cat":"task","ts":${this.us(task.start)},"dur":${durationUs(ts - task.start)},"pid":${this.tasksPid},"tid":${task.row + 1},"args":{"id":${id},"parent":${task.parent}}}`,
      );
      this.rows!.release(task.row, ts);
    }
  }

  private log(event: Extract<TraceEvent, { kind: 'log' }>): void {
    const { task, flow, ts, category, message } = event;
    const name = JSON.stringify(logName(category, message));
    const args = `{"task":${task},"category":${JSON.stringify(category)},"message":${JSON.stringify(message)}${locationArg(event.location)}}`;
    this.instant(flow, ts, name, 'log', args);
    if (task !== 0) {
      this.output.event(`{"ph":"n","name":${name},"cat":"task","id2":{"local":"0x${task.toString(16)}"},"ts":${this.us(ts)},"pid":${this.pid},"tid":${flow},"args":${args}}`);
    }
  }

  /** A thread-scoped instant on `flow`'s track. */
  private instant(flow: number, ts: Nanos, name: string, cat: string, args: string): void {
    this.nameFlow(flow);
    const track = this.flows.get(flow);
    const at = track ? this.onTrack(flow, track, ts) : ts;
    this.output.event(`{"ph":"i","s":"t","name":${name},"cat":"${cat}","ts":${this.us(at)},"pid":${this.pid},"tid":${flow},"args":${args}}`);
  }

  // ---- the runtime: GC, heap, event loop, drops ---------------------------------------------------

  private gc(event: Extract<TraceEvent, { kind: 'gc' }>): void {
    const end = event.ts + event.duration;
    const name = JSON.stringify(`${event.gcKind} GC`);
    const args = `{"kind":${JSON.stringify(event.gcKind)},"duration_ns":${event.duration}}`;
    // Slices on one track must not overlap: a GC reported within the previous one becomes a process instant.
    if (end <= this.gcEnd) {
      if (event.duration > 0) this.warnings.add('overlapping GCs', `a ${event.gcKind} GC at ${formatDuration(event.ts)} lies within the previous GC; it is shown as an instant only`);
      this.output.event(`{"ph":"i","s":"p","name":${name},"cat":"gc","ts":${this.us(event.ts)},"pid":${this.pid},"tid":${GC_TID},"args":${args}}`);
      return;
    }
    const start = Math.max(event.ts, this.gcEnd);
    if (start > event.ts) {
      this.warnings.add('overlapping GCs', `a ${event.gcKind} GC at ${formatDuration(event.ts)} started before the previous GC ended; its slice starts at that end`);
    }
    this.gcEnd = end;
    this.output.event(`{"ph":"X","name":${name},"cat":"gc","ts":${this.us(start)},"dur":${durationUs(end - start)},"pid":${this.pid},"tid":${GC_TID},"args":${args}}`);
  }

  private heap(event: Extract<TraceEvent, { kind: 'heap' }>): void {
    this.heapTs = Math.max(this.heapTs, event.ts);
    this.output.event(`{"ph":"C","name":"heap","cat":"memory","ts":${this.us(this.heapTs)},"pid":${this.pid},"tid":${GC_TID},"args":{"bytes":${event.bytes}}}`);
  }

  /** A sample covers the interval that ends at its time: the counter takes its value from the interval's start. */
  private eventLoop(event: Extract<TraceEvent, { kind: 'eventLoop' }>): void {
    this.eventLoopTs = Math.max(this.eventLoopTs, event.ts - event.interval, 0);
    this.output.event(
      `{"ph":"C","name":"event loop","cat":"eventLoop","ts":${this.us(this.eventLoopTs)},"pid":${this.pid},"tid":${GC_TID},"args":{"utilization":${event.utilization}}}`,
    );
  }

  private droppedEvents(event: Extract<TraceEvent, { kind: 'dropped' }>): void {
    this.dropped += event.count;
    this.output.event(`{"ph":"i","s":"p","name":"dropped events","cat":"tstrace","ts":${this.us(event.ts)},"pid":${this.pid},"tid":${GC_TID},"args":{"count":${event.count}}}`);
  }

  // ---- the rest -----------------------------------------------------------------------------------

  private metadata(pid: number, tid: number, name: string, value: string | number, key = 'name'): void {
    this.output.event(`{"ph":"M","name":"${name}","cat":"__metadata","ts":${this.us(0)},"pid":${pid},"tid":${tid},"args":{"${key}":${JSON.stringify(value)}}}`);
  }

  /** `ts` in µs on the hrtime clock, exact to the ns: `(hrtimeOriginNs + ns) / 1000`. */
  private us(ns: Nanos): string {
    const total = this.originRestNs + Math.round(ns);
    const rest = total % 1000;
    return fixedMicros(this.originUs + (total - rest) / 1000, rest);
  }

  private metadataObject(status: ReadStatus, end: Nanos): object {
    const header = this.header;
    return {
      source: 'tstrace',
      formatVersion: header?.version ?? null,
      startTime: header ? new Date(Number(header.wallClockOriginNs / 1_000_000n)).toISOString() : null,
      wallClockOriginNs: header ? String(header.wallClockOriginNs) : null,
      hrtimeOriginNs: header ? String(header.hrtimeOriginNs) : null,
      clock: 'ts = (hrtimeOriginNs + trace time in ns) / 1000: microseconds of process.hrtime, the clock of Node\'s own --trace-event-categories events',
      pid: header?.pid ?? null,
      nodeVersion: header?.nodeVersion ?? null,
      commandLine: header?.command ?? null,
      duration: end,
      eventsRecorded: status.footer?.events ?? null,
      dropped: status.footer ? status.footer.dropped : this.dropped,
      complete: status.complete,
      problem: status.problem,
    };
  }
}

/** Index in `stack` of the region a `regionEnd` of `type` closes, or -1: as the reader pairs them (RegionStacks). */
function endedRegionIndex(stack: readonly OpenRegion[], type: string, regionsAbove: number): number {
  const exact = stack.length - 1 - regionsAbove;
  if (regionsAbove > 0 && exact >= 0 && stack[exact].type === type) return exact;
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i].type === type) return i;
  return -1;
}

/** Rows of the Tasks pseudo-process: a task takes the lowest row free since before it started. */
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

/** `whole.fraction` µs with up to three decimals (ns), no trailing zeros. */
function fixedMicros(whole: number, restNs: number): string {
  if (restNs === 0) return String(whole);
  const digits = restNs < 10 ? `00${restNs}` : restNs < 100 ? `0${restNs}` : String(restNs);
  return `${whole}.${digits.replace(/0+$/, '')}`;
}

function durationUs(ns: Nanos): string {
  const rounded = Math.max(0, Math.round(ns));
  const rest = rounded % 1000;
  return fixedMicros((rounded - rest) / 1000, rest);
}

/** A slice name: viewers treat an empty name as missing. */
function nameJson(name: string): string {
  return JSON.stringify(name === '' ? '(unnamed)' : name);
}

/** `category=message` as go tool trace names logs, cut for the event name. */
function logName(category: string, message: string): string {
  const text = category === '' ? message : `${category}=${message}`;
  if (text === '') return '(empty log)';
  return text.length > MAX_LOG_NAME ? `${text.slice(0, MAX_LOG_NAME - 1)}…` : text;
}

function regionArgs(task: number, location: SourceLocation | null): string {
  return `{"task":${task}${locationArg(location)}}`;
}

/** `,"location":"file:line:column function"`, or nothing. */
function locationArg(location: SourceLocation | null): string {
  if (!location) return '';
  const where = `${location.file}:${location.line}:${location.column}`;
  return `,"location":${JSON.stringify(location.function ? `${where} ${location.function}` : where)}`;
}

/** `node app.mjs`: the file names of the program and of its first argument, from the command line. */
function processName(header: TraceHeader | null): string {
  if (!header) return 'tstrace';
  const words = header.command.split(' ').filter((word) => word !== '');
  const base = (word: string): string => word.slice(Math.max(word.lastIndexOf('/'), word.lastIndexOf('\\')) + 1);
  const program = words.slice(0, 2).map(base).join(' ');
  return program === '' ? `pid ${header.pid}` : program;
}
