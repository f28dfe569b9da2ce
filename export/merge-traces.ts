/**
 * `tstrace merge` and the Vitest integration's end of run: several traces (one per process or worker
 * thread) made into one, in the trace format itself. The format has no notion of a process: each
 * input's flows, tasks and worker threads get ids of their own in the output (offset past the inputs
 * before it), and its times are moved onto one clock, aligned by the inputs' wall-clock origins (their
 * headers). Every input's main thread is the output's main thread; its worker threads stay threads.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import { encodeThreadFrame } from '../format/encode.js';
import type { ReadStatus, SourceLocation, TraceEvent, TraceThread } from '../format/events.js';
import { GcKind, MisuseKind } from '../format/spec.js';
import { loadTrace } from '../analysis/reader.js';

/** What {@link mergeTraces} writes into the merged trace's header. */
export interface MergeOptions {
  /** The header's process id. Default: the first input's. */
  readonly pid?: number;
  /** The header's command line. Default: the first input's. */
  readonly command?: string;
  /**
   * Each input becomes a thread of the output (its main thread a worker thread named by this function;
   * its own worker threads stay threads beside it), instead of every input's main thread being the
   * output's: for traces of concurrent workers or processes (a Vitest run's workers), so the viewer
   * and the exports show a lane per input. Process-wide samples (GC, heap, event loop) stay on the
   * output's main thread.
   */
  readonly threadPerInput?: (input: { readonly path: string; readonly pid: number }) => string;
}

/** One input of a merge, as it was read. */
export interface MergedInput {
  readonly path: string;
  /** Events read from it. */
  readonly events: number;
  /** Its header's process id (null when it has no header: then nothing of it is in the output). */
  readonly pid: number | null;
  /** How reading it ended: a trace cut off (a killed process) is merged up to where it stops. */
  readonly status: ReadStatus;
  /** Added to its flow ids and task ids (other than task 0, the background task). */
  readonly flowOffset: number;
  readonly taskOffset: number;
  /** Added to the ids of its worker threads. */
  readonly threadOffset: number;
  /** Its main thread's id in the output: 0, or a thread of its own ({@link MergeOptions.threadPerInput}). */
  readonly mainThread: number;
  /** Added to its times (ns): how much later than the earliest input's its clock origin is. */
  readonly timeOffset: number;
}

export interface MergeResult {
  readonly inputs: readonly MergedInput[];
  /** Events written. */
  readonly events: number;
  /** True when every input was complete, so the output has a footer (is complete) too. */
  readonly complete: boolean;
  /** The worker threads in the output, with their ids there (offset), in input order. */
  readonly threads: readonly TraceThread[];
}

/** Batches are cut at this size, as the runtime cuts them. */
const BATCH_BYTES = 64 * 1024;

const misuseCodes: Record<string, number> = {
  regionEndedTwice: MisuseKind.RegionEndedTwice,
  regionEndedOutOfOrder: MisuseKind.RegionEndedOutOfOrder,
  regionEndedOnOtherFlow: MisuseKind.RegionEndedOnOtherFlow,
};
const gcCodes: Record<string, number> = Object.fromEntries(Object.entries(GcKind).map(([code, name]) => [name, Number(code)]));

interface ShiftedEvent {
  readonly event: TraceEvent;
  readonly ts: number;
  readonly input: number;
}

/**
 * Merges the traces at `inputs` into one trace at `output` (created or truncated), in time order. Each
 * input's flow ids, task ids (but task 0, the background task) and worker thread ids (but 0, the main
 * thread) are offset past those of the inputs before it, so that no two inputs share a flow, a task or
 * a thread, and its times are offset by how much later its wall-clock origin is than the earliest
 * input's. A worker thread keeps its name and its events (their thread); the first input's ids are
 * unchanged. Inputs without a header (not a trace) are left
 * out; a cut-off input is merged up to where it stops, and then the output has no footer (it is
 * "unfinished", as its input was). Holds the inputs' events in memory while it sorts them. Rejects
 * when an input cannot be read or the output cannot be written.
 */
