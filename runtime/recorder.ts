import type { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { BatchEncoder, encodeFooter, encodeThreadFrame } from '../format/encode.js';
import { acquireBatch } from './batch-pool.js';
import type { SourceLocation } from '../format/events.js';
import { EventType } from '../format/spec.js';
import { ID_BLOCK, FLOW_COUNTER, JOIN_SLOTS, TASK_COUNTER, sharedIdCounters, takeIdBlock } from './shared-ids.js';
import type { WaitedOn } from './resource-site.js';
import type { Sink } from './sink.js';
import type { ThreadCollector } from './thread-collector.js';
import type { TraceSession } from './thread-protocol.js';

/**
 * A lane of the trace (the "goroutine" of the format): a strict stack of open regions. Regions of one
 * chain of execution share a lane while they nest; a region whose parent is not the innermost open
 * region of its lane (a concurrent sibling got there first) starts a new lane.
 */
export interface Flow {
  readonly id: number;
  /** The innermost open region on this lane. */
  top: RegionState | null;
  /** The region this lane was forked under (on another lane): the parent of its outermost regions. */
  readonly base: RegionState | null;
  /**
   * The id of the lane this one was forked from, until the fork is recorded: with the lane's first
   * region, as one event (ForkedRegionStart, see beginRegion); 0 after that, and for a root lane.
   */
  forkedFrom: number;
  /** With `forkedFrom`: how many open regions of that lane sat above `base` (the format's regionsAbove). */
  readonly regionsAbove: number;
}

/** A lane with no region yet: a root lane, or one forked from the lane `forkedFrom` under `base` (see Flow). */
export const newFlow = (id: number, base: RegionState | null = null, forkedFrom = 0, regionsAbove = 0): Flow => ({ id, top: null, base, forkedFrom, regionsAbove });

/** A task as regions see it: its parent, to tell related tasks from concurrent strangers. */
export interface TaskState {
  readonly id: number;
  readonly parent: TaskState | null;
}

/** What a region needs to be ended correctly; the public Region object is this. */
export interface RegionState {
  readonly flow: Flow;
  readonly type: string;
  readonly location: number;
  /** The region that enclosed it in its chain of execution (possibly on another lane), or null. */
  parent: RegionState | null;
  readonly generation: number;
  /** The task of the context it was started with. */
  readonly task: TaskState | null;
  /** Start order within the trace: which of two candidate parents began last. */
  readonly seq: number;
  ended: boolean;
  /** Started by hand (startRegion): its scope may be seen by the caller of the async function that started it. */
  readonly byHand: boolean;
}

/**
 * The ambient state of a chain of execution, kept in AsyncLocalStorage while tracing. Immutable: every
 * continuation keeps the scope it was scheduled in, so concurrent chains never see each other's regions.
 */
export interface Scope {
  /** The session it was made in (TracerState.generation): a scope of an earlier one is no scope. */
  readonly generation: number;
  readonly ctx: unknown;
  /** The lane events of this chain go to while it has no open region. */
  readonly flow: Flow;
  /** The innermost region this chain opened (it may have ended since: ended regions are skipped). */
  readonly top: RegionState | null;
}

/**
 * Told of tasks, regions and logs as they are recorded, while tracing is on: the seam `tstrace/otel`'s
 * bridge uses. The recorder calls it only when one is registered ({@link TracerState.listener}), after
 * the event is in the hot buffer; `ms` is the event's time (a `performance.now()`). It must not throw.
 */
export interface RecordListener {
  /** A task was created; `traceparent`: the W3C trace context recorded with it, if any. */
  taskCreated(task: TaskState, type: string, traceparent: string | null, ms: number): void;
  taskEnded(task: TaskState, ms: number): void;
  regionStarted(region: RegionState, ms: number): void;
  regionEnded(region: RegionState, ms: number): void;
  /** `withRegion`'s function threw (or its promise rejected): the region ends right after. */
  regionFailed(region: RegionState, error: unknown): void;
  /** A log of `task` (null: the background task). */
  logged(task: TaskState | null, category: string, message: string, ms: number): void;
}

/**
 * Slot layout of the hot buffer: [ts (performance.now ms), type, flow, task, a, b] + strs[] + msgs[].
 * A RegionEnd's `a`, and a Misuse's msg, is the region's `seq` (consumers that joined after it began
 * leave its end, and misuse of it, out).
 */
const STRIDE = 6;
const SLOTS = 8192;
/** Cut a batch once it holds this many bytes. */
const BATCH_BYTES = 64 * 1024;

export interface TracerState {
  enabled: boolean;
  /**
   * Bumped when tracing turns on (a start() or a flight recorder's start while nothing runs): regions
   * and flows of an earlier session are ignored.
   */
  generation: number;
  /** The last task id this thread handed out; ids up to `taskBlockEnd` are this thread's to hand out. */
  lastTaskId: number;
  taskBlockEnd: number;
  /** The same for flow ids (of the current session). */
  lastFlowId: number;
  flowBlockEnd: number;
  /** The id counters all threads of the process share (see shared-ids.ts). */
  readonly ids: BigInt64Array;
  /** `threadId` of the thread that made `ids`: 0 when they are the main thread's. */
  readonly idsOwner: number;
  /** Workers counted into each trace (shared-ids.ts JOIN_SLOTS), in the same shared buffer. */
  joins: Int32Array;
  /**
   * Flow ids of this session are this thread's own, from 1 (a worker thread's own `start()`), not taken
   * from the shared counter (the main thread's sessions and a worker's part of them).
   */
  localFlowIds: boolean;
  rootFlow: Flow;
  /** The scopes' storage while tracing is on ({@link storage}), else null. */
  als: AsyncLocalStorage<Scope> | null;
  /**
   * The one AsyncLocalStorage of the process, made at the first session and used by every later one.
   * On Node 24 each instance is a key in every context frame made while it is in use, and frames keep
   * their keys: an instance per session would grow the frames of a long-lived async loop by one key
   * per session, and every scope change there copies them all.
   */
  storage: AsyncLocalStorage<Scope> | null;
  /**
   * The innermost region of bracketed synchronous code (a compiled sync function, a generator's
   * resumption) on the JavaScript stack right now: set on entry, put back on exit, never seen by a
   * continuation, so it costs no scope change.
   */
  syncTop: RegionState | null;
  /** Regions started in this session: each region's `seq`. */
  lastRegionSeq: number;
  captureLocations: boolean;
  /** Locations by id; id 0 = unknown. Registered once, referenced from slots by id. */
  locations: (SourceLocation | null)[];
  locationIds: Map<string, number>;

  // Hot buffer: typed-array stores only; everything else happens at flush.
  slots: Float64Array;
  strs: unknown[];
  msgs: unknown[];
  count: number;

  // Session: tracing is on while either consumer runs.
  /** The trace `start()` writes, or null. */
  trace: TraceOutput | null;
  /** The flight recorder's ring, or null. */
  flight: Consumer | null;
  /**
   * On the main thread: the worker threads' part of each destination running — the trace `start()`
   * writes, the flight recorder's ring — one collector each (thread-collector.ts).
   */
  threads: ThreadCollector[];
  /** On a worker thread: what goes to each of the main thread's traces it joined (thread-join.ts), one encoding each. */
  joined: (Consumer & { readonly session: TraceSession })[];
  /** On a worker thread: whether the runtime listens for the main thread's traces (once per thread). */
  threadJoined: boolean;
  /** On a worker thread that listens: joins the main thread's trace `session` now (thread-join.ts), if it is new. */
  joinTrace: ((session: TraceSession) => void) | null;
  /** Bumped at every start(): names the running trace (see api.ts `runningTrace`). */
  traceNumber: number;
  /** Stops the GC observer and the sampling/flush timer of the running session. */
  stopExecutionEvents: (() => void) | null;
  /** The running trace's `process.on('exit')` handler. */
  exitHandler: (() => void) | null;
  /** Told of what is recorded (tstrace/otel's bridge); null: nobody, and nothing is called. */
  listener: RecordListener | null;
  /**
   * Asked at the creation of a task without a parent task for the W3C `traceparent` of the current
   * context, recorded with the task (tstrace/otel's `enableOtelContext`); null: never asked.
   */
  traceContext: (() => string | null) | null;
}

// One tracer per process, even when both the ESM and the CommonJS copy of this package are loaded (the
// key's version changes with the state's shape: v3, lanes whose fork is recorded with their first region).
const KEY = Symbol.for('tstrace.tracer.v3');
type GlobalWithTracer = typeof globalThis & { [KEY]?: TracerState };

export const S: TracerState = ((globalThis as GlobalWithTracer)[KEY] ??= {
  enabled: false,
  generation: 0,
  lastTaskId: 0,
  taskBlockEnd: 0,
  lastFlowId: 1,
  flowBlockEnd: 1,
  // Made once per process and thread, with the state (a second copy of the package finds them here).
  ...(({ counters, joins, owner }) => ({ ids: counters, joins, idsOwner: owner }))(sharedIdCounters()),
  localFlowIds: false,
  rootFlow: newFlow(1),
  als: null,
  storage: null,
  syncTop: null,
  lastRegionSeq: 0,
  captureLocations: false,
  locations: [null],
  locationIds: new Map(),
  slots: new Float64Array(SLOTS * STRIDE),
  strs: new Array<unknown>(SLOTS).fill(undefined),
  msgs: new Array<unknown>(SLOTS).fill(undefined),
  count: 0,
  trace: null,
  flight: null,
  threads: [],
  joined: [],
  threadJoined: false,
  joinTrace: null,
  traceNumber: 0,
  stopExecutionEvents: null,
  exitHandler: null,
  listener: null,
  traceContext: null,
});
// A copy of an older version may have made the state: the fields it lacks are "none".
S.listener ??= null;
S.storage ??= null;
S.traceContext ??= null;
S.threads ??= [];
S.joined ??= [];
S.joins ??= new Int32Array(JOIN_SLOTS);

export const now = (): number => performance.now();

/** A new task id, unique among all threads of the process (ids are taken in blocks from a shared counter). */
export function nextTaskId(): number {
  if (S.lastTaskId === S.taskBlockEnd) {
    S.lastTaskId = takeIdBlock(S.ids, TASK_COUNTER);
    S.taskBlockEnd = S.lastTaskId + ID_BLOCK;
  }
  return ++S.lastTaskId;
}

/** A new flow id, unique among all threads of the process within a session of the main thread (or this thread's own, see `localFlowIds`). */
export function nextFlowId(): number {
  if (S.localFlowIds) return ++S.lastFlowId;
  if (S.lastFlowId === S.flowBlockEnd) {
    S.lastFlowId = takeIdBlock(S.ids, FLOW_COUNTER);
    S.flowBlockEnd = S.lastFlowId + ID_BLOCK;
  }
  return ++S.lastFlowId;
}

/** Records one event into the hot buffer. The only work on the hot path: a clock read and stores. */
export function record(type: number, flow: number, task: number, a: number, b: number, str: string | undefined, msg?: string | number): void {
  let n = S.count;
  if (n === SLOTS) {
    flush();
    n = 0;
  }
  const i = n * STRIDE;
  const s = S.slots;
  s[i] = performance.now();
  s[i + 1] = type;
  s[i + 2] = flow;
  s[i + 3] = task;
  s[i + 4] = a;
  s[i + 5] = b;
  S.strs[n] = str;
  if (msg !== undefined) S.msgs[n] = msg;
  S.count = n + 1;
}

/**
 * {@link record} with a time the caller read (`ms`, a `performance.now()`), saving a clock read; never
 * earlier than the event before it in the hot buffer (times must not decrease within a batch). With
 * `ms` undefined, this is `record`.
 */
export function recordAt(ms: number | undefined, type: number, flow: number, task: number, a: number, b: number, str: string | WaitedOn | undefined, msg?: string | number): void {
  let n = S.count;
  if (n === SLOTS) {
    flush();
    n = 0;
  }
  const i = n * STRIDE;
  const s = S.slots;
  s[i] = ms === undefined ? performance.now() : n > 0 && s[i - STRIDE] > ms ? s[i - STRIDE] : ms;
  s[i + 1] = type;
  s[i + 2] = flow;
  s[i + 3] = task;
  s[i + 4] = a;
  s[i + 5] = b;
  S.strs[n] = str;
  if (msg !== undefined) S.msgs[n] = msg;
  S.count = n + 1;
}

/** The time (a `performance.now()`) of the event {@link record} recorded last. */
export function lastRecordTime(): number {
  return S.slots[(S.count - 1) * STRIDE];
}

export function registerLocation(file: string, line: number, column: number, fn: string): number {
  const key = `${file}\0${line}\0${column}\0${fn}`;
  let id = S.locationIds.get(key);
  if (id === undefined) {
    id = S.locations.length;
    S.locations.push(Object.freeze({ file, line, column, function: fn }));
    S.locationIds.set(key, id);
  }
  return id;
}

/** Nanoseconds from a consumer's time 0 (`t0`, a `performance.now()`) to `ms`; never negative. */
const toNs = (ms: number, t0: number): number => {
  const ns = Math.round((ms - t0) * 1e6);
  return ns > 0 ? ns : 0;
};

/** Names and messages as strings, whatever a JavaScript caller passed: encoding must not throw. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  try {
    return String(value);
  } catch {
    return '<unprintable>';
  }
}

/**
 * One destination of the hot buffer's events, with an encoder (string table) and a clock origin of
 * its own: the trace `start()` writes, and the flight recorder's ring. While both run, each flush is
 * encoded once for each.
 */
export abstract class Consumer {
  readonly encoder: BatchEncoder;
  /** Events handed to this consumer (encoded or dropped). */
  recorded = 0;
  dropped = 0;
  /** Dropped since the last Dropped event written. */
  droppedUnreported = 0;
  /** Where this consumer's batches are copied: recycled buffers when its sink gives them back (batch-pool.ts), else fresh ones of their size. */
  allocate: ((length: number) => Uint8Array) | undefined = undefined;

  constructor(
    /** `performance.now()` at this consumer's time 0. */
    readonly t0: number,
    /**
     * The last region sequence number (`RegionState.seq`) taken before this consumer joined: regions up
     * to it began before its trace did, so their ends are not recorded in it (Go's "pre-existing region").
     */
    readonly firstSeq: number,
    /** 0 on the main thread; a worker's `threadId` (its batches are ThreadEvents frames). */
    thread = 0,
  ) {
    this.encoder = new BatchEncoder(thread);
  }

  /** Whether to encode this flush's events; false drops them (counted). */
  abstract accepts(): boolean;

  /** Takes one encoded batch of (about) `events` events, the first at `baseTs` (ns of this consumer). */
  abstract take(batch: Uint8Array, baseTs: number, events: number): void;

  /** This consumer's time of `ms` (a `performance.now()`). */
  ns(ms: number): number {
    return toNs(ms, this.t0);
  }
}

/** The trace `start()` writes: a sink, whose slowness or failure drops events rather than memory. */
export class TraceOutput extends Consumer {
  constructor(
    t0: number,
    firstSeq: number,
    readonly sink: Sink,
    private readonly maxBufferedBytes: number,
    /** Names this trace among the process's traces and flight recorders' sessions (`S.traceNumber`). */
    readonly number = 0,
  ) {
    super(t0, firstSeq);
    if (sink.releasesBatches === true) this.allocate = acquireBatch;
  }

  accepts(): boolean {
    return this.sink.error === null && this.sink.queuedBytes <= this.maxBufferedBytes;
  }

  take(batch: Uint8Array): void {
    this.sink.write(batch);
  }

  /** A worker thread joined (thread-collector.ts): its Thread frame, always written so that the thread's later batches read. */
  threadJoined(id: number, name: string, ts: number): void {
    this.sink.write(encodeThreadFrame(id, name, ts));
  }

  /**
   * A worker thread's ThreadEvents batch of `events` events (thread-collector.ts), dropped like the
   * main thread's when the sink is failing or full.
   */
  takeFromThread(frame: Uint8Array, events: number): void {
    this.recorded += events;
    if (!this.accepts()) {
      this.dropped += events;
      this.droppedUnreported += events;
      return;
    }
    this.sink.write(frame);
  }

  /** A worker thread's events that it dropped itself (its Dropped events are in its batches). */
  droppedByThread(count: number): void {
    this.recorded += count;
    this.dropped += count;
  }

  /** A worker thread left the trace: its Thread frame stays (it was written when it joined). */
  threadLeft(): void {}

  /** Flushes the hot buffer and queues the footer: after this the sink holds the whole trace. */
  finish(): void {
    flush();
    const sink = this.sink;
    const end = this.ns(now());
    if (this.droppedUnreported > 0 && sink.error === null) {
      this.encoder.begin(end);
      this.encoder.dropped(end, this.droppedUnreported);
      this.droppedUnreported = 0;
      sink.write(this.encoder.finish());
    }
    sink.write(encodeFooter({ events: this.recorded, dropped: this.dropped, endTs: end }));
  }
}

/** Encodes the hot buffer into batches for each consumer (or drops it for one that is failing or full). */
export function flush(): void {
  const count = S.count;
  if (count === 0) return;
  S.count = 0;
  const trace = S.trace;
  const flight = S.flight;
  const joined = S.joined;
  if (trace !== null) encodeFor(trace, count);
  if (flight !== null) encodeFor(flight, count);
  for (let i = 0; i < joined.length; i++) encodeFor(joined[i], count);
  release(S.strs, count);
  release(S.msgs, count);
}

/** Lets go of the names and messages the first `count` slots held: a loop, as `fill` is a slow runtime call per element here. */
function release(values: unknown[], count: number): void {
  for (let i = 0; i < count; i++) values[i] = undefined;
}

function encodeFor(consumer: Consumer, count: number): void {
  consumer.recorded += count;
  if (!consumer.accepts()) {
    consumer.dropped += count;
    consumer.droppedUnreported += count;
    return;
  }
  const encoder = consumer.encoder;
  const t0 = consumer.t0;
  let ts = toNs(S.slots[0], t0);
  encoder.begin(ts);
  if (consumer.droppedUnreported > 0) {
    encoder.dropped(ts, consumer.droppedUnreported);
    consumer.droppedUnreported = 0;
  }
  let n = 0;
  for (;;) {
    const from = n;
    n = encodeSlots(encoder, t0, consumer.firstSeq, n, count);
    consumer.take(encoder.finish(consumer.allocate), ts, n - from);
    if (n === count) return;
    // The batch is full: the next one starts at the time of the last event encoded.
    ts = toNs(S.slots[(n - 1) * STRIDE], t0);
    encoder.begin(ts);
  }
}

/**
 * Encodes slots `from`… of the hot buffer until `count`, or until the batch holds BATCH_BYTES; returns
 * the index of the first slot not encoded. Ends of regions up to `firstSeq` (begun before this
 * consumer's trace) are left out. The loop is a function of its own, left only by `return`: V8
 * compiles it on-stack while the first flush runs, and code after a loop that had never run by then
 * would be thrown away at the end of every later flush.
 */
function encodeSlots(encoder: BatchEncoder, t0: number, firstSeq: number, from: number, count: number): number {
  for (let n = from; n < count; n++) {
    // Most events of a busy trace: region starts and ends with the name (and location) encoded last.
    n = encoder.regionRun(S.slots, STRIDE, S.strs, S.locations, t0, firstSeq, n, count, BATCH_BYTES);
    if (n === count || encoder.pendingBytes >= BATCH_BYTES) return n;
    encodeEvent(encoder, t0, firstSeq, n);
    if (encoder.pendingBytes >= BATCH_BYTES) return n + 1;
  }
  return count;
}

/** Encodes slot `n` of the hot buffer, whatever its event (see encodeSlots). */
function encodeEvent(encoder: BatchEncoder, t0: number, firstSeq: number, n: number): void {
  const s = S.slots;
  const strs = S.strs;
  const locations = S.locations;
  const i = n * STRIDE;
  const ts = toNs(s[i], t0);
  const type = s[i + 1];
  const flow = s[i + 2];
  const task = s[i + 3];
  const a = s[i + 4];
  const b = s[i + 5];
  const str = type === EventType.Run ? '' : text(strs[n]);
  switch (type) {
    case EventType.RegionStart:
      encoder.regionStart(ts, flow, task, str, locations[a] ?? null);
      break;
    case EventType.RegionEnd:
      if (a <= firstSeq) return;
      encoder.regionEnd(ts, flow, str);
      break;
    case EventType.TaskCreate:
      encoder.taskCreate(ts, flow, a, task, str, locations[b] ?? null);
      break;
    case EventType.TaskEnd:
      encoder.taskEnd(ts, flow, task, locations[b] ?? null);
      break;
    case EventType.Log:
      encoder.log(ts, flow, task, str, text(S.msgs[n]), locations[b] ?? null);
      break;
    case EventType.ForkedRegionStart:
      // b: the lane it was forked from; msg: regionsAbove.
      encoder.forkedRegionStart(ts, flow, task, str, locations[a] ?? null, b, S.msgs[n] as number);
      break;
    case EventType.GC:
      encoder.gc(ts, Math.round(a * 1e6), Math.round(b * 1e6), task);
      break;
    case EventType.Heap:
      encoder.heap(ts, a);
      break;
    case EventType.EventLoop:
      encoder.eventLoop(ts, a, Math.round(b * 1e6));
      break;
    case EventType.Run: {
      // a: its start, b: its duration (ms); str: the resource type, or a WaitedOn with its site; msg: ms it was ready before its start + 1, 0 unknown.
      const startedBefore = ts - toNs(a, t0);
      const ready = S.msgs[n] as number;
      const waited = strs[n] as string | WaitedOn;
      const sited = typeof waited === 'object';
      const site = sited ? waited.site : 0;
      encoder.run(ts, flow, task, startedBefore, Math.min(startedBefore, Math.round(b * 1e6)), ready > 0 ? Math.round((ready - 1) * 1e6) + 1 : 0, sited ? waited.type : text(waited), locations[site >>> 1] ?? null, (site & 1) === 1);
      break;
    }
    case EventType.Misuse:
      if ((S.msgs[n] as number) <= firstSeq) return;
      encoder.misuse(ts, flow, a, str, locations[b] ?? null, task);
      break;
  }
}
