/**
 * The vertical layout of the viewer's timeline: the GC and task lanes, then the flows' lanes — a lane
 * per flow, or flows packed into as few lanes as their lifetimes allow — each a few rows tall (one per
 * nesting depth), with a spacer row between lanes; and the regions and logs of the flow lanes, in rows
 * that answer by time range (timeline-index.ts).
 */
import type { TraceTables } from '../trace-tables.js';
import { packRows, RowPacker, type PackedRows } from './timeline-index.js';

/** One lane of the timeline, and where it sits in the vertical layout (in rows, one spacer row between lanes). */
export interface LaneLayout {
  readonly id: string;
  readonly label: string;
  readonly kind: 'gc' | 'tasks' | 'flow';
  /** First layout row. */
  readonly top: number;
  readonly rows: number;
  /** For flow lanes: the lane's first row in `flowRows` (one row per nesting depth). */
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
  readonly lanes: readonly LaneLayout[];
  /** Rows of the whole layout, spacers included. */
  readonly layoutRows: number;
  /** The regions, a row per (lane, nesting depth), lanes top to bottom. */
  readonly flowRows: PackedRows;
  /** The logs, a row per flow lane (zero-length intervals at their times, `id` the log's index). */
  readonly flowLogs: PackedRows;
}

/** The flows with regions or logs, ascending, with the depth of their deepest region and their lifetime. */
export interface FlowFacts {
  readonly ids: number[];
  /** Flow id → its index in `ids`. */
  readonly index: Map<number, number>;
  readonly rows: Int32Array;
  readonly first: Float64Array;
  readonly last: Float64Array;
}

export function flowFacts(tables: TraceTables): FlowFacts {
  const r = tables.regions.data;
  const l = tables.logs.data;
  const seen = new Set<number>();
  for (let i = 0; i < tables.regions.length; i++) seen.add(r.flow[i]);
  for (let i = 0; i < tables.logs.length; i++) seen.add(l.flow[i]);
  const ids = [...seen].sort((a, b) => a - b);
  const index = new Map(ids.map((flow, k) => [flow, k]));
  const rows = new Int32Array(ids.length).fill(1);
  const first = new Float64Array(ids.length).fill(Infinity);
  const last = new Float64Array(ids.length).fill(-Infinity);
  for (let i = 0; i < tables.regions.length; i++) {
    const k = index.get(r.flow[i])!;
    rows[k] = Math.max(rows[k], r.depth[i] + 1);
    first[k] = Math.min(first[k], r.start[i]);
    last[k] = Math.max(last[k], r.end[i]);
  }
  for (let i = 0; i < tables.logs.length; i++) {
    const k = index.get(l.flow[i])!;
    first[k] = Math.min(first[k], l.ts[i]);
    last[k] = Math.max(last[k], l.ts[i]);
  }
  return { ids, index, rows, first, last };
}

/**
 * Packs flows into lanes: in order of their first event, each flow goes to the lane free the longest
 * (its last flow ended before this one began), or to a new lane. Returns the lane count, the lane of
 * each flow (by index) and how each lane is named.
 */
export function packFlows(flows: FlowFacts): [number, (flow: number) => number, (lane: number) => Pick<LaneLayout, 'id' | 'label' | 'flow'>] {
  const order = Int32Array.from(flows.ids.keys()).sort((a, b) => flows.first[a] - flows.first[b] || a - b);
  const laneOf = new Int32Array(flows.ids.length);
  const packer = new RowPacker();
  for (const k of order) packer.add(flows.first[k], flows.last[k], k, 0);
  packer.rows.forEach((row, lane) => {
    for (let i = 0; i < row.length; i++) laneOf[row.ids[i]] = lane;
  });
  return [packer.rows.length, (k) => laneOf[k], (lane) => ({ id: `flows:${lane + 1}`, label: `flows ${lane + 1}`, flow: -1 })];
}

/** The layout of the fixed lanes, then `laneCount` flow lanes, flow `k` (by index) in lane `laneOf(k)`. */
export function layOut(
  tables: TraceTables,
  fixed: readonly Omit<LaneLayout, 'top'>[],
  laneCount: number,
  laneOf: (flow: number) => number,
  name: (lane: number) => Pick<LaneLayout, 'id' | 'label' | 'flow'>,
  flows: FlowFacts,
): TimelineLayout {
  const laneRows = new Int32Array(laneCount);
  flows.ids.forEach((_, k) => (laneRows[laneOf(k)] = Math.max(laneRows[laneOf(k)], flows.rows[k])));
  const lanes: LaneLayout[] = [];
  let top = 0;
  for (const lane of fixed) {
    lanes.push({ ...lane, top });
    top += lane.rows + 1;
  }
  const firstRow = new Int32Array(laneCount);
  let rowCount = 0;
  for (let lane = 0; lane < laneCount; lane++) {
    firstRow[lane] = rowCount;
    lanes.push({ ...name(lane), kind: 'flow', top, rows: laneRows[lane], firstRow: rowCount, logRow: lane });
    top += laneRows[lane] + 1;
    rowCount += laneRows[lane];
  }
  const r = tables.regions.data;
  const rowOf = new Int32Array(tables.regions.length);
  for (let i = 0; i < rowOf.length; i++) rowOf[i] = firstRow[laneOf(flows.index.get(r.flow[i])!)] + r.depth[i];
  const l = tables.logs.data;
  const logRow = new Int32Array(tables.logs.length);
  for (let i = 0; i < logRow.length; i++) logRow[i] = laneOf(flows.index.get(l.flow[i])!);
  return {
    lanes,
    layoutRows: Math.max(0, top - 1),
    flowRows: packRows(rowOf.length, rowCount, rowOf, r.start, r.end, (i) => i + 1, r.type),
    flowLogs: packRows(logRow.length, laneCount, logRow, l.ts, l.ts, (i) => i, l.category),
  };
}

/** The first lane whose rows reach below layout row `row`. */
export function firstLaneReaching(lanes: readonly LaneLayout[], row: number): number {
  let low = 0;
  let high = lanes.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (lanes[mid].top + lanes[mid].rows <= row) low = mid + 1;
    else high = mid;
  }
  return low;
}

