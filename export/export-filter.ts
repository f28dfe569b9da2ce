/**
 * What `export --since/--until/--task/--type` keep: a stage between the decoder and an exporter that
 * passes on the events of the selected tasks and of a time window, so every export format (Chrome,
 * Go, Perfetto) exports just that part, streaming, with the same rules (docs/export.md, "Exporting a
 * part"). Regions and tasks cut by the window are clipped to it: the ones open at its start begin
 * there, the regions open at its end end there. Memory: the regions and tasks open at one time and a
 * bit per selected task id, as the exporters themselves.
 */
import { IdSet } from '../analysis/id-set.js';
import { pairRegionEnd } from '../analysis/region-stacks.js';
import { typeMatcher } from '../analysis/type-pattern.js';
import type { Nanos, ReadStatus, TraceEvent } from '../format/events.js';

/** Which part of a trace to export. Times are ns from the trace start. */
export interface ExportFilter {
  /** Leave out what happens before this time; what is open then begins there. */
  readonly since?: Nanos;
  /** Leave out what happens after this time; the regions open then end there, and so does the export. */
  readonly until?: Nanos;
  /** Only this task, its subtasks (at any depth), and their regions and logs. */
  readonly task?: number;
  /** Only the tasks of this type, their subtasks, and their regions and logs. */
  readonly type?: string;
}

type Emit = (event: TraceEvent) => void;
type EventOf<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;

/** A stage: events in, in file order; the kept ones (and synthetic ones) out. */
export interface EventStage {
  readonly add: Emit;
  /** Emits what the end of the input implies; returns the status the exporter should see. */
  finish(status: ReadStatus): ReadStatus;
  /** After `finish`: what the user should know about the selection (a task that is not in the trace), as warnings. */
  notes(): string[];
}

/** The stages `filter` needs in front of `emit` (none without a filter). */
export function filterEvents(filter: ExportFilter | undefined, emit: Emit): EventStage {
  let stage: EventStage = { add: emit, finish: (status) => status, notes: () => [] };
  if (filter?.since !== undefined || filter?.until !== undefined) stage = timeWindow(filter.since ?? 0, filter.until ?? Infinity, stage);
  if (filter?.task !== undefined || filter?.type !== undefined) stage = taskSelection(filter.task, filter.type, stage);
  return stage;
}

/** Per flow, the open regions as the exporters pair them: the runtime's out-of-order notice, then the innermost of the type. */
class OpenRegions<R extends { readonly type: string }> {
  private readonly flows = new Map<number, { stack: R[]; above: number | undefined }>();

  stack(flow: number): readonly R[] {
    return this.flows.get(flow)?.stack ?? [];
  }

  entries(): IterableIterator<[number, { stack: R[] }]> {
    return this.flows.entries();
  }

  push(flow: number, region: R): void {
    let state = this.flows.get(flow);
    if (!state) {
      state = { stack: [], above: undefined };
      this.flows.set(flow, state);
    }
    state.stack.push(region);
  }

  /** The runtime said the flow's next end is out of order, with `above` regions nested in the ended one. */
  announce(flow: number, above: number): void {
    const state = this.flows.get(flow);
    if (state) state.above = above;
  }

  /** Removes and returns the region `event` ends, or undefined. */
  end(event: EventOf<'regionEnd'>): R | undefined {
    const state = this.flows.get(event.flow);
    if (!state) return undefined;
    const index = pairRegionEnd(state.stack, event.type, state.above ?? 0);
    state.above = undefined;
    if (index < 0) return undefined;
    const [region] = state.stack.splice(index, 1);
    if (state.stack.length === 0) this.flows.delete(event.flow);
    return region;
  }

  clear(): void {
    this.flows.clear();
  }
}

/**
 * The selected tasks (task `id`, or those of `type`) and their subtasks — a task is selected when it is
 * created, so its parent's selection is known — and the regions and logs of selected tasks. Flow forks
 * and misuse marks are kept when they concern a kept region; GC, heap, event loop and drops always.
 */
