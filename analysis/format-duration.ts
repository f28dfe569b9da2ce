import type { Nanos } from '../format/events.js';

const units: readonly [limit: number, divisor: number, suffix: string][] = [
  [1e3, 1, 'ns'],
  [1e6, 1e3, 'µs'],
  [1e9, 1e6, 'ms'],
];

/**
 * A duration in nanoseconds for people: three significant digits and a unit, trailing zeros dropped —
 * `850ns`, `12.3µs`, `1.23ms`, `4s`, `125s`. Whole nanoseconds stay exact below 1µs.
 */
export function formatDuration(ns: Nanos): string {
  if (!Number.isFinite(ns)) return String(ns);
  const sign = ns < 0 ? '-' : '';
  const abs = Math.abs(ns);
  if (abs === 0) return '0s';
  for (const [limit, divisor, suffix] of units) {
    if (abs < limit) return sign + significant(abs / divisor, limit / divisor, suffix, divisor === 1);
  }
  return sign + significant(abs / 1e9, Infinity, 's', false);
}

/** Three significant digits; a value that rounds up to the next unit's limit is shown in the next unit. */
function significant(value: number, limit: number, suffix: string, whole: boolean): string {
  const digits = whole || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const rounded = Number(value.toFixed(digits));
  if (rounded >= limit) return formatDuration(rounded * nanosPer(suffix));
  return `${rounded}${suffix}`;
}

function nanosPer(suffix: string): number {
  return suffix === 'µs' ? 1e3 : suffix === 'ms' ? 1e6 : suffix === 's' ? 1e9 : 1;
}

/**
 * A time since the trace start, in seconds to the nanosecond, as `go tool trace`'s task page prints it:
 * `0.000000850s`, `12.345678901s`. Unlike a duration it keeps every digit, so two events a microsecond
 * apart late in a long trace never print alike.
 */
export function formatTimestamp(ns: Nanos): string {
  if (!Number.isFinite(ns)) return String(ns);
  const sign = ns < 0 ? '-' : '';
  const whole = Math.round(Math.abs(ns));
  return `${sign}${Math.floor(whole / 1e9)}.${String(whole % 1e9).padStart(9, '0')}s`;
}
