/**
 * `tstrace/vitest`: one line in `vitest.config` to trace test runs (`go test -trace` for Vitest).
 *
 * ```ts
 * import { traceVitest } from 'tstrace/vitest';
 * export default defineConfig({ plugins: [traceVitest()] });   // then: TSTRACE_TRACE=trace.out vitest run
 * ```
 */
import { mkdtempSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Plugin } from 'vitest/config';
import type { StartOptions } from '../runtime/api.js';
import { esmModuleFile, OPTIONS_ENV, OUTPUT_ENV, PARTS_ENV, TRACE_ENV } from './settings.js';

export interface TraceVitestOptions {
  /**
   * The trace file to write (relative to the working directory). Default: the `TSTRACE_TRACE`
   * environment variable; when neither is given, the plugin does nothing.
   */
  readonly output?: string;
  /**
   * `start()`'s options in each worker. Default: GCs recorded, heap and event-loop samples not (each
   * worker is a thread of the merged trace, but such samples are kept per process: the counters of all
   * workers would be mixed).
   */
  readonly start?: StartOptions;
}

/**
 * A Vite plugin that makes `vitest run` write a trace of the run: each test is a task (type
 * `file › describe › test`) with its outcome logged, its hooks and its body are regions in it, and
 * everything the test calls that is traced nests under it. Each worker (thread or process) writes its
 * part; at the end of the run they are merged into `output`, each worker a thread of it. It sets Vitest's `runner` (tstrace's,
 * which extends Vitest's own) and adds a `globalSetup` (the merge).
 */
export function traceVitest(options: TraceVitestOptions = {}): Plugin {
  return {
    name: 'tstrace:vitest',
    config() {
      const output = options.output ?? process.env[TRACE_ENV];
      if (!output) return null;
      const target = resolve(output);
      // Once per process: Vitest may resolve the config more than once (projects).
      if (process.env[OUTPUT_ENV] !== target || !process.env[PARTS_ENV]) {
        process.env[OUTPUT_ENV] = target;
        process.env[PARTS_ENV] = mkdtempSync(join(dirname(target), `.${basename(target)}.parts-`));
        process.env[OPTIONS_ENV] = JSON.stringify({ heap: false, eventLoop: false, ...options.start });
      }
      return { test: { runner: esmModuleFile('runner.js'), globalSetup: [esmModuleFile('global-setup.js')] } };
    },
  };
}
