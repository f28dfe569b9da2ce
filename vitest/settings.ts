/**
 * How the Vitest plugin (main process) tells the test runner (every worker) and the global setup (main
 * process, at the end of the run) where the trace goes: environment variables, which Vitest's workers —
 * child processes (`forks`) and worker threads (`threads`) alike — inherit from the main process.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The merged trace of the run (an absolute path). */
export const OUTPUT_ENV = 'TSTRACE_VITEST_OUTPUT';
/** The folder where each worker writes its part of the trace until the run ends. */
export const PARTS_ENV = 'TSTRACE_VITEST_PARTS';
/** `start()`'s options for the workers, as JSON. */
export const OPTIONS_ENV = 'TSTRACE_VITEST_OPTIONS';
/** What users set to trace a run with the plugin in their config: `TSTRACE_TRACE=trace.out vitest run`. */
export const TRACE_ENV = 'TSTRACE_TRACE';

/**
 * A module of the ESM build's vitest/ folder, as Vitest's `runner` and `globalSetup` options want it
 * (a file Vitest imports: always the ESM build, whose default export is what Vitest looks for). Found
 * from this module's own file: `__dirname` in the CommonJS build; in ESM (this file is compiled to
 * CommonJS too, so it cannot say `import.meta`) its URL, read from a stack trace.
 */
export function esmModuleFile(name: string): string {
  let here: string | null = typeof __dirname === 'string' ? __dirname : null;
  if (here === null) {
    const match = /(file:\/\/[^\s)]*?|\/[^\s():]*?)settings\.[cm]?[jt]s/.exec(new Error().stack ?? '');
    if (match) here = dirname(match[0].startsWith('file:') ? fileURLToPath(match[0]) : match[0]);
  }
  if (here === null) throw new Error('tstrace/vitest: cannot find its own modules');
  const file = join(dirname(dirname(here)), 'esm', 'vitest', name);
  if (!existsSync(file)) throw new Error(`tstrace/vitest: ${file} is missing: build the package`);
  return file;
}
