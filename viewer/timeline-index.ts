/**
 * The viewer's timeline index: intervals (regions, tasks, GCs) in rows, and counter samples, queried by
 * a time range and a resolution. A query returns only what is visible, and at most about one item per
 * pixel column per row: intervals narrower than a pixel that start in the same column are merged into
 * one item that says how many it stands for. The cost of a query grows with the pixels, not with the
 * intervals, so a trace of millions of regions stays responsive.
 */
import type { Nanos } from '../format/events.js';

/**
 * One visible item: `[start, end, id, count, type]`. `count` is 1 for a single interval (`id` is its id);
 * more than 1 for a merged item, which covers `count` intervals from `start` (the first's) to `end` (the
 * latest end among them), `id` and `type` being the first's.
 */
export type TimelineItem = [start: Nanos, end: Nanos, id: number, count: number, type: number];

/** Intervals in start order, and for each the latest end up to it (ascending, so it can be searched). */
interface IntervalColumns {
  startAt(i: number): Nanos;
  endAt(i: number): Nanos;
  idAt(i: number): number;
  typeAt(i: number): number;
  /** The latest end among the intervals of its row up to `i`. */
  maxEndAt(i: number): Nanos;
}

/** The items of the intervals `[lo, hi)` of `c` visible in `[from, to]` at `nsPerPixel`, in start order. */
function visibleItems(c: IntervalColumns, lo: number, hi: number, from: Nanos, to: Nanos, nsPerPixel: number): TimelineItem[] {
  const items: TimelineItem[] = [];
  let i = firstAtLeast((k) => c.maxEndAt(k), lo, hi, from);
  while (i < hi && c.startAt(i) <= to) {
    const start = c.startAt(i);
    const end = c.endAt(i);
    if (end < from) {
      i++;
      continue;
    }
    if (end - start >= nsPerPixel) {
      items.push([start, end, c.idAt(i), 1, c.typeAt(i)]);
      i++;
      continue;
    }
    // Narrower than a pixel: merge it with every interval starting in the same pixel column.
    const column = Math.floor((start - from) / nsPerPixel);
    const next = Math.max(i + 1, firstAtLeast((k) => c.startAt(k), lo, hi, from + (column + 1) * nsPerPixel));
    if (next === i + 1) items.push([start, end, c.idAt(i), 1, c.typeAt(i)]);
    else items.push([start, c.maxEndAt(next - 1), c.idAt(i), next - i, c.typeAt(i)]);
    i = next;
  }
  return items;
}

/** Intervals of one row, added in start order. Overlaps are allowed (they are drawn over each other). */
export class IntervalRow implements IntervalColumns {
  starts: Float64Array = new Float64Array(16);
  maxEnds: Float64Array = new Float64Array(16);
  ends: Float64Array = new Float64Array(16);
  ids: Float64Array = new Float64Array(16);
  types: Int32Array = new Int32Array(16);
  length = 0;

  /** Adds an interval; `start` must not be before the previous one's. */
  add(start: Nanos, end: Nanos, id: number, type: number): void {
    if (this.length === this.starts.length) this.grow();
    const i = this.length++;
    this.starts[i] = start;
    this.ends[i] = end;
    this.maxEnds[i] = i === 0 ? end : Math.max(end, this.maxEnds[i - 1]);
    this.ids[i] = id;
    this.types[i] = type;
  }

  startAt(i: number): Nanos {
    return this.starts[i];
  }
  endAt(i: number): Nanos {
    return this.ends[i];
  }
  idAt(i: number): number {
    return this.ids[i];
  }
  typeAt(i: number): number {
    return this.types[i];
  }
  maxEndAt(i: number): Nanos {
    return this.maxEnds[i];
  }

  /** The end of the last interval to end. */
  get lastEnd(): Nanos {
    return this.length === 0 ? -Infinity : this.maxEnds[this.length - 1];
  }

  /** The items visible in `[from, to]` at `nsPerPixel`, in start order. */
  visible(from: Nanos, to: Nanos, nsPerPixel: number): TimelineItem[] {
    return visibleItems(this, 0, this.length, from, to, nsPerPixel);
  }

