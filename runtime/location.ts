import { fileURLToPath } from 'node:url';
import { registerLocation } from './recorder.js';

type StackHolder = { stack?: unknown };

/**
 * The location id of the code that called `skip` (a tstrace API function). Only used when start() was
 * asked to capture locations: it costs a stack capture per call.
 */
export function callerLocation(skip: Function): number {
  const holder: StackHolder = {};
  const savedPrepare = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 1;
    Error.prepareStackTrace = (_error, frames) => frames;
    Error.captureStackTrace(holder, skip);
    const frames = holder.stack as NodeJS.CallSite[] | undefined;
    const frame = frames?.[0];
    if (!frame) return 0;
    let file = frame.getFileName() ?? '';
    if (file.startsWith('file://')) file = fileURLToPath(file);
    return registerLocation(file, frame.getLineNumber() ?? 0, frame.getColumnNumber() ?? 0, frame.getFunctionName() ?? '');
  } catch {
    return 0;
  } finally {
    Error.prepareStackTrace = savedPrepare;
    Error.stackTraceLimit = savedLimit;
  }
}
