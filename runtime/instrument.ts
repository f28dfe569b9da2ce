/**
 * The calls that instrumented code makes (`tstrace/instrument`): emitted by the tstrace transformer
 * and used by the `@traced` runtime decorator. Not meant to be written by hand; the contract is the
 * one of `withRegion`, with the source location known in advance and no closure per call.
 *
 * Shapes:
 * - plain sync function: `const r = enter(site, ctx); try { body } finally { exit(r) }`
 * - everything else gets a Frame: `const f = call(site, ctx, kind); try { body } finally { finish(f) }`
 *   with `awaited(f, await awaiting(f, x))` for each await, `yielded(f, yield yielding(f, x))` for each
 *   yield (`(yield yielding(f, x), resumed(f))` where its value is unused), `return returning(f, x)` in
 *   async functions, `for await (… of awaitingEach(f, x))` with `resumed(f)` at the top of its body and
 *   after it, and `resumed(f)` at the top of catch clauses.
 *
 * Each of these is a guard small enough for V8 to inline into the instrumented function, with the
 * tracing-on work in a function of its own (`…On`): tracing off costs a comparison, even in a process
 * where tracing was on and V8 has seen the on path (`npm run bench`, "disabled instrumented call").
 */
import { inspect } from 'node:util';
import { EventType } from '../format/spec.js';
import { background, beginRegion, currentFlow, endRegion, noopRegion as sharedNoopRegion, taskCreated, taskIdOf, Task, type Context, type Region } from './api.js';
import { currentLane, currentScope, laneFor, newScope, parentFor } from './chains.js';
import { S as recorderState, lastRecordTime, nextTaskId, now, record, recordAt, registerLocation, type Flow, type Scope } from './recorder.js';

// Local consts, not the imported bindings: V8 reads those from their module cells at every use (see
// api.ts); the guards below then cost a comparison each.
const S = recorderState;
const noopRegion = sharedNoopRegion;

/** A traced function: its region (or task) type and where it is in the source. Made once per function. */
export interface Site {
  readonly type: string;
  readonly location: number;
  /** Each call is a task (callees see its context), not only a region. */
  readonly task: boolean;
}

export function site(type: string, file: string, line: number, column: number, fn: string, task = false): Site {
  return { type, location: registerLocation(file, line, column, fn), task };
}

/** A plain sync call: a region inside the caller's innermost one, open while the call is on the stack. */
export function enter(site: Site, ctx?: Context): Region {
  // `site` is undefined only if a hoisted function runs before its module did (circular imports).
  return S.enabled && site !== undefined ? enterOn(site, ctx) : noopRegion;
}

function enterOn(site: Site, ctx: Context | undefined): Region {
  const scope = currentScope();
  // The scope's context is current()'s: one store lookup for both.
  const context = ctx ?? (scope?.ctx as Context | undefined) ?? background;
  const parent = parentFor(scope, context.task);
  const region = beginRegion(context, site.type, site.location, laneFor(scope, parent, false), parent);
  // Bracketed by try/finally: callees see it without a scope change (no continuation runs meanwhile).
  region.syncPrev = S.syncTop;
  S.syncTop = region;
  return region;
}

export function exit(region: Region): void {
  if (region !== noopRegion) exitOn(region);
}

function exitOn(region: Region): void {
  if (S.syncTop === region) S.syncTop = region.syncPrev;
  if (!region.ended) endRegion(region, false);
}

/**
 * What a traced call (or statement) is. `AsyncBlock`: a statement of an async function (or a module's
 * top level) marked as a region that holds an `await` — it suspends and resumes like an async call,
 * but on its own chain's lane, and gives that chain its scope back when it ends.
 */
export const FrameKind = { Sync: 0, Async: 1, Generator: 2, AsyncGenerator: 3, AsyncBlock: 4 } as const;
type Kind = (typeof FrameKind)[keyof typeof FrameKind];

