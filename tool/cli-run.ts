/**
 * The `tstrace` command line: `stats`, `tasks`, `regions` and `logs` over a trace file, as tables or as
 * JSON, and `annotate` over TypeScript files (docs/cli.md). Exit codes: 0 analysed (a cut-off trace too,
 * with a warning) or annotated, 1 the file cannot be read or is damaged (annotate: a path cannot be
 * used), 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { analyzeTrace } from './analysis.js';
import type { TraceAnalysis } from './analysis-types.js';
import { annotatePaths, annotateReportText, TsMorphMissingError } from './annotate.js';
import { logsJson, regionsJson, statsJson, tasksJson } from './json-report.js';
import { logsText, regionsText, statsText, tasksText } from './text-report.js';

/** Where the CLI writes, and what it needs to know about its surroundings. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The package version `--version` prints. */
  readonly version: string;
  /** Locations under this directory are printed relative to it. */
  readonly cwd: string;
}

export const EXIT_OK = 0;
/** The file cannot be read, is not a trace, or is damaged (what came before the damage is still printed). */
export const EXIT_TRACE_ERROR = 1;
export const EXIT_USAGE = 2;

type Command = 'stats' | 'tasks' | 'regions' | 'logs' | 'annotate';

const commandOptions: Record<Command, readonly string[]> = {
  stats: ['json'],
  tasks: ['json', 'type'],
  regions: ['json', 'type'],
  logs: ['json', 'category', 'text'],
  annotate: ['dry-run', 'remove'],
};

const usage: Record<Command, string> = {
  stats: 'tstrace stats FILE [--json]',
  tasks: 'tstrace tasks FILE [--type T] [--json]',
  regions: 'tstrace regions FILE [--type T] [--json]',
  logs: 'tstrace logs FILE [--category C] [--text S] [--json]',
  annotate: 'tstrace annotate PATH... [--dry-run] [--remove]',
};

export const HELP = `tstrace: analyse a trace written by tstrace's start()/stop() (Go's runtime/trace tasks, regions and logs)

Usage:
  ${usage.stats}
      Trace duration, events, dropped events; per task type: count, complete, latency
      min/p50/p90/p99/max and histogram; the same for regions per type and location;
      logs per category; problems (API misuse, unmatched region ends); read status.
  ${usage.tasks}
      Every task: id, type, parent, children, complete, start, end, latency, flows, and its
      events in time order (creation, logs, region starts with durations and ends, end).
  ${usage.regions}
      Every region: id, type, task, flow, parent region, start, end, duration, location.
  ${usage.logs}
      Every log in time order: time, task, flow, category, message, location.
  ${usage.annotate}
      Add a "// trace:region" line before every function and method of the TypeScript files
      (of a folder: every .ts/.tsx/.mts/.cts file below it, except node_modules and .d.ts) that has
      none, for the tstrace transformer; nothing else in the files changes. Callbacks passed as
      arguments are not annotated. --remove deletes the "// trace:region" lines without a name
      (named ones and "// trace:task" stay). Needs ts-morph (npm install -D ts-morph).
  tstrace help | --help | -h
  tstrace --version

Options:
  --json          print one JSON document instead of tables (its shape: docs/cli.md)
  --type T        only the tasks or regions of type T
  --category C    only the logs of category C
  --text S        only the logs whose message contains S
  --dry-run       annotate: print the lines that would be added or removed, write nothing
  --remove        annotate: remove the lines instead of adding them

Times are relative to the trace start (when start() was called); in JSON, integer nanoseconds.
A cut-off trace is analysed up to where it stops, with a warning on stderr.
Exit status: 0 analysed; 1 the file cannot be read, is not a trace, or is damaged; 2 bad usage.
annotate: 0 done; 1 a PATH does not exist, cannot be read, or is not a TypeScript file (then no
file is changed), or ts-morph is not installed; 2 bad usage.
`;

class UsageError extends Error {}

