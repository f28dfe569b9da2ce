/**
 * Export to Perfetto's native trace format: a protobuf `Trace` of `TracePacket`s with TrackDescriptors
 * and TrackEvents, the format ui.perfetto.dev loads fastest, at a fraction of the Chrome JSON's size.
 * The timeline is the Chrome export's (the same walk, slice-walk.ts: the same slices at the same
 * times, the same repairs and warnings); the mapping is documented in docs/export.md. Field numbers are
 * those of Perfetto's published protos (protos/perfetto/trace/…); the test decodes the output with them.
 * It streams: packets are written as the events are read, in 64 KiB pieces, with backpressure.
 */
import type { Writable } from 'node:stream';
import type { TraceSource } from '../analysis/reader.js';
import type { Nanos, SourceLocation, TraceEvent, TraceHeader } from '../format/events.js';
import { decodePaced, PacedWriter } from './export-io.js';
import type { ExportOptions, ExportResult } from './export-types.js';
import { ProtobufWriter } from './protobuf-writer.js';
import { LONG_RUN_NS, logName, processName, sliceName, SliceWalker, type Arrow, type SliceSink, type WalkedRegion, type WalkedTask } from './slice-walk.js';

/** Field numbers from Perfetto's protos (protos/perfetto/trace/…), only those the export writes. */
const F = {
  /** Trace */
  tracePacket: 1,
  /** TracePacket */
  timestamp: 8,
  trustedPacketSequenceId: 10,
  trackEvent: 11,
  internedData: 12,
  sequenceFlags: 13,
  trackDescriptor: 60,
  /** TrackDescriptor */
  uuid: 1,
  trackName: 2,
  process: 3,
  thread: 4,
  parentUuid: 5,
  counter: 8,
  /** ProcessDescriptor */
  processPid: 1,
  processName: 6,
  /** ThreadDescriptor */
  threadPid: 1,
  threadTid: 2,
  threadName: 5,
  /** CounterDescriptor */
  counterUnit: 3,
  /** TrackEvent */
  categoryIids: 3,
  debugAnnotations: 4,
  type: 9,
  nameIid: 10,
  trackUuid: 11,
  name: 23,
  counterValue: 30,
  sourceLocationIid: 34,
  doubleCounterValue: 44,
  flowIds: 47,
  terminatingFlowIds: 48,
  /** DebugAnnotation */
  annotationNameIid: 1,
  boolValue: 2,
  intValue: 4,
  stringValue: 6,
  /** InternedData */
  eventCategories: 1,
  eventNames: 2,
  debugAnnotationNames: 3,
  sourceLocations: 4,
  /** EventCategory, EventName, DebugAnnotationName, SourceLocation */
  iid: 1,
  internedName: 2,
  functionName: 3,
  lineNumber: 4,
} as const;

/** TrackEvent.Type */
const SLICE_BEGIN = 1;
const SLICE_END = 2;
const INSTANT = 3;
const COUNTER = 4;
/** TracePacket.SequenceFlags */
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
const SEQ_NEEDS_INCREMENTAL_STATE = 2;
/** CounterDescriptor.Unit */
const UNIT_SIZE_BYTES = 3;
/** All packets are on one sequence: interned data is per sequence. */
const SEQUENCE_ID = 1;

/**
 * Track uuids: flow N is N + 1 (small, so the many region events stay short); the others are far above
 * any flow id.
 */
const OTHER_TRACKS = 2 ** 40;
const PROCESS_UUID = OTHER_TRACKS;
const GC_UUID = OTHER_TRACKS + 1;
const HEAP_UUID = OTHER_TRACKS + 2;
const EVENT_LOOP_UUID = OTHER_TRACKS + 3;
const TASK_ROW_UUIDS = 2 ** 41;
const TASK_BEFORE_TRACE_UUIDS = 2 ** 42;
const flowUuid = (flow: number): number => flow + 1;
/** A worker thread's track: its flows' tracks are beneath it. */
const WORKER_UUIDS = 2 ** 43;
const workerUuid = (thread: number): number => WORKER_UUIDS + thread;
/** A flow's "running" track (scheduling events), and a thread's "long runs" track. */
const RUNNING_UUIDS = 2 ** 44;
const LONG_RUNS_UUIDS = 2 ** 45;
/** Worker threads' tids, above any flow id a main thread's track uses as its tid (tids are int32). */
const WORKER_TID_BASE = 2_000_000_000;