  private grow(): void {
    const size = this.starts.length * 2;
    const grown = <T extends Float64Array | Int32Array>(old: T, make: (n: number) => T): T => {
      const array = make(size);
      array.set(old);
      return array;
    };
    this.starts = grown(this.starts, (n) => new Float64Array(n));
    this.maxEnds = grown(this.maxEnds, (n) => new Float64Array(n));
    this.ends = grown(this.ends, (n) => new Float64Array(n));
    this.ids = grown(this.ids, (n) => new Float64Array(n));
    this.types = grown(this.types, (n) => new Int32Array(n));
  }
}

/** The columns of the items that {@link PackedRows} arranges (the trace's own, not copies). */
export interface ItemColumns {
  readonly start: Float64Array;
  readonly end: Float64Array;
  readonly type: Int32Array | Uint16Array;
  /** The id the timeline gives item `i`. */
  id(i: number): number;
}

/**
 * Many rows of intervals as one arrangement of items kept elsewhere (a row is a slice of it), so a million
 * regions on a hundred thousand flows cost 4 bytes each (their index; 12 with the latest end so far, kept only
 * when some row's intervals overlap), not
 * copies of their columns. Build with {@link packRows}.
 */
export class PackedRows implements IntervalColumns {
  constructor(
    private readonly items: ItemColumns,
    /** Slot → item index, rows one after the other, each in start order. */
    private readonly order: Int32Array,
    /** The latest end so far in each row, slot by slot; null when every row's ends ascend (the usual case). */
    private readonly maxEnds: Float64Array | null,
    /** Row `k` holds the slots `[offsets[k], offsets[k + 1])`. */
    readonly offsets: Int32Array,
  ) {}

  get rows(): number {
    return this.offsets.length - 1;
  }

  startAt(slot: number): Nanos {
    return this.items.start[this.order[slot]];
  }
  endAt(slot: number): Nanos {
    return this.items.end[this.order[slot]];
  }
  idAt(slot: number): number {
    return this.items.id(this.order[slot]);
  }
  typeAt(slot: number): number {
    return this.items.type[this.order[slot]];
  }
  maxEndAt(slot: number): Nanos {
    return this.maxEnds === null ? this.items.end[this.order[slot]] : this.maxEnds[slot];
  }

  /** The items of row `row` visible in `[from, to]` at `nsPerPixel`, in start order. */
  visible(row: number, from: Nanos, to: Nanos, nsPerPixel: number): TimelineItem[] {
    return visibleItems(this, this.offsets[row], this.offsets[row + 1], from, to, nsPerPixel);
  }
}

/**
 * The row of each item: an array by item, or — no array of a million rows — `base[group[k]] + (plus?.[k] ?? 0)`
 * (the regions' row is their flow lane's first row plus their depth).
 */
export type RowOf = Int32Array | { readonly count: number; readonly group: ArrayLike<number>; readonly base: Int32Array; readonly plus?: ArrayLike<number> };

/**
 * Packs items into `rows` rows: the `k`-th item of `sequence` (item indexes in start order; the items
 * `0 .. count` in order when null) goes to row `rowOf` of `k`, keeping its order there.
 */
export function packRows(rows: number, rowOf: RowOf, items: ItemColumns, sequence: Int32Array | null = null): PackedRows {
  let count: number;
  let rowAt: (k: number) => number;
  if (rowOf instanceof Int32Array) {
    count = rowOf.length;
    rowAt = (k) => rowOf[k];
  } else {
    const { group, base, plus } = rowOf;
    count = rowOf.count;
    rowAt = plus === undefined ? (k) => base[group[k]] : (k) => base[group[k]] + plus[k];
  }
  // A counting sort in place: `offsets[row]` counts, then is the end of the row, then (filled backwards) its start.
  const offsets = new Int32Array(rows + 1);
  for (let k = 0; k < count; k++) offsets[rowAt(k)]++;
  let end = 0;
  for (let row = 0; row <= rows; row++) offsets[row] = end += offsets[row];
  const order = new Int32Array(count);
  for (let k = count - 1; k >= 0; k--) order[--offsets[rowAt(k)]] = sequence === null ? k : sequence[k];
  // Regions of one depth on a flow follow each other: their ends ascend, and the running maximum is the end.
  let ascending = true;
  for (let row = 0; row < rows && ascending; row++) {
    for (let at = offsets[row] + 1; at < offsets[row + 1]; at++) {
      if (items.end[order[at]] < items.end[order[at - 1]]) {
        ascending = false;
        break;
      }
    }
  }
  if (ascending) return new PackedRows(items, order, null, offsets);
  const maxEnds = new Float64Array(count);
  for (let row = 0; row < rows; row++) {
    let latest = -Infinity;
    for (let at = offsets[row]; at < offsets[row + 1]; at++) maxEnds[at] = latest = Math.max(latest, items.end[order[at]]);
  }
  return new PackedRows(items, order, maxEnds, offsets);
}

