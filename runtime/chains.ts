/**
 * Chains of execution and the lanes their regions go on (docs/design.md, "Flows").
 *
 * A region's parent is the innermost open region of the chain that started it: the scope its
 * continuation was scheduled in (AsyncLocalStorage), or bracketed sync code on the stack right now.
 * Regions are then laid on lanes (the format's flows), each a strict stack: a region goes on its
 * parent's lane when the parent is that lane's innermost open region, and on a new lane forked under
 * the parent otherwise, so concurrent chains never share a stack.
 */
import { executionAsyncId, executionAsyncResource } from 'node:async_hooks';
import { S, newFlow, nextFlowId, type Flow, type RegionState, type Scope, type TaskState } from './recorder.js';

/** The current chain's scope, or undefined outside any (or while tracing is off, or one of an earlier session). */
export function currentScope(): Scope | undefined {
  const scope = S.als?.getStore();
  return scope !== undefined && scope.generation === S.generation ? scope : undefined;
}

/** A scope of this session: what a chain keeps in AsyncLocalStorage (see Scope). */
export function newScope(ctx: unknown, flow: Flow, top: RegionState | null): Scope {
  return { generation: S.generation, ctx, flow, top };
}

/** Async resources whose store `enterForTurn` changed this turn, with the store each had before. */
const enteredResources = new Map<object, unknown>();
/** The async id `enterForTurn` last looked at: the same one again this turn needs no second look. */
let lastLookedAt = -1;

function restoreEnteredResources(): void {
  const key = resourceStoreKey();
  for (const [resource, store] of enteredResources) (resource as Record<symbol, unknown>)[key!] = store;
  enteredResources.clear();
  lastLookedAt = -1;
}

/** Node 20 and 22's AsyncLocalStorage keeps stores on async resources under this key; Node 24's (AsyncContextFrame) has none. */
const resourceStoreKey = (): symbol | undefined => (S.storage as unknown as { kResourceStore?: symbol } | null)?.kResourceStore;

/**
 * Enters `scope` for the rest of the current synchronous run and everything it schedules (`enterWith`,
 * for startRegion). Node 24 ends that with the run. Node 20 and 22 keep it on the async resource that
 * runs the callback, and a resource that runs again — setInterval's timer at its next tick, a socket
 * at its next 'data' event — would start there, inside this run's region: once the run is over (a
 * microtask), such a resource gets back the store it had. Promises' reactions run once: left as they are.
 */
export function enterForTurn(scope: Scope): void {
  const key = resourceStoreKey();
  if (key !== undefined && executionAsyncId() !== lastLookedAt) {
    lastLookedAt = executionAsyncId();
    const resource = executionAsyncResource();
    if (!(resource instanceof Promise) && !enteredResources.has(resource)) {
      if (enteredResources.size === 0) queueMicrotask(restoreEnteredResources);
      enteredResources.set(resource, (resource as Record<symbol, unknown>)[key]);
    }
  }
  S.als!.enterWith(scope);
}

/**
 * The innermost region the current chain opened, ended or not: the later of the scope's and the
 * bracketed sync code's (a scope entered inside sync code is newer, and the other way round).
 */
export function chainTopRaw(scope: Scope | undefined): RegionState | null {
  const fromScope = scope === undefined ? null : scope.top;
  const sync = S.syncTop;
  if (sync === null) return fromScope;
  return fromScope === null || sync.seq > fromScope.seq ? sync : fromScope;
}

/** Two tasks can nest: the same, one inside the other, or either is no task (background). */
function related(a: TaskState | null, b: TaskState | null): boolean {
  if (!a || !b || a === b) return true;
  for (let t = b.parent; t; t = t.parent) if (t === a) return true;
  for (let t = a.parent; t; t = t.parent) if (t === b) return true;
  return false;
}

/**
 * The parent of a region of `task` started now: the current chain's innermost open region — passing
 * over ended ones (a continuation may have been scheduled before they ended) and hand-written regions
 * of unrelated tasks (an uninstrumented async function that calls startRegion leaves that scope to its
 * caller until the caller awaits: a sibling task's region seen that way is not an enclosing one).
 */
export function parentFor(scope: Scope | undefined, task: TaskState | null): RegionState | null {
  let r = chainTopRaw(scope);
  while (r !== null && (r.ended || r.generation !== S.generation || (r.byHand && !related(r.task, task)))) r = r.parent;
  return r;
}

/**
 * The lane a region with `parent` goes on: a new one when `fork` (an async call: a goroutine of its
 * own), else the parent's while the parent is that lane's innermost open region, else a new one.
 */
export function laneFor(scope: Scope | undefined, parent: RegionState | null, fork: boolean): Flow {
  if (parent !== null) return !fork && parent.flow.top === parent ? parent.flow : forkLane(parent.flow, parent);
  const own = scope === undefined ? S.rootFlow : scope.flow;
  if (!fork && own.top === null && own.base === null) return own;
  const root = S.rootFlow;
  return !fork && root.top === null ? root : forkLane(root, null);
}

/**
 * A new lane forked from `from` under `parent` (an open region of `from`, or null for the outermost
 * level), for a region to start on at once: the fork is recorded with that region (beginRegion), and
 * says how many open regions of `from` sit above the parent, so the reader finds the same parent.
 */
export function forkLane(from: Flow, parent: RegionState | null): Flow {
  let above = 0;
  for (let r = from.top; r !== null && r !== parent && r.flow === from; r = r.parent) above++;
  return newFlow(nextFlowId(), parent, from.id, above);
}

/** The lane events of the current chain go to: that of its innermost open region, else the scope's. */
export function currentLane(scope: Scope | undefined): Flow {
  let r = chainTopRaw(scope);
  while (r !== null && r.ended) r = r.parent;
  if (r !== null && r.generation === S.generation) return r.flow;
  return scope === undefined ? S.rootFlow : scope.flow;
}

/** Whether `region` is one the current chain opened (ended or not): ending it here is no misuse. */
export function inCurrentChain(region: RegionState): boolean {
  for (let r = chainTopRaw(currentScope()); r !== null; r = r.parent) if (r === region) return true;
  return false;
}
