/**
 * W3C Trace Context (`traceparent`) of tasks, a convention of the format (docs/format.md, "Meaning"):
 * the reserved log category a task's trace context is recorded under, and the header's parsing. The
 * runtime writes it (`newTaskFromTraceparent`, `tstrace/otel`), the analysis and the exports read it.
 */

/**
 * The log category under which a task's W3C trace context is recorded, right after its creation: the
 * message is a `traceparent` value, `00-<trace id>-<parent span id>-<flags>` (docs/format.md, "Meaning").
 */
export const OTEL_TRACE_CATEGORY = 'otel.trace';

/** A trace context: lowercase hex ids, as in `traceparent`. */
export interface TraceContext {
  /** 32 hex digits, not all zero. */
  readonly traceId: string;
  /** 16 hex digits, not all zero: the span the task is a child of. */
  readonly spanId: string;
  /** The trace flags: bit 0 = sampled. */
  readonly flags: number;
}

const TRACEPARENT = /^[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^]*)?[ \t]*$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * The trace context of a `traceparent` header value, or null when it is not a valid one (W3C Trace
 * Context level 1: version `ff`, all-zero ids, uppercase hex, or more for version 00 are invalid). A
 * header given twice (an array of two values) is invalid too; an array of one is that value.
 */
export function parseTraceparent(header: string | readonly string[] | undefined | null): TraceContext | null {
  const value = Array.isArray(header) ? (header.length === 1 ? header[0] : undefined) : header;
  if (typeof value !== 'string' || value.length > 512) return null;
  const match = TRACEPARENT.exec(value);
  if (match === null) return null;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

/** The `traceparent` value (version 00) of a trace context. */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.flags & 0xff).toString(16).padStart(2, '0')}`;
}
