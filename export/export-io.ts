/**
 * What every exporter (export-chrome.ts, export-perfetto.ts, export-go.ts) does around its conversion,
 * the same way: read the input in chunks and hand it to the decoder a piece at a time, paced by the
 * output, through the export filter (export-filter.ts); write with backpressure; keep a capped list of
 * warnings. The exporters only convert events.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { TraceDecoder } from '../format/decode.js';
import type { ReadStatus, TraceEvent, TraceHeader } from '../format/events.js';
import { filterEvents } from './export-filter.js';
import type { ExportOptions } from './export-types.js';
import { READ_CHUNK_BYTES, type TraceSource } from '../analysis/reader.js';

/** Input is read in chunks of this size (and progress reported per chunk)… */
const INPUT_CHUNK_BYTES = READ_CHUNK_BYTES;
/** …and handed to the decoder in pieces of this size: the output of one piece is written before the next is read. */
const PIECE_BYTES = 64 * 1024;
/** Warnings kept word for word; further ones are counted by kind. */
const MAX_WARNINGS = 100;

/** How reading went ({@link decodePaced}): the decoder's status, and the one the exporter should finish with. */
export interface PacedReading {
  /** How reading the trace ended. */
  readonly status: ReadStatus;
  /** The same, with the trace end the filter implies (its footer's end time at most `until`). */
  readonly exported: ReadStatus;
  /** What the filter says about its selection (a task the trace does not create), as warnings for the export's. */
  readonly notes: readonly string[];
}

/**
 * Feeds a trace (a file path, bytes, or a stream of chunks) to a decoder 64 KiB at a time, hands each
 * event `options.filter` keeps (docs/export.md) to `add` with the trace header, and awaits `afterPiece`
 * after each piece — where the exporter writes out what that piece produced, waiting while the output is
 * full — so that memory holds the output of one piece, never of the trace. Calls `options.onProgress`
 * after each chunk of input (1 MiB of a file or of bytes). Stops where the decoder stops (damaged
 * input). Rejects on I/O errors (no such file) and with whatever `afterPiece` rejects with. `decoded`,
 * when given, sees every event before the filter does (the OTLP export numbers regions by it).
 */
export async function decodePaced(
  source: TraceSource,
  add: (event: TraceEvent, header: TraceHeader | null) => void,
  afterPiece: () => Promise<void>,
  options: ExportOptions,
  decoded?: (event: TraceEvent) => void,
): Promise<PacedReading> {
  const stage = filterEvents(options.filter, (event) => add(event, decoder.header));
  const decoder: TraceDecoder = new TraceDecoder(
    decoded === undefined
      ? stage.add
      : (event) => {
          decoded(event);
          stage.add(event);
        },
  );
  const { chunks, totalBytes } = await openInput(source);
  let bytesRead = 0;
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length && !decoder.stopped; at += PIECE_BYTES) {
      decoder.push(chunk.subarray(at, at + PIECE_BYTES));
      await afterPiece();
    }
    bytesRead += chunk.length;
    options.onProgress?.(bytesRead, totalBytes);
    if (decoder.stopped) break;
  }
  const status = decoder.finish();
  const exported = stage.finish(status);
  return { status, exported, notes: stage.notes() };
}

/** The input as chunks (at most {@link INPUT_CHUNK_BYTES} from a file or bytes) and its size when known. */
async function openInput(source: TraceSource): Promise<{ chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>; totalBytes: number | null }> {
  if (typeof source === 'string') {
    const { size } = await stat(source);
    return { chunks: createReadStream(source, { highWaterMark: INPUT_CHUNK_BYTES }) as AsyncIterable<Uint8Array>, totalBytes: size };
  }
  if (source instanceof Uint8Array) {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < source.length; at += INPUT_CHUNK_BYTES) chunks.push(source.subarray(at, at + INPUT_CHUNK_BYTES));
    return { chunks, totalBytes: source.length };
  }
  return { chunks: source, totalBytes: null };
}

/**
 * Writes to a Writable and waits while it is full. An error the stream emits is remembered: nothing
 * more is written, and the next wait rejects with it. Call {@link release} when done.
 */
export class PacedWriter {
  private error: Error | null = null;
  private readonly onError = (error: Error): void => {
    this.error ??= error;
  };

  constructor(private readonly out: Writable) {
    out.on('error', this.onError);
  }

  /** Hands `chunk` to the output without waiting (nothing once writing has failed). */
  write(chunk: string | Uint8Array): void {
    if (!this.error) this.out.write(chunk);
  }

  /** Writes `chunks` in order, each once the output wants more; resolves when it wants more again. */
  async writeAll(chunks: readonly Uint8Array[]): Promise<void> {
    for (const chunk of chunks) {
      await this.drained();
      this.write(chunk);
    }
    await this.drained();
  }

  /** Resolves when the output wants more. Rejects if writing failed, or if the output closes first. */
  async drained(): Promise<void> {
    if (this.error) throw this.error;
    const out = this.out;
    if (!out.writableNeedDrain) return;
    if (out.destroyed) throw new Error('the output was closed before the export was written');
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        out.off('drain', onDrain);
        out.off('error', done);
        out.off('close', onClose);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(this.error ?? new Error('the output was closed before the export was written'));
      out.on('drain', onDrain);
      out.on('error', done);
      out.on('close', onClose);
    });
  }

  /** Stops listening to the output. */
  release(): void {
    this.out.off('error', this.onError);
  }
}

/** Warnings in order: the first {@link MAX_WARNINGS} word for word, the rest counted by kind in one last line. */
export class WarningList {
  private readonly kept: string[] = [];
  private readonly omitted = new Map<string, number>();

  /** `kind` names what is counted once the list is full, in the plural ("region ends without a start"). */
  add(kind: string, message: string): void {
    if (this.kept.length < MAX_WARNINGS) this.kept.push(message);
    else this.omitted.set(kind, (this.omitted.get(kind) ?? 0) + 1);
  }

  list(): string[] {
    if (this.omitted.size === 0) return [...this.kept];
    const total = [...this.omitted.values()].reduce((a, b) => a + b, 0);
    const kinds = [...this.omitted].map(([kind, count]) => `${count} ${kind}`).join(', ');
    return [...this.kept, `${total} more warnings like these were left out (${kinds})`];
  }
}
