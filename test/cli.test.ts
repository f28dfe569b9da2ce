/**
 * The `tstrace` command line (docs/cli.md), run as users run it: the built dist/esm/cli/cli.js on a
 * trace written by a separate traced program.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatTimestamp } from '../analysis/format-duration.js';
import { BatchEncoder, encodeFileStart, encodeFooter } from '../format/encode.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const cli = join(root, 'dist/esm/cli/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-cli-'));
const traceFile = join(dir, 'app.trace');
const script = join(dir, 'app.mjs');

/** The traced program. Markers in comments let the tests find the lines of its calls. */
const program = `import { background, current, log, newTask, start, startRegion, stop, withRegion } from ${JSON.stringify(
  pathToFileURL(join(root, 'dist/esm/runtime/index.js')).href,
)};
// At least \`ms\` by the high-resolution clock (a timer alone can fire up to ~1 ms early by it).
const sleep = async (ms) => {
  const end = performance.now() + ms;
  do await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - performance.now())));
  while (performance.now() < end);
};
start(process.argv[2], { captureLocations: true, sampleInterval: 5 });
const [ctx, task] = newTask(background, 'order');
log(ctx, 'orderID', 'order-1');
await withRegion(ctx, 'brew', async () => { // @brew
  await sleep(3);
  await withRegion(current(), 'pour', async () => sleep(1));
});
task.end();
await sleep(30); // a background flush: the trace has several event batches
const [ctx2] = newTask(background, 'order'); // never ends
log(ctx2, 'note', 'left open');
const outer = startRegion(background, 'outer'); // @outer
const inner = startRegion(background, 'inner');
outer.end();
inner.end();
await sleep(30);
await stop();
`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function tstrace(...args: string[]): Run {
  return tstraceIn(root, ...args);
}

function tstraceIn(cwd: string, ...args: string[]): Run {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** 1-based line and column of `text` in the traced program. */
function positionOf(text: string): { line: number; column: number } {
  const lines = program.split('\n');
  const index = lines.findIndex((l) => l.includes(text));
  if (index < 0) throw new Error(`no "${text}" in the program`);
  return { line: index + 1, column: lines[index].indexOf(text) + 1 };
}

/** Start offsets of the frames after the 8 magic bytes (header, event batches, footer). */
function frameOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let at = 8; at < bytes.length; at += 9 + Buffer.from(bytes.buffer, bytes.byteOffset).readUInt32LE(at)) offsets.push(at);
  return offsets;
}