/** Distinct names and locations interned; beyond this, names are written inline (memory stays bounded). */
const MAX_INTERNED = 1 << 16;
/** Output collected before it is handed to the writer. */
const WRITE_BYTES = 64 * 1024;
const TWO_32 = 2 ** 32;

const categories = ['region', 'task', 'log', 'misuse', 'gc', 'tstrace', 'run'] as const;
type Category = (typeof categories)[number];
const annotationNames = ['task', 'continued', 'id', 'parent', 'created', 'category', 'message', 'region', 'misuse', 'kind', 'duration_ns', 'count', 'traceId', 'parentSpanId', 'waitedOn', 'queued_ns', 'flow'] as const;
type AnnotationName = (typeof annotationNames)[number];

/**
 * Writes the Perfetto protobuf trace of a trace (a file path, bytes, or a stream of chunks) to `out`, as
 * it reads it: one thread track per flow under the traced process, with the regions as nested slices and
 * logs and misuse as instants; tasks as slices on "tasks N" tracks of the process; GC slices, heap and
 * event-loop counters; arrows from each task to its first region. Timestamps are ns on the
 * `process.hrtime` clock (the Chrome export's, ×1000).
 *
 * Never throws for a damaged trace: it exports what was read, and `status` says where and why reading
 * stopped. Rejects on I/O errors (no such file; `out` failed). Does not end `out`.
 */
export async function exportPerfetto(source: TraceSource, out: Writable, options: ExportOptions = {}): Promise<ExportResult> {
  const writer = new PacedWriter(out);
  let sink: PerfettoSink | null = null;
  let walker: SliceWalker<RegionData> | null = null;
  const begin = (header: TraceHeader | null): SliceWalker<RegionData> => new SliceWalker((sink = new PerfettoSink(writer, header)), true);
  const drained = async (): Promise<void> => {
    sink?.flush();
    await writer.drained();
  };
  try {
    const { status, exported, notes } = await decodePaced(source, (event, header) => (walker ??= begin(header)).add(event), drained, options);
    walker ??= begin(status.header);
    const warnings = [...notes, ...walker.finish(exported)];
    await drained();
    return { events: sink!.packets, warnings, status };
  } finally {
    writer.release();
  }
}

/** A region's name (interned id, or the text when interning is full) while it is open. */
interface RegionData {
  readonly nameIid: number;
  readonly name: string;
  readonly task: number;
  readonly location: SourceLocation | null;
}

/** Writes the walked timeline as TracePackets. */
class PerfettoSink implements SliceSink<RegionData> {
  packets = 0;
  private readonly w = new ProtobufWriter();
  private readonly pid: number;
  /** The hrtime origin as two 32-bit halves: timestamps are `origin + trace time`, exact beyond 2^53. */
  private readonly originHi: number;
  private readonly originLo: number;
  private readonly names = new Map<string, number>();
  private readonly locations = new Map<SourceLocation, number>();
  private readonly categoryIids = new Map<Category, number>();
  private readonly annotationIids = new Map<AnnotationName, number>();
  /** Interned entries first used by the packet being written, emitted with it. */
  private newNames: [number, string][] = [];
  private newLocations: [number, SourceLocation][] = [];
  private newCategories: Category[] = [];
  private newAnnotations: AnnotationName[] = [];
  /** Worker threads whose track is written. */
  private readonly workers = new Set<number>();
  private gcTrack = false;
  private heapTrack = false;
  private eventLoopTrack = false;