/** The state of one traced call that can suspend (async, generators) or that is a task. */
export interface Frame {
  readonly site: Site;
  readonly kind: Kind;
  readonly generation: number;
  /** The context callees see: the caller's, or the new task's. */
  readonly ctx: Context;
  readonly task: Task | null;
  /** Async kinds: the lane of their own (an async generator's resumptions go back to it). */
  readonly lane: Flow | null;
  /** The scope the body runs in, and the caller's scope to put back when it suspends or returns. */
  scope: Scope | null;
  /** Whoever resumed the call last: a generator may be resumed from another flow each time. */
  caller: Scope | undefined;
  /** The open region occurrence (generators have one per resumption). */
  region: Region | null;
  /** `return` handed back a promise: the region ends when it settles, not in `finally`. */
  settling: boolean;
  /**
   * An async function resumed from an `await`: its body now runs in a microtask of its own, with no
   * caller on the stack to give a scope back to when it suspends or returns.
   */
  continued: boolean;
}

const NOOP: Frame = Object.freeze({
  site: { type: '', location: 0, task: false },
  kind: FrameKind.Sync,
  generation: -1,
  ctx: background,
  task: null,
  lane: null,
  scope: null,
  caller: undefined,
  region: null,
  settling: false,
  continued: false,
});

const live = (f: Frame): boolean => f.generation === S.generation && S.enabled;

/** Starts a traced call of the given kind; `ctx` is the function's Context parameter, if it has one. */
export function call(site: Site, ctx: Context | undefined, kind: Kind): Frame {
  return S.enabled && site !== undefined ? callOn(site, ctx, kind) : NOOP;
}

function callOn(site: Site, ctx: Context | undefined, kind: Kind): Frame {
  const als = S.als!;
  const caller = currentScope();
  // One time for the task, the lane and the region this call starts (a clock read costs ~45 ns).
  const ms = now();
  let context = ctx ?? (caller?.ctx as Context | undefined) ?? background;
  let task: Task | null = null;
  if (site.task) {
    task = new Task(nextTaskId(), site.type, context.task ?? null);
    recordAt(ms, EventType.TaskCreate, currentLane(caller).id, taskIdOf(context), task.id, site.location, site.type);
    if (S.listener !== null || S.traceContext !== null) taskCreated(task, null);
    context = { task };
  }
  // An async call runs concurrently with its caller: a lane of its own (the goroutine of `go f()`).
  const async = kind === FrameKind.Async || kind === FrameKind.AsyncGenerator;
  const parent = parentFor(caller, context.task);
  const region = beginRegion(context, site.type, site.location, laneFor(caller, parent, async), parent, ms);
  // Async kinds and tasks get a scope of their own (continuations and callees see the region and the
  // task); a sync generator's resumption is bracketed on the stack like a sync call.
  const scope: Scope | null = async || task || kind === FrameKind.AsyncBlock ? newScope(context, region.flow, region) : null;
  const frame: Frame = { site, kind, generation: S.generation, ctx: context, task, lane: async ? region.flow : null, scope, caller, region, settling: false, continued: false };
  if (scope) als.enterWith(scope);
  else bracket(region);
  return frame;
}

/** A region open while bracketed sync code runs: callees see it through `S.syncTop`. */
function bracket(region: Region): void {
  region.syncPrev = S.syncTop;
  S.syncTop = region;
}

function closeRegion(f: Frame, ms?: number): void {
  const region = f.region;
  f.region = null;
  if (region === null) return;
  if (S.syncTop === region) S.syncTop = region.syncPrev;
  if (!region.ended) endRegion(region, false, ms);
}

/** Ends the call's region and then its task, if it is one, at one time. */
function closeCall(f: Frame): void {
  const task = f.task;
  if (task === null) return closeRegion(f);
  const ms = now();
  closeRegion(f, ms);
  task.endAt(f.site.location, ms);
}

function restoreCaller(f: Frame): void {
  if (f.scope) S.als?.enterWith(f.caller as Scope);
}

/** Before an `await` suspends the call: the body's scope is kept for later, the caller gets its own back. */
export function awaiting<T>(f: Frame, value: T): T {
  if (f !== NOOP) awaitingOn(f);
  return value;
}