/** The first index `i` in `[lo, hi)` with `valueAt(i) >= x` (ascending there); `hi` when there is none. */
function firstAtLeast(valueAt: (i: number) => number, lo: number, hi: number, x: number): number {
  let low = lo;
  let high = hi;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (valueAt(mid) < x) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** One visible stretch of a counter: `[ts, min, max]` of the samples in one pixel column. */
export type CounterPoint = [ts: Nanos, min: number, max: number];

/** Samples of a counter (heap bytes), added in time order. */
export class CounterSeries {
  private readonly times: number[] = [];
  private readonly values: number[] = [];
  max = 0;

  add(ts: Nanos, value: number): void {
    this.times.push(ts);
    this.values.push(value);
    if (value > this.max) this.max = value;
  }

  get length(): number {
    return this.times.length;
  }

  /** The sample in force at `from` and those in `[from, to]`, one point per pixel column (min and max). */
  visible(from: Nanos, to: Nanos, nsPerPixel: number): CounterPoint[] {
    const points: CounterPoint[] = [];
    const n = this.times.length;
    let i = Math.max(0, firstAtLeastArray(this.times, from) - 1);
    while (i < n && this.times[i] <= to) {
      const column = Math.floor((Math.max(this.times[i], from) - from) / nsPerPixel);
      const columnEnd = from + (column + 1) * nsPerPixel;
      const point: CounterPoint = [this.times[i], this.values[i], this.values[i]];
      i++;
      while (i < n && this.times[i] < columnEnd && this.times[i] <= to) {
        if (this.values[i] < point[1]) point[1] = this.values[i];
        if (this.values[i] > point[2]) point[2] = this.values[i];
        i++;
      }
      points.push(point);
    }
    return points;
  }
}

/** The first index of the ascending `values` whose value is at least `x`; `values.length` when there is none. */
export function firstAtLeastArray(values: ArrayLike<number>, x: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (values[mid] < x) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * Rows for intervals that may overlap (tasks, flows' lifetimes): each interval goes to the row that has
 * been free the longest, or a new row when none is free at its start. Intervals must be given in start
 * order; {@link add} says the row.
 */
export class RowPacker {
  /** Per row: the end of its last interval. */
  private readonly lastEnds: number[] = [];
  /** Min-heap of row indexes by their last end. */
  private readonly heap: number[] = [];

  get rows(): number {
    return this.lastEnds.length;
  }

  /** The row of the interval `[start, end]`. */
  add(start: Nanos, end: Nanos): number {
    if (this.heap.length > 0 && this.lastEnds[this.heap[0]] <= start) {
      const row = this.heap[0];
      this.lastEnds[row] = Math.max(this.lastEnds[row], end);
      this.siftDown(0);
      return row;
    }
    const row = this.lastEnds.push(end) - 1;
    this.heap.push(row);
    this.siftUp(this.heap.length - 1);
    return row;
  }

  private key(heapIndex: number): number {
    return this.lastEnds[this.heap[heapIndex]];
  }

  private swap(a: number, b: number): void {
    [this.heap[a], this.heap[b]] = [this.heap[b], this.heap[a]];
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.key(parent) <= this.key(i)) return;
      this.swap(parent, i);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.heap.length && this.key(left) < this.key(smallest)) smallest = left;
      if (right < this.heap.length && this.key(right) < this.key(smallest)) smallest = right;
      if (smallest === i) return;
      this.swap(smallest, i);
      i = smallest;
    }
  }
}