let trace: Buffer;

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
  writeFileSync(script, program);
  execFileSync(process.execPath, [script, traceFile], { cwd: dir, stdio: 'pipe' });
  trace = readFileSync(traceFile);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stats', () => {
  test('--json: summary, task types with latency stats and histogram, region groups with locations, log categories, problems, status', () => {
    const run = tstrace('stats', traceFile, '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, command: 'stats', file: traceFile, status: { complete: true, bytesRead: trace.length, problem: null } });
    expect(doc.summary).toMatchObject({ tasks: 2, regions: 4, logs: 2, dropped: 0 });
    expect(doc.summary.duration).toBeGreaterThan(60_000_000); // two 30ms sleeps
    expect(Number.isInteger(doc.summary.duration)).toBe(true);

    const [order] = doc.taskTypes;
    expect(order).toMatchObject({ type: 'order', count: 2, complete: 1 });
    const { min, p50, p90, p99, max } = order.latency;
    expect(min).toBeGreaterThan(3_000_000); // brew sleeps 3ms, then pour 1ms
    expect([p50, p90, p99, max]).toEqual([min, min, min, min]);
    expect(order.histogram).toEqual([{ bucket: expect.any(Number), lowerBound: expect.any(Number), count: 1 }]);
    expect(order.histogram[0].lowerBound).toBeLessThanOrEqual(min);

    const brew = doc.regionGroups.find((g: { type: string }) => g.type === 'brew');
    expect(brew).toMatchObject({ count: 1, complete: 1, location: { file: script, ...positionOf("withRegion(ctx, 'brew'") } });
    expect(doc.regionGroups.map((g: { type: string }) => g.type)).toEqual(['brew', 'inner', 'outer', 'pour']);
    expect(doc.logCategories).toEqual([
      { category: 'note', count: 1 },
      { category: 'orderID', count: 1 },
    ]);
    expect(doc.problems).toEqual([
      {
        kind: 'regionEndedOutOfOrder',
        source: 'runtime',
        message: expect.stringContaining('"outer"'),
        ts: expect.any(Number),
        flow: 1,
        regionType: 'outer',
        task: null,
        location: { file: script, function: '', ...positionOf("startRegion(background, 'outer')") },
      },
    ]);
  });

  test('human output: aligned tables with human-readable durations', () => {
    const run = tstrace('stats', traceFile);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    const out = run.stdout;
    expect(out).toMatch(/^Status +complete$/m);
    expect(out).toMatch(/^Tasks +2$/m);
    // TYPE COUNT COMPLETE MIN P50 P90 P99 MAX, durations with units.
    expect(out).toMatch(/^ {2}order +2 +1( +\d+(\.\d+)?ms){5}$/m);
    expect(out).toMatch(new RegExp(`^ {2}brew +\\S*app\\.mjs:${positionOf("withRegion(ctx, 'brew'").line}:\\d+ +1 +1 `, 'm'));
    expect(out).toMatch(/^ {2}orderID +1$/m);
    expect(out).toMatch(/regionEndedOutOfOrder +1 +\S*app\.mjs:\d+:\d+ +region "outer"/);
    expect(out).toMatch(/^Task latency histograms$/m);
    // Columns line up: every row of the region table puts COUNT at the same offset as its heading.
    const lines = out.split('\n');
    const heading = lines.findIndex((l) => l.includes('TYPE') && l.includes('LOCATION'));
    const countEnd = lines[heading].indexOf('COUNT') + 'COUNT'.length;
    for (const row of lines.slice(heading + 1, heading + 5)) expect(row.slice(countEnd - 1, countEnd)).toBe('1');
  });
});

