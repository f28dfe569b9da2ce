/**
 * Latency histograms as `go tool trace` draws them: five buckets per power of ten. Bucket `b` holds the
 * durations `d` (whole nanoseconds) with `10^(b/5) ≤ d < 10^((b+1)/5)`, i.e.
 * `b = floor(ln(d) / ln(10^(1/5)))` — computed exactly, so 1000 ns is in bucket 15 (Go's floating-point
 * version puts it in bucket 14).
 */
import type { Nanos } from '../format/events.js';

/** One non-empty bucket of a duration histogram. */
export interface HistogramBucket {
  /** Bucket index: `floor(5 · log10(d))`; 0 also holds durations ≤ 1 ns. */
  readonly bucket: number;
  /** `floor(10^(bucket/5))` ns, as Go shows it; 0 for bucket 0. */
  readonly lowerBound: Nanos;
  /** Durations in the bucket. */
  readonly count: number;
}

/** Buckets with an exact table: 10^(100/5) ns is about 3,000 years, far beyond any trace. */
const TABLE_BUCKETS = 101;

/** Largest integer `n` with `n^5 ≤ x` (BigInt, exact). */
function fifthRootFloor(x: bigint): bigint {
  let low = 0n;
  let high = 1n;
  while (high ** 5n <= x) high *= 2n;
  while (high - low > 1n) {
    const mid = (low + high) / 2n;
    if (mid ** 5n <= x) low = mid;
    else high = mid;
  }
  return low;
}

/** `floor(10^(b/5))` and `ceil(10^(b/5))` for every tabled bucket, exact. */
const floorBound: number[] = [];
const ceilBound: number[] = [];
for (let b = 0; b < TABLE_BUCKETS; b++) {
  const power = 10n ** BigInt(b);
  const root = fifthRootFloor(power);
  floorBound.push(Number(root));
  ceilBound.push(Number(root ** 5n === power ? root : root + 1n));
}

/**
 * The histogram bucket of a duration in nanoseconds: `floor(ln(d) / ln(10^(1/5)))`, exact for whole
 * nanoseconds (a fraction is dropped). Durations below 2 ns — including 0, negative and NaN — are in
 * bucket 0.
 */
export function latencyBucket(ns: Nanos): number {
  if (!(ns >= 1)) return 0;
  const d = Math.floor(ns);
  // The largest b with 10^(b/5) ≤ d, i.e. ceil(10^(b/5)) ≤ d since d is whole.
  let low = 0;
  let high = TABLE_BUCKETS - 1;
  if (ceilBound[high] <= d) return high;
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    if (ceilBound[mid] <= d) low = mid;
    else high = mid;
  }
  return low;
}

/**
 * The lower bound Go shows for bucket `b`: `floor(exp(b · ln(10^(1/5))))` = `floor(10^(b/5))` ns,
 * computed exactly. Bucket 0 (and below) reports 0, because bucket 0 also holds zero durations.
 */
export function bucketLowerBound(bucket: number): Nanos {
  if (bucket <= 0) return 0;
  if (bucket < TABLE_BUCKETS) return floorBound[bucket];
  return Math.floor(10 ** (bucket / 5));
}

/** Counts durations into buckets; `buckets()` lists the non-empty ones in ascending order. */
export class DurationHistogram {
  private readonly counts = new Map<number, number>();

  add(ns: Nanos): void {
    const b = latencyBucket(ns);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
  }

  buckets(): HistogramBucket[] {
    return [...this.counts.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([bucket, count]) => ({ bucket, lowerBound: bucketLowerBound(bucket), count }));
  }
}

/** The histogram of some durations: the non-empty buckets in ascending order. */
export function durationHistogram(durations: Iterable<Nanos>): HistogramBucket[] {
  const histogram = new DurationHistogram();
  for (const d of durations) histogram.add(d);
  return histogram.buckets();
}