  constructor(
    private readonly writer: PacedWriter,
    header: TraceHeader | null,
  ) {
    this.pid = header?.pid ?? 1;
    const origin = header?.hrtimeOriginNs ?? 0n;
    this.originHi = Number(origin >> 32n);
    this.originLo = Number(origin & 0xffff_ffffn);
    const packet = this.w.begin(F.tracePacket);
    this.w.uint(F.trustedPacketSequenceId, SEQUENCE_ID);
    this.w.uint(F.sequenceFlags, SEQ_INCREMENTAL_STATE_CLEARED);
    const track = this.w.begin(F.trackDescriptor);
    this.w.uint(F.uuid, PROCESS_UUID);
    const process = this.w.begin(F.process);
    this.w.uint(F.processPid, this.pid);
    this.w.string(F.processName, processName(header));
    this.w.end(process);
    this.w.end(track);
    this.w.end(packet);
    this.packets++;
  }

  /** Hands what is written to the output (between packets). */
  flush(): void {
    if (this.w.length > 0) this.writer.write(this.w.take());
  }

  // ---- regions ------------------------------------------------------------------------------------

  regionData(event: Extract<TraceEvent, { kind: 'regionStart' }>): RegionData {
    const name = sliceName(event.type);
    return { nameIid: this.nameIid(name), name, task: event.task, location: event.location };
  }

  newFlow(flow: number, thread: number): void {
    if (thread !== 0) {
      // A worker thread: a thread track "worker N" in the process, its flows' tracks beneath it.
      if (this.workers.add(thread)) {
        const packet = this.descriptor(workerUuid(thread), PROCESS_UUID, null);
        const descriptor = this.w.begin(F.thread);
        this.w.uint(F.threadPid, this.pid);
        this.w.uint(F.threadTid, WORKER_TID_BASE + thread);
        this.w.string(F.threadName, `worker ${thread}`);
        this.w.end(descriptor);
        this.endDescriptor(packet);
      }
      this.endDescriptor(this.descriptor(flowUuid(flow), workerUuid(thread), `flow ${flow}`));
      return;
    }
    const packet = this.descriptor(flowUuid(flow), PROCESS_UUID, null);
    const descriptor = this.w.begin(F.thread);
    this.w.uint(F.threadPid, this.pid);
    this.w.uint(F.threadTid, flow);
    this.w.string(F.threadName, `flow ${flow}`);
    this.w.end(descriptor);
    this.endDescriptor(packet);
  }

  beginSlice(flow: number, region: WalkedRegion<RegionData>, arrows: readonly Arrow[]): void {
    const { data } = region;
    const event = this.begin(region.beganAt, flowUuid(flow), SLICE_BEGIN, 'region', data.nameIid, data.name);
    this.annotate('task', data.task);
    if (region.continued) this.annotate('continued', true);
    this.location(data.location);
    // Only the task arrows: their start is the task's own slice (a flow id must be on an event when it is written).
    for (const arrow of arrows) if (arrow.name === 'subtask') this.w.fixed64(F.terminatingFlowIds, arrow.id);
    this.end(event);
  }

  endSlice(flow: number, ts: Nanos, _region: WalkedRegion<RegionData>): void {
    this.end(this.begin(ts, flowUuid(flow), SLICE_END, null, 0, null));
  }

  misuse(event: Extract<TraceEvent, { kind: 'misuse' }>, ts: Nanos, text: string): void {
    const packet = this.begin(ts, flowUuid(event.flow), INSTANT, 'misuse', this.nameIid(text), text);
    this.annotate('region', event.type);
    this.annotate('misuse', event.misuse);
    this.location(event.location);
    this.end(packet);
  }

  // ---- tasks and logs -----------------------------------------------------------------------------

