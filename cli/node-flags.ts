/**
 * The Node flags a command runs with, and running the executable again with them when it was started
 * without: V8 sizes its heap when the process starts, so a flag cannot be set once it runs.
 */
import { runInPlace } from './child-run.js';
import { constants } from 'node:os';

/**
 * `tstrace view` holds a trace's columns for as long as it serves. Reading them, V8 grows its young
 * generation up to 128 MB (Node 22 and later), which then stays resident; with 8 MB semi-spaces a
 * 10-million-event trace reads as fast and peaks about 110 MB lower (`npm run bench`, the viewer's rows).
 */
export const VIEW_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/** Set in the environment of the process started again, so that it never starts another. */
const RELAUNCHED = 'TSTRACE_RELAUNCHED';

/** The flags of `flags` (`--name=value`) this process was not started with, by name, from its command line or NODE_OPTIONS. */
export function missingNodeFlags(flags: readonly string[], execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): string[] {
  if (env[RELAUNCHED] === '1') return [];
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map((flag) => flag.split('=')[0].replace(/_/g, '-'));
  return flags.filter((flag) => !given.includes(flag.split('=')[0]));
}

/**
 * Runs `script` again with `args`, in a child node with this one's flags and `flags`, the same
 * standard streams and environment. Resolves to what this process should exit with: the child's code,
 * or 128 + the number of the signal that ended it.
 */
export async function relaunch(flags: readonly string[], script: string, args: readonly string[]): Promise<number> {
  // In a process group of its own (POSIX): a terminal's Ctrl-C reaches this process only, which passes
  // it on, so the child gets each signal once — a second one could land while it exits, and end it.
  const end = await runInPlace(process.execPath, [...process.execArgv, ...flags, script, ...args], {
    env: { ...process.env, [RELAUNCHED]: '1' },
    detached: process.platform !== 'win32',
  });
  return end.code ?? 128 + (end.signal === null ? 0 : constants.signals[end.signal]);
}