export async function mergeTraces(inputs: readonly string[], output: string, options: MergeOptions = {}): Promise<MergeResult> {
  const loaded = await Promise.all(inputs.map(async (path) => ({ path, ...(await loadTrace(path)) })));
  const withHeader = loaded.filter((input) => input.status.header !== null);
  const origin = withHeader.reduce<bigint | null>((min, input) => {
    const at = input.status.header!.wallClockOriginNs;
    return min === null || at < min ? at : min;
  }, null);

  const merged: MergedInput[] = [];
  const shifted: ShiftedEvent[] = [];
  const threads: TraceThread[] = [];
  let flowOffset = 0;
  let taskOffset = 0;
  let threadOffset = 0;
  let endTs = 0;
  let recorded = 0;
  let dropped = 0;
  for (const input of loaded) {
    const header = input.status.header;
    const timeOffset = header && origin !== null ? Number(header.wallClockOriginNs - origin) : 0;
    // An input of its own thread: its main thread takes the next id, its workers the ids after it.
    const mainThread = header && options.threadPerInput ? ++threadOffset : 0;
    if (mainThread !== 0) threads.push({ id: mainThread, name: options.threadPerInput!({ path: input.path, pid: header!.pid }), ts: Math.max(0, timeOffset) });
    merged.push({ path: input.path, events: input.events.length, pid: header?.pid ?? null, status: input.status, flowOffset, taskOffset, threadOffset, mainThread, timeOffset });
    if (!header) continue;
    let maxThread = 0;
    for (const thread of input.status.threads ?? []) {
      threads.push({ id: thread.id + threadOffset, name: thread.name, ts: thread.ts + timeOffset });
      maxThread = Math.max(maxThread, thread.id);
    }
    const index = merged.length - 1;
    let maxFlow = 0;
    let maxTask = 0;
    for (const event of input.events) {
      // A run is placed where it was recorded, at its end: after the events of its own code.
      shifted.push({ event, ts: (event.kind === 'run' ? event.ts + event.duration : event.ts) + timeOffset, input: index });
      if ('flow' in event) maxFlow = Math.max(maxFlow, event.flow, event.kind === 'flowStart' ? event.parentFlow : 0);
      if (event.kind === 'taskCreate') maxTask = Math.max(maxTask, event.task, event.parent);
      else if ('task' in event) maxTask = Math.max(maxTask, event.task);
    }
    const footer = input.status.footer;
    endTs = Math.max(endTs, (footer?.endTs ?? input.events.at(-1)?.ts ?? 0) + timeOffset);
    recorded += footer?.events ?? input.events.length;
    dropped += footer?.dropped ?? 0;
    flowOffset += maxFlow;
    taskOffset += maxTask;
    threadOffset += maxThread;
  }
  // Stable: events of one input keep their file order where times tie.
  shifted.sort((a, b) => a.ts - b.ts);

  const first = withHeader[0]?.status.header;
  const complete = withHeader.length > 0 && loaded.every((input) => input.status.complete);
  const file = await open(output, 'w');
  try {
    await file.write(
      encodeFileStart({
        // Threads need version 4 (Thread and ThreadEvents frames): the newest input's version.
        version: withHeader.reduce((version, input) => Math.max(version, input.status.header!.version), 0),
        wallClockOriginNs: origin ?? 0n,
        hrtimeOriginNs: withHeader.find((input) => input.status.header!.wallClockOriginNs === origin)?.status.header!.hrtimeOriginNs ?? 0n,
        pid: options.pid ?? first?.pid ?? 0,
        nodeVersion: first?.nodeVersion ?? process.version,
        command: options.command ?? first?.command ?? '',
      }),
    );
    for (const thread of threads) await file.write(encodeThreadFrame(thread.id, thread.name, Math.max(0, thread.ts)));
    await writeEvents(file, shifted, merged);
    if (complete) await file.write(encodeFooter({ events: recorded, dropped, endTs }));
  } finally {
    await file.close();
  }
  return { inputs: merged, events: shifted.length, complete, threads };
}

