import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { format } from 'node:util';
import type { Writable } from 'node:stream';
import { encodeFileStart } from '../format/encode.js';
import { EventType, FORMAT_VERSION, MisuseKind } from '../format/spec.js';
import { startExecutionEvents } from './execution.js';
import { closeOpenRun, startScheduling } from './scheduling.js';
import { chainTopRaw, currentLane, currentScope, enterForTurn, inCurrentChain, laneFor, newScope, parentFor } from './chains.js';
import { callerLocation } from './location.js';
import { isMainThread } from 'node:worker_threads';
import { ThreadCollector, collectorOf } from './thread-collector.js';
import { joinMainThreadTraces } from './thread-join.js';
import { S as recorderState, TraceOutput, flush, lastRecordTime, newFlow, nextFlowId, nextTaskId, now, record, recordAt, type Flow, type RegionState, type Scope, type TaskState } from './recorder.js';
import { formatTraceparent, OTEL_TRACE_CATEGORY, parseTraceparent } from '../format/trace-context.js';
import { fileSink, streamSink, type Sink } from './sink.js';

// Read through a local const: V8 loads an imported (or exported) binding from its module cell, with a
// check that it is initialised, at every use; a local const is a constant in optimised code, so the
// tracing-off path of startRegion and Region.end is a load and a comparison (`npm run bench`).
const S = recorderState;

/** Carries the current task, like Go's `context.Context` does for `runtime/trace`. Immutable. */
export interface Context {
  readonly task: Task | null;
}

/** The context with no task (Go's `context.Background()`): events in it belong to task 0. */
export const background: Context = Object.freeze({ task: null });

/**
 * A user-defined logical operation, created by {@link newTask}. Its latency is the time from creation
 * to the first {@link Task.end}.
 */
export class Task implements TaskState {
  #ended = false;
  /** @internal */
  constructor(
    /** Process-wide id, from 1; ids are used up even while tracing is off. */
    readonly id: number,
    readonly type: string,
    /** @internal The task it is a subtask of (tells related tasks from concurrent strangers). */
    readonly parent: Task | null = null,
  ) {}

  /** Marks the end of the operation. Only the first call is recorded; later calls do nothing. */
  end(): void {
    if (this.#ended) return;
    this.endAt(S.enabled ? locationHere(this.end) : 0);
  }

  /**
   * @internal Ends the task at a location known in advance (instrumented code: no stack capture), at
   * `ms` when the caller read the time already (the end of the call's region).
   */
  endAt(location: number, ms?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!S.enabled) return;
    recordAt(ms, EventType.TaskEnd, currentFlow().id, this.id, 0, location, undefined);
    if (S.listener !== null) S.listener.taskEnded(this, lastRecordTime());
  }
}

/**
 * A timed interval of one chain of execution, created by {@link startRegion}. Regions must nest: end
 * the innermost first, in the chain (the async function, callback or request handler and what it
 * awaits) that started it. Misuse (ending twice, out of order, or elsewhere) is recorded, never thrown.
 */
export class Region implements RegionState {
  ended = false;
  /** @internal The bracketed sync region this one hid while it was open (compiled sync functions). */
  syncPrev: RegionState | null = null;
  /** @internal Started by {@link startRegion}, whose scope an async function's caller also sees. */
  byHand = false;
  /** @internal */
  constructor(
    readonly flow: Flow,
    readonly type: string,
    readonly location: number,
    public parent: RegionState | null,
    readonly generation: number,
    readonly task: TaskState | null,
    readonly seq: number,
  ) {}

  /** Marks the end of the region. Must be called in the chain of execution that started it. */
  end(): void {
    // The shared no-op region and regions of an earlier trace record nothing: stop before looking up
    // the current chain (endRegion checks this too, for its other callers).
    if (this.generation !== S.generation || !S.enabled) return;
    endRegion(this, true);
  }
}

/** The region {@link startRegion} returns while tracing is off: ending it records nothing. */
const offRegion = Object.freeze(new Region(newFlow(0), '', 0, null, -1, null, 0)) as Region;
export const noopRegion: Region = offRegion;

