/**
 * The vertical layout of the viewer's timeline: the GC and task lanes, then the flows' lanes — a lane
 * per flow, or flows packed into as few lanes as their lifetimes allow — each a few rows tall (one per
 * nesting depth), with a spacer row between lanes; and the regions and logs of the flow lanes, in rows
 * that answer by time range (timeline-index.ts).
 */
import type { Listing } from '../analysis/analysis-types.js';
import type { TraceTables } from '../analysis/trace-tables.js';
import { firstAtLeastArray, packRows, RowPacker, type PackedRows } from './timeline-index.js';

/** One lane of the timeline, and where it sits in the vertical layout (in rows, one spacer row between lanes). */
export interface LaneLayout {
  readonly id: string;
  readonly label: string;
  readonly kind: 'gc' | 'runs' | 'tasks' | 'flow';
  /** First layout row. */
  readonly top: number;
  readonly rows: number;
  /** For flow lanes: the lane's first row in `flowRows` (one row per nesting depth); for a long-runs lane, its thread's index in the model's `runs.long`. */
  readonly firstRow: number;
  /** For a lane of one flow: the flow; −1 for a lane of packed flows. */
  readonly flow: number;
  /** For flow lanes: the lane's row in `flowLogs`. */
  readonly logRow: number;
}

/**
 * The vertical layout of the timeline: GC, tasks, then the flows' lanes — a lane per flow, or flows
 * packed into as few lanes as their lifetimes allow — and the regions and logs of those lanes.
 */
export interface TimelineLayout {
  /** Top to bottom; a flow lane is made when asked for (a trace may have a million). */
  readonly lanes: Listing<LaneLayout>;
  /** Per lane: its first layout row, and its rows. */
  readonly tops: Int32Array;
  readonly rows: Int32Array;
  /** The lane of flow `flow` when it has a lane of its own (a layout of a lane per flow), else −1. */
  laneOfFlow(flow: number): number;
  /** How many of the lanes are flow lanes. */
  readonly flowLanes: number;
  /** Rows of the whole layout, spacers included. */
  readonly layoutRows: number;
  /** The regions, a row per (lane, nesting depth), lanes top to bottom. */
  readonly flowRows: PackedRows;
  /** The logs, a row per flow lane (zero-length intervals at their times, `id` the log's index). */
  readonly flowLogs: PackedRows;
}

/** The flows with regions or logs, ascending, with the depth of their deepest region. */
export interface FlowFacts {
  readonly ids: Float64Array;
  /** Per flow (by index): its thread, 0 the main thread, else a worker's `threadId`. */
  readonly threads: Float64Array;
  /** By the tables' flow index (`regions.flow`, `logs.flow`): the flow's index in `ids`, −1 for a flow with neither. */
  readonly indexOf: Int32Array;
  /** Per flow: the rows its lane needs (its deepest region's depth + 1). */
  readonly rows: Int32Array;
}

// Only what every layout needs is made here: a trace may have a million flows, each byte per flow or per region counts.
export function flowFacts(tables: TraceTables): FlowFacts {
  const r = tables.regions.data;
  const l = tables.logs.data;
  const regions = tables.regions.length;
  const logs = tables.logs.length;
  const flowIds = tables.flowIds;
  // The tables number every flow in ascending order; the lanes are those of the flows with regions or logs.
  const indexOf = new Int32Array(flowIds.length).fill(-1);
  const regionFlow = r.flow;
  const logFlow = l.flow;
  for (let i = 0; i < regions; i++) indexOf[regionFlow[i]] = 0;
  for (let i = 0; i < logs; i++) indexOf[logFlow[i]] = 0;
  let count = 0;
  for (let flow = 0; flow < indexOf.length; flow++) if (indexOf[flow] === 0) indexOf[flow] = count++;
  // Usually every flow has regions or logs: then the tables' own columns serve, not copies.
  const every = count === flowIds.length;
  const ids = every ? flowIds : new Float64Array(count);
  const threads = every ? tables.flowThreads : new Float64Array(count);
  for (let flow = 0; flow < indexOf.length && !every; flow++) {
    const k = indexOf[flow];
    if (k < 0) continue;
    ids[k] = flowIds[flow];
    threads[k] = tables.flowThreads[flow] ?? 0;
  }
  const rows = new Int32Array(count).fill(1);
  const depth = r.depth;
  for (let i = 0; i < regions; i++) {
    const k = indexOf[regionFlow[i]];
    if (depth[i] >= rows[k]) rows[k] = depth[i] + 1;
  }
  return { ids, threads, indexOf, rows };
}

