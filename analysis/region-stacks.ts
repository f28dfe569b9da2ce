import type { Nanos, SourceLocation } from '../format/events.js';
import { IdIndex } from './id-index.js';
import { pairRegionEnd } from '../format/region-pairing.js';

export { pairRegionEnd };

/** A region while the trace is being read: `end` is null until its end event arrives. */
export interface RegionRecord {
  readonly id: number;
  readonly type: string;
  readonly task: number;
  readonly flow: number;
  readonly parent: RegionRecord | null;
  readonly start: Nanos;
  end: Nanos | null;
  readonly location: SourceLocation | null;
  /** How long before the trace it began, for a region carried into a snapshot; else null. */
  readonly beganBefore: Nanos | null;
}

interface FlowState {
  /** Open regions, innermost last. */
  readonly stack: RegionRecord[];
  /** The region open on the parent flow when this flow was forked: the parent of its outermost regions. */
  readonly forkParent: RegionRecord | null;
}

const isState = (kept: FlowState | RegionRecord): kept is FlowState => (kept as Partial<FlowState>).stack !== undefined;

/** How a region end was paired. */
export interface RegionEndPairing {
  /** The innermost open region of the end's flow with the end's type; null when there is none. */
  readonly region: RegionRecord | null;
  /** The region was not the innermost open region of its flow. */
  readonly outOfOrder: boolean;
}

/**
 * The reader's model of every flow's stack of open regions, rebuilt from the events: it assigns region
 * ids (from 1, in start order), pairs each end (which carries only flow and type) with the innermost
 * open region of that flow and type, and gives regions their parents — across flow forks too.
 */
export class RegionStacks {
  /** With parents, every flow is kept: flow id → its state in `states` (a trace may have millions of flows). */
  private readonly flowIndex = new IdIndex();
  /** A flow with nothing open is kept as its fork parent alone, not a state (a trace may have millions of such flows). */
  private readonly states: (FlowState | RegionRecord | null)[] = [];
  /** Without parents, only the flows with open regions: a Map, from which they are deleted. */
  private readonly openFlows = new Map<number, FlowState>();
  private readonly parents: boolean;
  private lastId = 0;
  /** The last flow looked up and its state: events of one flow come in runs. */
  private lastFlow = NaN;
  private lastState: FlowState | null = null;

  /**
   * With `parents: false`, regions get no parent and a flow is forgotten while it has no open region,
   * so memory follows the open regions rather than the flows.
   */
  constructor(options: { readonly parents?: boolean } = {}) {
    this.parents = options.parents ?? true;
  }

  /**
   * Flow `flow` was forked from `parentFlow` under the open region with `regionsAbove` regions above it
   * (the parent flow's own fork parent when it has no more open regions): that region is the parent of
   * the new flow's outermost regions.
   */
  fork(flow: number, parentFlow: number, regionsAbove = 0): void {
    if (!this.parents) return;
    const parent = this.state(parentFlow);
    const forkParent = parent ? (parent.stack[parent.stack.length - 1 - regionsAbove] ?? parent.forkParent) : null;
    // A flow started again (flow ids are never reused; a damaged trace may do it) keeps its open regions,
    // as without parents, so the statistics do not depend on whether parents are kept.
    this.setState(flow, { stack: this.state(flow)?.stack ?? [], forkParent });
  }

  private state(flow: number): FlowState | null {
    if (flow === this.lastFlow) return this.lastState;
    let state: FlowState | null;
    if (!this.parents) state = this.openFlows.get(flow) ?? null;
    else {
      const index = this.flowIndex.get(flow);
      const kept = index < 0 ? null : this.states[index];
      state = kept === null || isState(kept) ? kept : (this.states[index] = { stack: [], forkParent: kept });
    }
    this.lastFlow = flow;
    return (this.lastState = state);
  }

  private setState(flow: number, state: FlowState | RegionRecord | null): void {
    this.lastFlow = NaN;
    if (!this.parents) {
      if (state) this.openFlows.set(flow, state as FlowState);
      else this.openFlows.delete(flow);
      return;
    }
    const index = this.flowIndex.get(flow);
    if (index >= 0) this.states[index] = state;
    else if (state) this.flowIndex.set(flow, this.states.push(state) - 1);
  }

  /** The innermost open region of `flow`, else (with parents) the region it was forked under; null for none. */
  top(flow: number): RegionRecord | null {
    const state = this.state(flow);
    return state === null ? null : (state.stack[state.stack.length - 1] ?? state.forkParent);
  }

  start(ts: Nanos, flow: number, task: number, type: string, location: SourceLocation | null, beganBefore: Nanos | null = null): RegionRecord {
    let state = this.state(flow);
    if (!state) {
      state = { stack: [], forkParent: null };
      this.setState(flow, state);
    }
    const parent = this.parents ? (state.stack[state.stack.length - 1] ?? state.forkParent) : null;
    const region: RegionRecord = { id: ++this.lastId, type, task, flow, parent, start: ts, end: null, location, beganBefore };
    state.stack.push(region);
    return region;
  }

  /**
   * Ends the innermost open region of `flow` with `type`, searching below the top if needed; or, when
   * the runtime said how many regions were nested in the ended one (`regionsAbove`), exactly that one.
   */
  end(ts: Nanos, flow: number, type: string, regionsAbove = 0): RegionEndPairing {
    const state = this.state(flow);
    const index = state ? pairRegionEnd(state.stack, type, regionsAbove) : -1;
    if (!state || index < 0) return { region: null, outOfOrder: false };
    const stack = state.stack;
    const region = stack[index];
    const outOfOrder = index !== stack.length - 1;
    if (outOfOrder) stack.splice(index, 1);
    else stack.pop();
    // A flow with nothing open and no fork parent is as good as unknown: forget it (a trace may have
    // millions); with a fork parent, that is all that is kept of it.
    if (stack.length === 0) this.setState(flow, !this.parents ? null : state.forkParent);
    region.end = ts;
    return { region, outOfOrder };
  }
}