  taskBegin(id: number, task: WalkedTask, location: SourceLocation | null, newRow: boolean): void {
    const track = this.taskTrack(id, task);
    if (newRow || task.beforeTrace) {
      const packet = this.descriptor(track, PROCESS_UUID, task.beforeTrace ? `task ${id}` : `tasks ${task.row + 1}`);
      this.endDescriptor(packet);
    }
    const name = sliceName(task.name);
    const packet = this.begin(task.start, track, SLICE_BEGIN, 'task', this.nameIid(name), name);
    this.annotate('id', id);
    if (task.beforeTrace) this.annotate('created', 'before the trace started');
    else this.annotate('parent', task.parent);
    this.location(location);
    if (task.arrow) this.w.fixed64(F.flowIds, id);
    this.end(packet);
  }

  taskEnd(id: number, task: WalkedTask, ts: Nanos, _flow: number, _location: SourceLocation | null): void {
    const packet = this.begin(ts, this.taskTrack(id, task), SLICE_END, null, 0, null);
    // Read after the task's begin was written: on its end, whose annotations Perfetto adds to the slice.
    if (task.traceContext) {
      this.annotate('traceId', task.traceContext.traceId);
      this.annotate('parentSpanId', task.traceContext.spanId);
    }
    this.end(packet);
  }

  log(event: Extract<TraceEvent, { kind: 'log' }>, ts: Nanos, task: WalkedTask | undefined): void {
    const name = logName(event.category, event.message);
    const packet = this.begin(ts, flowUuid(event.flow), INSTANT, 'log', 0, name);
    this.annotate('task', event.task);
    this.annotate('category', event.category);
    this.annotate('message', event.message);
    this.location(event.location);
    this.end(packet);
    // Also in the task's slice, while it is open.
    if (task && task.row >= 0) this.end(this.begin(Math.max(event.ts, task.start), this.taskTrack(event.task, task), INSTANT, 'log', 0, name));
  }

  private taskTrack(id: number, task: WalkedTask): number {
    return task.beforeTrace ? TASK_BEFORE_TRACE_UUIDS + id : TASK_ROW_UUIDS + task.row;
  }

  // ---- the runtime: GC, heap, event loop, drops ---------------------------------------------------

  gcSlice(event: Extract<TraceEvent, { kind: 'gc' }>, start: Nanos, end: Nanos): void {
    this.gcEvent(event, start, SLICE_BEGIN);
    this.end(this.begin(end, GC_UUID, SLICE_END, null, 0, null));
  }

  gcInstant(event: Extract<TraceEvent, { kind: 'gc' }>): void {
    this.gcEvent(event, event.ts, INSTANT);
  }

  private gcEvent(event: Extract<TraceEvent, { kind: 'gc' }>, ts: Nanos, type: number): void {
    if (!this.gcTrack) {
      this.gcTrack = true;
      this.endDescriptor(this.descriptor(GC_UUID, PROCESS_UUID, 'GC'));
    }
    const name = `${event.gcKind} GC`;
    const packet = this.begin(ts, GC_UUID, type, 'gc', this.nameIid(name), name);
    this.annotate('kind', event.gcKind);
    this.annotate('duration_ns', event.duration);
    this.end(packet);
  }

  heap(ts: Nanos, bytes: number): void {
    if (!this.heapTrack) {
      this.heapTrack = true;
      this.counterTrack(HEAP_UUID, 'heap', UNIT_SIZE_BYTES);
    }
    const packet = this.begin(ts, HEAP_UUID, COUNTER, null, 0, null);
    this.w.uint(F.counterValue, bytes);
    this.end(packet);
  }

  eventLoop(ts: Nanos, utilization: number): void {
    if (!this.eventLoopTrack) {
      this.eventLoopTrack = true;
      this.counterTrack(EVENT_LOOP_UUID, 'event loop', 0);
    }
    const packet = this.begin(ts, EVENT_LOOP_UUID, COUNTER, null, 0, null);
    this.w.double(F.doubleCounterValue, utilization);
    this.end(packet);
  }

  // ---- scheduling events: runs -------------------------------------------------------------------