export interface StartOptions {
  /** Record garbage collections (kind, duration). Default true. */
  gc?: boolean;
  /** Record heap bytes in use after each garbage collection. Default true. */
  heap?: boolean;
  /** Record event-loop utilization every `sampleInterval` ms. Default true. */
  eventLoop?: boolean;
  /** Milliseconds between event-loop samples and background writes. Default 100. */
  sampleInterval?: number;
  /**
   * Record when each flow runs on the thread, what it waited for (the async resource type: Timeout,
   * TCPWRAP, FSREQCALLBACK, PROMISE…) and when that became ready, so that `tstrace tasks` can split each
   * task's latency into running, waiting and queued behind other work, and `tstrace blockers` can name
   * the work that held the thread (docs/design.md, "Where the time went"). Timers, file system requests,
   * sockets and the like are also named by where they were created: the creating call's line with
   * `captureLocations` (a stack capture each), else the creating region's location. Installs an `async_hooks` hook
   * while tracing: every promise and callback of the program pays for it (`npm run bench` measures how
   * much). Worker threads that join the trace record theirs too. Default false: nothing is installed.
   */
  scheduling?: boolean;
  /**
   * Encoded bytes that may wait for a slow writer before new events are dropped (and counted).
   * Default 64 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Record the source location of hand-written `startRegion`/`withRegion`/`newTask`/`log` calls and,
   * with `scheduling`, of the calls that create timers, file system requests, sockets and the like.
   * Costs microseconds per call; instrumented code gets locations for free. Default false.
   */
  captureLocations?: boolean;
  /**
   * Milliseconds `stop()` waits for worker threads to send what they recorded since their last flush
   * (a terminated or busy worker sends nothing more: what it sent before is kept). Default 500.
   */
  threadFlushTimeout?: number;
}

/** What `stop()` waits for workers by default (StartOptions.threadFlushTimeout). */
export const THREAD_FLUSH_TIMEOUT_MS = 500;

/**
 * Starts writing a trace to `writer`: a file path (created or truncated) or a Node `Writable`.
 * Throws if a trace is already being written, or if the file cannot be opened. A running
 * {@link FlightRecorder} is no obstacle: both record the same events, each into its own trace; then
 * the regions open when `start()` is called are not in this trace (their ends are left out, as Go
 * leaves out a region begun before its trace), and the execution events (`gc`, `heap`, `eventLoop`,
 * `sampleInterval`) keep the recorder's settings.
 */
export function start(writer: string | Writable, options: StartOptions = {}): void {
  if (S.trace !== null) throw new Error('tracing is already enabled');
  const t0 = performance.now();
  const hrtimeAtT0 = process.hrtime.bigint();
  const first = encodeFileStart({
    version: FORMAT_VERSION,
    wallClockOriginNs: BigInt(Math.round((performance.timeOrigin + t0) * 1e6)),
    hrtimeOriginNs: hrtimeAtT0,
    pid: process.pid,
    nodeVersion: process.version,
    command: process.argv.join(' '),
  });
  const sink: Sink = typeof writer === 'string' ? fileSink(writer, first) : streamSink(writer, first);
  if (!S.enabled) beginSession(options);
  else {
    // What the hot buffer holds happened before this trace: it goes to the consumers already there.
    flush();
    if (options.captureLocations === true) S.captureLocations = true;
  }
  const maxBufferedBytes = options.maxBufferedBytes ?? 64 << 20;
  // Trace numbers are shared with flight recorders' sessions (thread-collector.ts): both name a session of workers.
  const trace = new TraceOutput(t0, S.lastRegionSeq, sink, maxBufferedBytes, ++S.traceNumber);
  S.trace = trace;
  threadFlushTimeout = options.threadFlushTimeout ?? THREAD_FLUSH_TIMEOUT_MS;
  // Worker threads that load the runtime (now or later) record into this trace too (docs/design.md),
  // also while a flight recorder gets their events: they encode them once for each.
  if (isMainThread) {
    new ThreadCollector(trace, {
      session: trace.number,
      wallOriginMs: performance.timeOrigin + t0,
      captureLocations: S.captureLocations,
      flushInterval: options.sampleInterval ?? 100,
      maxBufferedBytes,
      scheduling: sessionScheduling,
    });
  }
  // A process that exits while tracing loses nothing: the rest is written synchronously.
  const onExit = (): void => {
    if (S.trace === trace) {
      collectorOf(trace)?.close();
      closeOpenRun();
      trace.finish();
      S.trace = null;
      if (S.flight === null) S.enabled = false;
    }
    // Also after stop(), until its file is closed: what is queued is written now.
    sink.writeSyncAll();
  };
  S.exitHandler = onExit;
  process.on('exit', onExit);
}