describe('tasks', () => {
  test('--json --type: each task with parent, children, times, latency, flows and its events in time order', () => {
    const run = tstrace('tasks', traceFile, '--type', 'order', '--json');
    expect(run.status).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc.command).toBe('tasks');
    const [done, open] = doc.tasks;
    expect(doc.tasks).toHaveLength(2);
    expect(done).toMatchObject({ type: 'order', parent: 0, children: [], complete: true, created: true, ended: true });
    expect(done.latency).toBe(done.end - done.start);
    expect(done.events.map((e: { kind: string }) => e.kind)).toEqual(['create', 'log', 'regionStart', 'regionStart', 'regionEnd', 'regionEnd', 'end']);
    expect(done.events[1]).toMatchObject({ category: 'orderID', message: 'order-1' });
    expect(done.events[2]).toMatchObject({ type: 'brew', complete: true });
    expect(done.flows).toHaveLength(3); // the main flow, brew's and pour's
    for (const e of done.events) expect(Number.isInteger(e.ts)).toBe(true);
    expect(open).toMatchObject({ complete: false, created: true, ended: false, end: doc.summary.duration });
    expect(open.events.map((e: { kind: string }) => e.kind)).toEqual(['create', 'log']);

    expect(JSON.parse(tstrace('tasks', traceFile, '--type', 'nothing', '--json').stdout).tasks).toEqual([]);
  });

  test('--sort latency --limit N: the slowest tasks first, the first N only', () => {
    const all = JSON.parse(tstrace('tasks', traceFile, '--json').stdout).tasks as { id: number; latency: number }[];
    const slowest = [...all].sort((a, b) => b.latency - a.latency || a.id - b.id);
    expect(slowest[0]!.latency).toBeGreaterThan(slowest.at(-1)!.latency);
    expect(JSON.parse(tstrace('tasks', traceFile, '--json', '--sort', 'latency').stdout).tasks).toEqual(slowest);
    expect(JSON.parse(tstrace('tasks', traceFile, '--json', '--sort', 'latency', '--limit', '1').stdout).tasks).toEqual(slowest.slice(0, 1));
    expect(tstrace('tasks', traceFile, '--sort', 'latency', '--limit', '1').stdout.split('\n\n')).toHaveLength(1);
  });

  test('human output: a block per task with its history', () => {
    const run = tstrace('tasks', traceFile);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Task 1 {2}order {2}complete$/m);
    expect(run.stdout).toMatch(/^Task 2 {2}order {2}incomplete \(never ended/m);
    expect(run.stdout).toMatch(/ 0s +1 +create \(parent 0\)/);
    expect(run.stdout).toMatch(/region \d+ "brew" start \(\d+(\.\d+)?ms\)/);
    expect(run.stdout).toMatch(/log orderID=order-1/);
  });

  test('human output: times (start, end, the TIME of each event) to the nanosecond; durations with three significant digits', () => {
    const { tasks } = JSON.parse(tstrace('tasks', traceFile, '--json').stdout) as { tasks: { start: number; end: number; events: { ts: number }[] }[] };
    const blocks = tstrace('tasks', traceFile).stdout.split('\n\n');
    expect(blocks).toHaveLength(tasks.length);
    const seconds = (text: string) => Math.round(Number(/^(\d+\.\d{9})s$/.exec(text)![1]) * 1e9);
    tasks.forEach((task, k) => {
      const lines = blocks[k]!.split('\n');
      const fact = (name: string) => lines.find((line) => line.startsWith(`  ${name} `))!.slice(`  ${name} `.length).trim();
      expect(seconds(fact('start'))).toBe(task.start);
      expect(seconds(fact('end'))).toBe(task.end);
      expect(fact('latency')).toMatch(/^≥?\d+(\.\d+)?(ns|µs|ms|s)$/);
      const rows = lines.slice(lines.findIndex((line) => line.includes('SINCE START')) + 1).filter(Boolean);
      expect(rows.map((row) => seconds(row.trim().split(/ +/)[0]!))).toEqual(task.events.map((e) => e.ts));
    });
  });

  test('formatTimestamp: seconds and nine decimals', () => {
    expect(formatTimestamp(0)).toBe('0.000000000s');
    expect(formatTimestamp(850)).toBe('0.000000850s');
    expect(formatTimestamp(12_345_678_901)).toBe('12.345678901s');
    expect(formatTimestamp(3_600_000_000_001)).toBe('3600.000000001s');
    expect(formatTimestamp(-1_500)).toBe('-0.000001500s');
  });
});

describe('a flight-recorder snapshot: what began before the trace', () => {
  const snapshotFile = join(dir, 'flight.trace');
  const snapshotProgram = join(dir, 'flight.mjs');
  beforeAll(() => {
    // A task and region open for the whole run, then 400 ms of short tasks; the snapshot keeps the last ~100 ms.
    writeFileSync(
      snapshotProgram,
      `import { background, FlightRecorder, newTask, startRegion } from ${JSON.stringify(pathToFileURL(join(root, 'dist/esm/runtime/index.js')).href)};
const flight = new FlightRecorder({ minAge: 100, maxBytes: 1 << 20, gc: false, heap: false, eventLoop: false, sampleInterval: 5 });
flight.start();
const [ctx, server] = newTask(background, 'server');
const serving = startRegion(ctx, 'serve');
const until = performance.now() + 400;
while (performance.now() < until) {
  const [c, t] = newTask(ctx, 'request');
  startRegion(c, 'handle').end();
  t.end();
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await flight.writeTo(process.argv[2]);
await flight.stop();
`,
    );
    execFileSync(process.execPath, [snapshotProgram, snapshotFile], { cwd: dir, stdio: 'pipe' });
  });

  test('tasks and regions print how long before the trace they began; they are not problems', () => {
    const doc = JSON.parse(tstrace('tasks', snapshotFile, '--type', 'server', '--json').stdout);
    const [server] = doc.tasks;
    expect(server).toMatchObject({ type: 'server', parent: 0, complete: false, created: false });
    expect(server.beganBefore).toBeGreaterThan(200e6);
    const tasks = tstrace('tasks', snapshotFile, '--type', 'server');
    expect(tasks.stdout).toMatch(/^Task \d+ {2}server {2}incomplete \(began \d+(\.\d+)?ms before the trace: its start is the trace start; never ended\)$/m);
    const regions = tstrace('regions', snapshotFile, '--type', 'serve');
    expect(regions.stdout).toMatch(/ 0s \(began \d+(\.\d+)?ms before\) /);
    expect(tstrace('stats', snapshotFile).stdout).toMatch(/^Problems\n {2}\(none\)$/m);
  });
});

