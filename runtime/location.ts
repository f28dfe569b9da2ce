import { findSourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { registerLocation } from './recorder.js';

/** Location ids by raw call site, so each site is resolved (and source-mapped) once. */
const resolved = new Map<string, number>();

const toPath = (file: string): string => (file.startsWith('file://') ? fileURLToPath(file) : file);

/**
 * The innermost `limit` frames of the current stack below the last call of `skip` (none when `skip` is
 * not on it), as V8 call sites. Error.prepareStackTrace and Error.stackTraceLimit are left as they were;
 * throws only what capturing throws.
 */
export function captureFrames(skip: Function, limit: number): NodeJS.CallSite[] {
  const holder: { stack?: unknown } = {};
  const savedPrepare = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = (_error, frames) => frames;
    Error.captureStackTrace(holder, skip);
    return (holder.stack as NodeJS.CallSite[] | undefined) ?? [];
  } finally {
    Error.prepareStackTrace = savedPrepare;
    Error.stackTraceLimit = savedLimit;
  }
}

/**
 * The location id of the code that called `skip` (a tstrace API function), mapped to the original
 * source when Node has a source map for the file (`--enable-source-maps`). Only used when start() was
 * asked to capture locations: it costs a stack capture per call.
 */
export function callerLocation(skip: Function): number {
  try {
    const frame = captureFrames(skip, 1)[0];
    return frame ? frameLocation(frame) : 0;
  } catch {
    return 0;
  }
}

/** The location id of a captured frame: resolved (and source-mapped) once per raw position. */
export function frameLocation(frame: NodeJS.CallSite): number {
  const file = frame.getFileName() ?? '';
  const line = frame.getLineNumber() ?? 0;
  const column = frame.getColumnNumber() ?? 0;
  const fn = frame.getFunctionName() ?? '';
  const key = `${file}\0${line}\0${column}\0${fn}`;
  let id = resolved.get(key);
  if (id === undefined) {
    id = resolveLocation(file, line, column, fn);
    resolved.set(key, id);
  }
  return id;
}

/** The location id of a raw stack position, mapped to the original source when Node has a source map for the file. */
export function resolveLocation(file: string, line: number, column: number, fn: string): number {
  const map = file ? findSourceMap(file) : undefined;
  const entry = map?.findEntry(line - 1, column - 1);
  if (entry && 'originalSource' in entry && entry.originalSource) {
    return registerLocation(toPath(entry.originalSource), entry.originalLine + 1, entry.originalColumn + 1, fn);
  }
  return registerLocation(toPath(file), line, column, fn);
}
