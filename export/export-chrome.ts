/**
 * Export to the Chrome Trace Event format (JSON object format) that Perfetto, the Catapult trace viewer
 * (`chrome://tracing`, `go tool trace`'s viewer), speedscope and Chrome DevTools open. The mapping is
 * documented in docs/export.md; the rules it follows (what real viewers accept) in the design notes on
 * validators. The timeline itself (repairs, task rows, arrows) is the walk it shares with the Perfetto
 * export (slice-walk.ts); this module writes it as JSON. It streams: JSON is written as the events are
 * read, and memory grows with the regions and tasks open at one time, not with the trace.
 */
import type { Writable } from 'node:stream';
import type { TraceSource } from '../analysis/reader.js';
import type { Nanos, ReadStatus, SourceLocation, TraceEvent, TraceHeader } from '../format/events.js';
import { decodePaced, PacedWriter } from './export-io.js';
import { LONG_RUN_NS, logName, processName, sliceName, SliceWalker, type Arrow, type SliceSink, type WalkedRegion, type WalkedTask } from './slice-walk.js';
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

/** Added to a flow's id to make the tid of its "running" track (flow ids stay far below). */
export const RUNNING_TID_OFFSET = 1_000_000_000;
/** The "long runs" track of a thread: this minus the thread id (0: the main thread), below the GC track. */
export const LONG_RUNS_TID = GC_TID - 1;

