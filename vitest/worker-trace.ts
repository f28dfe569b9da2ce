/**
 * A worker's part of the run's trace: started when the worker is given test files, stopped (the file
 * complete and closed) once it has run them, before Vitest hears that they are done. A worker given more
 * files later (`isolate: false`) writes another part.
 */
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { isEnabled, start, stop, type StartOptions } from '../runtime/api.js';
import { OPTIONS_ENV, PARTS_ENV } from './settings.js';

let parts = 0;
/** Whether the running trace is this module's (not one `tstrace run` started in this process). */
let ours = false;

/** Starts this worker's part of the trace, unless tracing is on already or the run is not traced. */
export function startWorkerTrace(): void {
  const folder = process.env[PARTS_ENV];
  if (!folder || isEnabled()) return;
  let options: StartOptions = {};
  try {
    options = JSON.parse(process.env[OPTIONS_ENV] ?? '{}') as StartOptions;
  } catch {
    // Defaults, then.
  }
  start(join(folder, `${process.pid}-${threadId}-${++parts}.out`), options);
  ours = true;
}

/** Finishes this worker's part: resolves once it is written and closed. */
export async function stopWorkerTrace(): Promise<void> {
  if (!ours) return;
  ours = false;
  await stop();
}
