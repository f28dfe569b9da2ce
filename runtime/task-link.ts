import { Task, background, type Context } from './api.js';

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
}

/** The link of `ctx`'s task, to send to a worker thread. Never throws. */
export function linkOf(ctx: Context | undefined): TaskLink {
  const task = ctx?.task;
  return task ? { task: task.id, type: task.type } : { task: 0, type: '' };
}

/**
 * The context a {@link TaskLink} stands for, in the thread that received it: regions, logs and
 * subtasks made with it belong to the linked task. Anything that is not a link (or the link of no task)
 * gives {@link background}. End the task in the thread that created it: an `end()` here is recorded as
 * its end too (only the first end of a task counts).
 */
export function contextFrom(link: unknown): Context {
  if (typeof link !== 'object' || link === null) return background;
  const { task, type } = link as { task?: unknown; type?: unknown };
  if (typeof task !== 'number' || !Number.isSafeInteger(task) || task <= 0) return background;
  return Object.freeze({ task: new Task(task, typeof type === 'string' ? type : '') });
}