let threadFlushTimeout = THREAD_FLUSH_TIMEOUT_MS;

/** @internal Execution events all tracing shares: what a session's first consumer asks for. */
export interface SessionOptions {
  gc?: boolean;
  heap?: boolean;
  eventLoop?: boolean;
  sampleInterval?: number;
  scheduling?: boolean;
  captureLocations?: boolean;
  /** On a worker thread: the session is its part of the main thread's trace (thread-join.ts). */
  joined?: boolean;
}

/** @internal Whether the session records scheduling events (its first consumer's `scheduling`): worker threads that join do too. */
export let sessionScheduling = false;

/**
 * @internal Turns tracing on for the first consumer (start() or a flight recorder): a new generation,
 * flows and a fresh AsyncLocalStorage (contexts of an earlier session are not carried over), and the
 * execution events. The hot buffer is emptied: what it held belonged to no one.
 */
export function beginSession(options: SessionOptions): void {
  S.generation++;
  S.count = 0;
  S.strs.fill(undefined);
  S.msgs.fill(undefined);
  S.captureLocations = options.captureLocations ?? false;
  if (isMainThread) {
    // Flow ids go on from the shared counter, never again from 1: a worker still in an older session
    // (one it joined before hearing it stopped) brings its flows into this one, and they must not collide.
    S.localFlowIds = false;
    S.lastFlowId = 1;
    S.flowBlockEnd = 1;
    S.rootFlow = newFlow(1);
  } else if (options.joined === true) {
    // Part of the main thread's trace: flows from the shared counter (a block taken in an earlier
    // session may predate the main thread's reset).
    S.localFlowIds = false;
    S.flowBlockEnd = S.lastFlowId;
    S.rootFlow = newFlow(nextFlowId());
  } else {
    // A worker's own trace: flows of its own, as on the main thread.
    S.localFlowIds = true;
    S.lastFlowId = 1;
    S.rootFlow = newFlow(1);
  }
  S.syncTop = null;
  S.lastRegionSeq = 0;
  S.als = S.storage ??= new AsyncLocalStorage<Scope>();
  S.enabled = true;
  const stopCheap = startExecutionEvents({
    gc: options.gc ?? true,
    heap: options.heap ?? true,
    eventLoop: options.eventLoop ?? true,
    sampleInterval: options.sampleInterval ?? 100,
  });
  sessionScheduling = options.scheduling === true;
  const stopScheduling = sessionScheduling ? startScheduling() : null;
  S.stopExecutionEvents =
    stopScheduling === null
      ? stopCheap
      : () => {
          stopScheduling();
          stopCheap();
        };
}

/** @internal Turns tracing off once its last consumer has left (after its final flush). */
export function endSessionIfUnused(): void {
  if (S.trace !== null || S.flight !== null || S.joined.length > 0 || !S.enabled) return;
  S.enabled = false;
  S.stopExecutionEvents?.();
  S.stopExecutionEvents = null;
  S.als?.disable();
  S.als = null;
  S.syncTop = null;
}