/** Each flow's lifetime, from its first region or log to its last: what packing flows into lanes needs. */
export function flowLifetimes(tables: TraceTables, flows: FlowFacts): { readonly first: Float64Array; readonly last: Float64Array } {
  const { start, end, flow: regionFlow } = tables.regions.data;
  const { ts, flow: logFlow } = tables.logs.data;
  const first = new Float64Array(flows.ids.length).fill(Infinity);
  const last = new Float64Array(flows.ids.length).fill(-Infinity);
  const { indexOf } = flows;
  for (let i = 0; i < tables.regions.length; i++) {
    const k = indexOf[regionFlow[i]];
    if (start[i] < first[k]) first[k] = start[i];
    if (end[i] > last[k]) last[k] = end[i];
  }
  for (let i = 0; i < tables.logs.length; i++) {
    const k = indexOf[logFlow[i]];
    if (ts[i] < first[k]) first[k] = ts[i];
    if (ts[i] > last[k]) last[k] = ts[i];
  }
  return { first, last };
}

/** The name of a thread in lane labels: worker threads' lanes say whose they are, the main thread's do not. */
const threadPrefix = (thread: number): string => (thread === 0 ? '' : `worker ${thread} · `);

/** How flows are given lanes: the lane count, the lane of each flow (by index), and how each lane is named. */
export interface FlowLanes {
  readonly count: number;
  /** The lane of the flow of index `k` (in the flows' facts). */
  laneOf(k: number): number;
  name(lane: number): Pick<LaneLayout, 'id' | 'label' | 'flow'>;
  /** The flow of a lane of one flow, −1 for a lane of packed flows: `name(lane).flow` without making the name. */
  flowOf(lane: number): number;
}

/** The flows' indexes, threads ascending and each thread's in index order (a stable sort by thread: few threads, many flows). */
function byThread(threads: Float64Array): Int32Array {
  const order = new Int32Array(threads.length);
  let one = true;
  for (let k = 1; k < threads.length && one; k++) one = threads[k] === threads[0];
  if (one) {
    for (let k = 0; k < order.length; k++) order[k] = k;
    return order;
  }
  let at = 0;
  for (const thread of [...new Set(threads)].sort((a, b) => a - b)) {
    for (let k = 0; k < threads.length; k++) if (threads[k] === thread) order[at++] = k;
  }
  return order;
}

/**
 * A lane per flow, grouped by thread: the main thread's flows first, then each worker thread's, each
 * group in ascending flow id.
 */
export function lanePerFlow(flows: FlowFacts): FlowLanes {
  const { ids, threads } = flows;
  const order = byThread(threads);
  // One thread (the usual case): the lanes are the flows in order, and no array of a million flows says so.
  let laneOf: (k: number) => number = (k) => k;
  if (order.some((k, lane) => k !== lane)) {
    const lanes = new Int32Array(ids.length);
    for (let lane = 0; lane < order.length; lane++) lanes[order[lane]] = lane;
    laneOf = (k) => lanes[k];
  }
  return {
    count: ids.length,
    laneOf,
    name: (lane) => ({ id: `flow:${ids[order[lane]]}`, label: `${threadPrefix(threads[order[lane]])}flow ${ids[order[lane]]}`, flow: ids[order[lane]] }),
    flowOf: (lane) => ids[order[lane]],
  };
}

/**
 * Packs flows into lanes: in order of their first event, each flow goes to the lane free the longest
 * (its last flow ended before this one began), or to a new lane.
 */
