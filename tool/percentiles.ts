import type { Nanos } from '../format/events.js';

/**
 * Summary of a set of durations. Percentiles use the nearest-rank method: the p-th percentile of `n`
 * sorted values is the value at rank `ceil(p/100 · n)` (1-based), so it is always one of the values.
 */
export interface DurationStats {
  readonly min: Nanos;
  readonly p50: Nanos;
  readonly p90: Nanos;
  readonly p99: Nanos;
  readonly max: Nanos;
}

/**
 * The nearest-rank `p`-th percentile (0 < p ≤ 100) of values sorted in ascending order: the value at
 * 1-based rank `ceil(p/100 · n)`. Throws on an empty array.
 */
export function nearestRank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('no values to take a percentile of');
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p * sorted.length) / 100)));
  return sorted[rank - 1];
}

/** Min, nearest-rank p50/p90/p99 and max of some durations; null when there are none. */
export function durationStats(durations: readonly Nanos[]): DurationStats | null {
  if (durations.length === 0) return null;
  const sorted = Float64Array.from(durations).sort();
  const values = Array.from(sorted);
  return {
    min: values[0],
    p50: nearestRank(values, 50),
    p90: nearestRank(values, 90),
    p99: nearestRank(values, 99),
    max: values[values.length - 1],
  };
}
