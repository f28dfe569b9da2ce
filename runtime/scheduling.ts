/**
 * Scheduling events (docs/design.md, "Where the time went"): when each flow ran on the thread, what it
 * had waited for, and when that became ready. An `async_hooks` hook, installed only while a session
 * asks for it (`start(…, { scheduling: true })`): off, nothing is installed and nothing is paid.
 *
 * The unit recorded is a *run*: consecutive callbacks of one flow and task with no gap between them
 * (a chain of microtasks after one I/O callback, say) are one Run event, so an await-heavy program
 * records one event per turn of the loop it gets, not one per promise.
 */
import { createHook, executionAsyncResource, type AsyncHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { EventType } from '../format/spec.js';
import { currentLane, currentScope } from './chains.js';
import { S, recordAt } from './recorder.js';
import { creationSite, waitedOn as waitedOnAt, type WaitedOn } from './resource-site.js';

/** Callbacks of the same flow and task less than this many ms apart are one run (the loop's own bookkeeping between them). */
const JOIN_GAP_MS = 0.02;

/** Promises are matched to their resolution through direct-mapped tables indexed by async id (no allocation per promise). */
const TABLE_BITS = 16;
const MASK = (1 << TABLE_BITS) - 1;

/** On a non-promise resource: its type, and when it is (next) ready in `performance.now()` ms (NaN: unknown). */
const TYPE = Symbol('tstrace.resourceType');
const READY = Symbol('tstrace.readyAt');
/** On a non-promise resource created at a known site: its type and site (resource-site.ts). */
const SITE = Symbol('tstrace.site');

interface Marked {
  [TYPE]?: string;
  [READY]?: number;
  [SITE]?: WaitedOn;
  _idleTimeout?: number;
  _repeat?: number | null;
}

/** Types whose callback is ready as soon as it is scheduled (Node runs them at the next chance). */
const READY_AT_INIT = new Set(['Immediate', 'TickObject', 'Microtask']);

interface SchedulingState {
  hook: AsyncHook;
  /** The async id of a promise and the id of the promise whose settlement it waits for, by `id & MASK`. */
  promiseId: Float64Array;
  promiseTrigger: Float64Array;
  /** The async id of a resolved promise and when it was resolved, by `id & MASK`. */
  resolvedId: Float64Array;
  resolvedAt: Float64Array;
  /** Nesting of before/after (a callback run synchronously inside another: an AsyncResource, an emit). */
  depth: number;
  /** The open run: its flow, task, start, readiness (ms before start + 1; 0 unknown) and what it resumed. -1: none. */
  flow: number;
  task: number;
  start: number;
  readyBefore: number;
  waitedOn: string;
  /** What the open run resumed from, with the site it was created at; null when that is unknown. */
  waitedOnSite: WaitedOn | null;
  /** Task ids and regions handed out when the open run began: a run outside any task that then began one is that task's. */
  claimMark: number;
  /** When the outermost callback of the open run returned; -1 while one runs. */
  pausedAt: number;
  /** The runs nested callbacks interrupted (flow, task pairs), to resume after them. */
  outer: number[];
  /** The resource of the outermost callback running (read once, at its before). */
  resource: Marked | null;
  /** The clock as the last before/after read it: a promise's resolution is stamped with it (a clock read costs 100+ ns). */
  lastNow: number;
}

let state: SchedulingState | null = null;

const taskOfScope = (ctx: unknown): number => {
  const task = (ctx as { task?: { id: number } | null } | undefined)?.task;
  return task ? task.id : 0;
};

/** Records the open run as ending at `end`. */
function closeRun(st: SchedulingState, end: number): void {
  if (st.flow < 0) return;
  // a: its start, b: its duration (ms); str: what it resumed (a WaitedOn with a site); msg: ms ready before its start + 1 (0 unknown). Recorded at its end.
  recordAt(end, EventType.Run, st.flow, st.task, st.start, end - st.start, st.waitedOnSite ?? st.waitedOn, st.readyBefore);
  st.flow = -1;
}

function openRun(st: SchedulingState, flow: number, task: number, start: number, readyBefore: number, waitedOn: string): void {
  st.flow = flow;
  st.task = task;
  st.start = start;
  st.readyBefore = readyBefore;
  st.waitedOn = waitedOn;
  // A run that resumed a resource (not one nested in another) is opened right after `before` set st.resource to it.
  st.waitedOnSite = waitedOn === '' ? null : (st.resource?.[SITE] ?? null);
  st.claimMark = S.lastTaskId + S.lastRegionSeq;
}

/**
 * Whether the next callback of the open run's flow and task continues it. A run outside any task (a
 * server's request callbacks, one after the other) is not continued once its code created a task or
 * began a region: the next callback's work is someone else's, and the reader names a run by the first
 * task it began (analysis/time-breakdown.ts).
 */
function continues(st: SchedulingState, flow: number, task: number, now: number, kind: string | null): boolean {
  if (now - st.pausedAt >= JOIN_GAP_MS || !continuesUntimed(st, flow, task)) return false;
  // Outside any task, a callback of another kind (a timer after a socket read) is a run of its own: it
  // is named by what it resumed and where that was created (a background job, say). `kind` null: a promise.
  return task !== 0 || kind === null || kind === st.waitedOn;
}

/** {@link continues}, the gap aside. */
function continuesUntimed(st: SchedulingState, flow: number, task: number): boolean {
  if (flow !== st.flow || task !== st.task) return false;
  return task !== 0 || st.claimMark === S.lastTaskId + S.lastRegionSeq;
}

/** When the resource about to run (of `type`; undefined: a promise) became ready, as ms before `now` + 1; 0 when unknown. */
function readiness(st: SchedulingState, asyncId: number, resource: Marked, type: string | undefined, now: number): number {
  if (type === undefined) {
    // A promise reaction: ready when the promise it waits for was resolved.
    const slot = asyncId & MASK;
    if (st.promiseId[slot] !== asyncId) return 0;
    const trigger = st.promiseTrigger[slot];
    const tslot = trigger & MASK;
    if (st.resolvedId[tslot] !== trigger) return 0;
    return Math.max(0, now - st.resolvedAt[tslot]) + 1;
  }
  const ready = resource[READY];
  if (ready === undefined || Number.isNaN(ready)) return 0;
  return Math.max(0, now - ready) + 1;
}

function makeState(): SchedulingState {
  const size = 1 << TABLE_BITS;
  const st: SchedulingState = {
    hook: null as unknown as AsyncHook, // set right below: the hook's callbacks close over `st`
    promiseId: new Float64Array(size),
    promiseTrigger: new Float64Array(size),
    resolvedId: new Float64Array(size),
    resolvedAt: new Float64Array(size),
    depth: 0,
    flow: -1,
    task: 0,
    start: 0,
    readyBefore: 0,
    waitedOn: '',
    waitedOnSite: null,
    claimMark: 0,
    pausedAt: -1,
    outer: [],
    lastNow: performance.now(),
    resource: null,
  };
  st.hook = createHook({
    init(asyncId, type, triggerAsyncId, resource) {
      if (type === 'PROMISE') {
        const slot = asyncId & MASK;
        st.promiseId[slot] = asyncId;
        st.promiseTrigger[slot] = triggerAsyncId;
        return;
      }
      const marked = resource as Marked;
      try {
        marked[TYPE] = type;
        if (type === 'Timeout') marked[READY] = performance.now() + (marked._idleTimeout ?? 0);
        else if (READY_AT_INIT.has(type)) marked[READY] = st.lastNow; // the last hook's time, as for promises
        const site = creationSite(type);
        if (site !== 0) marked[SITE] = waitedOnAt(type, site);
      } catch {
        // A frozen resource (a user's AsyncResource) stays unmarked: an exception in a hook would end the process.
      }
    },
    promiseResolve(asyncId) {
      // Stamped with the last hook's time, not the clock's: at most the resolving callback's time earlier.
      const slot = asyncId & MASK;
      st.resolvedId[slot] = asyncId;
      st.resolvedAt[slot] = st.lastNow;
    },
    before(asyncId) {
      const scope = currentScope();
      const flow = currentLane(scope).id;
      const task = taskOfScope(scope?.ctx);
      if (st.depth === 0 && st.pausedAt >= 0 && st.promiseId[asyncId & MASK] === asyncId && continuesUntimed(st, flow, task)) {
        // A promise reaction of the run just paused: reactions run right after the callback before them
        // returns (a microtask checkpoint), so the gap is the queue's own and the clock need not be read.
        st.depth = 1;
        st.pausedAt = -1;
        st.resource = null;
        return;
      }
      const now = (st.lastNow = performance.now());
      if (st.depth++ > 0) {
        // A callback run synchronously inside another: not queued; it interrupts the outer run.
        st.outer.push(st.flow, st.task);
        if (flow === st.flow && task === st.task) return;
        closeRun(st, now);
        openRun(st, flow, task, now, 1, '');
        return;
      }
      const resource = executionAsyncResource() as Marked;
      st.resource = resource;
      const type = resource[TYPE];
      const readyBefore = readiness(st, asyncId, resource, type, now);
      const waitedOn = type ?? 'PROMISE';
      if (st.flow >= 0) {
        if (continues(st, flow, task, now, type === undefined ? null : waitedOn)) {
          st.pausedAt = -1;
          return;
        }
        closeRun(st, st.pausedAt >= 0 ? st.pausedAt : now);
      }
      st.pausedAt = -1;
      openRun(st, flow, task, now, readyBefore, waitedOn);
    },
    after() {
      const now = (st.lastNow = performance.now());
      if (st.depth === 0) return; // the hook was enabled inside this callback
      if (--st.depth === 0) {
        st.pausedAt = now;
        const resource = st.resource;
        st.resource = null;
        // An interval is due again one period after this run.
        if (resource !== null && resource[TYPE] === 'Timeout' && resource._repeat) resource[READY] = now + resource._repeat;
        return;
      }
      const task = st.outer.pop()!;
      const flow = st.outer.pop()!;
      if (flow === st.flow && task === st.task) return;
      closeRun(st, now);
      if (flow >= 0) openRun(st, flow, task, now, 1, '');
    },
  });
  return st;
}

/** Installs the hook; returns the function that records the open run and removes it. */
export function startScheduling(): () => void {
  const st = makeState();
  state = st;
  st.hook.enable();
  return () => {
    st.hook.disable();
    if (state === st) state = null;
    closeRun(st, st.pausedAt >= 0 ? st.pausedAt : performance.now());
  };
}

/** Records the open run now (before a trace's last flush: its end would not be in the trace otherwise). */
export function closeOpenRun(): void {
  const st = state;
  if (st === null || st.flow < 0) return;
  const end = st.pausedAt >= 0 ? st.pausedAt : performance.now();
  if (st.depth > 0) {
    // A callback is running (the one that stops the trace): its run so far goes in, the rest starts again now.
    const { flow, task } = st;
    closeRun(st, end);
    openRun(st, flow, task, end, 1, '');
  } else closeRun(st, end);
}

/** Whether the scheduling hook is installed (tests: off must install nothing). */
export function schedulingActive(): boolean {
  return state !== null;
}
