/**
 * What a request to the HTTP endpoint asks for: which of its paths (the last segment of the URL's path,
 * wherever the handler is mounted) and, for `trace`, how many seconds (`?seconds=N`, Go's parameter).
 */

/** `seconds` when the request does not say (Go's default). */
export const DEFAULT_SECONDS = 1;

/** The path and query of a request URL (`/debug/tstrace/trace?seconds=2`, or `/trace?…` under a router that strips its mount). */
export interface TraceRequestUrl {
  /** The last segment of the path: `trace` for a trace download. */
  readonly name: string;
  readonly query: URLSearchParams;
}

/** Splits a request's `url` (path and query, as `IncomingMessage.url` has it) into what the endpoint reads. */
export function parseRequestUrl(url: string | undefined): TraceRequestUrl {
  const text = url ?? '/';
  const question = text.indexOf('?');
  const path = question < 0 ? text : text.slice(0, question);
  const query = new URLSearchParams(question < 0 ? '' : text.slice(question + 1));
  return { name: path.slice(path.lastIndexOf('/') + 1), query };
}

/** A decimal number, as a person writes one: `1`, `2.5`, `.5`, `-1`, `1e1` (not hex, not `Infinity`, not empty). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * The duration `?seconds=` asks for, in seconds, or why it cannot be traced (a sentence for the 400
 * answer): absent means {@link DEFAULT_SECONDS}; it must be a positive finite number, at most `maxSeconds`.
 */
export function traceSeconds(query: URLSearchParams, maxSeconds: number): number | { readonly problem: string } {
  const values = query.getAll('seconds');
  if (values.length === 0) return DEFAULT_SECONDS;
  if (values.length > 1) return { problem: `seconds is given ${values.length} times; give it once` };
  const text = values[0]!;
  const seconds = DECIMAL.test(text.trim()) ? Number(text) : Number.NaN;
  const shown = JSON.stringify(text);
  if (Number.isNaN(seconds)) return { problem: `seconds must be a number of seconds, such as 1 or 2.5, not ${shown}` };
  if (seconds <= 0) return { problem: `seconds must be more than 0, not ${shown}` };
  if (!Number.isFinite(seconds) || seconds > maxSeconds) return { problem: `seconds must be at most ${maxSeconds} (this endpoint's maxSeconds), not ${shown}` };
  return seconds;
}
