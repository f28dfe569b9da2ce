/**
 * The analysis `go tool trace` does for user annotations — tasks, regions, logs — computed while the
 * events stream by, as plain objects.
 */
import type { ReadStatus, TraceEvent } from '../format/events.js';
import type { TraceAnalysis } from './analysis-types.js';
import { ItemList } from './item-list.js';
import { readTrace, type TraceSource } from './reader.js';
import { TraceTables } from './trace-tables.js';

export { formatLocation } from './summary.js';

/**
 * Analyses a trace one event at a time: feed it every event of a trace in file order with
 * {@link TraceAnalyzer.add}, then call {@link TraceAnalyzer.finish} once with the read status. It reads
 * into the columns of trace-tables.ts (where the statistics and every task, region and log are kept),
 * whose items become objects only when asked for; it never keeps the events themselves.
 */
export class TraceAnalyzer {
  private readonly tables = new TraceTables({ maxProblems: Infinity });

  /** Accounts for one event. Events must come in file order. */
  add(event: TraceEvent): void {
    this.tables.add(event);
  }

  /** The analysis of the events added so far, read as `status` says. Call once, after the last event. */
  finish(status: ReadStatus): TraceAnalysis {
    const tables = this.tables;
    tables.finish(status);
    return { ...tables.stats, tasks: new ItemList(tables.taskListing()), regions: new ItemList(tables.regionListing()), logs: new ItemList(tables.logListing()) };
  }
}

/**
 * Reads a trace (a file path, bytes, or a stream of chunks) and analyses it as `go tool trace` does:
 * tasks with latencies, parents, children, flows and histories; regions with parents, durations and
 * locations; logs; latency statistics and histograms per task type and per region (type, location);
 * and the problems found. Streams: memory grows with the number of tasks, regions and logs, not with
 * the file; for the statistics alone, in bounded memory, see {@link summarizeTrace}. A damaged or
 * cut-off trace is analysed up to where reading stopped (`status` says where and why); only I/O errors
 * (no such file) reject.
 */
export async function analyzeTrace(source: TraceSource): Promise<TraceAnalysis> {
  const analyzer = new TraceAnalyzer();
  const status = await readTrace(source, (event) => analyzer.add(event));
  return analyzer.finish(status);
}
