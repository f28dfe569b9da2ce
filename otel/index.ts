/**
 * `tstrace/otel`: tstrace and OpenTelemetry, both ways (docs/export.md, "OpenTelemetry").
 *
 * - {@link enableOtelContext}: a task created inside an active OpenTelemetry span (the server span of
 *   `@opentelemetry/instrumentation-http`, say) records that span's trace id and span id.
 * - {@link enableOtelBridge}: tasks become spans, regions child spans (or span events), logs span events,
 *   through the application's own `TracerProvider`, as its sampler decides.
 *
 * `@opentelemetry/api` (1.x) is a peer dependency of this entry only: the `tstrace` runtime has none, and
 * neither costs anything until enabled — the runtime asks nothing and tells nobody while they are off.
 */
import { performance } from 'node:perf_hooks';
import {
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context as OtelContext,
  type HrTime,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { formatTraceparent, parseTraceparent } from '../format/trace-context.js';
import { currentScope, parentFor } from '../runtime/chains.js';
import { S, type RecordListener, type RegionState, type TaskState } from '../runtime/recorder.js';

/** The `traceparent` of OpenTelemetry's active span, or null when there is none (or it is invalid). */
function activeTraceparent(): string | null {
  const span = trace.getSpan(context.active());
  if (span === undefined) return null;
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return null;
  return formatTraceparent({ traceId: spanContext.traceId, spanId: spanContext.spanId, flags: spanContext.traceFlags });
}

/**
 * From now on, a task created without a parent task while an OpenTelemetry span is active (in
 * `context.active()`) records that span's trace id and span id, as `newTaskFromTraceparent` does with a
 * header: `tstrace tasks --trace-id`, the viewer and the exports show them. Subtasks are in their
 * parent's trace. Costs one context lookup per such task while tracing is on; nothing while it is off.
 * Returns a function that turns it off again.
 */
export function enableOtelContext(): () => void {
  S.traceContext = activeTraceparent;
  return () => {
    if (S.traceContext === activeTraceparent) S.traceContext = null;
  };
}

export interface OtelBridgeOptions {
  /** Where spans are made: default, the global one (`trace.getTracerProvider()`, what `provider.register()` sets). */
  readonly tracerProvider?: TracerProvider;
  /** Regions as child spans (default), or as events of their task's span (one per region, at its start, with its duration). */
  readonly regions?: 'spans' | 'events';
  /** Logs as span events (default true). */
  readonly logs?: boolean;
  /**
   * Tasks and regions bridged while open at one time; beyond this, new ones are not bridged (counted in
   * {@link OtelBridge.skipped}), so a program that never ends its tasks does not grow without bound.
   * Default 100,000.
   */
  readonly maxOpen?: number;
}

/** A running bridge: what it did, and how to stop it. */
export interface OtelBridge {
  /** Tasks and regions not bridged because {@link OtelBridgeOptions.maxOpen} were open. */
  readonly skipped: number;
  /** Stops bridging: spans still open are ended now (with the attribute `tstrace.incomplete`). */
  disable(): void;
}

/** A span the bridge made, and the context that has it as the parent (made when first needed). */
interface Bridged {
  readonly span: Span;
  /** The span is sampled: its regions and logs are bridged too. */
  readonly recording: boolean;
  parent: OtelContext | null;
}

const TRACER_NAME = 'tstrace';

/**
 * Turns what tstrace records into OpenTelemetry spans, through `tracerProvider`'s tracer `tstrace`:
 * - a task is a span named after its type (attribute `tstrace.task.id`), from its creation to its first
 *   end; its parent is the span its recorded trace context names (`newTaskFromTraceparent`,
 *   {@link enableOtelContext}), else its parent task's span, else OpenTelemetry's active span;
 * - a region of a bridged task is a child span of the enclosing region of the same task, else of the
 *   task's span (or, with `regions: 'events'`, an event of the task's span); a region `withRegion` saw
 *   throw gets the exception and status ERROR;
 * - a log is an event of the innermost open region of its task in the current chain (else of the task's
 *   span) named after its category, with `log.message`; a log of category `error` sets status ERROR.
 * Times are the recorded ones, to the nanosecond (those of the running trace, when one is written).
 * The sampler decides per task: for a task whose span is not recording, nothing more is done for its
 * regions and logs. The bridge sees what tstrace records: while a trace or a flight recorder runs.
 * One bridge at a time: enabling another replaces it.
 */
export function enableOtelBridge(options: OtelBridgeOptions = {}): OtelBridge {
  const bridge = new SpanBridge((options.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME), options);
  if (S.listener instanceof SpanBridge) S.listener.close();
  S.listener = bridge;
  return {
    get skipped() {
      return bridge.skipped;
    },
    disable() {
      if (S.listener === bridge) S.listener = null;
      bridge.close();
    },
  };
}

class SpanBridge implements RecordListener {
  skipped = 0;
  private readonly tasks = new Map<TaskState, Bridged>();
  private readonly regions = new Map<RegionState, Bridged>();
  /** With `regions: 'events'`: the start time of each open region of a recording task. */
  private readonly regionStarts = new Map<RegionState, number>();
  private readonly asEvents: boolean;
  private readonly logs: boolean;
  private readonly maxOpen: number;
  // The clock: a `performance.now()` to unix time, [seconds, nanoseconds], as the running trace's header has it.
  private originTrace = -1;
  private t0 = 0;
  private originSec = 0;
  private originNs = 0;

  constructor(
    private readonly tracer: Tracer,
    options: OtelBridgeOptions,
  ) {
    this.asEvents = options.regions === 'events';
    this.logs = options.logs ?? true;
    this.maxOpen = options.maxOpen ?? 100_000;
  }

  /** `ms` (a `performance.now()`) as OpenTelemetry's HrTime, from the running trace's origin (so the times agree to the ns). */
  private time(ms: number): HrTime {
    const traceNumber = S.trace !== null ? S.traceNumber : 0;
    if (traceNumber !== this.originTrace) this.setOrigin(traceNumber, S.trace !== null ? S.trace.t0 : performance.now());
    const ns = this.originNs + Math.round((ms - this.t0) * 1e6);
    const carry = Math.floor(ns / 1e9);
    return [this.originSec + carry, ns - carry * 1e9];
  }

  private setOrigin(traceNumber: number, t0: number): void {
    // As start() writes the header's wall-clock origin.
    const origin = BigInt(Math.round((performance.timeOrigin + t0) * 1e6));
    this.originTrace = traceNumber;
    this.t0 = t0;
    this.originSec = Number(origin / 1_000_000_000n);
    this.originNs = Number(origin % 1_000_000_000n);
  }

  private static contextOf(bridged: Bridged): OtelContext {
    return (bridged.parent ??= trace.setSpan(ROOT_CONTEXT, bridged.span));
  }

  taskCreated(task: TaskState, type: string, traceparent: string | null, ms: number): void {
    if (this.tasks.size >= this.maxOpen) {
      this.skipped++;
      return;
    }
    let parent: OtelContext;
    const remote = traceparent === null ? null : parseTraceparent(traceparent);
    const parentTask = task.parent === null ? undefined : this.tasks.get(task.parent);
    if (remote !== null) {
      parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: remote.traceId, spanId: remote.spanId, traceFlags: remote.flags, isRemote: true });
    } else if (parentTask !== undefined) {
      parent = SpanBridge.contextOf(parentTask);
    } else {
      parent = context.active();
    }
    const span = this.tracer.startSpan(type === '' ? `task ${task.id}` : type, { kind: SpanKind.INTERNAL, startTime: this.time(ms), attributes: { 'tstrace.task.id': task.id } }, parent);
    this.tasks.set(task, { span, recording: span.isRecording(), parent: null });
  }

  taskEnded(task: TaskState, ms: number): void {
    const bridged = this.tasks.get(task);
    if (bridged === undefined) return;
    this.tasks.delete(task);
    bridged.span.end(this.time(ms));
  }

  regionStarted(region: RegionState, ms: number): void {
    const task = region.task === null ? undefined : this.tasks.get(region.task);
    if (task === undefined || !task.recording) return;
    if (this.asEvents) {
      this.regionStarts.set(region, ms);
      return;
    }
    if (this.regions.size >= this.maxOpen) {
      this.skipped++;
      return;
    }
    const enclosing = region.parent !== null && region.parent.task === region.task ? this.regions.get(region.parent) : undefined;
    const span = this.tracer.startSpan(region.type, { kind: SpanKind.INTERNAL, startTime: this.time(ms) }, SpanBridge.contextOf(enclosing ?? task));
    this.regions.set(region, { span, recording: true, parent: null });
  }

  regionEnded(region: RegionState, ms: number): void {
    if (this.asEvents) {
      const start = this.regionStarts.get(region);
      if (start === undefined) return;
      this.regionStarts.delete(region);
      const task = this.tasks.get(region.task!);
      task?.span.addEvent(region.type, { 'tstrace.region.duration_ns': Math.round((ms - start) * 1e6) }, this.time(start));
      return;
    }
    const bridged = this.regions.get(region);
    if (bridged === undefined) return;
    this.regions.delete(region);
    bridged.span.end(this.time(ms));
  }

  regionFailed(region: RegionState, error: unknown): void {
    const span = this.regions.get(region)?.span ?? (region.task === null ? undefined : this.tasks.get(region.task)?.span);
    if (span === undefined || !span.isRecording()) return;
    if (error instanceof Error) span.recordException(error);
    else span.recordException(String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }

  logged(task: TaskState | null, category: string, message: string, ms: number): void {
    if (task === null || !this.logs) return;
    const bridged = this.tasks.get(task);
    if (bridged === undefined || !bridged.recording) return;
    // The innermost open region of the task in the current chain, if it is bridged.
    let span = bridged.span;
    if (!this.asEvents) {
      for (let r = parentFor(currentScope(), task); r !== null; r = r.parent) {
        const region = r.task === task && !r.ended ? this.regions.get(r) : undefined;
        if (region !== undefined) {
          span = region.span;
          break;
        }
      }
    }
    span.addEvent(category === '' ? 'log' : category, { 'log.message': message }, this.time(ms));
    if (category === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  /** Ends what is still open, marked incomplete. */
  close(): void {
    const now = this.time(performance.now());
    for (const bridged of [...this.regions.values(), ...this.tasks.values()]) {
      bridged.span.setAttribute('tstrace.incomplete', true);
      bridged.span.end(now);
    }
    this.regions.clear();
    this.tasks.clear();
    this.regionStarts.clear();
  }
}

export { newTaskFromTraceparent } from '../runtime/api.js';
export { parseTraceparent, type TraceContext } from '../format/trace-context.js';