  /** Flows and threads whose running / long-runs track is written. */
  private readonly runningTracks = new Set<number>();
  private readonly longRunTracks = new Set<number>();

  /**
   * A run: a slice "running" on the flow's own "flow N · running" track (beside its regions' track: a
   * run may begin inside one region and end inside another), and, when it lasts at least
   * {@link LONG_RUN_NS}, one named after its task on its thread's "long runs" track.
   */
  run(event: Extract<TraceEvent, { kind: 'run' }>, taskName: string): void {
    const track = RUNNING_UUIDS + event.flow;
    if (!this.runningTracks.has(event.flow)) {
      this.runningTracks.add(event.flow);
      this.endDescriptor(this.descriptor(track, PROCESS_UUID, `flow ${event.flow} · running`));
    }
    this.runSlice(track, 'running', event);
    if (event.duration < LONG_RUN_NS) return;
    const thread = event.thread ?? 0;
    const longTrack = LONG_RUNS_UUIDS + thread;
    if (!this.longRunTracks.has(thread)) {
      this.longRunTracks.add(thread);
      this.endDescriptor(this.descriptor(longTrack, PROCESS_UUID, thread === 0 ? 'long runs' : `worker ${thread} · long runs`));
    }
    this.runSlice(longTrack, `long run: ${taskName}`, event);
  }

  private runSlice(track: number, name: string, event: Extract<TraceEvent, { kind: 'run' }>): void {
    const packet = this.begin(event.ts, track, SLICE_BEGIN, 'run', this.nameIid(name), name);
    this.annotate('task', event.task);
    this.annotate('flow', event.flow);
    this.annotate('waitedOn', event.waitedOn);
    if (event.queued !== null) this.annotate('queued_ns', event.queued);
    this.end(packet);
    this.end(this.begin(event.ts + event.duration, track, SLICE_END, null, 0, null));
  }

  dropped(ts: Nanos, count: number): void {
    const name = 'dropped events';
    const packet = this.begin(ts, PROCESS_UUID, INSTANT, 'tstrace', this.nameIid(name), name);
    this.annotate('count', count);
    this.end(packet);
  }

  finish(): void {}

  // ---- packets ------------------------------------------------------------------------------------

  /** Starts a TracePacket with a TrackDescriptor; finish it with {@link endDescriptor}. */
  private descriptor(uuid: number, parent: number, name: string | null): [number, number] {
    const packet = this.w.begin(F.tracePacket);
    this.w.uint(F.trustedPacketSequenceId, SEQUENCE_ID);
    const track = this.w.begin(F.trackDescriptor);
    this.w.uint(F.uuid, uuid);
    this.w.uint(F.parentUuid, parent);
    if (name !== null) this.w.string(F.trackName, name);
    return [packet, track];
  }

  private endDescriptor([packet, track]: [number, number]): void {
    this.w.end(track);
    this.w.end(packet);
    this.packets++;
  }

  private counterTrack(uuid: number, name: string, unit: number): void {
    const packet = this.descriptor(uuid, PROCESS_UUID, name);
    const counter = this.w.begin(F.counter);
    if (unit !== 0) this.w.uint(F.counterUnit, unit);
    this.w.end(counter);
    this.endDescriptor(packet);
  }

  /**
   * Starts a TracePacket with a TrackEvent at trace time `ts`: its type, track, category and name (an
   * interned id when not 0, else the text, else none). Add fields, then {@link end} it.
   */
  private begin(ts: Nanos, track: number, type: number, category: Category | null, nameIid: number, name: string | null): [number, number] {
    const w = this.w;
    const packet = w.begin(F.tracePacket);
    this.timestamp(ts);
    w.uint(F.trustedPacketSequenceId, SEQUENCE_ID);
    w.uint(F.sequenceFlags, SEQ_NEEDS_INCREMENTAL_STATE);
    const event = w.begin(F.trackEvent);
    w.uint(F.type, type);
    w.uint(F.trackUuid, track);
    if (category !== null) w.uint(F.categoryIids, this.categoryIid(category));
    if (nameIid !== 0) w.uint(F.nameIid, nameIid);
    else if (name !== null) w.string(F.name, name);
    return [packet, event];
  }