function awaitingOn(f: Frame): void {
  if (!live(f)) return;
  // Regions the body started by hand since (startRegion) are in the current scope: resume with them.
  if (f.scope) f.scope = currentScope() ?? f.scope;
  // In a continuation the await's own microtask ends here: the body's scope is what resumes it.
  if (!f.continued) restoreCaller(f);
}

/** After an `await` resumed the call: back in the call's scope. */
export function awaited<T>(f: Frame, value: T): T {
  if (f !== NOOP) awaitedOn(f);
  return value;
}

function awaitedOn(f: Frame): void {
  if (!live(f)) return;
  // Resumed in a continuation, the await kept the body's scope (see awaiting): entering it again would
  // only copy the context (Node 24: a new AsyncContextFrame).
  const kept = f.continued;
  if (f.kind === FrameKind.Async || f.kind === FrameKind.AsyncBlock) f.continued = true;
  if (f.scope && !kept) S.als!.enterWith(f.scope);
}

/**
 * The iterable of a `for await` loop: each implicit await of the loop on `next()` first gives the
 * caller its scope back, as `awaiting` does for a written `await`; the loop body and the code after the
 * loop call `resumed`. (Not on `return()`, when the loop is left early: the loop may be left for any
 * enclosing statement, where nothing re-enters the function's scope.) Only the iterator's own method
 * calls are wrapped, so the loop awaits the very same values, in the same ticks; a sync iterable (of
 * promises, say) stays sync, for the language to convert as it would have.
 */
export function awaitingEach<T>(f: Frame, iterable: AsyncIterable<T> | Iterable<T>): AsyncIterable<T> | Iterable<T> {
  if (f === NOOP || !live(f) || iterable === null || iterable === undefined) return iterable;
  const asyncMethod = (iterable as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator];
  if (asyncMethod !== undefined && asyncMethod !== null) {
    if (typeof asyncMethod !== 'function') return iterable;
    return { [Symbol.asyncIterator]: () => handingBack(f, asyncMethod.call(iterable)) };
  }
  const syncMethod = (iterable as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (typeof syncMethod !== 'function') return iterable;
  return { [Symbol.iterator]: () => handingBack(f, syncMethod.call(iterable)) };
}

/** `iterator`, with each `next()` giving the caller its scope back once it has returned. */
function handingBack<I>(f: Frame, iterator: I): I {
  if (iterator === null || (typeof iterator !== 'object' && typeof iterator !== 'function')) return iterator;
  const it = iterator as unknown as { next: () => unknown; return?: (() => unknown) | null };
  // Read once, as the loop itself reads `next` once.
  const next = it.next;
  return {
    next: () => {
      const result = next.call(it);
      awaiting(f, undefined);
      return result;
    },
    // Looked up when the loop is left early, and may be missing: the iterator's own.
    get return() {
      const close = it.return;
      return typeof close === 'function' ? () => close.call(it) : close;
    },
  } as I;
}

/** Before a `yield`: this resumption's region ends, the consumer gets its scope back. */
export function yielding<T>(f: Frame, value: T): T {
  if (f !== NOOP) yieldingOn(f);
  return value;
}

function yieldingOn(f: Frame): void {
  if (!live(f)) return;
  closeRegion(f);
  restoreCaller(f);
}

/** After a `yield` resumed the generator: a new region occurrence, on the flow that resumed it. */
export function yielded<T>(f: Frame, value: T): T {
  resumed(f);
  return value;
}

/** At the top of a catch clause (a suspension may have ended by a throw): back in the call's state. */
export function resumed(f: Frame): void {
  if (f !== NOOP) resumedOn(f);
}

function resumedOn(f: Frame): void {
  if (!live(f)) return;
  const store = currentScope();
  if (store !== f.scope) f.caller = store;
  if (!f.region) {
    // A generator's new occurrence, inside whatever region its resumer is in.
    const resumer = f.caller;
    const parent = parentFor(resumer, f.ctx.task);
    // An async generator's own lane while it is free and forked under the same region, else a new one.
    const lane = f.lane;
    const flow = lane !== null && lane.top === null && lane.base === parent ? lane : laneFor(resumer, parent, lane !== null);
    const region = beginRegion(f.ctx, f.site.type, f.site.location, flow, parent);
    f.region = region;
    if (f.scope) f.scope = newScope(f.ctx, region.flow, region);
    else bracket(region);
  } else if (f.kind === FrameKind.Generator && f.scope && store !== f.scope) {
    // A sync generator runs in the chain of whoever resumes it; its task's scope follows that chain.
    f.scope = newScope(f.ctx, currentLane(store), f.scope.top);
  }
  if (f.scope) S.als!.enterWith(f.scope);
}

/** `return value` in an async function: a returned promise keeps the region open until it settles. */
export function returning<T>(f: Frame, value: T): T {
  if (f !== NOOP) returningOn(f, value);
  return value;
}

function returningOn(f: Frame, value: unknown): void {
  if (!live(f) || f.kind !== FrameKind.Async) return;
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    let then: unknown;
    try {
      then = (value as { then?: unknown }).then;
    } catch {
      return;
    }
    if (typeof then === 'function') {
      f.settling = true;
      const settle = (): void => settled(f);
      // Only native promises: calling a user's thenable's `then` once more could be observed.
      if (value instanceof Promise) value.then(settle, settle);
      else f.settling = false;
    }
  }
}

