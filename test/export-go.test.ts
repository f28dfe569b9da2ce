/**
 * `exportGo` (tstrace export --format go), checked against Go's own `go tool trace` (Debian's Go 1.19,
 * `apt-get install -y golang-go`): the export loads, and Go's /usertasks, /usertask, /userregions and
 * /userregion pages show the same tasks (counts, latencies to the nanosecond), regions and logs as our
 * analysis; misuse is repaired and reported; a big trace exports in bounded memory. With scheduling
 * events, Go's goroutine analysis (/goroutine) shows each task's running and queued time as ours.
 *
 * Without Go 1.19 these tests skip, saying so — except under CI=true, where they fail.
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';
import { MisuseKind } from '../format/spec.js';
import { background, log, newTask, start, startRegion, stop, withContext, withRegion, type StartOptions } from '../runtime/index.js';
import type { TraceAnalysis } from '../analysis/analysis-types.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { READ_CHUNK_BYTES, loadTrace } from '../analysis/reader.js';
import { analyzeExecution } from '../analysis/time-breakdown.js';
import { exportGo } from '../export/export-go.js';
import type { ExportResult } from '../export/export-types.js';
import { GoEvent } from '../export/go-trace-encoder.js';
import { goParkReasonOf } from '../export/go-wait-reason.js';
import { samplePath } from './helpers/sample.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tstrace-export-go-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Holds the thread for `ms`. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

// ---- Go 1.19 ------------------------------------------------------------------------------------

interface Go {
  /** The `go` command. */
  readonly go: string;
  /** `$(go env GOTOOLDIR)/trace`: run directly, so that its pid is the server's. */
  readonly traceTool: string;
}

function findGo119(): Go | null {
  for (const go of ['/usr/lib/go-1.19/bin/go', 'go']) {
    const version = spawnSync(go, ['version'], { encoding: 'utf8' });
    if (version.status !== 0 || !/\bgo1\.19(\.|\s)/.test(version.stdout)) continue;
    const toolDir = spawnSync(go, ['env', 'GOTOOLDIR'], { encoding: 'utf8' }).stdout.trim();
    const traceTool = join(toolDir, 'trace');
    if (existsSync(traceTool)) return { go, traceTool };
  }
  return null;
}

const go = findGo119();
const goMissing = 'Go 1.19 was not found (/usr/lib/go-1.19/bin/go or `go` on PATH): apt-get install -y golang-go';
if (!go) {
  if (process.env.CI === 'true') {
    test('Go 1.19 is installed (required under CI=true)', () => {
      throw new Error(goMissing);
    });
  } else {
    console.warn(`export-go.test.ts: skipping the go tool trace checks: ${goMissing}`);
  }
}

/** `go tool trace -d FILE`: Go parses the whole trace and prints its events, one a line. */
function goParse(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(go!.go, ['tool', 'trace', '-d', file], { encoding: 'utf8', maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Go's trace tool serving `file` on 127.0.0.1 (a free port it picks): resolves once it parsed the trace and listens. */
function serve(file: string): Promise<{ url: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(go!.traceTool, ['-http=127.0.0.1:0', file], {
      env: { ...process.env, BROWSER: '/bin/true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const close = (): void => {
      if (child.exitCode === null) child.kill();
    };
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      log += text;
      const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (listening) resolve({ url: listening[1], close });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`go tool trace exited with ${code} before serving:\n${log}`)));
  });
}

