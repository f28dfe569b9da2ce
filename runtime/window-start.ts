/**
 * What was open at the start of the flight recorder's window, so that a snapshot is a complete trace:
 * the strings and locations defined before it, the tasks created and not yet ended, and each flow's
 * stack of open regions and fork parent. Followed by decoding the batches as they leave the ring (off
 * the hot path: once per batch, when it is evicted); written as a snapshot's first batch by
 * {@link WindowStart.preamble}.
 */
import { TraceDecoder } from '../format/decode.js';
import { BatchEncoder, encodeFileStart } from '../format/encode.js';
import type { SourceLocation, TraceEvent } from '../format/events.js';
import { pairRegionEnd } from '../format/region-pairing.js';

/** Open tasks carried at most: past it the oldest are forgotten (tasks that are never ended would grow it forever). */
export const MAX_CARRIED_TASKS = 100_000;

interface CarriedTask {
  readonly ts: number;
  readonly flow: number;
  readonly parent: number;
  readonly type: string;
  readonly location: SourceLocation | null;
}

interface CarriedRegion {
  readonly ts: number;
  readonly flow: number;
  readonly task: number;
  readonly type: string;
  readonly location: SourceLocation | null;
  ended: boolean;
}

interface CarriedFlow {
  /** Open regions, innermost last. */
  readonly stack: CarriedRegion[];
  /** The region open on the parent flow when this flow was forked (format: FlowStart). */
  readonly forkParent: CarriedRegion | null;
}

type Event<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;

/** A flow is as good as unknown when nothing is open on it and its fork parent (if any) has ended. */
const forgettable = (flow: CarriedFlow): boolean => flow.stack.length === 0 && (flow.forkParent === null || flow.forkParent.ended);

export class WindowStart {
  private readonly decoder = new TraceDecoder((event) => this.add(event));
  private readonly tasks = new Map<number, CarriedTask>();
  private readonly flows = new Map<number, CarriedFlow>();
  /** Per flow: the runtime announced an out-of-order end, and how many regions were nested in the ended one. */
  private readonly announcedOutOfOrder = new Map<number, number>();
  /** Flows are swept for forgettable ones when there are this many. */
  private sweepAt = 1024;

  constructor() {
    // The decoder reads a trace: give it a header (its contents do not matter here).
    this.decoder.push(encodeFileStart({ version: 0, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 0, nodeVersion: '', command: '' }));
  }

  /** Moves the window start past `batch`, the oldest batch of the window, as it leaves the ring. */
  pass(batch: Uint8Array): void {
    this.decoder.push(batch);
  }

  /** Open tasks carried now (for tests and statistics). */
  get openTasks(): number {
    return this.tasks.size;
  }

  /**
   * The batch that opens a snapshot whose window begins at `windowStart` (ns of the recorder's clock),
   * on the snapshot's clock (time 0 = `windowStart`): the definitions of the strings and locations that
   * the window's batches use without defining, then every open task (TaskCreate) and, flow by flow,
   * the fork (FlowStart) and the open regions (RegionStart), each marked BeganBefore with how long
   * before the window it began.
   */
  preamble(windowStart: number): Uint8Array {
    const encoder = new BatchEncoder();
    encoder.begin(0);
    // Interned in id order, they get the ids they had: the window's batches refer to those.
    const strings = this.decoder.definedStrings;
    for (let id = 1; id < strings.length; id++) encoder.stringId(strings[id]);
    const locations = this.decoder.definedLocations;
    for (let id = 1; id < locations.length; id++) encoder.locationId(locations[id]);
    for (const [id, task] of this.tasks) {
      encoder.beganBefore(0, Math.max(0, windowStart - task.ts));
      encoder.taskCreate(0, task.flow, id, task.parent, task.type, task.location);
    }
    // A flow is forked from an older one (a smaller id): parents' regions are written first.
    const ids = [...this.flows.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const flow = this.flows.get(id)!;
      const forkParent = flow.forkParent;
      if (forkParent !== null && !forkParent.ended) {
        const stack = this.flows.get(forkParent.flow)!.stack;
        encoder.flowStart(0, id, forkParent.flow, stack.length - 1 - stack.indexOf(forkParent));
      }
      for (const region of flow.stack) {
        encoder.beganBefore(0, Math.max(0, windowStart - region.ts));
        encoder.regionStart(0, id, region.task, region.type, region.location);
      }
    }
    return encoder.finish();
  }

  private add(event: TraceEvent): void {
    switch (event.kind) {
      case 'taskCreate':
        this.tasks.set(event.task, { ts: event.ts, flow: event.flow, parent: event.parent, type: event.type, location: event.location });
        if (this.tasks.size > MAX_CARRIED_TASKS) this.tasks.delete(this.tasks.keys().next().value!);
        break;
      case 'taskEnd':
        this.tasks.delete(event.task);
        break;
      case 'flowStart':
        this.fork(event);
        break;
      case 'regionStart':
        this.regionStart(event);
        break;
      case 'regionEnd':
        this.regionEnd(event);
        break;
      case 'misuse':
        if (event.misuse === 'regionEndedOutOfOrder') this.announcedOutOfOrder.set(event.flow, event.regionsAbove);
        break;
      default:
        break;
    }
  }

  /** As the reader does (analysis/region-stacks.ts): the new flow's outermost regions' parent. */
  private fork(event: Event<'flowStart'>): void {
    const parent = this.flows.get(event.parentFlow);
    const forkParent = parent ? (parent.stack[parent.stack.length - 1 - event.regionsAbove] ?? parent.forkParent) : null;
    const flow: CarriedFlow = { stack: this.flows.get(event.flow)?.stack ?? [], forkParent };
    if (forgettable(flow)) this.flows.delete(event.flow);
    else this.setFlow(event.flow, flow);
  }

  private regionStart(event: Event<'regionStart'>): void {
    let flow = this.flows.get(event.flow);
    if (flow === undefined) this.setFlow(event.flow, (flow = { stack: [], forkParent: null }));
    flow.stack.push({ ts: event.ts, flow: event.flow, task: event.task, type: event.type, location: event.location, ended: false });
  }

  private regionEnd(event: Event<'regionEnd'>): void {
    const above = this.announcedOutOfOrder.get(event.flow);
    if (above !== undefined) this.announcedOutOfOrder.delete(event.flow);
    const flow = this.flows.get(event.flow);
    if (flow === undefined) return;
    const index = pairRegionEnd(flow.stack, event.type, above ?? 0);
    if (index < 0) return;
    flow.stack[index].ended = true;
    flow.stack.splice(index, 1);
    if (forgettable(flow)) this.flows.delete(event.flow);
  }

  private setFlow(id: number, flow: CarriedFlow): void {
    this.flows.set(id, flow);
    if (this.flows.size < this.sweepAt) return;
    // A flow whose fork parent ended after its own last region: found here, in amortised O(1).
    for (const [key, value] of this.flows) if (forgettable(value)) this.flows.delete(key);
    this.sweepAt = Math.max(1024, 2 * this.flows.size);
  }
}