/**
 * Stops the trace {@link start} began. Resolves once every byte has reached the writer (and a file we
 * opened is closed); rejects with the writer's error if writing failed. Resolves at once when no trace
 * runs. A running {@link FlightRecorder} goes on recording.
 */
export function stop(): Promise<void> {
  stopping ??= stopTrace().finally(() => {
    stopping = null;
  });
  return stopping;
}

/** The stop() under way: a second call while workers are flushing waits for the same end. */
let stopping: Promise<void> | null = null;

async function stopTrace(): Promise<void> {
  const trace = S.trace;
  if (trace === null) return;
  const threads = collectorOf(trace);
  if (threads !== null) {
    // Also waits for workers whose hello is still on its way: one that has just exited (its 'exit' is
    // often what the program waited for), or whose reply to a job came first.
    if (threads.waiting) {
      // Workers send what they recorded since their last flush; then the footer closes the trace.
      await threads.finish(threadFlushTimeout);
      if (S.trace !== trace) return; // the process exited meanwhile: its exit handler finished the trace
    } else threads.close();
  }
  closeOpenRun();
  trace.finish();
  S.trace = null;
  endSessionIfUnused();
  const onExit = S.exitHandler;
  S.exitHandler = null;
  try {
    await trace.sink.close();
  } finally {
    if (onExit) process.off('exit', onExit);
  }
}

/**
 * Whether tracing is on: a trace is being written ({@link start}) or a {@link FlightRecorder} runs.
 * Advisory: it may change right after the call.
 */
export function isEnabled(): boolean {
  return S.enabled;
}

/**
 * @internal Which trace is running: a number that no other trace of this process has (taken right
 * after {@link start}, it names that trace), or null while no trace is written (a flight recorder
 * alone is no trace). Lets the code that started a trace stop it only if it is still that one.
 */
export function runningTrace(): number | null {
  return S.trace !== null ? S.trace.number : null;
}

/** The ambient context of the current chain of execution ({@link background} outside any, or while tracing is off). */
export function current(): Context {
  return (currentScope()?.ctx as Context | undefined) ?? background;
}

/** @internal The lane the current chain's events go to. */
export function currentFlow(): Flow {
  return currentLane(currentScope());
}

// Never throws, even for a JavaScript caller passing no context.
export const taskIdOf = (ctx: Context | undefined): number => (ctx && ctx.task ? ctx.task.id : 0);
const taskOf = (ctx: Context | undefined): Task | null => (ctx && ctx.task ? ctx.task : null);

function locationHere(skip: Function): number {
  return S.captureLocations ? callerLocation(skip) : 0;
}

/**
 * Creates a task of type `taskType`, a subtask of the task in `ctx` if there is one. Returns the new
 * context (carrying the task) and the task; call `task.end()` when the operation is done.
 */
export function newTask(ctx: Context, taskType: string): [Context, Task] {
  const task = new Task(nextTaskId(), taskType, taskOf(ctx));
  if (S.enabled) {
    record(EventType.TaskCreate, currentFlow().id, taskIdOf(ctx), task.id, locationHere(newTask), taskType);
    if (S.listener !== null || S.traceContext !== null) taskCreated(task, null);
  }
  return [{ task }, task];
}

/**
 * Like {@link newTask}, for an operation that continues a distributed trace: `traceparent` is the W3C
 * Trace Context header of the request that started it (`req.headers.traceparent`). When it is valid and
 * tracing is on, the task records its trace id and parent span id (`tstrace tasks --trace-id`, the viewer and the exports
 * show them; docs/design.md, "OpenTelemetry"); when it is missing or invalid, this is `newTask`.
 */
export function newTaskFromTraceparent(ctx: Context, taskType: string, traceparent: string | readonly string[] | undefined | null): [Context, Task] {
  const task = new Task(++S.lastTaskId, taskType, taskOf(ctx));
  if (S.enabled) {
    record(EventType.TaskCreate, currentFlow().id, taskIdOf(ctx), task.id, locationHere(newTaskFromTraceparent), taskType);
    const context = parseTraceparent(traceparent);
    taskCreated(task, context === null ? null : formatTraceparent(context));
  }
  return [{ task }, task];
}

