/**
 * The `tstrace` command line: `stats`, `tasks`, `regions` and `logs` over a trace file, as tables or as
 * JSON, `export` of a trace to viewers' formats, `view`, `fetch` of a live trace from a program's
 * endpoint, and `annotate` over TypeScript files (docs/cli.md). Exit codes: 0 analysed, exported, fetched
 * (a cut-off trace too, with a warning) or annotated, 1 the file cannot be read or is damaged (annotate: a
 * path cannot be used; export: the output cannot be written; fetch: the server cannot be reached or
 * refuses, the download breaks off), 2 bad usage.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rename, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { constants as osConstants } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { listOf, type LogInfo, type TraceStats } from '../analysis/analysis-types.js';
import { readTrace, type TraceSource } from '../analysis/reader.js';
import { TraceSummarizer } from '../analysis/summary.js';
import { loadTraceTables, type ListingOptions, type TraceTables } from '../analysis/trace-tables.js';
import { exportChrome } from '../export/export-chrome.js';
import { exportGo } from '../export/export-go.js';
import { exportOtlp, type OtlpExportOptions } from '../export/export-otlp.js';
import { exportPerfetto } from '../export/export-perfetto.js';
import { PacedWriter } from '../export/export-io.js';
import type { ExportFilter, ExportOptions, ExportResult } from '../export/export-types.js';
import { listingHead, listingJsonChunks, statsJson, withTaskTimes } from '../report/json-report.js';
import { locationText, logsTextChunks, regionsTextChunks, statsText, tasksTextChunks } from '../report/text-report.js';
import { blockersTextChunks } from '../report/time-report.js';
import { ExecutionCollector } from '../analysis/time-breakdown.js';
import { annotatePaths, annotateReportText, TsMorphMissingError } from '../transformer/annotate.js';
import { byteSize } from './byte-size.js';
import { fetchCommand, fetchForView, isTraceUrl, traceUrl } from './fetch-command.js';
import { mergeTraces, type MergeResult } from '../export/merge-traces.js';
import { fileChunks, progressBar } from './progress.js';
import { clearOutput, parseRunArguments, RUN_USAGE, runSummary, runTraced, tracesWritten, type CommandEnd } from './run-command.js';
import { oneLine } from './one-line.js';
import { viewCommand } from './view-command.js';

/** Where the CLI writes, and what it needs to know about its surroundings. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The package version `--version` prints. */
  readonly version: string;
  /** Locations under this directory are printed relative to it. */
  readonly cwd: string;
  /** The width of the terminal stderr is, for progress bars; null or absent: stderr is not a terminal. */
  readonly stderrColumns?: number | null;
  /** Standard output as a stream, for `export -o -` (written with backpressure); default: through `stdout`. */
  readonly stdoutStream?: Writable;
  /** `run`: makes this process die of `signal`, as the command it ran did; absent: only the exit code says so. */
  readonly raise?: (signal: NodeJS.Signals) => void;
}

export const EXIT_OK = 0;
/** The file cannot be read, is not a trace, or is damaged (what came before the damage is still printed). */
export const EXIT_TRACE_ERROR = 1;
export const EXIT_USAGE = 2;

type Command = 'stats' | 'tasks' | 'blockers' | 'regions' | 'logs' | 'export' | 'annotate' | 'view' | 'fetch' | 'merge';

const commandOptions: Record<Command, readonly string[]> = {
  stats: ['json', 'quiet'],
  tasks: ['json', 'type', 'sort', 'limit', 'quiet', 'trace-id'],
  blockers: ['json', 'limit', 'quiet'],
  regions: ['json', 'type', 'sort', 'limit', 'quiet'],
  logs: ['json', 'category', 'text', 'quiet'],
  export: ['format', 'output', 'quiet', 'since', 'until', 'task', 'type', 'service'],
  annotate: ['dry-run', 'remove'],
  view: ['port', 'host', 'open', 'quiet', 'seconds'],
  fetch: ['output', 'seconds', 'quiet'],
  merge: ['output', 'quiet', 'threads'],
};

