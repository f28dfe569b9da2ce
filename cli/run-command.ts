/**
 * `tstrace run [-o trace.out] [--quiet] [start() options] [--] COMMAND ARGS…`: runs a command with every
 * Node.js process in it traced from its first module on (the preload module runtime/run-preload.ts,
 * through `NODE_OPTIONS=--import …`), then prints what was written and exits as the command did.
 */
import { existsSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { summarizeTrace } from '../analysis/summary.js';
import { runInPlace, type CommandEnd } from './child-run.js';

export type { CommandEnd };
import type { TraceStats } from '../analysis/analysis-types.js';

/** The options `tstrace run` takes before the command: the output, --quiet, and those of `start()`. */
export interface RunArguments {
  readonly output: string;
  readonly quiet: boolean;
  /** `start()`'s options, as the preload passes them on. */
  readonly startOptions: Readonly<Record<string, boolean | number>>;
  readonly command: string;
  readonly args: readonly string[];
}

export const RUN_USAGE =
  'tstrace run [-o OUT] [--quiet] [--no-gc] [--no-heap] [--no-event-loop] [--sample-interval MS] [--max-buffered-bytes N] [--capture-locations] [--scheduling] [--] COMMAND [ARGS...]';

const booleanFlags: Record<string, readonly [string, boolean]> = {
  '--no-gc': ['gc', false],
  '--no-heap': ['heap', false],
  '--no-event-loop': ['eventLoop', false],
  '--capture-locations': ['captureLocations', true],
  '--scheduling': ['scheduling', true],
};
const numberFlags: Record<string, string> = { '--sample-interval': 'sampleInterval', '--max-buffered-bytes': 'maxBufferedBytes' };

/**
 * Parses `tstrace run`'s arguments (without `run`): its options up to `--` or the first argument that is
 * not one of them; everything from there is the command and its arguments, untouched. Returns the
 * problem as a string for a usage error.
 */
export function parseRunArguments(argv: readonly string[]): RunArguments | string {
  let output = 'trace.out';
  let quiet = false;
  const startOptions: Record<string, boolean | number> = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-')) break;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | null => (inline !== undefined ? inline : (argv[++i] ?? null));
    if (flag === '-o' || flag === '--output') {
      const path = value();
      if (!path) return `${flag} needs a file name`;
      output = path;
    } else if (flag === '-q' || flag === '--quiet') {
      quiet = true;
    } else if (flag in booleanFlags) {
      const [name, on] = booleanFlags[flag]!;
      startOptions[name] = on;
    } else if (flag in numberFlags) {
      const text = value();
      if (text === null || !/^\d+$/.test(text) || Number(text) <= 0) return `${flag} must be a positive integer, not "${text ?? ''}"`;
      startOptions[numberFlags[flag]!] = Number(text);
    } else {
      return `unknown option "${arg}" (options go before the command, or end them with --)`;
    }
  }
  const [command, ...args] = argv.slice(i);
  if (command === undefined) return 'missing COMMAND';
  return { output, quiet, startOptions, command, args };
}

/**
 * The preload module next to this build's `cli/` folder: `__dirname` in the CommonJS build; in ESM
 * (this file is compiled to CommonJS too, so it cannot say `import.meta`) this module's URL, read from a
 * stack trace. The ESM build's preload is used either way: `--import` loads it in any program.
 */
export function preloadModuleUrl(): string {
  let cliDir: string | null = typeof __dirname === 'string' ? __dirname : null;
  if (cliDir === null) {
    const match = /(file:\/\/[^\s)]*?|\/[^\s():]*?)run-command\.[cm]?[jt]s/.exec(new Error().stack ?? '');
    if (match) cliDir = dirname(match[0].startsWith('file:') ? fileURLToPath(match[0]) : match[0]);
  }
  if (cliDir === null) throw new Error('tstrace run: cannot find the preload module');
  const dist = dirname(dirname(cliDir)); // dist/esm/cli or dist/cjs/cli → dist
  const preload = join(dist, 'esm', 'runtime', 'run-preload.js');
  if (!existsSync(preload)) throw new Error(`tstrace run: the preload module is missing (${preload}): build the package`);
  return pathToFileURL(preload).href;
}

