/**
 * Export to OpenTelemetry's OTLP/JSON (`tstrace export --format otlp`): one `ExportTraceServiceRequest`
 * document — resourceSpans → scopeSpans → spans — as an OpenTelemetry Collector's OTLP/HTTP receiver (and
 * its file receiver), Jaeger and Tempo ingest it. Tasks become spans, regions child spans, logs span
 * events; a task recorded with a W3C trace context (docs/format.md, "Meaning") is a span of that trace,
 * a child of the span it came from. The mapping is documented in docs/export.md.
 *
 * Span and trace ids are derived from the trace's pid and start time and from task and region ids, so
 * two exports of one trace agree. It streams: a span is written when it ends, with backpressure; memory
 * holds the open tasks and regions and a number per task.
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { IdIndex } from '../analysis/id-index.js';
import type { TraceSource } from '../analysis/reader.js';
import { RegionStacks, type RegionRecord } from '../analysis/region-stacks.js';
import type { Nanos, ReadStatus, SourceLocation, TraceEvent, TraceHeader } from '../format/events.js';
import { OTEL_TRACE_CATEGORY, parseTraceparent, type TraceContext } from '../format/trace-context.js';
import { decodePaced, PacedWriter, WarningList } from './export-io.js';
import type { ExportOptions, ExportResult } from './export-types.js';
import { processName } from './slice-walk.js';

/** Options of the OTLP export: those of every exporter, and the resource's service name. */
export interface OtlpExportOptions extends ExportOptions {
  /** The `service.name` resource attribute. Default: `unknown_service:node`, as OpenTelemetry's SDK says. */
  service?: string;
}

/** Span.SpanKind SPAN_KIND_INTERNAL; Status.StatusCode STATUS_CODE_ERROR. */
const SPAN_KIND_INTERNAL = 1;
const STATUS_CODE_ERROR = 2;
/** Output collected before it is handed to the writer. */
const WRITE_BYTES = 64 * 1024;
/** Span events kept per span; more are counted in the span's `droppedEventsCount`. */
const MAX_EVENTS = 1000;

type EventOf<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;
type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean };
interface KeyValue {
  readonly key: string;
  readonly value: AnyValue;
}
interface SpanEvent {
  readonly timeUnixNano: string;
  readonly name: string;
  readonly attributes: KeyValue[];
}

/** A span while its task or region is open. */
interface OpenSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** "" for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly start: Nanos;
  readonly attributes: KeyValue[];
  readonly events: SpanEvent[];
  droppedEvents: number;
  error: string | null;
}

const str = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): KeyValue => ({ key, value: { intValue: String(value) } });
const bool = (key: string, value: boolean): KeyValue => ({ key, value: { boolValue: value } });

/** A 32-bit bijection (lowbias32): distinct inputs give distinct outputs. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** 8 hex digits of an unsigned 32-bit number. */
const hex8 = (x: number): string => (x >>> 0).toString(16).padStart(8, '0');

/**
 * Ids derived from the trace (its pid and wall-clock start) and an item's kind and id: the same in every
 * export of the trace, distinct for distinct items of it (each half is a bijection of the id's halves).
 */
class IdMaker {
  private readonly seed: Uint32Array;

  constructor(header: TraceHeader | null) {
    const digest = createHash('sha256').update(`tstrace ${header?.pid ?? 0} ${header?.wallClockOriginNs ?? 0n}`).digest();
    this.seed = new Uint32Array(digest.buffer, digest.byteOffset, 8).slice();
  }

  /** 16 hex digits for item `id` of `kind` (1 task, 2 region), never all zero. */
  spanId(kind: number, id: number): string {
    const s = this.seed;
    const high = Math.floor(id / 2 ** 32);
    const hi = mix32((s[0] ^ Math.imul(kind, 0x9e3779b9) ^ Math.imul(high, 0x85ebca6b)) >>> 0);
    const lo = mix32((s[1] ^ id) >>> 0);
    return hi === 0 && lo === 0 ? '0000000000000001' : hex8(hi) + hex8(lo);
  }

  /** 32 hex digits for the trace of root item `id` of `kind`. */
  traceId(kind: number, id: number): string {
    const s = this.seed;
    const high = Math.floor(id / 2 ** 32);
    return hex8(s[2]) + hex8((s[3] ^ kind) >>> 0) + hex8(mix32((s[4] ^ high) >>> 0)) + hex8(mix32((s[5] ^ id) >>> 0));
  }
}