export function packFlows(flows: FlowFacts, lifetimes: { readonly first: Float64Array; readonly last: Float64Array }): FlowLanes {
  const { threads } = flows;
  const { first, last } = lifetimes;
  // Each thread's flows are packed into lanes of their own: the main thread's first, then each worker's.
  const order = Int32Array.from(flows.ids.keys()).sort((a, b) => threads[a] - threads[b] || first[a] - first[b] || a - b);
  const laneOf = new Int32Array(flows.ids.length);
  const laneThread: number[] = [];
  const laneNumber: number[] = [];
  let packer = new RowPacker();
  let base = 0;
  let thread = -1;
  for (const k of order) {
    if (threads[k] !== thread) {
      base += packer.rows;
      packer = new RowPacker();
      thread = threads[k];
    }
    const lane = base + packer.add(first[k], last[k]);
    laneOf[k] = lane;
    laneThread[lane] = thread;
    laneNumber[lane] = lane - base + 1;
  }
  const name = (lane: number): Pick<LaneLayout, 'id' | 'label' | 'flow'> => {
    const prefix = threadPrefix(laneThread[lane]);
    return { id: `flows:${prefix === '' ? '' : `${laneThread[lane]}:`}${laneNumber[lane]}`, label: `${prefix}flows ${laneNumber[lane]}`, flow: -1 };
  };
  return { count: base + packer.rows, laneOf: (k) => laneOf[k], name, flowOf: () => -1 };
}

/** The layout of the fixed lanes, then the flow lanes `lanes`. */
export function layOut(tables: TraceTables, fixed: readonly Omit<LaneLayout, 'top'>[], flowLanes: FlowLanes, flows: FlowFacts): TimelineLayout {
  const { count: laneCount, laneOf, name } = flowLanes;
  const count = fixed.length + laneCount;
  const tops = new Int32Array(count);
  const rows = new Int32Array(count);

  fixed.forEach((lane, k) => (rows[k] = lane.rows));
  for (let k = 0; k < flows.ids.length; k++) {
    const lane = fixed.length + laneOf(k);
    rows[lane] = Math.max(rows[lane], flows.rows[k]);
  }
  // The first region row of each flow lane, in the packed rows.
  const firstRow = new Int32Array(laneCount + 1);
  let top = 0;
  for (let k = 0; k < count; k++) {
    tops[k] = top;
    top += rows[k] + 1;
    if (k >= fixed.length) {
      const lane = k - fixed.length;
      firstRow[lane + 1] = firstRow[lane] + rows[k];
    }
  }
  const lanes: Listing<LaneLayout> = {
    length: count,
    at: (k) => {
      if (k < fixed.length) return { ...fixed[k], top: tops[k] };
      const lane = k - fixed.length;
      return { ...name(lane), kind: 'flow', top: tops[k], rows: rows[k], firstRow: firstRow[lane], logRow: lane };
    },
  };
  const r = tables.regions.data;
  const l = tables.logs.data;
  // By the tables' flow index: the first region row of its lane, and its lane (−1: a flow with neither regions nor logs).
  const { indexOf } = flows;
  const firstRowOfFlow = new Int32Array(indexOf.length);
  const laneOfFlow = new Int32Array(indexOf.length);
  for (let flow = 0; flow < indexOf.length; flow++) {
    const lane = indexOf[flow] < 0 ? -1 : laneOf(indexOf[flow]);
    laneOfFlow[flow] = lane;
    firstRowOfFlow[flow] = lane < 0 ? -1 : firstRow[lane];
  }
  return {
    lanes,
    tops,
    rows,
    laneOfFlow: (flow) => {
      const k = indexOfSorted(flows.ids, flow);
      if (k < 0 || flowLanes.flowOf(laneOf(k)) !== flow) return -1;
      return fixed.length + laneOf(k);
    },
    flowLanes: laneCount,
    layoutRows: Math.max(0, top - 1),
    flowRows: packRows(firstRow[laneCount], { count: tables.regions.length, group: r.flow, base: firstRowOfFlow, plus: r.depth }, { start: r.start, end: r.end, type: r.type, id: (i) => i + 1 }),
    flowLogs: packRows(laneCount, { count: tables.logs.length, group: l.flow, base: laneOfFlow }, { start: l.ts, end: l.ts, type: l.category, id: (i) => i }),
  };
}

/** The first lane whose rows reach below layout row `row`. */
export function firstLaneReaching(layout: TimelineLayout, row: number): number {
  let low = 0;
  let high = layout.lanes.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (layout.tops[mid] + layout.rows[mid] <= row) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The index of `value` in the ascending `values`, −1 when absent (no map of a million flows). */
export function indexOfSorted(values: Float64Array, value: number): number {
  const at = firstAtLeastArray(values, value);
  return at < values.length && values[at] === value ? at : -1;
}