const usage: Record<Command, string> = {
  stats: 'tstrace stats FILE [--json]',
  tasks: 'tstrace tasks FILE [--type T] [--trace-id ID] [--sort latency] [--limit N] [--json]',
  blockers: 'tstrace blockers FILE [--limit N] [--json]',
  regions: 'tstrace regions FILE [--type T] [--sort duration] [--limit N] [--json]',
  logs: 'tstrace logs FILE [--category C] [--text S] [--json]',
  export: 'tstrace export FILE --format chrome|perfetto|go|otlp -o OUT [--since T] [--until T] [--task ID] [--type T] [--service NAME] [--quiet]',
  annotate: 'tstrace annotate PATH... [--dry-run] [--remove]',
  view: 'tstrace view FILE|URL [--seconds N] [--port N] [--host ADDR] [--open] [--quiet]',
  fetch: 'tstrace fetch URL [-o OUT] [--seconds N] [--quiet]',
  merge: 'tstrace merge FILE... -o OUT [--threads] [--quiet]',
};

type Exporter = (source: TraceSource, out: Writable, options: OtlpExportOptions) => Promise<ExportResult>;

/** `export --format F`: the exporter of each format (docs/export.md), and what its file is called. */
const formats: Record<string, { readonly exporter: Exporter; readonly name: string; readonly unit?: string }> = {
  chrome: { exporter: exportChrome, name: 'Chrome Trace Event JSON' },
  perfetto: { exporter: exportPerfetto, name: 'Perfetto protobuf trace' },
  go: { exporter: exportGo, name: 'Go execution trace' },
  otlp: { exporter: exportOtlp, name: 'OTLP/JSON (OpenTelemetry)', unit: 'spans' },
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
      --sort latency lists the slowest first; --limit N only the first N (the 10 slowest
      tests of a traced Vitest run: --type '* › *' --sort latency --limit 10). --trace-id ID
      only the tasks of that OpenTelemetry (W3C) trace: recorded with it, or subtasks of one.
      A trace recorded with scheduling events (start(…, { scheduling: true }), tstrace run
      --scheduling) also splits each task's time into running, queued (ready, but the thread
      ran other work) and waiting, and names what it was queued behind; stats then shows
      those parts per task type.
  ${usage.blockers}
      The runs that held the thread while other tasks were queued (scheduling events), most
      delay caused first: how much, how many tasks, whose run, its region, start, duration and
      location. --limit N only the first N.
  ${usage.regions}
      Every region: id, type, task, flow, parent region, start, end, duration, location.
      --sort duration lists the longest first; --limit N only the first N.
  ${usage.logs}
      Every log in time order: time, task, flow, category, message, location.
  ${usage.export}
      Write the trace for a viewer, streaming: chrome = Chrome Trace Event JSON for Perfetto
      (ui.perfetto.dev), chrome://tracing and speedscope; perfetto = Perfetto's native protobuf
      trace (ui.perfetto.dev; about a quarter of the JSON's size, loads fastest); go = Go 1.19's
      execution trace format for "go tool trace"; otlp = OpenTelemetry's OTLP/JSON (a span per
      task and region, logs as span events) for a Collector, Jaeger or Tempo, --service NAME
      its service.name. -o - writes to stdout. --since/--until export
      only a time window (regions and tasks cut by it are clipped to it), --task/--type only
      those tasks, their subtasks and their regions and logs. What had to be repaired (regions ended out of
      order, regions still open at the end) is listed as warnings on stderr (docs/export.md);
      then a line says what was written, where, and how big.
  ${usage.annotate}
      Add a "// trace:region" line before every function and method of the TypeScript files
      (of a folder: every .ts/.tsx/.mts/.cts file below it, except node_modules and .d.ts) that has
      none, for the tstrace transformer; nothing else in the files changes. Callbacks passed as
      arguments are not annotated. --remove deletes the "// trace:region" lines without a name
      (named ones and "// trace:task" stay). Needs ts-morph (npm install -D ts-morph).
  ${usage.view}
      A web viewer on 127.0.0.1 (a free port unless --port): overview, task latency
      histograms, filtered task lists, task pages, region groups, logs, a zoomable timeline,
      and the Chrome JSON for Perfetto. Prints the URL; --open opens it in a browser. Serves
      until interrupted (Ctrl-C). It answers only requests addressed to it (Host: its address
      or localhost, with its port); others get 403. Given an http(s) URL of a program's trace
      endpoint (tstrace/http) instead of a FILE, it downloads a trace first (as fetch does, into
      a temporary file it names) and views that.
  ${usage.fetch}
      Download a live trace of a running program from its trace endpoint (tstrace/http: GET
      .../trace?seconds=N; a URL without a path gets /debug/tstrace/trace) into OUT (default:
      the name the server suggests, tstrace-PID-TIME.out; - for stdout), then say what was
      written, where, and how big. --seconds N asks for N seconds (the server's default: 1).
  ${usage.merge}
      Merge traces (one per process or worker thread: tstrace run's OUT.PID files, say) into
      one: each input's flows and tasks get ids of their own, its times are aligned by the
      traces' wall-clock origins. The output is complete only if every input is. --threads
      makes each input a thread of its own (named after its file and pid).
  ${RUN_USAGE}
      Run COMMAND with every Node.js process in it traced from its first module on (a preload
      passed through NODE_OPTIONS), until it exits: normally, by process.exit(), by an uncaught
      exception or by SIGTERM/SIGINT/SIGHUP. The first traced process writes OUT (default
      trace.out), every other one OUT.PID; npm's and npx's own processes are not traced. Then
      prints what each trace holds (not with --quiet) and exits as COMMAND did (its exit code,
      or its signal). --no-gc, --no-heap, --no-event-loop, --sample-interval,
      --max-buffered-bytes, --capture-locations and --scheduling are start()'s options.
  tstrace help | --help | -h
  tstrace --version

Options:
  --json          print one JSON document instead of tables (its shape: docs/cli.md)
  --category C    only the logs of category C
  --text S        only the logs whose message contains S
  --dry-run       annotate: print the lines that would be added or removed, write nothing
  --remove        annotate: remove the lines instead of adding them
  --format F      export: chrome, perfetto, go or otlp
  --service NAME  export --format otlp: the service.name resource attribute (default
                  unknown_service:node)
  --trace-id ID   tasks: only the tasks of this W3C trace id (32 hex digits)
  --since T       export: leave out what happens before T (from the trace start: 1.5s, 200ms,
                  30us, or integer nanoseconds)
  --until T       export: leave out what happens after T (same form)
  --task ID       export: only task ID, its subtasks, and their regions and logs
  --type T        tasks, regions: only those of type T; export: only the tasks of type T, their
                  subtasks, and their regions and logs. A * in T stands for any run of
                  characters ('cart.test.ts › *')
  --sort S        tasks: latency (slowest first); regions: duration (longest first); default:
                  by id
  --limit N       tasks, regions, blockers: only the first N (after --sort)
  -o, --output O  export: the file to write (replaced only once the export is done); - for stdout;
                  fetch: the file to write the downloaded trace to; - for stdout
                  merge: the merged trace; run: the trace (default trace.out)
  -q, --quiet     no progress bar; export: no warnings, nor the line saying what was written
                  (errors are still printed)
  --port N        view: the port to listen on (default: a free one)
  --host ADDR     view: the address to listen on (default: 127.0.0.1, this machine only;
                  another one is reachable from elsewhere, with a warning)
  --open          view: open the viewer in a browser
  --seconds N     fetch, view URL: how many seconds to trace (a positive number: 1, 2.5)

Times are relative to the trace start (when start() was called); in JSON, integer nanoseconds.
A cut-off trace is analysed up to where it stops, with a warning on stderr.
Exit status: 0 analysed; 1 the file cannot be read, is not a trace, or is damaged; 2 bad usage.
export: also 1 when OUT cannot be written; a damaged trace is exported up to the damage (exit 1).
While a trace is read, a progress bar is drawn on stderr when stderr is a terminal.
view: serves until interrupted, then exits 0; 1 the trace cannot be read or the address or port
cannot be used.
fetch: 0 written (a cut-off trace too, with a warning); 1 the server cannot be reached, answers
with an error (its reason is printed), sends no trace, the download breaks off (what arrived is
kept) or OUT cannot be written; 2 bad usage. view URL: as fetch, then as view.
annotate: 0 done; 1 a PATH does not exist, cannot be read, or is not a TypeScript file (then no
file is changed), or ts-morph is not installed; 2 bad usage.
`;

class UsageError extends Error {}

/** Runs the CLI with `args` (without `node` and the script); resolves to the exit code. Never throws for bad input. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  // `run` takes the command's arguments as they are: they are not tstrace's options.
  if (args[0] === 'run') return runCommand(args.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        type: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        task: { type: 'string' },
        category: { type: 'string' },
        text: { type: 'string' },
        'dry-run': { type: 'boolean' },
        threads: { type: 'boolean' },
        remove: { type: 'boolean' },
        format: { type: 'string' },
        output: { type: 'string', short: 'o' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        open: { type: 'boolean' },
        seconds: { type: 'string' },
        sort: { type: 'string' },
        limit: { type: 'string' },
        'trace-id': { type: 'string' },
        service: { type: 'string' },
      },
    });
  } catch (error) {
    return usageError(io, optionError(args, error instanceof Error ? error.message : String(error)));
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
  if (!(name in commandOptions)) return usageError(io, `unknown command "${name}" (commands: stats, tasks, blockers, regions, logs, export, annotate, view, fetch, merge, run, help)`);
  const command = name as Command;
  try {
    if (file === undefined) throw new UsageError(`missing ${command === 'annotate' ? 'PATH' : command === 'fetch' ? 'URL' : 'FILE'} (usage: ${usage[command]})`);
    if (extra.length > 0 && command !== 'annotate' && command !== 'merge') throw new UsageError(`unexpected argument "${extra[0]}" (usage: ${usage[command]})`);
    for (const option of ['json', 'type', 'category', 'text', 'dry-run', 'remove', 'format', 'output', 'quiet', 'port', 'host', 'open', 'since', 'until', 'task', 'seconds', 'sort', 'limit', 'trace-id', 'service', 'threads'] as const) {
      if (values[option] !== undefined && !commandOptions[command].includes(option)) {
        throw new UsageError(`--${option} does not apply to ${command} (usage: ${usage[command]})`);
      }
    }
  } catch (error) {
    if (error instanceof UsageError) return usageError(io, `${command}: ${error.message}`);
    throw error;
  }
  if (command === 'merge') {
    if (values.output === undefined) return usageError(io, `merge: missing -o OUT (usage: ${usage.merge})`);
    return merge([file, ...extra], values.output, { quiet: values.quiet === true, threads: values.threads === true }, io);
  }
  if (command === 'annotate') return annotate([file, ...extra], { dryRun: values['dry-run'] === true, remove: values.remove === true }, io);
  const seconds = values.seconds === undefined ? undefined : parseSeconds(values.seconds);
  if (seconds === null) return usageError(io, `${command}: --seconds must be a positive number of seconds (1, 2.5), not "${values.seconds}"`);
  if (command === 'fetch') {
    const url = traceUrl(file, seconds);
    if (typeof url === 'string') return usageError(io, `fetch: ${url} (usage: ${usage.fetch})`);
    if (values.output === '') return usageError(io, 'fetch: -o must be a file name, not ""');
    return fetchCommand(url, { output: values.output, quiet: values.quiet === true }, io);
  }
  if (command === 'view') {
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!/^\d+$/.test(values.port ?? '0') || port > 65535) return usageError(io, `view: --port must be a port number (0-65535), not "${values.port}"`);
    if (values.host === '') return usageError(io, 'view: --host must be an address, not ""');
    const viewOptions = { port, host: values.host, open: values.open === true, quiet: values.quiet === true };
    if (!isTraceUrl(file)) {
      if (seconds !== undefined) return usageError(io, `view: --seconds applies to a URL only, not to the file ${file} (usage: ${usage.view})`);
      return viewCommand(file, viewOptions, io);
    }
    const url = traceUrl(file, seconds);
    if (typeof url === 'string') return usageError(io, `view: ${url} (usage: ${usage.view})`);
    const fetched = await fetchForView(url, await mkdtemp(join(tmpdir(), 'tstrace-view-')), viewOptions.quiet, io);
    return typeof fetched === 'number' ? fetched : viewCommand(fetched, viewOptions, io);
  }
  if (command === 'export') {
    const { format, output } = values;
    let problem: string | null = null;
    const filter = exportFilter(values);
    if (typeof filter === 'string') problem = filter;
    else if (format === undefined) problem = `missing --format (chrome, perfetto, go or otlp) (usage: ${usage.export})`;
    else if (!Object.hasOwn(formats, format)) problem = `unknown format "${format}" (formats: ${Object.keys(formats).join(', ')})`;
    else if (output === undefined) problem = `missing -o OUT (- for stdout) (usage: ${usage.export})`;
    else if (output !== '-' && resolve(io.cwd, output) === resolve(io.cwd, file)) problem = `-o ${output} is the trace file itself`;
    else if (values.service !== undefined && format !== 'otlp') problem = '--service applies to --format otlp only';
    else if (values.service === '') problem = '--service must be a service name, not ""';
    if (problem !== null) return usageError(io, `export: ${problem}`);
    return exportTrace(file, format!, output!, { filter: filter as ExportFilter, service: values.service }, values.quiet === true, io);
  }

  const listing = listingOptions(command, values);
  if (typeof listing === 'string') return usageError(io, `${command}: ${listing} (usage: ${usage[command]})`);
  const bar = progressBar(`reading ${basename(file)}`, values.quiet === true, io);
  const source = bar ? fileChunks(file, bar) : file;
  const { category, text: needle } = values;
  // stats and logs need only the statistics (bounded memory) and the selected logs; tasks and regions,
  // every item, in columns.
  let stats: TraceStats;
  let tables: TraceTables | null = null;
  const logs: LogInfo[] = [];
  // Where the time went (scheduling events): for stats, tasks and blockers.
  const execution = command === 'stats' || command === 'tasks' || command === 'blockers' ? new ExecutionCollector() : null;
  try {
    if (command === 'stats' || command === 'blockers') {
      const summarizer = new TraceSummarizer();
      const status = await readTrace(source, (event) => {
        summarizer.add(event);
        execution!.add(event);
      });
      stats = summarizer.finish(status);
    } else if (command === 'logs') {
      const summarizer = new TraceSummarizer();
      const status = await readTrace(source, (event) => {
        summarizer.add(event);
        if (event.kind !== 'log' || (category !== undefined && event.category !== category) || (needle !== undefined && !event.message.includes(needle))) return;
        logs.push({ ts: event.ts, flow: event.flow, thread: event.thread ?? 0, task: event.task, category: event.category, message: event.message, location: event.location });
      });
      stats = summarizer.finish(status);
    } else {
      tables = await loadTraceTables(source, execution === null ? undefined : (event) => execution.add(event));
      stats = tables.stats;
    }
  } catch (error) {
    bar?.done();
    io.stderr(`tstrace: error: ${file}: ${ioErrorText(error)}\n`);
    return EXIT_TRACE_ERROR;
  }
  const { status } = stats;
  if (!status.header) {
    const problem = status.problem;
    const reason = problem ? `${problem.reason} (at offset ${problem.offset})` : 'it has no header';
    io.stderr(`tstrace: error: ${file}: no trace to analyse: ${reason}\n`);
    return EXIT_TRACE_ERROR;
  }

  const json = values.json === true;
  const times = execution?.finish(stats.summary.duration) ?? null;
  // Only a trace with scheduling events gets their parts: other traces' reports are unchanged.
  const withTimes = times !== null && times.runs > 0 ? times : null;
  const text = { cwd: io.cwd, times: withTimes === null ? undefined : new Map(withTimes.tasks.map((t) => [t.task, t])) };
  let report: Iterable<string>;
  if (command === 'stats') {
    report = [json ? toJson(statsJson(file, stats, withTimes)) : statsText(file, stats, text, withTimes)];
  } else if (command === 'blockers') {
    const limit = listing.limit ?? Infinity;
    const blockers = listOf(withTimes === null ? [] : withTimes.blockers.slice(0, limit));
    report = json ? listingJsonChunks(listingHead('blockers', file, stats), 'blockers', blockers) : blockersTextChunks(blockers, times!.runs, (l) => locationText(l, text));
  } else if (command === 'logs') {
    report = json ? listingJsonChunks(listingHead('logs', file, stats), 'logs', listOf(logs)) : logsTextChunks(listOf(logs), text);
  } else if (command === 'tasks') {
    const tasks = withTimes === null ? tables!.taskListing(listing) : withTaskTimes(tables!.taskListing(listing), text.times!);
    report = json ? listingJsonChunks(listingHead('tasks', file, stats), 'tasks', tasks) : tasksTextChunks(tasks, text);
  } else {
    const regions = tables!.regionListing(listing);
    report = json ? listingJsonChunks(listingHead('regions', file, stats), 'regions', regions) : regionsTextChunks(regions, text);
  }
  // Written a chunk at a time, as the output takes them: a listing may be gigabytes.
  if (!(await writeReport(report, io))) return EXIT_OK; // `| head`: the reader stopped reading
  return reportStatus(file, stats, io);
}

/**
 * `tstrace export`: writes the trace in another format to `output` (a file, replaced only once the export
 * is written; `-` for stdout), with a progress bar on a terminal; returns the exit code.
 */
async function exportTrace(file: string, format: string, output: string, options: { filter: ExportFilter; service?: string }, quiet: boolean, io: CliIo): Promise<number> {
  const { exporter, name, unit } = formats[format]!;
  const source = resolve(io.cwd, file);
  try {
    if ((await stat(source)).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (error) {
    io.stderr(`tstrace: error: ${file}: ${ioErrorText(error)}\n`);
    return EXIT_TRACE_ERROR;
  }
  const target = output === '-' ? null : resolve(io.cwd, output);
  // Written next to the output and renamed over it at the end: a failed export leaves no half file.
  const partial = target === null ? null : join(dirname(target), `.${basename(target)}.${process.pid}.partial`);
  let out: Writable;
  if (partial === null) {
    out = io.stdoutStream ?? textWritable(io.stdout);
  } else {
    try {
      out = await openForWriting(partial);
    } catch (error) {
      io.stderr(`tstrace: error: ${output}: cannot write: ${outputErrorText(error)}\n`);
      return EXIT_TRACE_ERROR;
    }
  }
  const bar = progressBar(`exporting ${basename(file)}`, quiet, io);
  // A failing output is reported by the exporter; until then, errors must not go unhandled.
  const ignore = (): void => {};
  out.on('error', ignore);
  let result: ExportResult;
  try {
    result = await exporter(source, out, { onProgress: (bytes, total) => bar?.update(bytes, total), ...options });
    if (partial !== null) await endStream(out);
  } catch (error) {
    bar?.done();
    if (partial !== null) await removeQuietly(partial, out);
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (partial === null && code === 'EPIPE') return EXIT_OK; // `| head`: the reader stopped reading
    const reading = code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM';
    io.stderr(reading ? `tstrace: error: ${file}: ${ioErrorText(error)}\n` : `tstrace: error: ${output}: cannot write: ${outputErrorText(error)}\n`);
    return EXIT_TRACE_ERROR;
  } finally {
    bar?.done();
    out.off('error', ignore);
  }

  const { status } = result;
  if (!status.header) {
    if (partial !== null) await removeQuietly(partial, out);
    const problem = status.problem;
    const reason = problem ? `${problem.reason} (at offset ${problem.offset})` : 'it has no header';
    io.stderr(`tstrace: error: ${file}: no trace to export: ${reason}\n`);
    return EXIT_TRACE_ERROR;
  }
  let written = `${name}, ${result.events} ${unit ?? 'events'}`;
  if (partial !== null && target !== null) {
    try {
      await rename(partial, target);
      written += `, ${byteSize((await stat(target)).size)}`;
    } catch (error) {
      await removeQuietly(partial, out);
      io.stderr(`tstrace: error: ${output}: cannot write: ${outputErrorText(error)}\n`);
      return EXIT_TRACE_ERROR;
    }
  }
  if (!quiet) for (const warning of result.warnings) io.stderr(`tstrace: warning: ${file}: ${oneLine(warning)}\n`);
  const dropped = status.footer?.dropped ?? 0;
  if (dropped > 0 && !quiet) {
    io.stderr(`tstrace: warning: ${file}: ${dropped} events were dropped while tracing (the writer could not keep up); some tasks and regions may be incomplete\n`);
  }
  // After the warnings, the last line: on stderr when the export itself went to stdout.
  if (!quiet) (target === null ? io.stderr : io.stdout)(`tstrace export: wrote ${target === null ? 'stdout' : output}: ${written}\n`);
  const { problem } = status;
  if (!problem) return EXIT_OK;
  const covered = `the export covers the ${status.bytesRead} bytes before it`;
  if (problem.kind === 'corrupt') {
    io.stderr(`tstrace: error: ${file} is damaged at offset ${problem.offset}: ${problem.reason}; ${covered}\n`);
    return EXIT_TRACE_ERROR;
  }
  if (!quiet) io.stderr(`tstrace: warning: ${file} is ${problem.kind} at offset ${problem.offset}: ${problem.reason}; ${covered}\n`);
  return EXIT_OK;
}

/**
 * `export`'s --since, --until, --task and --type as a filter, or what is wrong with them (a usage
 * error).
 */
function exportFilter(values: { since?: string; until?: string; task?: string; type?: string }): ExportFilter | string {
  const since = values.since === undefined ? undefined : parseDuration(values.since);
  const until = values.until === undefined ? undefined : parseDuration(values.until);
  const form = 'a time from the trace start: 1.5s, 200ms, 30us, or integer nanoseconds';
  if (since === null) return `--since must be ${form}, not "${values.since}"`;
  if (until === null) return `--until must be ${form}, not "${values.until}"`;
  if (since !== undefined && until !== undefined && until < since) return `--until ${values.until} is before --since ${values.since}`;
  if (values.task !== undefined && !/^[1-9]\d{0,15}$/.test(values.task)) return `--task must be a task id (a positive integer), not "${values.task}"`;
  if (values.type === '') return '--type must be a task type, not ""';
  return { since, until, task: values.task === undefined ? undefined : Number(values.task), type: values.type };
}

/** `--seconds`: a positive decimal number (`1`, `2.5`, `.5`), or null. */
function parseSeconds(text: string): number | null {
  if (!/^(\d+\.?\d*|\.\d+)$/.test(text.trim())) return null;
  const seconds = Number(text);
  return seconds > 0 && Number.isFinite(seconds) ? seconds : null;
}

const durationUnits: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };

/** `1.5s`, `200ms`, `30us`/`30µs`, `250ns` or `250` (integer nanoseconds) in ns; null if it is none of these. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)?$/.exec(text.trim());
  if (!match) return null;
  const [, number, unit] = match;
  if (unit === undefined && number.includes('.')) return null;
  const ns = Math.round(Number(number) * durationUnits[unit ?? 'ns']);
  return Number.isSafeInteger(ns) ? ns : null;
}

/** A file stream, once the file is open (rejects if it cannot be). */
function openForWriting(path: string): Promise<Writable> {
  return new Promise((resolvePromise, reject) => {
    const stream = createWriteStream(path);
    stream.once('open', () => {
      stream.off('error', reject);
      resolvePromise(stream);
    });
    stream.once('error', reject);
  });
}

/** Ends `out` and waits until everything is written (rejects with a write error). */
function endStream(out: Writable): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    out.once('error', reject);
    out.end(() => {
      out.off('error', reject);
      resolvePromise();
    });
  });
}

async function removeQuietly(path: string, out: Writable): Promise<void> {
  out.destroy();
  await unlink(path).catch(() => {});
}

/** A Writable over a text callback (for `-o -` when no stdout stream was given). */
function textWritable(write: (text: string) => void): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      callback();
    },
  });
}

/**
 * Writes a report's chunks to standard output, each once the output wants more. False when the reader
 * went away (EPIPE); other write errors reject.
 */
async function writeReport(chunks: Iterable<string>, io: CliIo): Promise<boolean> {
  const writer = new PacedWriter(io.stdoutStream ?? textWritable(io.stdout));
  try {
    for (const chunk of chunks) {
      await writer.drained();
      writer.write(chunk);
    }
    await writer.drained();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException | null)?.code === 'EPIPE') return false;
    throw error;
  } finally {
    writer.release();
  }
}

/** `tstrace merge`: merges traces into one; returns the exit code. */
async function merge(files: string[], output: string, { quiet, threads: asThreads }: { quiet: boolean; threads: boolean }, io: CliIo): Promise<number> {
  const target = resolve(io.cwd, output);
  if (files.some((file) => resolve(io.cwd, file) === target)) return usageError(io, `merge: -o ${output} is one of the traces to merge`);
  let result: MergeResult;
  try {
    const paths = files.map((file) => resolve(io.cwd, file));
    const names = new Map(paths.map((path, i) => [path, files[i]!]));
    // --threads: each input a thread of its own, named after the file (as given) and its process.
    const threadPerInput = asThreads ? ({ path, pid }: { path: string; pid: number }) => `${names.get(path) ?? path} (pid ${pid})` : undefined;
    result = await mergeTraces(paths, target, { threadPerInput });
  } catch (error) {
    io.stderr(`tstrace: error: ${ioErrorText(error)}\n`);
    return EXIT_TRACE_ERROR;
  }
  let code = EXIT_OK;
  result.inputs.forEach((input, i) => {
    const { problem, header } = input.status;
    if (!header) {
      io.stderr(`tstrace: error: ${files[i]}: not merged: ${problem ? problem.reason : 'it has no header'}\n`);
      code = EXIT_TRACE_ERROR;
    } else if (problem) {
      if (problem.kind === 'corrupt') code = EXIT_TRACE_ERROR;
      if (problem.kind === 'corrupt' || !quiet) {
        io.stderr(`tstrace: ${problem.kind === 'corrupt' ? 'error' : 'warning'}: ${files[i]} is ${problem.kind} at offset ${problem.offset}: ${problem.reason}; merged up to there\n`);
      }
    }
  });
  if (!quiet) {
    const size = byteSize((await stat(target)).size);
    const threads = result.threads.length > 0 ? ` (${result.threads.length} worker threads)` : '';
    io.stdout(`tstrace merge: wrote ${output}: ${result.events} events from ${result.inputs.length} traces${threads}, ${size}${result.complete ? '' : ' (unfinished: an input was)'}\n`);
  }
  return code;
}

/** `tstrace run`: runs a command traced, prints the summary, exits as it did (docs/cli.md). */
async function runCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const run = parseRunArguments(argv);
  if (typeof run === 'string') return usageError(io, `run: ${run} (usage: ${RUN_USAGE})`);
  const output = resolve(io.cwd, run.output);
  const since = Date.now();
  let end: CommandEnd;
  try {
    await clearOutput(output);
    end = await runTraced(run, io.cwd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    io.stderr(`tstrace: error: run: ${code === 'ENOENT' ? `${run.command}: command not found` : ioErrorText(error)}\n`);
    return code === 'ENOENT' ? 127 : EXIT_TRACE_ERROR;
  }
  if (!run.quiet) io.stderr(await runSummary(await tracesWritten(output, since), io.cwd, byteSize));
  if (end.signal !== null) {
    io.raise?.(end.signal);
    return 128 + (osConstants.signals[end.signal] ?? 0);
  }
  return end.code ?? EXIT_TRACE_ERROR;
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
function reportStatus(file: string, analysis: TraceStats, io: CliIo): number {
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

/**
 * Node's parseArgs message for `args`, as the other usage errors read: after the command's name, on
 * one line; an option whose value starts with a dash (`--limit -1`, read as another option) gets the
 * form that passes it (`--limit=-1`).
 */
function optionError(args: readonly string[], message: string): string {
  const command = args[0] !== undefined && !args[0].startsWith('-') ? `${args[0]}: ` : '';
  const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const option = ambiguous[1];
    const value = args[args.indexOf(option) + 1];
    return `${command}${option} ${value} reads as two options; to give ${option} a value that starts with "-", write ${option}=${value}`;
  }
  return `${command}${message.split('\n').join(' ')}`;
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

/** Why an output file cannot be written, for people. */
function outputErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such directory';
  if (code === 'ENOSPC') return 'no space left on the device';
  return ioErrorText(error);
}

function toJson(document: object): string {
  return JSON.stringify(document, null, 2) + '\n';
}

/** `tasks`' and `regions`' --type, --sort and --limit, or what is wrong with them. */
function listingOptions(command: Command, values: { type?: string; sort?: string; limit?: string; 'trace-id'?: string }): ListingOptions | string {
  const sortKey = command === 'tasks' ? 'latency' : 'duration';
  if (values.sort !== undefined && values.sort !== sortKey) return `--sort takes ${sortKey} (${command === 'tasks' ? 'slowest' : 'longest'} first), not "${values.sort}"`;
  if (values.limit !== undefined && !/^\d+$/.test(values.limit)) return `--limit must be a whole number, not "${values.limit}"`;
  const traceId = values['trace-id'];
  if (traceId !== undefined && !/^[0-9a-fA-F]{32}$/.test(traceId)) return `--trace-id must be a W3C trace id (32 hex digits), not "${traceId}"`;
  return { type: values.type, sort: values.sort as ListingOptions['sort'], limit: values.limit === undefined ? undefined : Number(values.limit), traceId };
}