function settled(f: Frame): void {
  if (!live(f)) return;
  closeCall(f);
}

/** In the call's `finally`: ends the region (unless a returned promise will), the task, and the scope. */
export function finish(f: Frame): void {
  if (f !== NOOP) finishOn(f);
}

function finishOn(f: Frame): void {
  if (!live(f)) return;
  // A generator closed at a yield by return() or throw(): that resumption is an occurrence too.
  if (f.region === null && (f.kind === FrameKind.Generator || f.kind === FrameKind.AsyncGenerator)) resumedOn(f);
  // A statement's chain goes on after it, in the scope it had before the statement.
  if (!f.continued || f.kind === FrameKind.AsyncBlock) restoreCaller(f);
  if (f.settling) return;
  closeCall(f);
}

/** `@traced({ log: ['a'] })`: a parameter's value as a log of the call's task, category = its name. */
export function param(f: Frame, name: string, value: unknown): void {
  if (f !== NOOP) paramOn(f, name, value);
}

function paramOn(f: Frame, name: string, value: unknown): void {
  if (!live(f)) return;
  const message = formatValue(value);
  // The value as passed, at the time of the call's start, recorded just before (compiled code calls this right after `call`).
  recordAt(S.count > 0 ? lastRecordTime() : now(), EventType.Log, (f.region?.flow ?? currentFlow()).id, taskIdOf(f.ctx), 0, f.site.location, name, message);
  if (S.listener !== null) S.listener.logged(f.ctx.task, name, message, lastRecordTime());
}

/** `@traced({ err: true })`: a thrown error's message as a log in category "error". */
export function thrown(f: Frame, error: unknown): void {
  if (f !== NOOP) thrownOn(f, error);
}

function thrownOn(f: Frame, error: unknown): void {
  if (!live(f)) return;
  let message: string;
  try {
    message = error instanceof Error ? `${String(error.name)}: ${String(error.message)}` : formatValue(error);
  } catch {
    message = '<unprintable error>';
  }
  record(EventType.Log, (f.region?.flow ?? currentFlow()).id, taskIdOf(f.ctx), 0, f.site.location, 'error', message);
  if (S.listener !== null) S.listener.logged(f.ctx.task, 'error', message, lastRecordTime());
}

function formatValue(value: unknown): string {
  try {
    if (typeof value === 'string') return value;
    return inspect(value, { depth: 2, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 1000 });
  } catch {
    return '<unprintable>';
  }
}

/**
 * What the transformer leaves in place of `@traced(...)` once it has instrumented the body: a
 * decorator that does nothing, in either decorator mode — TC39 `(value, context)` and
 * `experimentalDecorators` `(target, key, descriptor)` or `(constructor)` — so that the member keeps
 * a decorator and its `design:*` metadata is emitted exactly as without the transformer.
 */
export function compiled(_target: unknown, _context?: unknown, _descriptor?: unknown): undefined {
  return undefined;
}