describe('regions', () => {
  test('--json: id, type, task, flow, parent region, start, end, location; --type filters', () => {
    const all = JSON.parse(tstrace('regions', traceFile, '--json').stdout);
    const byType = Object.fromEntries(all.regions.map((r: { type: string }) => [r.type, r]));
    expect(all.regions.map((r: { id: number }) => r.id)).toEqual([1, 2, 3, 4]);
    expect(byType.pour.parent).toBe(byType.brew.id);
    expect(byType.brew).toMatchObject({ task: 1, parent: null, complete: true, location: { file: script, ...positionOf("withRegion(ctx, 'brew'") } });
    expect(byType.pour.flow).not.toBe(byType.brew.flow);
    expect(byType.inner.parent).toBe(byType.outer.id);
    expect(byType.brew.duration).toBe(byType.brew.end - byType.brew.start);

    const pour = JSON.parse(tstrace('regions', traceFile, '--type', 'pour', '--json').stdout);
    expect(pour.regions).toEqual([byType.pour]);
  });

  test('--sort duration --limit N: the longest regions first; --type with * matches any run of characters', () => {
    const all = JSON.parse(tstrace('regions', traceFile, '--json').stdout).regions as { id: number; type: string; duration: number }[];
    const longest = [...all].sort((a, b) => b.duration - a.duration || a.id - b.id);
    expect(JSON.parse(tstrace('regions', traceFile, '--json', '--sort', 'duration').stdout).regions).toEqual(longest);
    expect(JSON.parse(tstrace('regions', traceFile, '--json', '--sort', 'duration', '--limit', '2').stdout).regions).toEqual(longest.slice(0, 2));
    expect(JSON.parse(tstrace('regions', traceFile, '--json', '--limit', '0').stdout).regions).toEqual([]);
    const starred = JSON.parse(tstrace('regions', traceFile, '--json', '--type', '*er').stdout).regions as { type: string }[];
    expect(starred.map((r) => r.type)).toEqual(['outer', 'inner']);
    expect(JSON.parse(tstrace('regions', traceFile, '--json', '--type', 'p*').stdout).regions.map((r: { type: string }) => r.type)).toEqual(['pour']);
  });

  test('human output: one aligned row per region', () => {
    const run = tstrace('regions', traceFile, '--type', 'brew');
    expect(run.status).toBe(0);
    const [heading, row, ...rest] = run.stdout.trimEnd().split('\n');
    expect(heading).toMatch(/^ID +TYPE +TASK +FLOW +PARENT +START +END +DURATION +LOCATION$/);
    expect(row).toMatch(/^ 1 +brew +1 +\d+ +- +[\d.]+[µm]s +[\d.]+ms +[\d.]+ms +\S*app\.mjs:\d+:\d+$/);
    expect(rest).toEqual([]);
    // Locations under the working directory are shown relative to it.
    const { line, column } = positionOf("withRegion(ctx, 'brew'");
    expect(tstraceIn(dir, 'regions', traceFile, '--type', 'brew').stdout.trimEnd().endsWith(`  app.mjs:${line}:${column}`)).toBe(true);
  });
});

