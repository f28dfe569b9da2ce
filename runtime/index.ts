/**
 * tstrace runtime: Go's `runtime/trace` user annotations for Node.js. Tasks, regions and logs are
 * recorded with nanosecond timestamps into a compact binary trace streamed to a writer.
 */
export {
  background,
  current,
  isEnabled,
  log,
  logf,
  newTask,
  Region,
  start,
  startRegion,
  stop,
  Task,
  withContext,
  withRegion,
  type Context,
  type StartOptions,
} from './api.js';
export { traced, type TracedOptions } from './traced.js';
export { contextFrom, linkOf, type TaskLink } from './task-link.js';
export { DEFAULT_MAX_BYTES, DEFAULT_MIN_AGE_MS, FlightRecorder, type FlightRecorderOptions } from './flight-recorder.js';
export type { SourceLocation } from '../format/events.js';