/**
 * Runs the command with the preload in `NODE_OPTIONS` and the output in the environment, its standard
 * streams those of this process (a terminal's Ctrl-C reaches both; one sent to `tstrace` is passed on);
 * resolves when it has exited. Rejects when it cannot be started.
 */
export function runTraced(run: RunArguments, cwd: string): Promise<CommandEnd> {
  const output = resolve(cwd, run.output);
  const nodeOptions = [process.env.NODE_OPTIONS, `--import ${preloadModuleUrl()}`].filter(Boolean).join(' ');
  return runInPlace(run.command, run.args, {
    cwd,
    env: { ...process.env, NODE_OPTIONS: nodeOptions, TSTRACE_RUN_OUTPUT: output, TSTRACE_RUN_OPTIONS: JSON.stringify(run.startOptions) },
  });
}

/** The traces a run wrote: `output`, and `output.PID…` files changed since `since` (ms). */
export async function tracesWritten(output: string, since: number): Promise<string[]> {
  const dir = dirname(output);
  const name = basename(output);
  const others = /^\.\d+(-\d+)?$/;
  const found: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  for (const entry of entries.sort()) {
    if (entry !== name && !(entry.startsWith(name) && others.test(entry.slice(name.length)))) continue;
    const path = join(dir, entry);
    try {
      const info = await stat(path);
      if (info.isFile() && info.mtimeMs >= since - 1000) found.push(path);
    } catch {
      // gone meanwhile
    }
  }
  // The first traced process's file first.
  return found.sort((a, b) => (a === output ? -1 : b === output ? 1 : 0));
}

/** Removes the output before the run, so that the first traced process can claim it. */
export async function clearOutput(output: string): Promise<void> {
  await unlink(output).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** One line per trace: `tstrace run: wrote trace.out (12.3 KiB; pid 42, 4 tasks of 3 types, 20 regions, 4 logs, 0 problems)`. */
export async function runSummary(paths: readonly string[], cwd: string, byteSize: (bytes: number) => string): Promise<string> {
  if (paths.length === 0) return 'tstrace run: no Node.js process was traced (the command ran no node, or only npm/npx)\n';
  const lines: string[] = [];
  for (const path of paths) {
    const shown = path.startsWith(cwd + '/') ? path.slice(cwd.length + 1) : path;
    let stats: TraceStats;
    let size: number;
    try {
      size = (await stat(path)).size;
      stats = await summarizeTrace(path);
    } catch (error) {
      lines.push(`tstrace run: ${shown}: cannot be read: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const { summary, status, problems, problemsLeftOut } = stats;
    const problemCount = problems.length + problemsLeftOut;
    const what = status.header ? `pid ${status.header.pid}, ` : '';
    const types = stats.taskTypes.length;
    let line = `tstrace run: wrote ${shown} (${byteSize(size)}; ${what}${count(summary.tasks, 'task')}${types > 0 ? ` of ${count(types, 'type')}` : ''}, ${count(summary.regions, 'region')}, ${count(summary.logs, 'log')}, ${count(problemCount, 'problem')}`;
    if (summary.dropped > 0) line += `, ${count(summary.dropped, 'event')} dropped`;
    line += ')';
    if (status.problem) line += ` — ${status.problem.kind} at offset ${status.problem.offset}: ${status.problem.reason}`;
    lines.push(line);
  }
  const first = paths[0]!;
  lines.push(`tstrace run: see: npx tstrace stats ${first.startsWith(cwd + '/') ? first.slice(cwd.length + 1) : first}`);
  return lines.join('\n') + '\n';
}