/**
 * Writes the OTLP/JSON document of a trace (a file path, bytes, or a stream of chunks) to `out`, as it
 * reads it: a span per task and per region, span events for logs. Never throws for a damaged trace: it
 * exports what was read (what is open at the end ends at the trace end), and `status` says where and why
 * reading stopped. Rejects on I/O errors. Does not end `out`. `events` in the result counts the spans.
 */
export async function exportOtlp(source: TraceSource, out: Writable, options: OtlpExportOptions = {}): Promise<ExportResult> {
  const writer = new PacedWriter(out);
  let sink: OtlpWriter | null = null;
  const begin = (header: TraceHeader | null): OtlpWriter => new OtlpWriter(writer, header, options.service);
  const drained = async (): Promise<void> => {
    sink?.flush();
    await writer.drained();
  };
  try {
    // Regions are numbered as in the whole trace (as the analysis numbers them), also when a filter keeps a part.
    let regions = 0;
    const regionIds = new WeakMap<TraceEvent, number>();
    const number = (event: TraceEvent): void => {
      if (event.kind === 'regionStart') regionIds.set(event, ++regions);
    };
    const add = (event: TraceEvent, header: TraceHeader | null): void => (sink ??= begin(header)).add(event, regionIds.get(event));
    const { status, exported, notes } = await decodePaced(source, add, drained, options, number);
    sink ??= begin(status.header);
    const warnings = [...notes, ...sink.finish(exported)];
    await drained();
    return { events: sink.spans, warnings, status };
  } finally {
    writer.release();
  }
}

class OtlpWriter {
  spans = 0;
  private text = '';
  private readonly ids: IdMaker;
  private readonly origin: bigint;
  private readonly regions = new RegionStacks();
  /** Per flow, the out-of-order notice for its next region end. */
  private readonly outOfOrder = new Map<number, number>();
  private readonly openTasks = new Map<number, OpenSpan>();
  private readonly openRegions = new Map<RegionRecord, OpenSpan>();
  /** Task id → the root task of its trace (itself for a root); a task with a trace context is a root. */
  private readonly roots = new IdIndex();
  /** Root task id → the trace context recorded with it. */
  private readonly contexts = new Map<number, TraceContext>();
  private readonly warnings = new WarningList();
  private lastTs = 0;

