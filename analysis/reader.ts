import { createReadStream } from 'node:fs';
import { TraceDecoder } from '../format/decode.js';
import type { ReadStatus, TraceEvent } from '../format/events.js';

/** A file is read in chunks of this size: bigger ones cost more (fresh buffers of a megabyte each, page faults, garbage) than the calls they save. */
export const READ_CHUNK_BYTES = 64 * 1024;

export type TraceSource = string | Uint8Array | AsyncIterable<Uint8Array>;

/**
 * Streams the events of a trace (a file path, bytes, or a stream of chunks) to `onEvent` in file order,
 * in memory bounded by the largest batch. Never throws for damaged input: the returned status says
 * whether the trace is complete, or where and why reading stopped. I/O errors (no such file) reject.
 */
export async function readTrace(source: TraceSource, onEvent: (event: TraceEvent) => void): Promise<ReadStatus> {
  const decoder = new TraceDecoder(onEvent);
  if (source instanceof Uint8Array) {
    decoder.push(source);
    return decoder.finish();
  }
  const chunks = typeof source === 'string' ? createReadStream(source, { highWaterMark: READ_CHUNK_BYTES }) : source;
  for await (const chunk of chunks) {
    decoder.push(chunk as Uint8Array);
    if (decoder.stopped) break;
  }
  return decoder.finish();
}

/** Reads a whole trace into memory: convenient for small traces and tests. */
export async function loadTrace(source: TraceSource): Promise<{ events: TraceEvent[]; status: ReadStatus }> {
  const events: TraceEvent[] = [];
  const status = await readTrace(source, (event) => events.push(event));
  return { events, status };
}