/**
 * @internal After a task's creation was recorded: records its W3C trace context (given, or for a task
 * without a parent task, the one `S.traceContext` finds), then tells the listener.
 */
export function taskCreated(task: Task, traceparent: string | null): void {
  const ms = lastRecordTime();
  let context = traceparent;
  if (context === null && task.parent === null && S.traceContext !== null) {
    try {
      context = S.traceContext();
    } catch {
      context = null;
    }
  }
  if (context !== null) record(EventType.Log, currentFlow().id, task.id, 0, 0, OTEL_TRACE_CATEGORY, context);
  if (S.listener !== null) S.listener.taskCreated(task, task.type, context, ms);
}

/** Records a one-off message in `category` for the task in `ctx` in the current chain. */
export function log(ctx: Context, category: string, message: string): void {
  if (!S.enabled) return;
  record(EventType.Log, currentFlow().id, taskIdOf(ctx), 0, locationHere(log), category, message);
  if (S.listener !== null) S.listener.logged(taskOf(ctx), category, message, lastRecordTime());
}

/** Like {@link log}, formatting with `util.format` — only while tracing is on. */
export function logf(ctx: Context, category: string, fmt: string, ...args: unknown[]): void {
  if (!S.enabled) return;
  const message = format(fmt, ...args);
  record(EventType.Log, currentFlow().id, taskIdOf(ctx), 0, locationHere(logf), category, message);
  if (S.listener !== null) S.listener.logged(taskOf(ctx), category, message, lastRecordTime());
}

/**
 * Starts a region of type `regionType` for the task in `ctx`, inside the innermost open region of the
 * current chain of execution — the request handler, callback or async function running now, continued
 * across its `await`s. End it with `region.end()` in the same chain. While tracing is off this returns a
 * shared region whose `end()` does nothing.
 */
export function startRegion(ctx: Context, regionType: string): Region {
  // The off path alone is small enough for V8 to inline into every caller.
  return S.enabled ? startRegionOn(ctx, regionType) : offRegion;
}

function startRegionOn(ctx: Context, regionType: string): Region {
  const scope = currentScope();
  const parent = parentFor(scope, taskOf(ctx));
  const region = beginRegion(ctx, regionType, locationHere(startRegion), laneFor(scope, parent, false), parent);
  region.byHand = true;
  // Continuations scheduled from here on (this chain's awaits, timers, callbacks) see the region.
  enterForTurn(newScope(scope === undefined ? background : scope.ctx, region.flow, region));
  return region;
}

/**
 * @internal Records the start of a region under `parent`, on lane `flow` (see chains.ts: laneFor), at
 * `ms` when the caller read the time already for the events it records with it.
 */
export function beginRegion(ctx: Context, type: string, location: number, flow: Flow, parent: RegionState | null, ms?: number): Region {
  const region = new Region(flow, type, location, parent, S.generation, taskOf(ctx), ++S.lastRegionSeq);
  flow.top = region;
  const forkedFrom = flow.forkedFrom;
  if (forkedFrom === 0) recordAt(ms, EventType.RegionStart, flow.id, taskIdOf(ctx), location, 0, type);
  else {
    // A new lane's first region: its fork and its start, one event.
    flow.forkedFrom = 0;
    recordAt(ms, EventType.ForkedRegionStart, flow.id, taskIdOf(ctx), location, forkedFrom, type, flow.regionsAbove);
  }
  if (S.listener !== null) S.listener.regionStarted(region, lastRecordTime());
  return region;
}

/**
 * @internal Records the end of `region`. `inChain`: the end comes from user code that may call it
 * from elsewhere (check it is the chain that started it); compiled code and `withRegion` always are.
 * `ms`: the time of the end, when the caller read it for the events it records with it.
 */
