import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceEvent } from '../../format/events.js';
import { loadTrace } from '../../analysis/reader.js';
import { analyzeTrace } from '../../analysis/analysis.js';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../../format/encode.js';
import { start, stop, type StartOptions } from '../../runtime/index.js';

// One temporary folder per test file, removed when its worker exits.
const folder = mkdtempSync(join(tmpdir(), 'tstrace-test-'));
process.on('exit', () => rmSync(folder, { recursive: true, force: true }));
let files = 0;

/** A trace file with `header` and one batch that `write` fills (its footer: one event, ending at 100 µs): format tests' input. */
export function encodedTrace(header: Parameters<typeof encodeFileStart>[0], write: (e: BatchEncoder) => void): Buffer {
  const e = new BatchEncoder();
  e.begin(0);
  write(e);
  return Buffer.concat([encodeFileStart(header), e.finish(), encodeFooter({ events: 1, dropped: 0, endTs: 100_000 })]);
}

/** A fresh path for a trace file in a temporary folder. */
export function tempTracePath(name = 'trace.out'): string {
  return join(folder, `${++files}-${name}`);
}

/** Traces `body` into a temporary file and reads it back. Execution events are off unless asked for. */
export async function traceOf(body: () => unknown, options: StartOptions = {}) {
  const path = tempTracePath();
  start(path, { gc: false, heap: false, eventLoop: false, ...options });
  try {
    await body();
  } finally {
    await stop();
  }
  const { events, status } = await loadTrace(path);
  return { events, status, path };
}

/** The user-annotation events only (no GC/heap/event-loop samples). */
export function annotations(events: TraceEvent[]): TraceEvent[] {
  return events.filter((e) => e.kind !== 'gc' && e.kind !== 'heap' && e.kind !== 'eventLoop');
}

/**
 * Waits for a timer, and until at least `ms` have passed by the high-resolution clock the trace uses:
 * a timer alone can fire up to ~1 ms early by that clock, which would make duration checks flaky.
 */
export async function sleep(ms: number): Promise<void> {
  const end = performance.now() + ms;
  do await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, end - performance.now())));
  while (performance.now() < end);
}

/** Of `files`, each that has problems or not exactly one region of `type` on a worker thread, with what it has. */
export async function lackingWorkerRegion(files: readonly string[], type: string): Promise<string[]> {
  const lacking: string[] = [];
  for (const file of files) {
    const analysis = await analyzeTrace(file);
    const regions = analysis.regions.toArray().filter((r) => r.type === type && r.thread !== 0).length;
    if (analysis.problems.length > 0 || regions !== 1) lacking.push(`${file}: ${analysis.problems.length} problems, ${regions} "${type}" regions on workers`);
  }
  return lacking;
}