describe('long listings', () => {
  test('the JSON of tasks, regions and logs is exactly JSON.stringify of the document, written a piece at a time', async () => {
    const { analyzeTrace } = await import('../analysis/analysis.js');
    const analysis = await analyzeTrace(traceFile);
    const common = (command: string) => ({
      schemaVersion: 1,
      command,
      file: traceFile,
      status: { complete: analysis.status.complete, bytesRead: analysis.status.bytesRead, problem: analysis.status.problem },
      summary: analysis.summary,
      threads: [],
    });
    for (const [command, list] of [['tasks', analysis.tasks], ['regions', analysis.regions], ['logs', analysis.logs]] as const) {
      expect(tstrace(command, traceFile, '--json').stdout).toBe(JSON.stringify({ ...common(command), [command]: list }, null, 2) + '\n');
    }
    expect(tstrace('regions', traceFile, '--json', '--type', 'nothing').stdout).toBe(JSON.stringify({ ...common('regions'), regions: [] }, null, 2) + '\n');
  });

  test('300,000 regions list in a 96 MB heap, as text and as JSON; a reader that stops early (| head) is no error', () => {
    const big = join(dir, 'big.trace');
    const writer = `import { background, newTask, start, startRegion, stop } from ${JSON.stringify(pathToFileURL(join(root, 'dist/esm/runtime/index.js')).href)};
start(process.argv[2], { maxBufferedBytes: 1 << 28, gc: false, heap: false, eventLoop: false });
for (let i = 0; i < 100_000; i++) {
  const [ctx, task] = newTask(background, 'request');
  startRegion(ctx, 'parse').end();
  const handle = startRegion(ctx, 'handle');
  startRegion(ctx, 'query').end();
  handle.end();
  task.end();
}
await stop();
`;
    writeFileSync(join(dir, 'big.mjs'), writer);
    execFileSync(process.execPath, [join(dir, 'big.mjs'), big]);
    const small = (args: string[]) => spawnSync('sh', ['-c', `${process.execPath} --max-old-space-size=96 ${cli} ${args.join(' ')}`], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const text = small(['regions', big, '|', 'wc', '-l']);
    expect(text.stderr).toBe('');
    expect(Number(text.stdout.trim())).toBe(300_001);
    // Each task's "id" is 6 spaces in; the document ends as JSON.stringify ends it.
    const json = small(['tasks', big, '--json', '--type', 'request', '|', 'tee', join(dir, 'big.json'), '|', 'grep', '-c', `'^      "id": '`]);
    expect(json.stderr).toBe('');
    expect(Number(json.stdout.trim())).toBe(100_000);
    expect(spawnSync('tail', ['-c', '30', join(dir, 'big.json')], { encoding: 'utf8' }).stdout).toMatch(/\]\n    }\n  \]\n}\n$/);
    const head = spawnSync('sh', ['-c', `${process.execPath} ${cli} regions ${big} | head -2; echo "exit $?"`], { encoding: 'utf8' });
    expect(head.stdout).toMatch(/^\s+ID\s+TYPE[^\n]*\n\s+1\s+parse[^\n]*\nexit 0\n$/);
    expect(head.stderr).toBe('');
  }, 60_000);
});

describe('logs', () => {
  test('--category and --text select logs', () => {
    const byCategory = JSON.parse(tstrace('logs', traceFile, '--category', 'orderID', '--json').stdout);
    expect(byCategory.logs).toMatchObject([{ task: 1, category: 'orderID', message: 'order-1' }]);
    const byText = JSON.parse(tstrace('logs', traceFile, '--text', 'open', '--json').stdout);
    expect(byText.logs).toMatchObject([{ task: 2, category: 'note', message: 'left open' }]);
    expect(tstrace('logs', traceFile).stdout).toMatch(/^ *[\d.]+ms +2 +1 +note +left open +\S*app\.mjs:\d+:\d+$/m);
  });
});

