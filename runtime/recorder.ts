import type { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { BatchEncoder, encodeFooter } from '../format/encode.js';
import type { SourceLocation } from '../format/events.js';
import { EventType } from '../format/spec.js';
import type { Sink } from './sink.js';

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
}

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
  readonly ctx: unknown;
  /** The lane events of this chain go to while it has no open region. */
  readonly flow: Flow;
  /** The innermost region this chain opened (it may have ended since: ended regions are skipped). */
  readonly top: RegionState | null;
}

/** Slot layout of the hot buffer: [ts (performance.now ms), type, flow, task, a, b] + strs[] + msgs[]. */
const STRIDE = 6;
const SLOTS = 8192;
/** Cut a batch once it holds this many bytes. */
const BATCH_BYTES = 64 * 1024;

export interface TracerState {
  enabled: boolean;
  /** Bumped at every start(): regions and flows of an earlier trace are ignored. */
  generation: number;
  lastTaskId: number;
  lastFlowId: number;
  rootFlow: Flow;
  als: AsyncLocalStorage<Scope> | null;
  /**
   * The innermost region of bracketed synchronous code (a compiled sync function, a generator's
   * resumption) on the JavaScript stack right now: set on entry, put back on exit, never seen by a
   * continuation, so it costs no scope change.
   */
  syncTop: RegionState | null;
  /** Regions started in this trace: each region's `seq`. */
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

  // Session.
  t0: number;
  encoder: BatchEncoder | null;
  sink: Sink | null;
  maxBufferedBytes: number;
  recorded: number;
  dropped: number;
  droppedUnreported: number;
  /** Stops the GC observer and the sampling/flush timer of the running trace. */
  stopExecutionEvents: (() => void) | null;
  /** The running trace's `process.on('exit')` handler. */
  exitHandler: (() => void) | null;
}

// One tracer per process, even when both the ESM and the CommonJS copy of this package are loaded.
const KEY = Symbol.for('tstrace.tracer.v1');
type GlobalWithTracer = typeof globalThis & { [KEY]?: TracerState };

export const S: TracerState = ((globalThis as GlobalWithTracer)[KEY] ??= {
  enabled: false,
  generation: 0,
  lastTaskId: 0,
  lastFlowId: 1,
  rootFlow: { id: 1, top: null, base: null },
  als: null,
  syncTop: null,
  lastRegionSeq: 0,
  captureLocations: false,
  locations: [null],
  locationIds: new Map(),
  slots: new Float64Array(SLOTS * STRIDE),
  strs: new Array<unknown>(SLOTS).fill(undefined),
  msgs: new Array<unknown>(SLOTS).fill(undefined),
  count: 0,
  t0: 0,
  encoder: null,
  sink: null,
  maxBufferedBytes: 0,
  recorded: 0,
  dropped: 0,
  droppedUnreported: 0,
  stopExecutionEvents: null,
  exitHandler: null,
});

export const now = (): number => performance.now();

/** Records one event into the hot buffer. The only work on the hot path: a clock read and stores. */
export function record(type: number, flow: number, task: number, a: number, b: number, str: string | undefined, msg?: string): void {
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

const toNs = (ms: number): number => {
  const ns = Math.round((ms - S.t0) * 1e6);
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

/** Encodes the hot buffer into batches for the sink, or drops it when the sink is failing or full. */
export function flush(): void {
  const count = S.count;
  if (count === 0) return;
  S.count = 0;
  S.recorded += count;
  const encoder = S.encoder;
  const sink = S.sink;
  if (!encoder || !sink || sink.error || sink.queuedBytes > S.maxBufferedBytes) {
    S.dropped += count;
    S.droppedUnreported += count;
    S.strs.fill(undefined, 0, count);
    S.msgs.fill(undefined, 0, count);
    return;
  }
  const ts = toNs(S.slots[0]);
  encoder.begin(ts);
  if (S.droppedUnreported > 0) {
    encoder.dropped(ts, S.droppedUnreported);
    S.droppedUnreported = 0;
  }
  let n = 0;
  for (;;) {
    n = encodeSlots(encoder, n, count);
    sink.write(encoder.finish());
    if (n === count) return;
    // The batch is full: the next one starts at the time of the last event encoded.
    encoder.begin(toNs(S.slots[(n - 1) * STRIDE]));
  }
}

/**
 * Encodes slots `from`… of the hot buffer (clearing their strings) until `count`, or until the batch
 * holds BATCH_BYTES; returns the index of the first slot not encoded. The loop is a function of its
 * own, left only by `return`: V8 compiles it on-stack while the first flush runs, and code after a
 * loop that had never run by then would be thrown away at the end of every later flush.
 */
function encodeSlots(encoder: BatchEncoder, from: number, count: number): number {
  const s = S.slots;
  const strs = S.strs;
  const locations = S.locations;
  for (let n = from; n < count; n++) {
    const i = n * STRIDE;
    const ts = toNs(s[i]);
    const type = s[i + 1];
    const flow = s[i + 2];
    const task = s[i + 3];
    const a = s[i + 4];
    const b = s[i + 5];
    // Most events of a busy trace: a region start without a location, or an end, with the last name.
    if (
      (type === EventType.RegionEnd || (type === EventType.RegionStart && a === 0)) &&
      encoder.regionNamedAsLast(type, ts, flow, task, strs[n])
    ) {
      strs[n] = undefined;
      if (encoder.pendingBytes >= BATCH_BYTES) return n + 1;
      continue;
    }
    const str = text(strs[n]);
    strs[n] = undefined;
    switch (type) {
      case EventType.RegionStart:
        encoder.regionStart(ts, flow, task, str, locations[a] ?? null);
        break;
      case EventType.RegionEnd:
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
        S.msgs[n] = undefined;
        break;
      case EventType.FlowStart:
        encoder.flowStart(ts, flow, a, b);
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
      case EventType.Misuse:
        encoder.misuse(ts, flow, a, str, locations[b] ?? null, task);
        break;
    }
    if (encoder.pendingBytes >= BATCH_BYTES) return n + 1;
  }
  return count;
}

/** Flushes and queues the footer: after this the sink holds the whole trace. */
export function flushWithFooter(): void {
  flush();
  if (S.sink && S.encoder) {
    if (S.droppedUnreported > 0 && !S.sink.error) {
      S.encoder.begin(toNs(now()));
      S.encoder.dropped(toNs(now()), S.droppedUnreported);
      S.droppedUnreported = 0;
      S.sink.write(S.encoder.finish());
    }
    S.sink.write(encodeFooter({ events: S.recorded, dropped: S.dropped, endTs: toNs(now()) }));
  }
}