/** GET over plain HTTP; rejects unless the status is 200. */
function fetchPage(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${response.statusCode}: ${body}`))));
    }).on('error', reject);
  });
}

// ---- reading Go's pages ----------------------------------------------------------------------------

/** Text of html/template output. */
function unescapeHtml(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

const units: Record<string, number> = { h: 3_600_000_000_000, m: 60_000_000_000, s: 1e9, ms: 1e6, µs: 1e3, us: 1e3, ns: 1 };

/** Nanoseconds of a Go `time.Duration` string ("1.234567ms", "2m3.5s", "0s"), exactly. */
function goDuration(text: string): number {
  let ns = 0;
  const tokens = text.matchAll(/(\d+)(?:\.(\d+))?(h|ms|µs|us|ns|m|s)/g);
  let consumed = 0;
  for (const [token, whole, fraction = '', unit] of tokens) {
    consumed += token.length;
    const per = units[unit];
    ns += Number(whole) * per + (fraction ? Math.round((Number(fraction) * per) / 10 ** fraction.length) : 0);
  }
  if (consumed !== text.length) throw new Error(`not a Go duration: ${text}`);
  return ns;
}

/** Nanoseconds of the "%2.9f" seconds Go prints in the When column. */
function goSeconds(text: string): number {
  const [whole, fraction] = text.trim().split('.');
  return Number(whole) * 1e9 + Number(fraction.padEnd(9, '0'));
}

/** /usertasks: count per task type. */
function parseUserTasks(html: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [, type, count] of html.matchAll(/<td>([^<]*)<\/td>\s*<td><a href="\/usertask\?type=[^"]*">(\d+)<\/a><\/td>/g)) {
    counts.set(unescapeHtml(type), Number(count));
  }
  return counts;
}

interface GoTaskEntry {
  id: number;
  duration: number;
  complete: boolean;
  events: { ts: number; g: number; what: string }[];
}

/** /usertask?type=T: every task of the type with its duration and events. */
function parseUserTask(html: string): GoTaskEntry[] {
  return html
    .split('<tr class="first">')
    .slice(1)
    .map((entry) => {
      const head = /<td class="elapsed">([^<]*)<\/td>[\s\S]*?>Task (\d+)<\/a>[\s\S]*?\((complete|incomplete)\)/.exec(entry);
      if (!head) throw new Error(`unexpected task entry: ${entry}`);
      const events = [...entry.matchAll(/<td class="when">([^<]*)<\/td>\s*<td class="elapsed">[^<]*<\/td>\s*<td class="goid">(\d+)<\/td>\s*<td>([^<]*)<\/td>/g)].map(
        ([, when, g, what]) => ({ ts: goSeconds(when), g: Number(g), what: unescapeHtml(what) }),
      );
      return { id: Number(head[2]), duration: goDuration(head[1]), complete: head[3] === 'complete', events };
    });
}

/** /userregions: one row per (type, frame): "type|fn|file:line" → count. */
function parseUserRegions(html: string): string[] {
  return [...html.matchAll(/<td>([^<]*)<br>([^<]*)<br>([^<]*)<\/td>\s*<td><a href="\/userregion\?[^"]*">(\d+)<\/a><\/td>/g)]
    .map(([, type, fn, where, count]) => `${unescapeHtml(type)}|${unescapeHtml(fn)}|${unescapeHtml(where)} ×${count}`)
    .sort();
}

/** /userregion?type=T: goroutine and task of every region of the type. */
function parseUserRegion(html: string): string[] {
  return [...html.matchAll(/<td> <a href="\/trace\?goid=(\d+)">\d+<\/a> <\/td>\s*<td> (?:<a href="\/trace\?focustask=(\d+)">)?/g)]
    .map(([, g, task]) => `g${g} task${task ?? 0}`)
    .sort();
}

/** The user-annotation lines of `go tool trace -d`, in our terms. */
function parseGoEvents(stdout: string) {
  const lines = stdout.split('\n');
  const count = (type: string) => lines.filter((line) => line.split(' ')[1] === type).length;
  const regions = lines.flatMap((line) => {
    const m = /^(\d+) UserRegion p=\d+ g=(\d+) off=\d+ taskid=(\d+) mode=([01]) typeid=\d+ name=(.*)$/.exec(line);
    return m ? [{ ts: Number(m[1]), g: Number(m[2]), task: Number(m[3]), end: m[4] === '1', name: m[5] }] : [];
  });
  const logs = lines.flatMap((line) => {
    const m = /^(\d+) UserLog p=\d+ g=(\d+) off=\d+ id=(\d+) keyid=\d+ category=(.*) message=(.*)$/.exec(line);
    return m ? [`${m[1]} g${m[2]} task${m[3]} ${m[4]}=${m[5]}`] : [];
  });
  return { count, regions, logs };
}

interface GoGoroutine {
  id: number;
  execution: number;
  networkWait: number;
  syncBlock: number;
  schedulerWait: number;
}

/** Go's "nice" durations on /goroutine: "123ns", "45µs", "67ms", "8s ". */
function niceDuration(text: string): number {
  const m = /^(\d+)(ns|µs|ms|s)\s*$/.exec(text.trim());
  if (!m) throw new Error(`not a Go nice duration: ${text}`);
  return Number(m[1]) * units[m[2]];
}

/** /goroutine?id=PC: each goroutine of the group with its execution and wait times. */
function parseGoroutines(html: string): GoGoroutine[] {
  return [...html.matchAll(/<td> <a href="\/trace\?goid=(\d+)">\d+<\/a> <\/td>[\s\S]*?<\/tr>/g)].map(([row, id]) => {
    const cells = [...row.matchAll(/<td> ([^<]*?)<\/td>/g)].map(([, text]) => text);
    // Cells after the id: total, execution, network wait, sync block, syscall, scheduler wait, sweep, GC.
    const times = cells.slice(-7).map((text) => niceDuration(text.replace(/\(.*\)/, '')));
    return { id: Number(id), execution: times[0], networkWait: times[1], syncBlock: times[2], schedulerWait: times[4] };
  });
}

// ---- what Go should show, from our analysis ---------------------------------------------------------

/** Go's text for a log: `category=message`, or the one that is not empty. */
const goLogText = (category: string, message: string): string => (category === '' ? message : message === '' ? category : `${category}=${message}`);

/** The events Go's /usertask page should list for a task, as {@link eventLine}s. */
function expectedTaskEvents(analysis: TraceAnalysis, taskId: number) {
  const task = analysis.tasks.find((t) => t.id === taskId)!;
  return task.events
    .flatMap((event) => {
      switch (event.kind) {
        case 'create':
          return [{ ts: event.ts, g: event.flow, what: `task ${task.type} (id ${task.id}, parent ${event.parent}) created` }];
        case 'log':
          return [{ ts: event.ts, g: event.flow, what: goLogText(event.category, event.message) }];
        case 'regionStart':
          return [{ ts: event.ts, g: event.flow, what: `region ${event.type} started (duration: ${event.complete ? event.duration : 'unknown'})` }];
        case 'end':
          return [{ ts: event.ts, g: event.flow, what: 'task end' }];
        case 'regionEnd':
          return [];
      }
    })
    .map(eventLine)
    .sort();
}

/** One task event as a comparable line; Go's region durations are turned into nanoseconds. */
function eventLine(event: { ts: number; g: number; what: string }): string {
  const what = event.what.replace(/\(duration: ([^)]+)\)/, (_, d: string) => `(duration: ${d === 'unknown' ? d : /^\d+$/.test(d) ? d : goDuration(d)})`);
  return `${event.ts} g${event.g} ${what}`;
}

function regionRows(analysis: TraceAnalysis): string[] {
  return analysis.regionGroups
    .map((group) => {
      const loc = group.location;
      const frame = loc ? `${loc.function || '(anonymous)'}|${loc.file}:${loc.line}` : '(location not recorded)|:0';
      return `${group.type}|${frame} ×${group.count}`;
    })
    .sort();
}

/** Everything the pages of Go's tool show about tasks and regions, next to what our analysis says. */
async function compareWithGo(goFile: string, analysis: TraceAnalysis, repairedRegions: readonly string[] = []): Promise<void> {
  const server = await serve(goFile);
  try {
    // /usertasks: tasks per type (complete or not).
    const goTasks = parseUserTasks(await fetchPage(`${server.url}/usertasks`));
    expect(goTasks).toEqual(new Map(analysis.taskTypes.map((t) => [t.type, t.count])));

    // /usertask?type=T: every task's latency to the nanosecond, completeness, and its events.
    for (const taskType of analysis.taskTypes) {
      const entries = parseUserTask(await fetchPage(`${server.url}/usertask?type=${encodeURIComponent(taskType.type)}`));
      const ours = analysis.tasks.filter((t) => t.type === taskType.type);
      expect(entries.map((e) => e.id).sort((a, b) => a - b)).toEqual(ours.map((t) => t.id));
      for (const entry of entries) {
        const task = ours.find((t) => t.id === entry.id)!;
        expect({ id: entry.id, latency: entry.duration, complete: entry.complete }).toEqual({ id: task.id, latency: task.latency, complete: task.complete });
        const goEvents = entry.events.map(eventLine).sort();
        const expected = expectedTaskEvents(analysis, task.id);
        if (repairedRegions.length === 0) {
          expect(goEvents).toEqual(expected);
        } else {
          // A repaired region lasts longer in Go; everything else is the same.
          const unrepaired = (line: string) => !repairedRegions.some((type) => line.includes(`region ${type} started`));
          expect(goEvents.filter(unrepaired)).toEqual(expected.filter(unrepaired));
          expect(goEvents.length).toBe(expected.length);
        }
      }
    }

    // /userregions: regions per (type, frame = our source location).
    expect(parseUserRegions(await fetchPage(`${server.url}/userregions`))).toEqual(regionRows(analysis));

    // /userregion?type=T: each region's goroutine (= flow) and task.
    for (const type of new Set(analysis.regions.map((r) => r.type))) {
      const rows = parseUserRegion(await fetchPage(`${server.url}/userregion?type=${encodeURIComponent(type)}`));
      const ours = analysis.regions.filter((r) => r.type === type).map((r) => `g${r.flow} task${r.task}`);
      expect(rows).toEqual(ours.sort());
    }

    // The timeline: whole trace, one task, one goroutine.
    for (const query of ['', `?taskid=${analysis.tasks.at(0)?.id ?? 1}`, '?goid=1']) {
      const json = JSON.parse(await fetchPage(`${server.url}/jsontrace${query}`)) as { traceEvents: unknown[] };
      expect(json.traceEvents.length).toBeGreaterThan(0);
    }
  } finally {
    server.close();
  }
}

// ---- making traces ------------------------------------------------------------------------------

async function traceTo(body: () => unknown, options: StartOptions = {}): Promise<string> {
  const file = join(dir, `${++files}.trace`);
  start(file, { gc: false, heap: false, eventLoop: false, ...options });
  try {
    await body();
  } finally {
    await stop();
  }
  return file;
}

async function exportToFile(source: string | Uint8Array): Promise<{ goFile: string; result: ExportResult }> {
  const goFile = join(dir, `${++files}.go.trace`);
  const out = createWriteStream(goFile);
  const result = await exportGo(source, out);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return { goFile, result };
}

/** A trace with exactly the events `write` encodes, and a footer ending at `endTs`. */
function synthesize(write: (batch: BatchEncoder) => void, endTs: number, version = 1): Uint8Array {
  const encoder = new BatchEncoder();
  encoder.begin(0);
  write(encoder);
  return Buffer.concat([
    encodeFileStart({ version, wallClockOriginNs: 1_700_000_000_000_000_000n, hrtimeOriginNs: 0n, pid: 42, nodeVersion: 'v20.0.0', command: 'node synth' }),
    encoder.finish(),
    encodeFooter({ events: 0, dropped: 0, endTs }),
  ]);
}

/** Busy work that makes garbage (and so GCs) without awaiting. */
function makeGarbage(megabytes: number): number {
  let sum = 0;
  for (let i = 0; i < megabytes * 16; i++) sum += new Array(8192).fill(i).length;
  return sum;
}

// ---- the tests ----------------------------------------------------------------------------------

describe.skipIf(!go)(`exportGo, checked with go tool trace (Go 1.19)${go ? '' : ` — skipped: ${goMissing}`}`, () => {
  test("a real trace: Go's tool loads it and shows the same tasks, latencies, regions and logs as our analysis", async () => {
    // A task created before tracing starts: ended in the trace, it is incomplete (type unknown).
    const [earlyCtx, earlyTask] = newTask(background, 'early');
    const file = await traceTo(
      async () => {
        earlyTask.end();
        log(earlyCtx, 'late', 'logged in a task created before the trace');
        const [orderCtx, order] = newTask(background, 'order');
        log(orderCtx, 'orderID', 'o-1 <&"\'>');
        log(orderCtx, '', 'message without category');
        log(background, 'startup', 'a log outside any task');
        // Concurrent async regions: each its own flow (goroutine), with nested tasks, regions and logs.
        await Promise.all(
          [1, 2, 3, 4].map((i) =>
            withRegion(orderCtx, 'brew', async () => {
              const [cupCtx, cup] = newTask(orderCtx, 'cup');
              await sleep(3 * i);
              await withRegion(cupCtx, 'steamMilk', async () => {
                log(cupCtx, 'milk', `cup ${i}`);
                withRegion(cupCtx, 'pour', () => makeGarbage(2));
                await sleep(2);
              });
              cup.end();
            }),
          ),
        );
        // GCs while a region is open, then a pause so the GC observer reports them.
        withRegion(orderCtx, 'allocate', () => makeGarbage(40));
        await sleep(30);
        // Incomplete: a region and a task still open at the end, on their own flow.
        const [, pending] = newTask(orderCtx, 'pending');
        void pending;
        await withContext(orderCtx, async () => {
          startRegion(orderCtx, 'neverEnds');
        });
        withRegion(background, 'untasked', () => {});
        withRegion(orderCtx, 'café ☕', () => log(orderCtx, 'ünïcode', 'größer als 3 € — ☕'));
        withRegion(orderCtx, '', () => {});
        order.end();
      },
      { gc: true, heap: true, captureLocations: true },
    );
    const analysis = await analyzeTrace(file);
    expect(analysis.problems).toEqual([]);
    expect(analysis.summary.gcCount).toBeGreaterThan(0);
    expect(analysis.tasks.some((t) => !t.complete)).toBe(true);

    const { goFile, result } = await exportToFile(file);
    expect(result.warnings).toEqual([]);
    expect(result.status.complete).toBe(true);

    // go tool trace -d: parses, and its event list holds every task, region and log of ours.
    const parsed = await goParse(goFile);
    expect(parsed.stderr).not.toMatch(/failed|error/i);
    expect(parsed.code).toBe(0);
    const goEvents = parseGoEvents(parsed.stdout);
    expect(goEvents.count('UserTaskCreate')).toBe(analysis.tasks.filter((t) => t.created).length);
    expect(goEvents.count('UserTaskEnd')).toBe(analysis.tasks.filter((t) => t.ended).length);
    expect(goEvents.count('GCStart')).toBe(analysis.summary.gcCount);
    expect(goEvents.count('HeapAlloc')).toBeGreaterThan(0);
    expect(goEvents.logs).toEqual(analysis.logs.map((l) => `${l.ts} g${l.flow} task${l.task} ${l.category}=${l.message}`));
    const starts = goEvents.regions.filter((r) => !r.end).map((r) => `${r.ts} g${r.g} task${r.task} ${r.name}`);
    expect(starts).toEqual(analysis.regions.map((r) => `${r.start} g${r.flow} task${r.task} ${r.type}`));
    const ends = goEvents.regions.filter((r) => r.end).map((r) => `${r.ts} g${r.g} ${r.name}`);
    expect(ends.sort()).toEqual(analysis.regions.filter((r) => r.complete).map((r) => `${r.end} g${r.flow} ${r.type}`).sort());

    await compareWithGo(goFile, analysis);
  });

  test("scheduling events: each flow's goroutine runs during its runs, waits runnable while queued and blocks on what it waited for — Go's goroutine analysis agrees with ours", async () => {
    // A task that holds the thread 80 ms after a short timer, three that a 20 ms timer wakes while it
    // does (so they queue behind it), one that awaits a promise another task resolves after it, and one
    // that waits for a server's answer on a socket.
    const answering = createServer((socket) => setTimeout(() => socket.end('answer'), 30));
    await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
    const port = (answering.address() as AddressInfo).port;
    const file = await traceTo(
      async () => {
        let release = (): void => {};
        const released = new Promise<void>((resolve) => (release = resolve));
        const job = (type: string, body: () => Promise<void>): Promise<void> => {
          const [ctx, task] = newTask(background, type);
          return withRegion(ctx, type, async () => {
            await body();
            task.end();
          });
        };
        await Promise.all([
          job('crunch', async () => {
            await sleep(5);
            busy(80);
          }),
          job('releaser', async () => {
            await sleep(40);
            release();
          }),
          ...[1, 2, 3].map(() =>
            job('napper', async () => {
              await sleep(20);
              busy(2);
            }),
          ),
          job('awaiter', async () => {
            await released;
            busy(2);
          }),
          job('fetcher', async () => {
            await new Promise<void>((resolve, reject) => {
              const socket = connect(port, '127.0.0.1');
              socket.on('data', () => {});
              socket.on('end', resolve);
              socket.on('error', reject);
            });
          }),
        ]);
      },
      { scheduling: true },
    ).finally(() => answering.close());
    const { events } = await loadTrace(file);
    const runs = events.filter((e) => e.kind === 'run');
    expect(runs.length).toBeGreaterThan(0);
    const execution = analyzeExecution(events);
    const analysis = await analyzeTrace(file);

    const { goFile, result } = await exportToFile(file);
    expect(result.warnings).toEqual([]);
    const parsed = await goParse(goFile);
    expect(parsed.stderr).not.toMatch(/failed|error/i);
    expect(parsed.code).toBe(0);
    // The goroutine of each flow starts exactly when each of its runs starts.
    const goStarts = new Set(parsed.stdout.split('\n').flatMap((line) => {
      const m = /^(\d+) GoStart p=\d+ g=(\d+) /.exec(line);
      return m ? [`${m[1]} g${m[2]}`] : [];
    }));
    for (const run of runs) expect(goStarts).toContain(`${run.ts} g${run.flow}`);
    // Blocking reasons: the timers are sleeps, the promise a receive.
    expect(parsed.stdout).toMatch(/ GoSleep /);
    expect(parsed.stdout).toMatch(/ GoBlockRecv /);

    const server = await serve(goFile);
    try {
      // Goroutines are grouped by their first region: one group per task type, one goroutine per task.
      const groups = [...(await fetchPage(`${server.url}/goroutines`)).matchAll(/<a href="\/goroutine\?id=(\d+)">([^<]*)<\/a> N=(\d+)/g)];
      const goroutines = new Map<number, GoGoroutine>();
      for (const [, pc, name] of groups) {
        if (!['crunch', 'napper', 'releaser', 'awaiter', 'fetcher'].includes(unescapeHtml(name))) continue;
        for (const g of parseGoroutines(await fetchPage(`${server.url}/goroutine?id=${pc}`))) goroutines.set(g.id, g);
      }
      expect(goroutines.size).toBe(7);
      // Each task's running and queued time, ours and Go's (its goroutine: the flow of its region).
      // Both come from the same runs; they differ by Go's rounding (it prints 10 ms and more in whole
      // ms) and what runs on a task's flow outside its lifetime (µs of running): 15 ms is generous.
      // Go's wait also holds what the flow queued after the task ended (a socket's close event, say),
      // which is not the task's: long when a loaded machine preempts the process right there.
      const tolerance = 15e6;
      const tasks = analysis.tasks.toArray();
      for (const task of execution.tasks.filter((t) => t.type !== '')) {
        const flow = analysis.regions.find((r) => r.task === task.task && r.type === task.type)!.flow;
        const g = goroutines.get(flow)!;
        expect(g, `task ${task.task} (${task.type}) on goroutine ${flow}`).toBeDefined();
        expect(Math.abs(g.execution - task.running), `${task.type} execution: Go ${g.execution}, ours ${task.running}`).toBeLessThan(tolerance);
        const end = tasks.find((t) => t.id === task.task)!.end;
        const runsAfterEnd = runs.some((r) => r.flow === flow && r.ts >= end);
        if (runsAfterEnd) expect(g.schedulerWait, `${task.type} scheduler wait: Go ${g.schedulerWait}, ours ${task.queued}`).toBeGreaterThan(task.queued - tolerance);
        else expect(Math.abs(g.schedulerWait - task.queued), `${task.type} scheduler wait: Go ${g.schedulerWait}, ours ${task.queued}`).toBeLessThan(tolerance);
      }
      const byType = (type: string): GoGoroutine[] => execution.tasks.filter((t) => t.type === type).map((t) => goroutines.get(analysis.regions.find((r) => r.task === t.task && r.type === type)!.flow)!);
      // The busy task ran ~80 ms; the nappers queued behind it for most of that, and ran briefly.
      expect(byType('crunch')[0].execution).toBeGreaterThan(70e6);
      for (const g of byType('napper')) {
        expect(g.schedulerWait).toBeGreaterThan(30e6);
        expect(g.execution).toBeLessThan(30e6);
      }
      // The awaiter's wait for the promise is Go's sync block time (a channel receive, on /block): our waiting time.
      const awaiter = execution.tasks.find((t) => t.type === 'awaiter')!;
      expect(awaiter.waiting).toBeGreaterThan(50e6);
      expect(Math.abs(byType('awaiter')[0].syncBlock - awaiter.waiting), `awaiter sync block: Go ${byType('awaiter')[0].syncBlock}, ours waiting ${awaiter.waiting}`).toBeLessThan(tolerance);
      // The fetcher's wait for the answer (30 ms or more) is Go's network wait (on /io), most of our waiting time.
      const fetcher = execution.tasks.find((t) => t.type === 'fetcher')!;
      const fetcherGo = byType('fetcher')[0];
      expect(fetcherGo.networkWait).toBeGreaterThan(25e6);
      expect(Math.abs(fetcherGo.networkWait - fetcher.waiting), `fetcher network wait: Go ${fetcherGo.networkWait}, ours waiting ${fetcher.waiting}`).toBeLessThan(tolerance);
      // Go's blocking and scheduler-latency profiles (raw: drawing them needs Graphviz) have the waits.
      for (const page of ['/block', '/sched', '/io']) expect((await fetchPage(`${server.url}${page}?raw=1`)).length).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });

  test("samples/workers: each thread is a P of its own (on an M with the thread's id), each flow a goroutine on its thread's P, and every job has regions on every thread's P", async () => {
    const file = join(dir, `${++files}.workers.trace`);
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, [samplePath('workers', 'main.mjs'), file], { cwd: root, timeout: 60_000 }, (error) => (error ? reject(error) : resolve())),
    );
    const analysis = await analyzeTrace(file);
    expect(analysis.problems).toEqual([]);
    const workers = (analysis.status.threads ?? []).map((t) => t.id);
    expect(workers).toHaveLength(4);

    const { goFile, result } = await exportToFile(file);
    expect(result.warnings).toEqual([]);
    const parsed = await goParse(goFile);
    expect(parsed.stderr).not.toMatch(/failed|error/i);
    expect(parsed.code).toBe(0);

    // One P per thread: the main thread's is P 0, started on M 0; each worker's on the M of its thread id.
    const procOfThread = new Map<number, number>();
    for (const [, p, thread] of parsed.stdout.matchAll(/^\d+ ProcStart p=(\d+) g=0 off=\d+ thread=(\d+)$/gm)) procOfThread.set(Number(thread), Number(p));
    expect([...procOfThread.keys()].sort((a, b) => a - b)).toEqual([0, ...workers].sort((a, b) => a - b));
    expect(procOfThread.get(0)).toBe(0);
    expect(new Set(procOfThread.values()).size).toBe(5);

    // Every region starts on its flow's goroutine, on the P of the thread that recorded it.
    const goRegions = [...parsed.stdout.matchAll(/^(\d+) UserRegion p=(\d+) g=(\d+) off=\d+ taskid=(\d+) mode=0 typeid=\d+ name=(.*)$/gm)].map(
      ([, ts, p, g, task, name]) => `${ts} p${p} g${g} task${task} ${name}`,
    );
    expect(goRegions.sort()).toEqual(analysis.regions.map((r) => `${r.start} p${procOfThread.get(r.thread)} g${r.flow} task${r.task} ${r.type}`).sort());
    for (const task of analysis.tasks) {
      const procs = new Set(goRegions.filter((line) => line.includes(` task${task.id} `)).map((line) => line.split(' ')[1]));
      expect(procs.size, `job ${task.id}`).toBe(5);
    }

    // Go's pages show the same tasks (latencies, events across the threads' goroutines) and regions.
    await compareWithGo(goFile, analysis);
  }, 120_000);

  test('misuse: regions ended out of order, twice, or on another flow load in Go, repaired, and each repair is reported', async () => {
    const file = await traceTo(async () => {
      const [ctx, task] = newTask(background, 'misuse');
      // Out of order: outer ends before middle and inner, which end later (inner after a nested child).
      const outer = startRegion(ctx, 'outer');
      const middle = startRegion(ctx, 'middle');
      const inner = startRegion(ctx, 'inner');
      outer.end();
      withRegion(ctx, 'child', () => {});
      await sleep(1);
      inner.end();
      middle.end();
      // Ended twice.
      const twice = startRegion(ctx, 'twice');
      twice.end();
      twice.end();
      // Started on one flow, ended on another.
      let crossing: ReturnType<typeof startRegion> | undefined;
      await withContext(ctx, async () => {
        crossing = startRegion(ctx, 'crossing');
      });
      await withContext(ctx, async () => {
        crossing!.end();
      });
      // Same type nested (recursion) and ended out of order: the announced one is the outer one.
      const r1 = startRegion(ctx, 'recursive');
      const r2 = startRegion(ctx, 'recursive');
      r1.end();
      r2.end();
      task.end();
    });
    const analysis = await analyzeTrace(file);
    expect(analysis.problems.map((p) => `${p.kind} ${p.regionType}`)).toEqual([
      'regionEndedOutOfOrder outer',
      'regionEndedTwice twice',
      'regionEndedOnOtherFlow crossing',
      'regionEndedOutOfOrder recursive',
    ]);

    const { goFile, result } = await exportToFile(file);
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[0]).toMatch(/^region "outer" on flow 1 was ended at .*, before regions nested in it; Go's regions must end innermost first, so the export ends it at .* with them \(.* later\)$/);
    expect(result.warnings[1]).toMatch(/^region "recursive" on flow 1 was ended at .* before regions nested in it/);

    const parsed = await goParse(goFile);
    expect(parsed.code).toBe(0);
    // Every region keeps its start and gets exactly one end.
    const goEvents = parseGoEvents(parsed.stdout);
    expect(goEvents.regions.filter((r) => !r.end)).toHaveLength(analysis.regions.length);
    expect(goEvents.regions.filter((r) => r.end)).toHaveLength(analysis.regions.length);
    // outer now ends with middle (its last nested region): at middle's end.
    const goOuterEnd = goEvents.regions.find((r) => r.end && r.name === 'outer')!;
    expect(goOuterEnd.ts).toBe(analysis.regions.find((r) => r.type === 'middle')!.end);

    await compareWithGo(goFile, analysis, ['outer', 'recursive']);
  });

  test('a synthesized trace: exact times, ends without starts, tasks created or ended twice, overlapping GCs', async () => {
    const loc = { file: '/app/cart.ts', line: 12, column: 5, function: 'checkout' };
    const bytes = synthesize((b) => {
      b.regionEnd(50, 1, 'lostStart'); // its start was before the trace: left out
      b.taskCreate(100, 1, 7, 0, 'job', loc);
      b.taskCreate(110, 1, 7, 0, 'job', null); // created again: left out
      b.regionStart(120, 1, 7, 'outer', loc);
      b.flowStart(130, 2, 1);
      b.regionStart(140, 2, 7, 'a', null);
      b.regionStart(150, 2, 7, 'a', null);
      b.misuse(160, 2, MisuseKind.RegionEndedOutOfOrder, 'a', null, 1);
      b.regionEnd(160, 2, 'a'); // the outer "a": repaired, ends at 170 with the inner one
      b.gc(165, 40, 20, 1); // a GC from 125 to 145, observed later: Go gets it in time order
      b.log(166, 1, 7, 'k', 'v', null);
      b.gc(167, 30, 10, 1); // 137..147 overlaps the one before: left out
      b.regionEnd(170, 2, 'a');
      b.regionEnd(180, 1, 'outer');
      b.taskEnd(190, 1, 7, loc);
      b.taskEnd(195, 1, 7, loc); // ended again: left out
      b.regionStart(200, 3, 0, 'open', loc); // never ends
      b.regionStart(210, 4, 0, 'x', null);
      b.regionStart(220, 4, 0, 'y', null); // never ends…
      b.misuse(230, 4, MisuseKind.RegionEndedOutOfOrder, 'x', null, 1);
      b.regionEnd(230, 4, 'x'); // …so x, ended before it, stays open in Go
    }, 1000);
    const analysis = await analyzeTrace(bytes);
    const { goFile, result } = await exportToFile(bytes);
    expect(result.warnings).toEqual([
      'region end "lostStart" on flow 1 at 50ns has no open region of that type (its start is not in the trace); it was left out',
      'task 7 was created again at 110ns (as "job"); Go rejects a task id used twice, so only the first creation is exported',
      `region "a" on flow 2 was ended at 160ns, before regions nested in it; Go's regions must end innermost first, so the export ends it at 170ns with them (10ns later)`,
      'task 7 was ended again at 195ns; only the first end is exported (Go would measure to the last one)',
      `region "x" on flow 4 ended at 230ns while regions nested in it were still open, and they never ended: Go's regions must end innermost first, so in the export it is left open (unfinished) with them`,
      '1 garbage collections overlapped the one before them and were left out (Go\'s GCs do not overlap)',
    ]);

    const parsed = await goParse(goFile);
    expect(parsed.code).toBe(0);
    const lines = parsed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^0 ProcStart /);
    expect(lines.at(-1)).toMatch(/^1000 ProcStop /); // the footer's end: unfinished tasks and regions end there in Go too
    expect(lines.filter((l) => / GCStart /.test(l))).toEqual([expect.stringMatching(/^125 GCStart p=1000004 /)]);
    expect(lines.filter((l) => / GCDone /.test(l))).toEqual([expect.stringMatching(/^145 GCDone /)]);
    expect(lines.filter((l) => / UserRegion /.test(l)).map((l) => l.replace(/ p=\d+| off=\d+| typeid=\d+/g, ''))).toEqual([
      '120 UserRegion g=1 taskid=7 mode=0 name=outer',
      '140 UserRegion g=2 taskid=7 mode=0 name=a',
      '150 UserRegion g=2 taskid=7 mode=0 name=a',
      '170 UserRegion g=2 taskid=7 mode=1 name=a',
      '170 UserRegion g=2 taskid=7 mode=1 name=a',
      '180 UserRegion g=1 taskid=7 mode=1 name=outer',
      '200 UserRegion g=3 taskid=0 mode=0 name=open',
      '210 UserRegion g=4 taskid=0 mode=0 name=x',
      '220 UserRegion g=4 taskid=0 mode=0 name=y',
    ]);

    const server = await serve(goFile);
    try {
      expect(parseUserTasks(await fetchPage(`${server.url}/usertasks`))).toEqual(new Map([['job', 1]]));
      const [job] = parseUserTask(await fetchPage(`${server.url}/usertask?type=job`));
      expect(job).toMatchObject({ id: 7, duration: 90, complete: true });
      expect(job.duration).toBe(analysis.tasks.find((t) => t.id === 7)!.latency);
      expect(parseUserRegions(await fetchPage(`${server.url}/userregions`))).toEqual([
        'a|(location not recorded)|:0 ×2',
        'open|checkout|/app/cart.ts:12 ×1',
        'outer|checkout|/app/cart.ts:12 ×1',
        'x|(location not recorded)|:0 ×1',
        'y|(location not recorded)|:0 ×1',
      ]);
    } finally {
      server.close();
    }
  });

  test('a synthesized trace with runs: goroutines created or unblocked when ready, running exactly during runs, blocked with what the next run waited on', async () => {
    // Run events come after the events they contain, at the start of the next run.
    const bytes = synthesize((b) => {
      b.taskCreate(110, 1, 7, 0, 'job', null);
      b.run(300, 1, 0, 200, 100, 0, ''); // flow 1 ran 100..200, readiness unknown
      b.regionStart(310, 2, 7, 'step', null);
      b.run(600, 2, 7, 300, 100, 51, 'PROMISE'); // flow 2 ran 300..400, ready at 250
      b.regionEnd(650, 2, 'step');
      b.run(900, 2, 7, 300, 100, 101, 'Timeout'); // 600..700, ready at 500
      b.taskEnd(920, 2, 7, null);
      b.run(1000, 2, 7, 100, 50, 0, 'TCPWRAP'); // 900..950, readiness unknown
      b.regionStart(1040, 3, 0, 'child', null); // events of another flow inside flow 1's run
      b.regionEnd(1050, 3, 'child');
      b.run(1200, 1, 0, 200, 100, 1, 'PROMISE'); // 1000..1100, not queued
    }, 2000, 5);
    const { goFile, result } = await exportToFile(bytes);
    expect(result.warnings).toEqual([]);
    const parsed = await goParse(goFile);
    expect(parsed.code).toBe(0);
    const lines = parsed.stdout
      .trim()
      .split('\n')
      .filter((l) => / (Go|User)/.test(l))
      .map((l) => l.replace(/ p=\d+| off=\d+| typeid=\d+| stack=\d+| seq=\d+| pid=\d+/g, ''));
    expect(lines).toEqual([
      // Flow 1's first run: readiness unknown, so created when it starts; it then waits for a promise.
      '100 GoCreate g=0 g=1',
      '100 GoStart g=1 g=1',
      '100 Gomaxprocs g=1 procs=1',
      '110 UserTaskCreate g=1 taskid=7 name=job',
      '200 GoBlockRecv g=1',
      // Flow 2: created when its first run became ready, runnable 50 ns (Go's scheduler wait)…
      '250 GoCreate g=0 g=2',
      '300 GoStart g=2 g=2',
      '310 UserRegion g=2 taskid=7 mode=0 name=step',
      // …then sleeps (its next run resumes from a Timeout), runnable from 500, runs at 600…
      '400 GoSleep g=2',
      '500 GoUnblock g=0 g=2',
      '600 GoStart g=2 g=2',
      '650 UserRegion g=2 taskid=7 mode=1 name=step',
      // …waits on the network (TCPWRAP, readiness unknown: runnable when it starts).
      '700 GoBlockNet g=2',
      '900 GoUnblock g=0 g=2',
      '900 GoStart g=2 g=2',
      '920 UserTaskEnd g=2 taskid=7',
      '950 GoBlock g=2',
      '1000 GoUnblock g=0 g=1',
      '1000 GoStart g=1 g=1',
      // Flow 3's events inside flow 1's run: flow 3 runs for them, then flow 1 goes on.
      '1040 GoBlock g=1',
      '1040 GoCreate g=0 g=3',
      '1040 GoStart g=3 g=3',
      '1040 UserRegion g=3 taskid=0 mode=0 name=child',
      '1050 UserRegion g=3 taskid=0 mode=1 name=child',
      '1050 GoBlock g=3',
      '1050 GoUnblock g=0 g=1',
      '1050 GoStart g=1 g=1',
      '1100 GoBlock g=1',
    ]);
  });

  test('a trace whose first Run event comes after the first 50,000 events: converted as without runs up to it, with runs from it, and Go loads it', async () => {
    const bytes = synthesize((b) => {
      b.regionStart(1, 2, 0, 'before', null);
      for (let i = 0; i < 50_000; i++) b.log(10 + i, 1, 0, 'n', String(i), null); // outside any run
      b.log(60_050, 2, 0, 'in', 'the run', null);
      b.run(60_100, 2, 0, 100, 80, 60_000, 'PROMISE'); // flow 2 ran 60,000..60,080, ready at 1
      b.regionEnd(60_200, 2, 'before');
      b.run(60_300, 2, 0, 150, 100, 1, 'Timeout'); // 60,150..60,250
    }, 70_000, 5);
    const { goFile, result } = await exportToFile(bytes);
    expect(result.warnings).toEqual([]);
    const parsed = await goParse(goFile);
    expect(parsed.stderr).not.toMatch(/failed|error/i);
    expect(parsed.code).toBe(0);
    const lines = parsed.stdout
      .trim()
      .split('\n')
      .filter((l) => / (Go|UserRegion)/.test(l) && !/ g=1 /.test(l))
      .map((l) => l.replace(/ p=\d+| off=\d+| typeid=\d+| stack=\d+| seq=\d+/g, ''));
    expect(lines).toEqual([
      // Converted before the first Run event: goroutines run at their events (flow 1's are left out here).
      '1 GoCreate g=0 g=2',
      '1 GoStart g=2 g=2',
      '1 Gomaxprocs g=2 procs=1',
      '1 UserRegion g=2 taskid=0 mode=0 name=before',
      '1 GoBlock g=2',
      '60050 GoUnblock g=0 g=2', // its log, the 50,002nd event
      '60050 GoStart g=2 g=2',
      // The first Run event: that run takes the running goroutine over, and ends at its end.
      '60080 GoSleep g=2',
      '60150 GoUnblock g=0 g=2',
      '60150 GoStart g=2 g=2',
      '60200 UserRegion g=2 taskid=0 mode=1 name=before',
      '60250 GoBlock g=2',
    ]);
  });

  test("names and messages longer than Go's limit are cut at a character boundary, and Go loads them", async () => {
    const longName = 'r'.repeat(999_999) + '€€'; // 1,000,005 bytes: the cut falls inside the first €
    const longMessage = 'é'.repeat(600_000); // 1,200,000 bytes
    const bytes = synthesize((b) => {
      b.regionStart(10, 1, 0, longName, null);
      b.log(20, 1, 0, 'big', longMessage, null);
      b.regionEnd(30, 1, longName);
    }, 100);
    const { goFile, result } = await exportToFile(bytes);
    expect(result.warnings).toEqual([
      `the name "${'r'.repeat(40)}…" was longer than Go's limit of 1000000 bytes and was cut to it`,
      "a log message was longer than Go's limit of 1000000 bytes and was cut to it",
    ]);
    const parsed = await goParse(goFile);
    expect(parsed.code).toBe(0);
    const { regions, logs } = parseGoEvents(parsed.stdout);
    expect(regions.map((r) => [r.ts, r.end, r.name])).toEqual([
      [10, false, 'r'.repeat(999_999)],
      [30, true, 'r'.repeat(999_999)],
    ]);
    expect(logs).toEqual([`20 g1 task0 big=${'é'.repeat(500_000)}`]);
  });

  test('a cut-off trace exports what was read, and Go loads it', async () => {
    const file = await traceTo(async () => {
      // 20,000 events: several batches (the runtime writes one per 8,192 events), so the cut leaves some whole.
      for (let i = 0; i < 4000; i++) {
        const [ctx, task] = newTask(background, 'step');
        await withRegion(ctx, 'work', async () => {
          log(ctx, 'i', String(i));
          await null;
        });
        task.end();
      }
    });
    const whole = readFileSync(file);
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    const { goFile, result } = await exportToFile(cut);
    expect(result.status.problem?.kind).toBe('truncated');
    const analysis = await analyzeTrace(cut);
    expect(analysis.tasks.length).toBeGreaterThan(1000);
    expect(analysis.tasks.some((t) => !t.complete)).toBe(true);
    const parsed = await goParse(goFile);
    expect(parsed.code).toBe(0);
    await compareWithGo(goFile, analysis);
  });

  describe('a big trace', () => {
    const bigTrace = join(dir, 'big.trace');
    const bigGo = join(dir, 'big.go.trace');
    let exported: { events: number; warnings: string[]; maxRssMb: number; inputBytes: number; outputBytes: number };

    beforeAll(() => {
      // The child processes run the built package, as users do.
      execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
      const runtime = JSON.stringify(join(root, 'dist/esm/runtime/index.js'));
      // 1,000 concurrent flows × 100 tasks × (create, 4 regions, log, end) ≈ 1.1M events, switching flows every 11 events.
      const writer = `
        const { start, stop, newTask, withRegion, log, background } = await import(${runtime});
        start(${JSON.stringify(bigTrace)}, { gc: true, heap: true, eventLoop: false, maxBufferedBytes: 1 << 30 });
        await Promise.all(Array.from({ length: 1000 }, (_, w) => withRegion(background, 'worker', async () => {
          for (let i = 0; i < 100; i++) {
            const [ctx, task] = newTask(background, 'job');
            for (let j = 0; j < 4; j++) withRegion(ctx, 'step', () => {});
            log(ctx, 'worker', String(w));
            task.end();
            await null;
          }
        })));
        await stop();`;
      execFileSync(process.execPath, ['--input-type=module', '-e', writer], { stdio: 'pipe' });
      // The export, in a process whose heap is far smaller than the trace's events would take.
      const exporter = `
        const { createWriteStream, statSync } = await import('node:fs');
        const { exportGo } = await import(${JSON.stringify(join(root, 'dist/esm/export/export-go.js'))});
        const out = createWriteStream(${JSON.stringify(bigGo)});
        const result = await exportGo(${JSON.stringify(bigTrace)}, out);
        await new Promise((resolve) => out.end(resolve));
        console.log(JSON.stringify({
          events: result.events, warnings: result.warnings, maxRssMb: process.resourceUsage().maxRSS / 1024,
          inputBytes: statSync(${JSON.stringify(bigTrace)}).size, outputBytes: statSync(${JSON.stringify(bigGo)}).size,
        }));`;
      const stdout = execFileSync(process.execPath, ['--max-old-space-size=24', '--input-type=module', '-e', exporter], { encoding: 'utf8' });
      exported = JSON.parse(stdout);
    }, 300_000);

    test('exports in bounded memory (a 24 MB heap for ~1.1M events), and Go loads it with the same tasks and regions', async () => {
      const analysis = await analyzeTrace(bigTrace);
      expect(analysis.summary.events).toBeGreaterThan(1_000_000);
      expect(analysis.summary.dropped).toBe(0);
      expect(exported.warnings).toEqual([]);
      expect(exported.events).toBeGreaterThan(analysis.summary.events);
      expect(exported.maxRssMb).toBeLessThan(200);

      const server = await serve(bigGo);
      try {
        expect(parseUserTasks(await fetchPage(`${server.url}/usertasks`))).toEqual(new Map([['job', 100_000]]));
        expect(parseUserRegions(await fetchPage(`${server.url}/userregions`))).toEqual(regionRows(analysis));
      } finally {
        server.close();
      }
    }, 300_000);
  });
});