  constructor(
    private readonly writer: PacedWriter,
    header: TraceHeader | null,
    service: string | undefined,
  ) {
    this.ids = new IdMaker(header);
    this.origin = header?.wallClockOriginNs ?? 0n;
    const resource = [str('service.name', service ?? 'unknown_service:node'), str('telemetry.sdk.name', 'tstrace'), str('telemetry.sdk.language', 'nodejs')];
    if (header) {
      resource.push(int('process.pid', header.pid), str('process.runtime.name', 'nodejs'), str('process.runtime.version', header.nodeVersion.replace(/^v/, '')));
      resource.push(str('process.command_line', header.command), str('process.executable.name', processName(header)));
    }
    const head = JSON.stringify({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'tstrace' }, spans: ['\u0000'] }] }] });
    const at = head.indexOf('"\\u0000"');
    this.text = head.slice(0, at) + '\n';
    this.tail = '\n' + head.slice(at + '"\\u0000"'.length) + '\n';
  }

  private readonly tail: string;

  /** `regionId`: a region start's number in the whole trace (undefined: one the filter made, clipped to its window). */
  add(event: TraceEvent, regionId: number | undefined): void {
    if (event.ts > this.lastTs) this.lastTs = event.ts;
    switch (event.kind) {
      case 'taskCreate':
        return this.taskCreate(event);
      case 'taskEnd':
        return this.taskEnd(event);
      case 'flowStart':
        return this.regions.fork(event.flow, event.parentFlow, event.regionsAbove);
      case 'regionStart':
        return this.regionStart(event, regionId);
      case 'regionEnd':
        return this.regionEnd(event);
      case 'misuse':
        if (event.misuse === 'regionEndedOutOfOrder') this.outOfOrder.set(event.flow, event.regionsAbove);
        return;
      case 'log':
        return this.log(event);
      default:
        return;
    }
  }

  /** Ends what is still open at the trace end, closes the document; returns the warnings. */
  finish(status: ReadStatus): string[] {
    const end = Math.max(this.lastTs, status.footer?.endTs ?? 0);
    for (const [region, span] of this.openRegions) {
      span.attributes.push(bool('tstrace.incomplete', true));
      this.write(span, Math.max(end, region.start));
    }
    this.openRegions.clear();
    for (const span of this.openTasks.values()) {
      span.attributes.push(bool('tstrace.incomplete', true));
      this.write(span, Math.max(end, span.start));
    }
    this.openTasks.clear();
    this.text += this.tail;
    return this.warnings.list();
  }

  flush(): void {
    if (this.text.length > 0) {
      this.writer.write(this.text);
      this.text = '';
    }
  }

  // ---- tasks --------------------------------------------------------------------------------------

  private traceOf(task: number): string {
    const root = this.roots.get(task);
    if (root < 0) return this.ids.traceId(1, task);
    return this.contexts.get(root)?.traceId ?? this.ids.traceId(1, root);
  }

  private taskCreate(event: EventOf<'taskCreate'>): void {
    const { task, parent } = event;
    if (this.openTasks.has(task) || this.roots.get(task) >= 0) {
      this.warnings.add('tasks created twice', `task ${task} was created again; the first creation counts`);
      return;
    }
    // A subtask is in its parent's trace, under the parent's span, when the parent is in the export.
    const parentKnown = parent !== 0 && this.roots.get(parent) >= 0;
    this.roots.set(task, parentKnown ? this.roots.get(parent) : task);
    const attributes = [int('tstrace.task.id', task), ...locationAttributes(event.location)];
    if (parent !== 0) attributes.push(int('tstrace.task.parent', parent));
    if (event.beganBefore !== undefined) attributes.push(int('tstrace.began_before_ns', event.beganBefore));
    this.openTasks.set(task, {
      traceId: this.traceOf(task),
      spanId: this.ids.spanId(1, task),
      parentSpanId: parentKnown ? this.ids.spanId(1, parent) : '',
      name: event.type || `task ${task}`,
      start: event.ts,
      attributes,
      events: [],
      droppedEvents: 0,
      error: null,
    });
  }

  /** The task's `otel.trace` log, right after its creation: it becomes a root span of that trace. */
  private traceContext(task: number, context: TraceContext): void {
    const span = this.openTasks.get(task);
    if (!span || this.contexts.has(task) || span.events.length > 0) return;
    this.roots.set(task, task);
    this.contexts.set(task, context);
    this.openTasks.set(task, { ...span, traceId: context.traceId, parentSpanId: context.spanId });
  }

  private taskEnd(event: EventOf<'taskEnd'>): void {
    const span = this.openTasks.get(event.task);
    if (span) {
      this.openTasks.delete(event.task);
      this.write(span, Math.max(event.ts, span.start));
      return;
    }
    if (this.roots.get(event.task) >= 0) {
      this.warnings.add('tasks ended twice', `task ${event.task} was ended again; only the first end counts`);
      return;
    }
    // Created before the trace (or the export's window): a span from the trace start.
    this.roots.set(event.task, event.task);
    const attributes = [int('tstrace.task.id', event.task), bool('tstrace.created_before_trace', true)];
    this.write({ traceId: this.traceOf(event.task), spanId: this.ids.spanId(1, event.task), parentSpanId: '', name: `task ${event.task}`, start: 0, attributes, events: [], droppedEvents: 0, error: null }, event.ts);
  }

  // ---- regions ------------------------------------------------------------------------------------

  private regionStart(event: EventOf<'regionStart'>, regionId: number | undefined): void {
    const region = this.regions.start(event.ts, event.flow, event.task, event.type, event.location, event.beganBefore ?? null);
    // A region the time window clipped (its start is a copy at --since) is numbered apart.
    const id = regionId ?? ++this.clipped;
    // Its parent: the enclosing region when it is of the same task (or the region has none), else its task.
    const enclosing = region.parent === null ? undefined : this.openRegions.get(region.parent);
    const task = event.task === 0 ? undefined : this.openTasks.get(event.task);
    let parent: OpenSpan | undefined;
    if (enclosing && (region.parent!.task === event.task || !task)) parent = enclosing;
    else parent = task;
    let traceId: string;
    let parentSpanId = '';
    if (parent) {
      traceId = parent.traceId;
      parentSpanId = parent.spanId;
    } else if (event.task !== 0 && this.roots.get(event.task) >= 0) {
      // The task's span was written already (a region after its end): still in its trace, under it.
      traceId = this.traceOf(event.task);
      parentSpanId = this.ids.spanId(1, event.task);
    } else {
      traceId = this.ids.traceId(2, id);
    }
    const attributes = [int(regionId === undefined ? 'tstrace.clipped_region' : 'tstrace.region.id', id), int('tstrace.task.id', event.task), int('tstrace.flow', event.flow), ...locationAttributes(event.location)];
    if (event.beganBefore !== undefined) attributes.push(int('tstrace.began_before_ns', event.beganBefore));
    this.openRegions.set(region, { traceId, spanId: this.ids.spanId(regionId === undefined ? 3 : 2, id), parentSpanId, name: event.type || '(unnamed)', start: event.ts, attributes, events: [], droppedEvents: 0, error: null });
  }

  /** Regions clipped to the export's window, numbered apart (kind 3 ids): they are not whole regions of the trace. */
  private clipped = 0;

  private regionEnd(event: EventOf<'regionEnd'>): void {
    const above = this.outOfOrder.get(event.flow) ?? 0;
    this.outOfOrder.delete(event.flow);
    const { region } = this.regions.end(event.ts, event.flow, event.type, above);
    const span = region ? this.openRegions.get(region) : undefined;
    if (!region || !span) {
      this.warnings.add('region ends without a start', `region "${event.type}" ended on flow ${event.flow}, but no region of that type was open there; the end is left out`);
      return;
    }
    this.openRegions.delete(region);
    this.write(span, Math.max(event.ts, span.start));
  }

  // ---- logs ---------------------------------------------------------------------------------------

  private log(event: EventOf<'log'>): void {
    if (event.category === OTEL_TRACE_CATEGORY) {
      const context = parseTraceparent(event.message);
      if (context !== null && event.task !== 0) {
        this.traceContext(event.task, context);
        return;
      }
    }
    const span = this.spanOfLog(event);
    if (!span) {
      this.warnings.add('logs outside any span', `a log "${event.category}" of task ${event.task} has no open task or region to go to (its task ended before it, or it has none); it is left out`);
      return;
    }
    if (event.category === 'error') span.error ??= event.message;
    if (span.events.length >= MAX_EVENTS) {
      span.droppedEvents++;
      return;
    }
    const attributes = [str('log.category', event.category), str('log.message', event.message), ...locationAttributes(event.location)];
    span.events.push({ timeUnixNano: this.unixNano(event.ts), name: event.category === '' ? 'log' : event.category, attributes });
  }

  /** The span a log goes to: the innermost open region of the log's task on its flow (or that the flow was forked under), else the task's span. */
  private spanOfLog(event: EventOf<'log'>): OpenSpan | undefined {
    const top = this.regions.top(event.flow);
    for (let r = top; r !== null; r = r.parent) {
      if (r.task === event.task) return this.openRegions.get(r);
    }
    return event.task === 0 ? undefined : this.openTasks.get(event.task);
  }

  // ---- output -------------------------------------------------------------------------------------

  private unixNano(ts: Nanos): string {
    return String(this.origin + BigInt(ts));
  }

  private write(span: OpenSpan, end: Nanos): void {
    const json: Record<string, unknown> = { traceId: span.traceId, spanId: span.spanId };
    if (span.parentSpanId !== '') json.parentSpanId = span.parentSpanId;
    json.name = span.name;
    json.kind = SPAN_KIND_INTERNAL;
    json.startTimeUnixNano = this.unixNano(span.start);
    json.endTimeUnixNano = this.unixNano(end);
    json.attributes = span.attributes;
    if (span.events.length > 0) json.events = span.events;
    if (span.droppedEvents > 0) json.droppedEventsCount = span.droppedEvents;
    json.status = span.error === null ? {} : { code: STATUS_CODE_ERROR, message: span.error };
    this.text += (this.spans > 0 ? ',\n' : '') + JSON.stringify(json);
    this.spans++;
    if (this.text.length >= WRITE_BYTES) this.flush();
  }
}

/** OpenTelemetry's semantic conventions for a source location (`code.*`). */
function locationAttributes(location: SourceLocation | null): KeyValue[] {
  if (location === null) return [];
  const attributes = [str('code.file.path', location.file), int('code.line.number', location.line), int('code.column.number', location.column)];
  if (location.function !== '') attributes.push(str('code.function.name', location.function));
  return attributes;
}
