/**
 * The module `tstrace run` preloads into every Node.js process of the command it runs (through
 * `NODE_OPTIONS=--import …`, so child processes get it too): it starts tracing before the program's
 * first module loads, and the runtime's exit safety finishes the trace when the process exits —
 * normally, by `process.exit()`, or by an uncaught exception. A SIGTERM, SIGINT or SIGHUP the program
 * does not handle itself would kill the process without an `exit` event: this module writes the rest of
 * the trace first, then lets the same signal kill the process, as it would have without tracing.
 *
 * Importing it does nothing unless `TSTRACE_RUN_OUTPUT` names the trace file (`tstrace run` sets it),
 * and nothing in npm's and npx's own processes (`tstrace run -- npm test` traces the test runner, not
 * npm). The first traced process of a run writes `TSTRACE_RUN_OUTPUT` (it creates the file, which
 * `tstrace run` removed before starting the command); every later one writes `OUTPUT.PID` (a worker
 * thread: `OUTPUT.PID-THREADID`) next to it. Options of `start()` come as JSON in `TSTRACE_RUN_OPTIONS`.
 */
import { closeSync, openSync, realpathSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
import { isEnabled, start, type StartOptions } from './api.js';
import { S } from './recorder.js';

/** The environment variables `tstrace run` passes to the command. */
export const RUN_OUTPUT_ENV = 'TSTRACE_RUN_OUTPUT';
export const RUN_OPTIONS_ENV = 'TSTRACE_RUN_OPTIONS';

/** Signals that kill a Node.js process by default, without an `exit` event. */
const FATAL_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

const NPM_SCRIPT = /(^|[\\/])np[mx](-cli\.js)?$/;

/**
 * Whether `script` (a process's `argv[1]`) is npm's or npx's own command line — `npm-cli.js`,
 * `npx-cli.js`, or a link to them such as `/usr/bin/npm` —: not traced.
 */
export function isPackageManagerScript(script: string | undefined): boolean {
  if (script === undefined) return false;
  if (NPM_SCRIPT.test(script)) return true;
  try {
    return NPM_SCRIPT.test(realpathSync(script));
  } catch {
    return false;
  }
}

/**
 * The file this process writes: `output` if this is the first process to claim it (it does not exist
 * yet), else `output.PID` (`output.PID-THREADID` in a worker thread).
 */
export function claimTracePath(output: string): string {
  if (isMainThread) {
    try {
      closeSync(openSync(output, 'wx'));
      return output;
    } catch {
      // Claimed by an earlier process of the run.
    }
  }
  return isMainThread ? `${output}.${process.pid}` : `${output}.${process.pid}-${threadId}`;
}

/**
 * On a signal the program does not handle (ours is the only listener), writes the rest of the trace
 * synchronously, then re-raises the signal so the process dies of it.
 */
function finishOnFatalSignals(): void {
  if (!isMainThread) return; // signals are delivered to the main thread only
  for (const signal of FATAL_SIGNALS) {
    const onSignal = (): void => {
      if (process.listenerCount(signal) > 1) return; // the program handles it: it decides when to exit
      S.exitHandler?.();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function startFromEnvironment(): void {
  const output = process.env[RUN_OUTPUT_ENV];
  if (!output || isEnabled() || isPackageManagerScript(process.argv[1])) return;
  let options: StartOptions = {};
  try {
    options = JSON.parse(process.env[RUN_OPTIONS_ENV] ?? '{}') as StartOptions;
  } catch {
    // Not ours to fail on: trace with the defaults.
  }
  try {
    start(claimTracePath(output), options);
  } catch (error) {
    process.emitWarning(`tstrace run: not tracing this process: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  finishOnFatalSignals();
}

startFromEnvironment();