  /** Ends the TrackEvent and its packet, with the interned data it was the first to use. */
  private end([packet, event]: [number, number]): void {
    const w = this.w;
    w.end(event);
    if (this.newNames.length + this.newLocations.length + this.newCategories.length + this.newAnnotations.length > 0) this.internedData();
    w.end(packet);
    this.packets++;
    if (w.length >= WRITE_BYTES) this.flush();
  }

  private internedData(): void {
    const w = this.w;
    const interned = w.begin(F.internedData);
    for (const category of this.newCategories) this.internedString(F.eventCategories, this.categoryIids.get(category)!, category);
    for (const [iid, name] of this.newNames) this.internedString(F.eventNames, iid, name);
    for (const annotation of this.newAnnotations) this.internedString(F.debugAnnotationNames, this.annotationIids.get(annotation)!, annotation);
    for (const [iid, location] of this.newLocations) {
      const entry = w.begin(F.sourceLocations);
      w.uint(F.iid, iid);
      w.string(F.internedName, location.file);
      if (location.function !== '') w.string(F.functionName, location.function);
      w.uint(F.lineNumber, location.line);
      w.end(entry);
    }
    w.end(interned);
    this.newNames = [];
    this.newLocations = [];
    this.newCategories = [];
    this.newAnnotations = [];
  }

  private internedString(field: number, iid: number, name: string): void {
    const entry = this.w.begin(field);
    this.w.uint(F.iid, iid);
    this.w.string(F.internedName, name);
    this.w.end(entry);
  }

  /** `timestamp` = hrtimeOriginNs + ts, as a uint64 (exact beyond 2^53). */
  private timestamp(ts: Nanos): void {
    let lo = this.originLo + Math.max(0, Math.round(ts));
    let hi = this.originHi;
    if (lo >= TWO_32) {
      hi += Math.floor(lo / TWO_32);
      lo %= TWO_32;
    }
    if (hi === 0) this.w.uint(F.timestamp, lo);
    else this.w.uint64(F.timestamp, hi, lo);
  }

  private nameIid(name: string): number {
    let iid = this.names.get(name);
    if (iid === undefined) {
      if (this.names.size >= MAX_INTERNED) return 0;
      iid = this.names.size + 1;
      this.names.set(name, iid);
      this.newNames.push([iid, name]);
    }
    return iid;
  }

  private categoryIid(category: Category): number {
    let iid = this.categoryIids.get(category);
    if (iid === undefined) {
      iid = this.categoryIids.size + 1;
      this.categoryIids.set(category, iid);
      this.newCategories.push(category);
    }
    return iid;
  }

  /** A debug annotation with the interned name `name`: a bool (true), an integer or a string. */
  private annotate(name: AnnotationName, value: true | number | string): void {
    let iid = this.annotationIids.get(name);
    if (iid === undefined) {
      iid = this.annotationIids.size + 1;
      this.annotationIids.set(name, iid);
      this.newAnnotations.push(name);
    }
    const w = this.w;
    const mark = w.begin(F.debugAnnotations);
    w.uint(F.annotationNameIid, iid);
    if (value === true) w.uint(F.boolValue, 1);
    else if (typeof value === 'number') w.uint(F.intValue, value);
    else w.string(F.stringValue, value);
    w.end(mark);
  }

  /** The event's source location, interned (file, function, line). */
  private location(location: SourceLocation | null): void {
    if (!location) return;
    let iid = this.locations.get(location);
    if (iid === undefined) {
      if (this.locations.size >= MAX_INTERNED) return;
      iid = this.locations.size + 1;
      this.locations.set(location, iid);
      this.newLocations.push([iid, location]);
    }
    this.w.uint(F.sourceLocationIid, iid);
  }
}