describe('help, version and usage errors', () => {
  test('--help, -h and help print the usage to stdout', () => {
    const help = tstrace('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('tstrace stats FILE [--json]');
    expect(help.stdout).toContain('tstrace tasks FILE [--type T] [--trace-id ID] [--sort latency] [--limit N] [--json]');
    expect(tstrace('help').stdout).toBe(help.stdout);
    expect(tstrace('-h').stdout).toBe(help.stdout);
  });

  test('--version prints the version of package.json', () => {
    const run = tstrace('--version');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
  });

  test.each([
    [['frobnicate', 'x.trace'], /unknown command "frobnicate"/],
    [['stats'], /stats: missing FILE/],
    [[], /missing command/],
    [['stats', 'a.trace', 'b.trace'], /unexpected argument "b\.trace"/],
    [['stats', 'a.trace', '--type', 'x'], /--type does not apply to stats/],
    [['stats', 'a.trace', '--frobnicate'], /--frobnicate/],
    [['tasks', 'a.trace', '--sort', 'duration'], /tasks: --sort takes latency \(slowest first\), not "duration"/],
    [['regions', 'a.trace', '--sort', 'latency'], /regions: --sort takes duration \(longest first\), not "latency"/],
    [['tasks', 'a.trace', '--limit', 'ten'], /tasks: --limit must be a whole number, not "ten"/],
    [['logs', 'a.trace', '--limit', '3'], /--limit does not apply to logs/],
    [['tasks', 'a.trace', '--limit', '-1'], /^tstrace: tasks: --limit -1 reads as two options; to give --limit a value that starts with "-", write --limit=-1\n/],
    [['logs', 'a.trace', '--category'], /^tstrace: logs: Option '--category <value>' argument missing\n/],
  ])('tstrace %j is a usage error: exit 2, a message on stderr', (args, message) => {
    const run = tstrace(...args);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });
});

describe('files that are not (whole) traces', () => {
  test('no such file: exit 1, says which file', () => {
    const missing = join(dir, 'missing.trace');
    const run = tstrace('stats', missing);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`tstrace: error: ${missing}: no such file\n`);
  });

  test('not a tstrace file: exit 1, says which file and why', () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'these are notes, not a trace\n');
    const run = tstrace('tasks', text);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(text);
    expect(run.stderr).toContain('not a tstrace file');
  });

  test('a truncated trace is analysed up to the cut: exit 0, a warning naming file, offset and reason', () => {
    const frames = frameOffsets(trace);
    const lastBatch = frames[frames.length - 2];
    const cut = join(dir, 'cut.trace');
    writeFileSync(cut, trace.subarray(0, lastBatch + 5));
    const run = tstrace('stats', cut, '--json');
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^tstrace: warning: ${cut.replace(/[.\\/]/g, '\\$&')} is truncated at offset ${lastBatch}: the file ends inside a frame`));
    const doc = JSON.parse(run.stdout);
    expect(doc.status).toMatchObject({ complete: false, bytesRead: lastBatch, problem: { kind: 'truncated', offset: lastBatch } });
    expect(doc.summary.tasks).toBeGreaterThan(0); // what came before the cut
  });

  test('a trace without footer (the process was killed) is unfinished: exit 0 with a warning', () => {
    const frames = frameOffsets(trace);
    const unfinished = join(dir, 'unfinished.trace');
    writeFileSync(unfinished, trace.subarray(0, frames[frames.length - 1]));
    const run = tstrace('tasks', unfinished, '--json');
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/^tstrace: warning: .*unfinished\.trace is unfinished at offset \d+: the trace has no footer/);
    expect(JSON.parse(run.stdout).tasks).toHaveLength(2);
  });

  test('a damaged trace: the analysis of the part before the damage, the error on stderr, exit 1', () => {
    const frames = frameOffsets(trace);
    const damagedAt = frames[frames.length - 2];
    const bytes = Buffer.from(trace);
    bytes[damagedAt + 12] ^= 0xff; // inside the last batch: its checksum no longer matches
    const damaged = join(dir, 'damaged.trace');
    writeFileSync(damaged, bytes);
    const run = tstrace('stats', damaged);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^Status +corrupt at offset \d+: frame checksum mismatch/m);
    expect(run.stderr).toMatch(new RegExp(`damaged\\.trace is damaged at offset ${damagedAt}: frame checksum mismatch`));
  });

  test('dropped events are reported with a warning', () => {
    const encoder = new BatchEncoder();
    encoder.begin(0);
    encoder.dropped(10, 5);
    encoder.regionEnd(20, 1, 'lost');
    const file = join(dir, 'dropped.trace');
    writeFileSync(
      file,
      Buffer.concat([
        encodeFileStart({ version: 1, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v20.0.0', command: 'synth' }),
        encoder.finish(),
        encodeFooter({ events: 7, dropped: 5, endTs: 30 }),
      ]),
    );
    const run = tstrace('stats', file, '--json');
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('5 events were dropped');
    const doc = JSON.parse(run.stdout);
    expect(doc.summary.dropped).toBe(5);
    expect(doc.problems).toMatchObject([{ kind: 'regionEndUnmatched', source: 'reader', regionType: 'lost' }]);
  });
});
