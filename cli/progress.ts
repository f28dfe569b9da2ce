/**
 * A one-line progress bar for long reads on a terminal: `label [=======>      ]  52%  12.3 / 23.7 MiB`.
 * Redrawn at most ten times a second, and erased when done, so the terminal is left as it was.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { READ_CHUNK_BYTES } from '../analysis/reader.js';

export interface ProgressBar {
  /** Bytes read so far of `totalBytes` (null: unknown, only the bytes are shown). */
  update(bytesRead: number, totalBytes: number | null): void;
  /** Erases the bar (if one was drawn). Later updates draw nothing. */
  done(): void;
}

export interface ProgressBarOptions {
  /** Writes to the terminal (stderr). */
  write: (text: string) => void;
  /** The terminal's width in columns, read at each redraw. */
  columns: () => number;
  /** The text before the bar. */
  label: string;
  /** Milliseconds between redraws, at least. Default 100. */
  interval?: number;
  /** The clock, in milliseconds. Default `performance.now`. */
  now?: () => number;
}

const MIB = 1024 * 1024;

/** A progress bar drawn with `\r` on one terminal line. */
export function terminalProgressBar(options: ProgressBarOptions): ProgressBar {
  const interval = options.interval ?? 100;
  const now = options.now ?? (() => performance.now());
  let lastDraw = -Infinity;
  let drawn = false;
  let finished = false;
  return {
    update(bytesRead, totalBytes) {
      if (finished) return;
      const t = now();
      const complete = totalBytes !== null && bytesRead >= totalBytes;
      if (t - lastDraw < interval && !complete) return;
      lastDraw = t;
      drawn = true;
      options.write(`\r${progressLine(options.label, bytesRead, totalBytes, options.columns())}\x1b[K`);
    },
    done() {
      if (finished) return;
      finished = true;
      if (drawn) options.write('\r\x1b[K');
    },
  };
}

/** The text of the bar, at most `columns − 1` characters wide (the last column would wrap on some terminals). */
export function progressLine(label: string, bytesRead: number, totalBytes: number | null, columns: number): string {
  const width = Math.max(columns - 1, 10);
  if (totalBytes === null || totalBytes <= 0) return fit(`${label} ${mib(bytesRead)} MiB`, width);
  const fraction = Math.min(bytesRead / totalBytes, 1);
  const numbers = ` ${String(Math.floor(fraction * 100)).padStart(3)}%  ${mib(bytesRead)} / ${mib(totalBytes)} MiB`;
  const barWidth = width - label.length - numbers.length - 3;
  if (barWidth < 5) return fit(`${label}${numbers}`, width);
  const filled = Math.floor(fraction * barWidth);
  const bar = filled >= barWidth ? '='.repeat(barWidth) : `${'='.repeat(filled)}>${' '.repeat(barWidth - filled - 1)}`;
  return `${label} [${bar}]${numbers}`;
}

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

function fit(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, width);
}

/** Where a command writes, as far as its progress bar is concerned. */
export interface ProgressIo {
  readonly stderr: (text: string) => void;
  /** The width of the terminal stderr is; null or absent: stderr is not a terminal. */
  readonly stderrColumns?: number | null;
}

/** A progress bar on stderr when it is a terminal and not `--quiet`; else null. */
export function progressBar(label: string, quiet: boolean, io: ProgressIo): ProgressBar | null {
  const columns = io.stderrColumns;
  if (quiet || !columns) return null;
  return terminalProgressBar({ write: io.stderr, columns: () => io.stderrColumns ?? columns, label });
}

/** The chunks of a file, reporting the bytes read of its size to `bar` (erased at the end). */
export async function* fileChunks(path: string, bar: ProgressBar): AsyncIterable<Uint8Array> {
  try {
    const { size } = await stat(path);
    let bytesRead = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
      yield chunk;
      bytesRead += chunk.length;
      bar.update(bytesRead, size);
    }
  } finally {
    bar.done();
  }
}