describe('streaming (no Go needed)', () => {
  test('a slow output never has more than about one batch waiting, and progress is reported per chunk of input', async () => {
    const file = await traceTo(async () => {
      for (let i = 0; i < 20_000; i++) {
        const [ctx, task] = newTask(background, 'step');
        withRegion(ctx, 'work', () => log(ctx, 'i', 'x'.repeat(100)));
        task.end();
        if (i % 100 === 0) await null;
      }
    });
    let maxWaiting = 0;
    let written = 0;
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, done) {
        maxWaiting = Math.max(maxWaiting, this.writableLength);
        written += chunk.length;
        setImmediate(done);
      },
    });
    const progress: [number, number | null][] = [];
    const bytes = readFileSync(file);
    const result = await exportGo(bytes, out, { onProgress: (read, total) => progress.push([read, total]) });
    expect(result.warnings).toEqual([]);
    expect(written).toBeGreaterThan(2 << 20);
    expect(maxWaiting).toBeLessThan(128 * 1024);
    expect(progress.length).toBe(Math.ceil(bytes.length / READ_CHUNK_BYTES));
    expect(progress.at(-1)).toEqual([bytes.length, bytes.length]);
  });

  test('an output that fails rejects the export with its error', async () => {
    const file = await traceTo(() => withRegion(background, 'r', () => {}));
    const out = new Writable({
      write(_chunk, _encoding, done) {
        done(new Error('disk full'));
      },
    });
    await expect(exportGo(file, out)).rejects.toThrow('disk full');
  });
});