/** The batches of one thread of the output: its own encoder (and string table), and whether a batch is open. */
interface ThreadBatches {
  readonly encoder: BatchEncoder;
  open: boolean;
}

/**
 * Encodes the events, in the order given, into batches of about {@link BATCH_BYTES}, written as they
 * fill: the main thread's into Events frames, each worker thread's into ThreadEvents frames of its own.
 */
async function writeEvents(file: FileHandle, events: readonly ShiftedEvent[], inputs: readonly MergedInput[]): Promise<void> {
  const batches = new Map<number, ThreadBatches>();
  // The decoder gives each input's equal locations one object; the encoder interns them by object.
  const locations = new Map<string, SourceLocation>();
  const location = (at: SourceLocation | null): SourceLocation | null => {
    if (at === null) return null;
    const key = `${at.file}\0${at.line}\0${at.column}\0${at.function}`;
    let known = locations.get(key);
    if (known === undefined) locations.set(key, (known = at));
    return known;
  };
  for (const { event, ts, input } of events) {
    const { flowOffset, taskOffset, threadOffset, mainThread } = inputs[input]!;
    const processWide = event.kind === 'gc' || event.kind === 'heap' || event.kind === 'eventLoop';
    const thread = event.thread === undefined || event.thread === 0 ? (processWide ? 0 : mainThread) : event.thread + threadOffset;
    let batch = batches.get(thread);
    if (batch === undefined) batches.set(thread, (batch = { encoder: new BatchEncoder(thread), open: false }));
    const encoder = batch.encoder;
    if (!batch.open) {
      encoder.begin(ts);
      batch.open = true;
    }
    const task = (id: number): number => (id === 0 ? 0 : id + taskOffset);
    switch (event.kind) {
      case 'flowStart':
        encoder.flowStart(ts, event.flow + flowOffset, event.parentFlow + flowOffset, event.regionsAbove);
        break;
      case 'taskCreate':
        encoder.taskCreate(ts, event.flow + flowOffset, task(event.task), task(event.parent), event.type, location(event.location));
        break;
      case 'taskEnd':
        encoder.taskEnd(ts, event.flow + flowOffset, task(event.task), location(event.location));
        break;
      case 'regionStart':
        encoder.regionStart(ts, event.flow + flowOffset, task(event.task), event.type, location(event.location));
        break;
      case 'regionEnd':
        encoder.regionEnd(ts, event.flow + flowOffset, event.type);
        break;
      case 'log':
        encoder.log(ts, event.flow + flowOffset, task(event.task), event.category, event.message, location(event.location));
        break;
      case 'gc':
        encoder.gc(ts, 0, event.duration, gcCodes[event.gcKind] ?? 0);
        break;
      case 'heap':
        encoder.heap(ts, event.bytes);
        break;
      case 'eventLoop':
        encoder.eventLoop(ts, Math.round(event.utilization * 1e6), event.interval);
        break;
      case 'dropped':
        encoder.dropped(ts, event.count);
        break;
      case 'misuse':
        encoder.misuse(ts, event.flow + flowOffset, misuseCodes[event.misuse]!, event.type, location(event.location), event.regionsAbove);
        break;
      case 'run':
        encoder.run(ts, event.flow + flowOffset, task(event.task), event.duration, event.duration, event.queued === null ? 0 : event.queued + 1, event.waitedOn, event.createdAt ?? null, event.createdInRegion === true);
        break;
    }
    if (encoder.pendingBytes >= BATCH_BYTES) {
      await file.write(encoder.finish());
      batch.open = false;
    }
  }
  for (const batch of batches.values()) if (batch.open) await file.write(batch.encoder.finish());
}
