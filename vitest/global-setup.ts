/**
 * `tstrace/vitest/global-setup` (the `globalSetup` the plugin adds): in Vitest's main process, at the
 * end of the run, merges the workers' parts into the trace file and removes them.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { mergeTraces } from '../export/merge-traces.js';
import { OUTPUT_ENV, PARTS_ENV } from './settings.js';

/** A worker's lane in the merged trace, from its part's name (`PID-THREADID-N.out`, worker-trace.ts). */
export function workerName(part: string): string {
  const [pid, thread, n] = basename(part, '.out').split('-');
  return `vitest worker ${thread === '0' ? `pid ${pid}` : `pid ${pid} thread ${thread}`}${n !== undefined && n !== '1' ? ` (part ${n})` : ''}`;
}

/** Merges the parts in `folder` into `output`; returns the line to print. Leaves the parts if the merge fails. */
export async function mergeParts(folder: string, output: string): Promise<string> {
  const parts = readdirSync(folder)
    .filter((name) => name.endsWith('.out'))
    .sort()
    .map((name) => join(folder, name));
  const result = await mergeTraces(parts, output, { pid: process.pid, command: process.argv.join(' '), threadPerInput: ({ path }) => workerName(path) });
  rmSync(folder, { recursive: true, force: true });
  const tasks = result.inputs.length; // one part per worker run
  const size = statSync(output).size;
  const incomplete = result.complete ? '' : ' (a worker stopped before its part was complete)';
  const shown = relative(process.cwd(), output);
  const name = shown && !shown.startsWith('..') ? shown : output;
  return `tstrace: wrote ${name}: ${result.events} events from ${tasks} worker trace${tasks === 1 ? '' : 's'}, ${size} bytes${incomplete}; see npx tstrace stats ${name}\n`;
}

/** Vitest's global setup: nothing before the run; the merge after it. */
export default function setup(): () => Promise<void> {
  return async () => {
    const output = process.env[OUTPUT_ENV];
    const folder = process.env[PARTS_ENV];
    if (!output || !folder) return;
    try {
      process.stderr.write(await mergeParts(folder, output));
    } catch (error) {
      process.stderr.write(`tstrace: error: cannot write the trace ${output}: ${error instanceof Error ? error.message : String(error)} (the workers' parts are in ${folder})\n`);
    }
  };
}