/** Output text collected before it is handed to the writer. */
const WRITE_BYTES = 64 * 1024;

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
  let walker: SliceWalker<RegionJson> | null = null;
  const start = (header: TraceHeader | null): SliceWalker<RegionJson> => new SliceWalker(new ChromeSink(output, header), options.taskRows ?? true);
  try {
    const { status, exported, notes } = await decodePaced(source, (event, header) => (walker ??= start(header)).add(event), () => output.drained(), options);
    walker ??= start(status.header);
    const warnings = [...notes, ...walker.finish(exported)];
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

/** What the JSON of a region needs while it is open. */
interface RegionJson {
  /** The JSON text of the slice name. */
  readonly name: string;
  /** The `{…}` text of its args, written on its `E` (see beginSlice). */
  readonly args: string;
}

/** Writes the walked timeline as Chrome JSON events. */
class ChromeSink implements SliceSink<RegionJson> {
  private readonly pid: number;
  private readonly tasksPid: number;
  /** The hrtime origin split into whole µs and the rest in ns, so every `ts` is exact. */
  private readonly originUs: number;
  private readonly originRestNs: number;

  constructor(
    private readonly output: JsonOutput,
    private readonly header: TraceHeader | null,
  ) {
    this.pid = header?.pid ?? 1;
    this.tasksPid = this.pid + TASKS_PID_OFFSET;
    const origin = header?.hrtimeOriginNs ?? 0n;
    this.originUs = Number(origin / 1000n);
    this.originRestNs = Number(origin % 1000n);
    this.metadata(this.pid, GC_TID, 'process_name', processName(header));
    this.metadata(this.pid, GC_TID, 'process_sort_index', 0, 'sort_index');
    this.metadata(this.pid, GC_TID, 'thread_name', 'GC');
    this.metadata(this.pid, GC_TID, 'thread_sort_index', 0, 'sort_index');
  }

  // ---- regions ------------------------------------------------------------------------------------

  regionData(event: Extract<TraceEvent, { kind: 'regionStart' }>): RegionJson {
    return { name: nameJson(event.type), args: regionArgs(event.task, event.location) };
  }

  newFlow(flow: number, thread: number): void {
    // A worker thread's flows are named after it; their ids, taken in blocks per thread, keep them together.
    this.metadata(this.pid, flow, 'thread_name', thread === 0 ? `flow ${flow}` : `worker ${thread} · flow ${flow}`);
    this.metadata(this.pid, flow, 'thread_sort_index', flow, 'sort_index');
  }

  /**
   * A region's `B` has no args and its `E` has them all: Catapult and Perfetto merge the two (Catapult
   * warns when both give one arg), and speedscope, which names frames by name and args and reads only the
   * `B`'s, shows plain region names.
   */
  beginSlice(flow: number, region: WalkedRegion<RegionJson>, arrows: readonly Arrow[]): void {
    const ts = this.us(region.beganAt);
    this.output.event(`{"ph":"B","name":${region.data.name},"cat":"region","ts":${ts},"pid":${this.pid},"tid":${flow}}`);
    for (const arrow of arrows) this.arrow(arrow, flow, ts);
  }

  endSlice(flow: number, ts: Nanos, region: WalkedRegion<RegionJson>): void {
    const { args } = region.data;
    const all = region.continued ? `${args.slice(0, -1)},"continued":true}` : args;
    this.output.event(`{"ph":"E","name":${region.data.name},"cat":"region","ts":${this.us(ts)},"pid":${this.pid},"tid":${flow},"args":${all}}`);
  }

  /**
   * A v1 flow arrow between two region slices. Both ends are placed at the exact `ts`, `tid` and `cat` of
   * the `B` of the slice they bind to (`f` with `bp: "e"`): every viewer binds them the same way.
   */
  private arrow(arrow: Arrow, tid: number, ts: string): void {
    const common = `"name":"${arrow.name}","cat":"region","id":${arrow.id},"pid":${this.pid}`;
    this.output.event(`{"ph":"s",${common},"ts":${this.us(arrow.from.ts)},"tid":${arrow.from.flow}}`);
    this.output.event(`{"ph":"f","bp":"e",${common},"ts":${ts},"tid":${tid}}`);
  }

  misuse(event: Extract<TraceEvent, { kind: 'misuse' }>, ts: Nanos, text: string): void {
    const args = `{"region":${JSON.stringify(event.type)},"misuse":"${event.misuse}"${locationArg(event.location)}}`;
    this.instant(event.flow, ts, JSON.stringify(text), 'misuse', args);
  }

  // ---- tasks and logs -----------------------------------------------------------------------------

  taskBegin(id: number, task: WalkedTask, location: SourceLocation | null, newRow: boolean): void {
    const args = task.beforeTrace ? `{"id":${id},"created":"before the trace started"}` : `{"id":${id},"parent":${task.parent}${locationArg(location)}}`;
    this.output.event(`{"ph":"b","name":${nameJson(task.name)},"cat":"task","id2":{"local":"0x${id.toString(16)}"},"ts":${this.us(task.start)},"pid":${this.pid},"tid":${task.flow},"args":${args}}`);
    if (newRow) {
      if (task.row === 0) {
        this.metadata(this.tasksPid, 1, 'process_name', 'Tasks');
        this.metadata(this.tasksPid, 1, 'process_sort_index', 1, 'sort_index');
      }
      this.metadata(this.tasksPid, task.row + 1, 'thread_name', `tasks ${task.row + 1}`);
      this.metadata(this.tasksPid, task.row + 1, 'thread_sort_index', task.row + 1, 'sort_index');
    }
  }

  taskEnd(id: number, task: WalkedTask, ts: Nanos, flow: number, location: SourceLocation | null): void {
    const name = nameJson(task.name);
    // The task's trace context is read after its `b` was written: its args go on the `e` (viewers merge them).
    const otel = task.traceContext ? `,"traceId":"${task.traceContext.traceId}","parentSpanId":"${task.traceContext.spanId}"` : '';
    const argText = (location ? locationArg(location) : '') + otel;
    const args = argText !== '' ? `,"args":{${argText.slice(1)}}` : '';
    this.output.event(`{"ph":"e","name":${name},"cat":"task","id2":{"local":"0x${id.toString(16)}"},"ts":${this.us(ts)},"pid":${this.pid},"tid":${flow}${args}}`);
    if (task.row >= 0) {
      this.output.event(
        `{"ph":"X","name":${name},"cat":"task","ts":${this.us(task.start)},"dur":${durationUs(ts - task.start)},"pid":${this.tasksPid},"tid":${task.row + 1},"args":{"id":${id},"parent":${task.parent}${otel}}}`,
      );
    }
  }

  log(event: Extract<TraceEvent, { kind: 'log' }>, ts: Nanos): void {
    const { task, flow, category, message } = event;
    const name = JSON.stringify(logName(category, message));
    const args = `{"task":${task},"category":${JSON.stringify(category)},"message":${JSON.stringify(message)}${locationArg(event.location)}}`;
    this.instant(flow, ts, name, 'log', args);
    if (task !== 0) {
      this.output.event(`{"ph":"n","name":${name},"cat":"task","id2":{"local":"0x${task.toString(16)}"},"ts":${this.us(event.ts)},"pid":${this.pid},"tid":${flow},"args":${args}}`);
    }
  }

  /** A thread-scoped instant on `flow`'s track. */
  private instant(flow: number, ts: Nanos, name: string, cat: string, args: string): void {
    this.output.event(`{"ph":"i","s":"t","name":${name},"cat":"${cat}","ts":${this.us(ts)},"pid":${this.pid},"tid":${flow},"args":${args}}`);
  }

  // ---- the runtime: GC, heap, event loop, drops ---------------------------------------------------

  gcSlice(event: Extract<TraceEvent, { kind: 'gc' }>, start: Nanos, end: Nanos): void {
    this.output.event(`{"ph":"X","name":${gcName(event)},"cat":"gc","ts":${this.us(start)},"dur":${durationUs(end - start)},"pid":${this.pid},"tid":${GC_TID},"args":${gcArgs(event)}}`);
  }

  gcInstant(event: Extract<TraceEvent, { kind: 'gc' }>): void {
    this.output.event(`{"ph":"i","s":"p","name":${gcName(event)},"cat":"gc","ts":${this.us(event.ts)},"pid":${this.pid},"tid":${GC_TID},"args":${gcArgs(event)}}`);
  }

  heap(ts: Nanos, bytes: number): void {
    this.output.event(`{"ph":"C","name":"heap","cat":"memory","ts":${this.us(ts)},"pid":${this.pid},"tid":${GC_TID},"args":{"bytes":${bytes}}}`);
  }

  eventLoop(ts: Nanos, utilization: number): void {
    this.output.event(`{"ph":"C","name":"event loop","cat":"eventLoop","ts":${this.us(ts)},"pid":${this.pid},"tid":${GC_TID},"args":{"utilization":${utilization}}}`);
  }

  // ---- scheduling events: runs -------------------------------------------------------------------

  /** Flows and threads whose running / long-runs track is named. */
  private readonly runningTracks = new Set<number>();
  private readonly longRunTracks = new Set<number>();

  /**
   * A run: an `X` slice "running" on the flow's own "flow N · running" track (beside its regions' track:
   * a run may begin inside one region and end inside another, which one track could not nest), and, when
   * it lasts at least {@link LONG_RUN_NS}, one named after its task on its thread's "long runs" track.
   */
  run(event: Extract<TraceEvent, { kind: 'run' }>, taskName: string): void {
    const tid = RUNNING_TID_OFFSET + event.flow;
    if (!this.runningTracks.has(event.flow)) {
      this.runningTracks.add(event.flow);
      this.metadata(this.pid, tid, 'thread_name', `flow ${event.flow} · running`);
      this.metadata(this.pid, tid, 'thread_sort_index', event.flow, 'sort_index');
    }
    const queued = event.queued === null ? '' : `,"queued_ns":${event.queued}`;
    const args = `{"task":${event.task},"waitedOn":${JSON.stringify(event.waitedOn)}${queued}}`;
    const ts = this.us(event.ts);
    const dur = durationUs(event.duration);
    this.output.event(`{"ph":"X","name":"running","cat":"run","ts":${ts},"dur":${dur},"pid":${this.pid},"tid":${tid},"args":${args}}`);
    if (event.duration < LONG_RUN_NS) return;
    const thread = event.thread ?? 0;
    const longTid = LONG_RUNS_TID - thread;
    if (!this.longRunTracks.has(thread)) {
      this.longRunTracks.add(thread);
      this.metadata(this.pid, longTid, 'thread_name', thread === 0 ? 'long runs' : `worker ${thread} · long runs`);
      this.metadata(this.pid, longTid, 'thread_sort_index', 0, 'sort_index');
    }
    const longArgs = `{"task":${event.task},"flow":${event.flow},"waitedOn":${JSON.stringify(event.waitedOn)}${queued}}`;
    this.output.event(`{"ph":"X","name":${JSON.stringify(`long run: ${taskName}`)},"cat":"run","ts":${ts},"dur":${dur},"pid":${this.pid},"tid":${longTid},"args":${longArgs}}`);
  }

  dropped(ts: Nanos, count: number): void {
    this.output.event(`{"ph":"i","s":"p","name":"dropped events","cat":"tstrace","ts":${this.us(ts)},"pid":${this.pid},"tid":${GC_TID},"args":{"count":${count}}}`);
  }

  finish(status: ReadStatus, end: Nanos, dropped: number): void {
    this.output.raw(`\n],\n"metadata":${JSON.stringify(this.metadataObject(status, end, dropped))}}\n`);
  }

  // ---- the rest -----------------------------------------------------------------------------------

  private metadata(pid: number, tid: number, name: string, value: string | number, key = 'name'): void {
    this.output.event(`{"ph":"M","name":"${name}","cat":"__metadata","ts":${this.us(0)},"pid":${pid},"tid":${tid},"args":{"${key}":${JSON.stringify(value)}}}`);
  }

  /** `ts` in µs on the hrtime clock, exact to the ns: `(hrtimeOriginNs + ns) / 1000`. */
  private us(ns: Nanos): string {
    const total = this.originRestNs + Math.round(ns);
    const rest = total % 1000;
    const whole = this.originUs + (total - rest) / 1000;
    // Past 2^53 µs (a damaged header's origin, times of centuries) no number is exact to the µs: the
    // nearest one, from one sum for every event, so that times still never go back.
    if (!Number.isSafeInteger(whole)) return String(this.originUs + total / 1000);
    return fixedMicros(whole, rest);
  }

  private metadataObject(status: ReadStatus, end: Nanos, dropped: number): object {
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
      dropped: status.footer ? status.footer.dropped : dropped,
      complete: status.complete,
      problem: status.problem,
    };
  }
}

function gcName(event: Extract<TraceEvent, { kind: 'gc' }>): string {
  return JSON.stringify(`${event.gcKind} GC`);
}

function gcArgs(event: Extract<TraceEvent, { kind: 'gc' }>): string {
  return `{"kind":${JSON.stringify(event.gcKind)},"duration_ns":${event.duration}}`;
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

/** A slice name as JSON text. */
function nameJson(name: string): string {
  return JSON.stringify(sliceName(name));
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
