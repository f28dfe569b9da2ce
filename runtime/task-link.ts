import { Task, background, type Context } from './api.js';
import { S } from './recorder.js';
import type { TraceSession } from './thread-protocol.js';

/**
 * A context as plain data: what {@link linkOf} makes for `postMessage` to a worker thread (or JSON),
 * and {@link contextFrom} turns back into a context there. Task ids are unique among the threads of a
 * process, so the worker's regions and logs belong to the very task of the main thread.
 */
export interface TaskLink {
  /** The task's id; 0 for a context without a task. */
  readonly task: number;
  /** The task's type (for the worker's own use: the trace has it from the task's creation). */
  readonly type: string;
  /**
   * The main thread's traces running when the link was made (the trace `start()` writes, a flight
   * recorder's): a worker that has not joined one yet (the message saying it started may still be on
   * its way) joins it when {@link contextFrom} reads the link, so the regions of the job the link came
   * with are in it. Absent while no trace runs.
   */
  readonly traces?: readonly TraceSession[];
}

/** The link of `ctx`'s task, to send to a worker thread. Never throws. */
export function linkOf(ctx: Context | undefined): TaskLink {
  const task = ctx?.task;
  const link: TaskLink = task ? { task: task.id, type: task.type } : { task: 0, type: '' };
  // The main thread's traces (on the main thread, or in a worker that is part of them).
  const traces = S.threads.length > 0 ? S.threads.map((threads) => threads.session) : S.joined.map((output) => output.session);
  return traces.length === 0 ? link : { ...link, traces };
}

/**
 * The context a {@link TaskLink} stands for, in the thread that received it: regions, logs and
 * subtasks made with it belong to the linked task. Anything that is not a link (or the link of no task)
 * gives {@link background}. End the task in the thread that created it: an `end()` here is recorded as
 * its end too (only the first end of a task counts).
 */
export function contextFrom(link: unknown): Context {
  if (typeof link !== 'object' || link === null) return background;
  const { task, type, traces } = link as { task?: unknown; type?: unknown; traces?: unknown };
  if (S.joinTrace !== null && Array.isArray(traces)) for (const trace of traces as unknown[]) if (isTraceSession(trace)) S.joinTrace(trace);
  if (typeof task !== 'number' || !Number.isSafeInteger(task) || task <= 0) return background;
  return Object.freeze({ task: new Task(task, typeof type === 'string' ? type : '') });
}

function isTraceSession(value: unknown): value is TraceSession {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.session === 'number' &&
    typeof v.wallOriginMs === 'number' &&
    typeof v.captureLocations === 'boolean' &&
    typeof v.flushInterval === 'number' &&
    typeof v.maxBufferedBytes === 'number' &&
    typeof v.scheduling === 'boolean'
  );
}
