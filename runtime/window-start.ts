/**
 * What was open at the start of the flight recorder's window, so that a snapshot is a complete trace:
 * the strings and locations defined before it, the tasks created and not yet ended, and each flow's
 * stack of open regions and fork parent. Followed by scanning the batches as they leave the ring (off
 * the hot path: once per batch, when it is evicted); written as a snapshot's first batch by
 * {@link WindowStart.preamble}. Each thread of the trace has its own (its strings, locations, flows
 * and the tasks it created): {@link WindowStarts} keeps them.
 */
import { batchThread, scanBatch, type BatchVisitor, type Definitions } from '../format/batch-scan.js';
import { BatchEncoder } from '../format/encode.js';
import { pairRegionEnd } from '../format/region-pairing.js';
import { OpenTasks } from './open-tasks.js';

/** Open tasks carried at most: past it the oldest are forgotten (tasks that are never ended would grow it forever). */
export const MAX_CARRIED_TASKS = 100_000;

interface CarriedRegion {
  readonly ts: number;
  readonly flow: number;
  readonly task: number;
  /** String id. */
  readonly type: number;
  /** Location id. */
  readonly location: number;
  ended: boolean;
}

interface CarriedFlow {
  /** Open regions, innermost last. */
  readonly stack: CarriedRegion[];
  /** The region open on the parent flow when this flow was forked (format: FlowStart). */
  readonly forkParent: CarriedRegion | null;
}

/** A flow is as good as unknown when nothing is open on it and its fork parent (if any) has ended. */
const forgettable = (flow: CarriedFlow): boolean => flow.stack.length === 0 && (flow.forkParent === null || flow.forkParent.ended);

/** The window start of one thread: what its batches that left the window left open. */
export class WindowStart implements BatchVisitor {
  private readonly definitions: Definitions = { strings: [''], locations: [null] };
  private readonly tasks = new OpenTasks(MAX_CARRIED_TASKS);
  private readonly flows = new Map<number, CarriedFlow>();
  /** Per flow: the runtime announced an out-of-order end, and how many regions were nested in the ended one. */
  private readonly announcedOutOfOrder = new Map<number, number>();
  /** Flows are swept for forgettable ones when there are this many. */
  private sweepAt = 1024;

  constructor(
    /** The thread whose batches these are (0: the main thread): the preamble is a batch of that thread. */
    private readonly thread = 0,
    /** Called at every TaskEnd: a task created on one thread may end on another. */
    private readonly onTaskEnd: ((task: number) => void) | null = null,
  ) {}

  /** Moves the window start past `batch`, the oldest batch of the window, as it leaves the ring. */
  pass(batch: Uint8Array): void {
    scanBatch(batch, this.definitions, this);
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
    const encoder = new BatchEncoder(this.thread);
    encoder.begin(0);
    // Interned in id order, they get the ids they had: the window's batches refer to those.
    const { strings, locations } = this.definitions;
    for (let id = 1; id < strings.length; id++) encoder.stringId(strings[id]);
    for (let id = 1; id < locations.length; id++) encoder.locationId(locations[id]);
    for (const task of this.tasks) {
      encoder.beganBefore(0, Math.max(0, windowStart - task.ts));
      encoder.taskCreate(0, task.flow, task.id, task.parent, strings[task.type], locations[task.location]);
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
        encoder.regionStart(0, id, region.task, strings[region.type], locations[region.location]);
      }
    }
    return encoder.finish();
  }

  taskCreate(ts: number, flow: number, task: number, parent: number, type: number, location: number): void {
    this.tasks.add(task, ts, flow, parent, type, location);
  }

  taskEnd(task: number): void {
    if (this.onTaskEnd !== null) this.onTaskEnd(task);
    else this.forgetTask(task);
  }

  /** The task ended (on this thread or another): it is no longer carried. */
  forgetTask(task: number): void {
    this.tasks.delete(task);
  }

  endedOutOfOrder(flow: number, regionsAbove: number): void {
    this.announcedOutOfOrder.set(flow, regionsAbove);
  }

  /** As the reader does (analysis/region-stacks.ts): the new flow's outermost regions' parent. */
  flowStart(id: number, parentFlow: number, regionsAbove: number): void {
    const parent = this.flows.get(parentFlow);
    const forkParent = parent ? (parent.stack[parent.stack.length - 1 - regionsAbove] ?? parent.forkParent) : null;
    const flow: CarriedFlow = { stack: this.flows.get(id)?.stack ?? [], forkParent };
    if (forgettable(flow)) this.flows.delete(id);
    else this.setFlow(id, flow);
  }

  regionStart(ts: number, id: number, task: number, type: number, location: number): void {
    const region = { ts, flow: id, task, type, location, ended: false };
    const flow = this.flows.get(id);
    if (flow !== undefined) flow.stack.push(region);
    // A new flow holds its region before it is kept: setFlow's sweep forgets flows with nothing open.
    else this.setFlow(id, { stack: [region], forkParent: null });
  }

  regionEnd(id: number, type: number): void {
    let above = 0;
    if (this.announcedOutOfOrder.size > 0) {
      above = this.announcedOutOfOrder.get(id) ?? 0;
      this.announcedOutOfOrder.delete(id);
    }
    const stack = this.flows.get(id)?.stack;
    if (stack === undefined) return;
    const index = pairRegionEnd(stack, type, above);
    if (index < 0) return;
    stack[index].ended = true;
    if (index === stack.length - 1) stack.pop();
    else stack.splice(index, 1);
    // An emptied flow stays until the next sweep: flows that open and close regions all the time are most.
  }

  private setFlow(id: number, flow: CarriedFlow): void {
    this.flows.set(id, flow);
    if (this.flows.size < this.sweepAt) return;
    // A flow whose fork parent ended after its own last region: found here, in amortised O(1).
    for (const [key, value] of this.flows) if (forgettable(value)) this.flows.delete(key);
    this.sweepAt = Math.max(1024, 2 * this.flows.size);
  }
}

/**
 * The window start of every thread in the window: batches that leave the ring are followed by their
 * thread's {@link WindowStart}; a task ended on any thread is forgotten by all.
 */
export class WindowStarts {
  private readonly main = new WindowStart(0, (task) => this.taskEnded(task));
  private readonly workers = new Map<number, WindowStart>();

  /** Moves the window start past `batch` (an Events or a ThreadEvents frame), as it leaves the ring. */
  pass(batch: Uint8Array): void {
    const thread = batchThread(batch);
    if (thread === 0) {
      this.main.pass(batch);
      return;
    }
    let window = this.workers.get(thread);
    if (window === undefined) this.workers.set(thread, (window = new WindowStart(thread, (task) => this.taskEnded(task))));
    window.pass(batch);
  }

  /** Forgets worker `thread` (it left, and its last batch has passed): what it left open is gone with it. */
  forgetThread(thread: number): void {
    this.workers.delete(thread);
  }

  /** Worker threads followed now. */
  get threads(): number {
    return this.workers.size;
  }

  /** Open tasks carried now, on every thread. */
  get openTasks(): number {
    let open = this.main.openTasks;
    for (const window of this.workers.values()) open += window.openTasks;
    return open;
  }

  /** The batches that open a snapshot (see {@link WindowStart.preamble}): the main thread's, then each worker's. */
  preamble(windowStart: number): Uint8Array[] {
    return [this.main.preamble(windowStart), ...[...this.workers.values()].map((window) => window.preamble(windowStart))];
  }

  private taskEnded(task: number): void {
    this.main.forgetTask(task);
    for (const window of this.workers.values()) window.forgetTask(task);
  }
}