/** Runs the CLI with `args` (without `node` and the script); resolves to the exit code. Never throws for bad input. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        type: { type: 'string' },
        category: { type: 'string' },
        text: { type: 'string' },
        'dry-run': { type: 'boolean' },
        remove: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    return usageError(io, error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.version) {
    io.stdout(`${io.version}\n`);
    return EXIT_OK;
  }
  const [name, file, ...extra] = positionals;
  if (values.help || name === 'help') {
    io.stdout(HELP);
    return EXIT_OK;
  }
  if (name === undefined) return usageError(io, 'missing command');
  if (!(name in commandOptions)) return usageError(io, `unknown command "${name}" (commands: stats, tasks, regions, logs, annotate, help)`);
  const command = name as Command;
  try {
    if (file === undefined) throw new UsageError(`missing ${command === 'annotate' ? 'PATH' : 'FILE'} (usage: ${usage[command]})`);
    if (extra.length > 0 && command !== 'annotate') throw new UsageError(`unexpected argument "${extra[0]}" (usage: ${usage[command]})`);
    for (const option of ['json', 'type', 'category', 'text', 'dry-run', 'remove'] as const) {
      if (values[option] !== undefined && !commandOptions[command].includes(option)) {
        throw new UsageError(`--${option} does not apply to ${command} (usage: ${usage[command]})`);
      }
    }
  } catch (error) {
    if (error instanceof UsageError) return usageError(io, `${command}: ${error.message}`);
    throw error;
  }
  if (command === 'annotate') return annotate([file, ...extra], { dryRun: values['dry-run'] === true, remove: values.remove === true }, io);

  let analysis: TraceAnalysis;
  try {
    analysis = await analyzeTrace(file);
  } catch (error) {
    io.stderr(`tstrace: error: ${file}: ${ioErrorText(error)}\n`);
    return EXIT_TRACE_ERROR;
  }
  const { status } = analysis;
  if (!status.header) {
    const problem = status.problem;
    const reason = problem ? `${problem.reason} (at offset ${problem.offset})` : 'it has no header';
    io.stderr(`tstrace: error: ${file}: no trace to analyse: ${reason}\n`);
    return EXIT_TRACE_ERROR;
  }

  const json = values.json === true;
  const text = { cwd: io.cwd };
  switch (command) {
    case 'stats':
      io.stdout(json ? toJson(statsJson(file, analysis)) : statsText(file, analysis, text));
      break;
    case 'tasks': {
      const tasks = values.type === undefined ? analysis.tasks : analysis.tasks.filter((t) => t.type === values.type);
      io.stdout(json ? toJson(tasksJson(file, analysis, tasks)) : tasksText(tasks, text));
      break;
    }
    case 'regions': {
      const regions = values.type === undefined ? analysis.regions : analysis.regions.filter((r) => r.type === values.type);
      io.stdout(json ? toJson(regionsJson(file, analysis, regions)) : regionsText(regions, text));
      break;
    }
    case 'logs': {
      const { category, text: needle } = values;
      const logs = analysis.logs.filter((l) => (category === undefined || l.category === category) && (needle === undefined || l.message.includes(needle)));
      io.stdout(json ? toJson(logsJson(file, analysis, logs)) : logsText(logs, text));
      break;
    }
  }
  return reportStatus(file, analysis, io);
}

/** `tstrace annotate`: adds (removes) `// trace:region` lines; returns the exit code. */
async function annotate(paths: string[], options: { dryRun: boolean; remove: boolean }, io: CliIo): Promise<number> {
  let result;
  try {
    result = await annotatePaths(paths, { ...options, cwd: io.cwd });
  } catch (error) {
    if (!(error instanceof TsMorphMissingError)) throw error;
    io.stderr(`tstrace: error: ${error.message}\n`);
    return EXIT_TRACE_ERROR;
  }
  for (const message of result.errors) io.stderr(`tstrace: error: ${message}\n`);
  if (result.errors.length > 0 && result.changed.length === 0) return EXIT_TRACE_ERROR;
  io.stdout(annotateReportText(result, options));
  return result.errors.length > 0 ? EXIT_TRACE_ERROR : EXIT_OK;
}

/** Warnings and errors about the trace itself, after the report; returns the exit code. */
function reportStatus(file: string, analysis: TraceAnalysis, io: CliIo): number {
  const { problem } = analysis.status;
  const { dropped } = analysis.summary;
  if (dropped > 0) {
    io.stderr(`tstrace: warning: ${file}: ${dropped} events were dropped while tracing (the writer could not keep up); some tasks and regions may be incomplete\n`);
  }
  if (!problem) return EXIT_OK;
  if (problem.kind === 'corrupt') {
    io.stderr(`tstrace: error: ${file} is damaged at offset ${problem.offset}: ${problem.reason}; the analysis covers the ${analysis.status.bytesRead} bytes before it\n`);
    return EXIT_TRACE_ERROR;
  }
  io.stderr(`tstrace: warning: ${file} is ${problem.kind} at offset ${problem.offset}: ${problem.reason}; the analysis covers the ${analysis.status.bytesRead} bytes before it\n`);
  return EXIT_OK;
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`tstrace: ${message}\nRun "tstrace --help" for usage.\n`);
  return EXIT_USAGE;
}

function ioErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory, not a trace file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}

function toJson(document: object): string {
  return JSON.stringify(document, null, 2) + '\n';
}