export function endRegion(region: Region, checkChain: boolean, ms?: number): void {
  if (region.generation !== S.generation || !S.enabled) return;
  const flow = region.flow;
  if (region.ended) {
    record(EventType.Misuse, flow.id, 0, MisuseKind.RegionEndedTwice, region.location, region.type, region.seq);
    return;
  }
  const elsewhere = checkChain && !inCurrentChain(region);
  region.ended = true;
  if (flow.top === region) {
    const below = region.parent;
    flow.top = below !== null && below.flow === flow ? below : null;
  } else {
    // Ended before a region nested in it: unlink it so the inner one still ends cleanly.
    // The count of regions above it tells the reader exactly which region the next end closes.
    let inner = flow.top;
    let above = 1;
    while (inner !== null && inner.parent !== region) {
      inner = inner.parent;
      above++;
    }
    if (inner !== null) inner.parent = region.parent;
    record(EventType.Misuse, flow.id, inner !== null ? above : 0, MisuseKind.RegionEndedOutOfOrder, region.location, region.type, region.seq);
  }
  if (elsewhere) {
    record(EventType.Misuse, flow.id, 0, MisuseKind.RegionEndedOnOtherFlow, region.location, region.type, region.seq);
  }
  recordAt(ms, EventType.RegionEnd, flow.id, -1, region.seq, 0, region.type);
  if (S.listener !== null) S.listener.regionEnded(region, lastRecordTime());
}

const AsyncFunctionPrototype = Object.getPrototypeOf(async () => {}) as object;
const isAsyncFunction = (fn: Function): boolean => Object.getPrototypeOf(fn) === AsyncFunctionPrototype;

/**
 * Runs `fn` inside a region of type `regionType` and returns its result. The region ends when `fn`
 * returns or throws — or, if `fn` returns a promise, when that settles (the returned promise settles
 * right after, with the same value). Any other thenable (a query builder, a cancelable request) is
 * returned as it is, and the region ends with `fn`: calling its `then` could start its work early or
 * twice, and what `fn` returns must not change with tracing. Everything `fn` starts, synchronously or
 * in what it schedules, is inside the region; calls running concurrently get lanes of their own.
 * Inside `fn`, {@link current} is `ctx`.
 */
export function withRegion<T>(ctx: Context, regionType: string, fn: () => T): T {
  if (!S.enabled) return fn();
  const scope = currentScope();
  const parent = parentFor(scope, taskOf(ctx));
  const region = beginRegion(ctx, regionType, locationHere(withRegion), laneFor(scope, parent, isAsyncFunction(fn)), parent);
  let result: T;
  try {
    result = S.als!.run(newScope(ctx, region.flow, region), fn);
  } catch (error) {
    if (S.listener !== null) S.listener.regionFailed(region, error);
    endRegion(region, false);
    throw error;
  }
  if (!(result instanceof Promise)) {
    endRegion(region, false);
    return result;
  }
  return (result as Promise<unknown>).then(
    (value) => {
      endRegion(region, false);
      return value;
    },
    (error: unknown) => {
      if (S.listener !== null) S.listener.regionFailed(region, error);
      endRegion(region, false);
      throw error;
    },
  ) as T;
}

/**
 * Runs `fn` with `ctx` as the ambient context ({@link current}) of its chain of execution and of
 * everything it schedules. While tracing is off it just calls `fn`.
 */
export function withContext<T>(ctx: Context, fn: () => T): T {
  if (!S.enabled) return fn();
  const scope = currentScope();
  return S.als!.run(newScope(ctx, currentLane(scope), chainTopRaw(scope)), fn);
}

// In a worker thread, the runtime records into the main thread's trace whenever one runs.
joinMainThreadTraces({
  begin(session) {
    // A worker running a trace of its own (its own flow numbering) stays out of the main thread's.
    if (S.enabled) return false;
    beginSession({
      gc: false,
      heap: false,
      eventLoop: false,
      sampleInterval: session.flushInterval,
      captureLocations: session.captureLocations,
      scheduling: session.scheduling === true,
      joined: true,
    });
    return true;
  },
  end: endSessionIfUnused,
});
