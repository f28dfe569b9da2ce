/**
 * Durations summarized as they stream by, in memory that does not grow with their number: exact
 * min/max, Go's histogram buckets, and percentiles — exact (nearest rank over the kept values) up to
 * {@link EXACT_VALUES} durations, and past that from a log-linear sketch whose answer is within
 * 1/2048 (0.05 %) of the exact one, and exact below 2048 ns.
 */
import type { Nanos } from '../format/events.js';
import { bucketLowerBound, latencyBucket, type HistogramBucket } from './histogram.js';

/**
 * Min, nearest-rank p50/p90/p99 and max. Percentiles use the nearest-rank method: the p-th percentile
 * of `n` sorted values is the value at rank `ceil(p/100 · n)` (1-based), so with `exact` it is always
 * one of the values.
 */
export interface DurationStats {
  readonly min: Nanos;
  readonly p50: Nanos;
  readonly p90: Nanos;
  readonly p99: Nanos;
  readonly max: Nanos;
  /**
   * Whether the percentiles are exact. False when more than 65,536 durations were summarized: the
   * percentiles then come from a sketch and are within 0.05 % of the exact ones (exact below 2048 ns);
   * min and max are always exact.
   */
  readonly exact: boolean;
}

/** Durations kept exactly per digest: 512 KiB of Float64Array at most. */
export const EXACT_VALUES = 1 << 16;
/** Sub-buckets per power of two in the sketch: the relative bucket width is 1/1024. */
const SUB_BITS = 10;
const SUBS = 1 << SUB_BITS;
/** Below this, every whole nanosecond has a sketch bucket of its own. */
const LINEAR_LIMIT = 2 * SUBS;
/** A percentile from the sketch below this many ns is exact. */
export const SKETCH_EXACT_BELOW = LINEAR_LIMIT;
/** Powers of two above the linear part: enough for 2^64 ns. */
const OCTAVES = 64 - (SUB_BITS + 1);

/** Rank of the p-th percentile (0 < p ≤ 100) of n values, 1-based. */
function nearestRankIndex(n: number, p: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p * n) / 100)));
}

/**
 * The nearest-rank `p`-th percentile (0 < p ≤ 100) of values sorted in ascending order: the value at
 * 1-based rank `ceil(p/100 · n)`. Throws on an empty array.
 */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('no values to take a percentile of');
  return sorted[nearestRankIndex(sorted.length, p) - 1];
}

/** A log-linear histogram of whole nanoseconds: the linear part, then 1024 buckets per power of two, allocated when first used. */
class DurationSketch {
  private readonly linear = new Float64Array(LINEAR_LIMIT);
  private readonly octaves: (Float64Array | null)[] = new Array<Float64Array | null>(OCTAVES).fill(null);

  add(ns: Nanos): void {
    const d = ns > 0 ? Math.floor(ns) : 0;
    if (d < LINEAR_LIMIT) {
      this.linear[d]++;
      return;
    }
    const exponent = d < 2 ** 32 ? 31 - Math.clz32(d) : Math.floor(Math.log2(d));
    const octave = exponent - (SUB_BITS + 1);
    const counts = (this.octaves[octave] ??= new Float64Array(SUBS));
    counts[Math.floor(d / 2 ** (exponent - SUB_BITS)) - SUBS]++;
  }

  /** The value at 1-based `rank`: the middle of its bucket, kept within [min, max]. */
  valueAtRank(rank: number, min: Nanos, max: Nanos): Nanos {
    let seen = 0;
    for (let d = 0; d < LINEAR_LIMIT; d++) {
      seen += this.linear[d];
      if (seen >= rank) return Math.min(max, Math.max(min, d));
    }
    for (let octave = 0; octave < OCTAVES; octave++) {
      const counts = this.octaves[octave];
      if (!counts) continue;
      const width = 2 ** (octave + 1);
      for (let sub = 0; sub < SUBS; sub++) {
        seen += counts[sub];
        if (seen >= rank) return Math.min(max, Math.max(min, (SUBS + sub) * width + Math.floor(width / 2)));
      }
    }
    return max;
  }
}

/** Summarizes durations one at a time; see the module comment for what is exact. */
export class DurationDigest {
  count = 0;
  private min = Infinity;
  private max = -Infinity;
  private values: Float64Array | null = new Float64Array(64);
  private sketch: DurationSketch | null = null;
  /** Counts per Go histogram bucket (latencyBucket clamps to the table's last bucket). */
  private readonly goBuckets = new Float64Array(101);

  add(ns: Nanos): void {
    const i = this.count++;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    this.goBuckets[latencyBucket(ns)]++;
    const values = this.values;
    if (values === null) {
      (this.sketch as DurationSketch).add(ns);
    } else if (i < values.length) {
      values[i] = ns;
    } else if (i < EXACT_VALUES) {
      this.values = new Float64Array(values.length * 2);
      this.values.set(values);
      this.values[i] = ns;
    } else {
      // Too many to keep: from here on, the sketch.
      const sketch = new DurationSketch();
      for (const value of values) sketch.add(value);
      sketch.add(ns);
      this.sketch = sketch;
      this.values = null;
    }
  }

  /** Min, percentiles and max; null when no duration was added. */
  stats(): DurationStats | null {
    const n = this.count;
    if (n === 0) return null;
    const { min, max } = this;
    if (this.values !== null) {
      const sorted = this.values.slice(0, n).sort();
      return { min, p50: nearestRank(sorted, 50), p90: nearestRank(sorted, 90), p99: nearestRank(sorted, 99), max, exact: true };
    }
    const sketch = this.sketch as DurationSketch;
    const at = (p: number): Nanos => sketch.valueAtRank(nearestRankIndex(n, p), min, max);
    return { min, p50: at(50), p90: at(90), p99: at(99), max, exact: false };
  }

  /** Go's histogram: the non-empty buckets in ascending order. */
  histogram(): HistogramBucket[] {
    const buckets: HistogramBucket[] = [];
    this.goBuckets.forEach((count, bucket) => {
      if (count > 0) buckets.push({ bucket, lowerBound: bucketLowerBound(bucket), count });
    });
    return buckets;
  }
}

/** Min, nearest-rank p50/p90/p99 and max of some durations; null when there are none. */
export function durationStats(durations: Iterable<Nanos>): DurationStats | null {
  const digest = new DurationDigest();
  for (const d of durations) digest.add(d);
  return digest.stats();
}