// The helpers above must not rot when Go is absent.
test("what a flow waited on decides the Go event its goroutine blocks with (docs/export.md's table)", () => {
  const reasons = Object.fromEntries(
    ['Timeout', 'TIMERWRAP', 'TCPWRAP', 'TCPCONNECTWRAP', 'PIPEWRAP', 'TLSWRAP', 'HTTPINCOMINGMESSAGE', 'HTTPCLIENTREQUEST', 'GETADDRINFOREQWRAP', 'FSREQCALLBACK', 'FILEHANDLE', 'PROMISE', 'MESSAGEPORT', 'Immediate', 'TickObject', ''].map((w) => [
      w,
      goParkReasonOf(w),
    ]),
  );
  expect(reasons).toEqual({
    Timeout: GoEvent.GoSleep,
    TIMERWRAP: GoEvent.GoSleep,
    TCPWRAP: GoEvent.GoBlockNet,
    TCPCONNECTWRAP: GoEvent.GoBlockNet,
    PIPEWRAP: GoEvent.GoBlockNet,
    TLSWRAP: GoEvent.GoBlockNet,
    HTTPINCOMINGMESSAGE: GoEvent.GoBlockNet,
    HTTPCLIENTREQUEST: GoEvent.GoBlockNet,
    GETADDRINFOREQWRAP: GoEvent.GoBlockNet,
    FSREQCALLBACK: GoEvent.GoBlockNet,
    FILEHANDLE: GoEvent.GoBlockNet,
    PROMISE: GoEvent.GoBlockRecv,
    MESSAGEPORT: GoEvent.GoBlockRecv,
    Immediate: GoEvent.GoBlock,
    TickObject: GoEvent.GoBlock,
    '': GoEvent.GoBlock,
  });
});

test('Go durations and seconds are read exactly', () => {
  expect(goDuration('0s')).toBe(0);
  expect(goDuration('850ns')).toBe(850);
  expect(goDuration('12.345µs')).toBe(12_345);
  expect(goDuration('1.234567ms')).toBe(1_234_567);
  expect(goDuration('2m3.000000001s')).toBe(123_000_000_001);
  expect(goSeconds('0.002084489')).toBe(2_084_489);
  expect(goSeconds('12.000000001')).toBe(12_000_000_001);
  expect(goLogText('', 'm')).toBe('m');
  expect(goLogText('c', '')).toBe('c');
  expect(unescapeHtml('o-1 &lt;&amp;&#34;&#39;&gt;')).toBe('o-1 <&"\'>');
});