function taskSelection(id: number | undefined, type: string | undefined, next: EventStage): EventStage {
  const selected = new IdSet();
  const matchesType = type === undefined ? null : typeMatcher(type);
  const regions = new OpenRegions<{ type: string; kept: boolean }>();
  /** A task the filter names (by id or type) was created in the trace. */
  let found = false;
  /** Kept regions above index `i` of `stack`, or -1 when the region at `i` is not kept (or absent). */
  const keptAbove = (stack: readonly { kept: boolean }[], i: number): number => {
    if (i < 0 || !stack[i]?.kept) return -1;
    let count = 0;
    for (let j = i + 1; j < stack.length; j++) if (stack[j].kept) count++;
    return count;
  };
  const add = (event: TraceEvent): void => {
    switch (event.kind) {
      case 'taskCreate': {
        const named = event.task === id || (matchesType !== null && matchesType(event.type));
        if (named) found = true;
        if (named || selected.has(event.parent)) {
          selected.add(event.task);
          next.add(event);
        }
        return;
      }
      case 'taskEnd':
        if (selected.has(event.task) || event.task === id) next.add(event);
        return;
      case 'log':
        if (selected.has(event.task)) next.add(event);
        return;
      case 'regionStart': {
        const kept = selected.has(event.task);
        regions.push(event.flow, { type: event.type, kept });
        if (kept) next.add(event);
        return;
      }
      case 'regionEnd':
        if (regions.end(event)?.kept) next.add(event);
        return;
      case 'misuse': {
        const stack = regions.stack(event.flow);
        if (event.misuse === 'regionEndedOutOfOrder') {
          regions.announce(event.flow, event.regionsAbove);
          const above = keptAbove(stack, stack.length - 1 - event.regionsAbove);
          if (above >= 0) next.add({ ...event, regionsAbove: above });
        } else if (stack.some((region) => region.kept)) next.add(event);
        return;
      }
      case 'flowStart': {
        const stack = regions.stack(event.parentFlow);
        const above = keptAbove(stack, stack.length - 1 - event.regionsAbove);
        if (above >= 0) next.add({ ...event, regionsAbove: above });
        return;
      }
      default:
        next.add(event);
    }
  };
  const notes = (): string[] => {
    const own = found ? [] : [id !== undefined ? `--task ${id}: the trace does not create task ${id}, so the export holds none of its regions or logs` : `--type ${type}: the trace creates no task of that type, so the export holds no task, region or log`];
    return [...own, ...next.notes()];
  };
  return { add, finish: (status) => next.finish(status), notes };
}

/**
 * The events from `since` to `until`. Tasks and regions open at `since` are created and started there
 * (with their own type, parent, task and location); regions open at `until` end there; GCs are clipped
 * to the window; the trace ends at `until` at the latest (the status's footer says so).
 */
function timeWindow(since: Nanos, until: Nanos, next: EventStage): EventStage {
  const regions = new OpenRegions<EventOf<'regionStart'>>();
  const tasks = new Map<number, EventOf<'taskCreate'>>();
  let state: 'before' | 'in' | 'after' = 'before';

  const enter = (): void => {
    state = 'in';
    for (const task of tasks.values()) next.add({ ...task, ts: since });
    tasks.clear();
    for (const [, { stack }] of regions.entries()) for (const region of stack) next.add({ ...region, ts: since });
  };
  const leave = (): void => {
    state = 'after';
    for (const [flow, { stack }] of regions.entries()) {
      for (let i = stack.length - 1; i >= 0; i--) next.add({ kind: 'regionEnd', ts: until, flow, type: stack[i].type });
    }
    regions.clear();
  };
  /** Keeps the open regions (and, before the window, the open tasks) as they are at `event`. */
  const track = (event: TraceEvent): void => {
    if (event.kind === 'regionStart') regions.push(event.flow, event);
    else if (event.kind === 'regionEnd') regions.end(event);
    else if (event.kind === 'misuse' && event.misuse === 'regionEndedOutOfOrder') regions.announce(event.flow, event.regionsAbove);
    else if (state === 'before' && event.kind === 'taskCreate') tasks.set(event.task, event);
    else if (state === 'before' && event.kind === 'taskEnd') tasks.delete(event.task);
  };

  const add = (event: TraceEvent): void => {
    switch (event.kind) {
      // Process-wide samples are kept by their own time (a GC is reported after it ends, after later events).
      case 'gc': {
        const start = Math.max(event.ts, since);
        const end = Math.min(event.ts + event.duration, until);
        if (end >= start && event.ts <= until && event.ts + event.duration >= since) next.add({ ...event, ts: start, duration: end - start });
        return;
      }
      case 'heap':
      case 'eventLoop':
      case 'dropped':
        if (event.ts >= since && event.ts <= until) next.add(event);
        return;
    }
    if (state === 'after') return;
    if (event.ts >= since && state === 'before') enter();
    if (event.ts > until) {
      leave();
      return;
    }
    track(event);
    if (state === 'in') next.add(event);
  };

  const finish = (status: ReadStatus): ReadStatus => {
    const end = status.footer?.endTs ?? 0;
    if (state === 'before' && end >= since) enter();
    if (state === 'in' && end > until) leave();
    const footer = status.footer && { ...status.footer, endTs: Math.min(status.footer.endTs, until) };
    return next.finish({ ...status, footer });
  };
  return { add, finish, notes: () => next.notes() };
}
