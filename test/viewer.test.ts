/**
 * `tstrace view` (docs/cli.md): the JSON API answers from the analysis (task lists filtered by type,
 * completeness, latency range, histogram bucket and log text; task pages; region groups; logs), the
 * timeline returns only what is visible — bounded by the pixels even for a million regions —, the
 * download is the Chrome export, and the command serves on 127.0.0.1, prints its URL, opens a browser
 * with --open and stops on SIGINT. Then the page itself in headless Chromium: the overview shows the
 * right numbers, filters work, a histogram bucket lists its tasks, and the timeline draws and zooms.
 * Screenshots go to test/.work/screenshots/.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { chmodSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { background, current, log, newTask, start, startRegion, stop, withRegion } from '../runtime/index.js';
import { analyzeTrace } from '../analysis/analysis.js';
import type { TraceAnalysis } from '../analysis/analysis-types.js';
import { latencyBucket } from '../analysis/histogram.js';
import { IntervalRow, packRows } from '../viewer/timeline-index.js';
import { loadTraceTables } from '../analysis/trace-tables.js';
import { startViewer, type Viewer } from '../viewer/server.js';
import { browserSuite, CHROMIUM, missing, timelineSettled, viewerPages } from './helpers/chromium.js';
import { viewerApi } from './helpers/viewer.js';
import { sleep, tempTracePath } from './helpers/trace.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/esm/cli/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-viewer-'));
const screenshots = join(root, 'test/.work/screenshots');

/**
 * A small service-like trace: 6 "fast" tasks (~1ms), 3 "slow" ones (~25ms) each with a log "order slow-N"
 * and a child "audit" task, one "stuck" task that never ends, nested regions, a region ended twice (a
 * problem), GC and heap samples; with source locations.
 */
async function viewerTrace(path: string): Promise<void> {
  start(path, { gc: true, heap: true, eventLoop: true, sampleInterval: 5, captureLocations: true });
  try {
    const [, stuck] = newTask(background, 'stuck');
    void stuck;
    await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        withRegion(background, 'request', async () => {
          const [ctx, task] = newTask(current(), 'fast');
          log(ctx, 'order', `fast-${n}`);
          await withRegion(ctx, 'work', () => sleep(1));
          task.end();
        }),
      ),
    );
    await Promise.all(
      Array.from({ length: 3 }, (_, n) =>
        withRegion(background, 'request', async () => {
          const [ctx, task] = newTask(current(), 'slow');
          log(ctx, 'order', `slow-${n}`);
          await withRegion(ctx, 'work', async () => {
            await withRegion(ctx, 'db', () => sleep(20));
            const [child, audit] = newTask(ctx, 'audit');
            withRegion(child, 'check', () => {});
            audit.end();
          });
          task.end();
        }),
      ),
    );
    const twice = startRegion(background, 'twice');
    twice.end();
    twice.end();
    for (let i = 0; i < 3; i++) Array.from({ length: 200_000 }, (_, j) => ({ j }));
    await sleep(15);
  } finally {
    await stop();
  }
}

let tracePath: string;
let analysis: TraceAnalysis;
let viewer: Viewer;

beforeAll(async () => {
  tracePath = tempTracePath('viewer.trace');
  await viewerTrace(tracePath);
  analysis = await analyzeTrace(tracePath);
  viewer = await startViewer({ file: tracePath, cwd: root });
}, 60_000);
afterAll(async () => {
  await viewer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = viewerApi(() => viewer.url);

const ids = (items: { id: number }[]) => items.map((t) => t.id);

/** The status of a real GET of `url` that says `Host: host` (fetch cannot set Host). */
function statusFor(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe("the viewer's columns", () => {
  test('hold exactly what analyzeTrace lists, and select the items of a type in id order', async () => {
    const tables = await loadTraceTables(tracePath);
    const { ...stats } = analysis;
    const [tasks, regions, logs] = [analysis.tasks.toArray(), analysis.regions.toArray(), analysis.logs.toArray()];
    for (const key of ['tasks', 'regions', 'logs'] as const) delete (stats as Partial<typeof analysis>)[key];
    expect(tables.stats).toEqual(stats);
    expect(Array.from(tables.taskOrder, (row) => tables.task(row))).toEqual(tasks);
    expect(Array.from({ length: tables.regions.length }, (_, i) => tables.region(i))).toEqual(regions);
    expect(Array.from({ length: tables.logs.length }, (_, i) => tables.log(i))).toEqual(logs);
    expect(tasks.some((t) => t.children.length > 0 && t.events.some((e) => e.kind === 'regionEnd'))).toBe(true);
    // analyzeTrace is made from these columns; what the viewer and the CLI's --type also ask of them is a
    // selection: exactly the items of one type, in id order.
    const items = <T>(list: { length: number; at(i: number): T }) => Array.from({ length: list.length }, (_, i) => list.at(i));
    for (const type of ['slow', 'audit', 'nothing']) expect(items(tables.taskListing({ type }))).toEqual(tasks.filter((t) => t.type === type));
    for (const type of ['db', 'work', 'nothing']) expect(items(tables.regionListing({ type }))).toEqual(regions.filter((r) => r.type === type));
    expect(items(tables.logListing())).toEqual(logs);
  });
});

describe('the JSON API', () => {
  test('binds 127.0.0.1 on a free port; serves the page and its own script and style (no CDN)', async () => {
    expect(viewer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await (await fetch(viewer.url)).text();
    expect(page).toContain('<script src="/viewer.js">');
    const sources = [...page.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
    expect(sources.every((s) => s.startsWith('/'))).toBe(true);
    for (const path of ['/viewer.js', '/viewer.css']) expect((await fetch(new URL(path, viewer.url))).status).toBe(200);
    expect((await fetch(new URL('/api/nothing', viewer.url))).status).toBe(404);
    expect((await fetch(new URL('/api/task/999999', viewer.url))).status).toBe(404);
  });

  test('a favicon: the page links it, and /favicon.ico answers with it', async () => {
    const page = await (await fetch(viewer.url)).text();
    expect(page).toContain('<link rel="icon" href="/favicon.svg" type="image/svg+xml">');
    for (const path of ['/favicon.svg', '/favicon.ico']) {
      const response = await fetch(new URL(path, viewer.url));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/svg+xml');
      expect(await response.text()).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    }
  });

  test('answers only requests addressed to it: Host 127.0.0.1:PORT or localhost:PORT; any other Host gets 403', async () => {
    const { port } = new URL(viewer.url);
    expect(await statusFor(viewer.url, `127.0.0.1:${port}`)).toBe(200);
    expect(await statusFor(viewer.url, `localhost:${port}`)).toBe(200);
    expect(await statusFor(viewer.url, `LOCALHOST:${port}`)).toBe(200);
    // DNS rebinding: another site's page, its name now resolving to 127.0.0.1, sends its own name.
    expect(await statusFor(viewer.url, 'evil.example')).toBe(403);
    expect(await statusFor(viewer.url, `evil.example:${port}`)).toBe(403);
    expect(await statusFor(`${viewer.url}api/summary`, 'evil.example')).toBe(403);
    expect(await statusFor(`${viewer.url}download/trace.json`, 'evil.example')).toBe(403);
    expect(await statusFor(viewer.url, 'localhost')).toBe(403);
    expect(await statusFor(viewer.url, `127.0.0.1:${Number(port) + 1}`)).toBe(403);
  });

  test('/api/summary: duration, events, dropped, problems as the analysis says', async () => {
    const summary = await get('/api/summary');
    expect(summary.summary).toEqual(analysis.summary);
    expect(summary.problems.map((p: { kind: string }) => p.kind)).toEqual(['regionEndedTwice']);
    expect(summary.status.complete).toBe(true);
  });

  test('/api/task-types: Go histogram buckets with their latency range', async () => {
    const types = await get('/api/task-types');
    expect(types.map((t: { type: string }) => t.type)).toEqual(['audit', 'fast', 'slow', 'stuck']);
    const slow = types.find((t: { type: string }) => t.type === 'slow');
    expect(slow.count).toBe(3);
    expect(slow.histogram.map((b: { bucket: number }) => b.bucket)).toEqual(analysis.taskTypes.find((t) => t.type === 'slow')!.histogram.map((b) => b.bucket));
    for (const b of slow.histogram) {
      expect(latencyBucket(b.lowerBound + 1)).toBe(b.bucket);
      expect(latencyBucket(b.upperBound)).toBe(b.bucket + 1);
    }
  });

  test('/api/tasks filters by type, completeness, latency range, histogram bucket and log text', async () => {
    const all = analysis.tasks;
    expect((await get('/api/tasks')).total).toBe(all.length);
    expect(ids((await get('/api/tasks?type=slow')).items)).toEqual(ids(all.filter((t) => t.type === 'slow')));
    expect(ids((await get('/api/tasks?complete=false')).items)).toEqual(ids(all.filter((t) => !t.complete)));
    expect((await get('/api/tasks?complete=false')).items.map((t: { type: string }) => t.type)).toEqual(['stuck']);
    expect(ids((await get('/api/tasks?min=10000000')).items)).toEqual(ids(all.filter((t) => t.latency >= 10_000_000)));
    expect(ids((await get('/api/tasks?type=fast&max=10000000')).items)).toEqual(ids(all.filter((t) => t.type === 'fast' && t.latency < 10_000_000)));
    expect(ids((await get('/api/tasks?log=slow-1')).items)).toEqual(ids(all.filter((t) => t.type === 'slow' && t.events.some((e) => e.kind === 'log' && e.message === 'slow-1'))));
    expect((await get('/api/tasks?log=slow-1')).total).toBe(1);
    for (const type of analysis.taskTypes) {
      for (const bucket of type.histogram) {
        const listed = await get(`/api/tasks?type=${type.type}&bucket=${bucket.bucket}`);
        expect(listed.total).toBe(bucket.count);
        expect(ids(listed.items)).toEqual(ids(all.filter((t) => t.type === type.type && t.complete && latencyBucket(t.latency) === bucket.bucket)));
      }
    }
    const paged = await get('/api/tasks?limit=2&offset=1');
    expect(paged).toMatchObject({ total: all.length, offset: 1 });
    expect(ids(paged.items)).toEqual(ids(all.slice(1, 3)));
  });

  test('/api/task/:id: the events as `tstrace tasks` prints them, the children, the parent', async () => {
    const slow = analysis.tasks.find((t) => t.type === 'slow')!;
    const task = await get(`/api/task/${slow.id}`);
    expect(task.events.map((e: { kind: string }) => e.kind)).toEqual(slow.events.map((e) => e.kind));
    expect(task.text).toMatch(new RegExp(`^Task ${slow.id}  slow  complete`));
    expect(task.text).toContain('order=slow-');
    expect(task.childTasks.map((t: { type: string }) => t.type)).toEqual(['audit']);
    const child = await get(`/api/task/${slow.children[0]}`);
    expect(child).toMatchObject({ parent: slow.id, parentType: 'slow' });
  });

  test('/api/region-groups and /api/regions: by type and location, with histograms; the regions of a group', async () => {
    const groups = await get('/api/region-groups');
    expect(groups.map((g: { type: string }) => g.type)).toEqual(analysis.regionGroups.map((g) => g.type));
    const db = groups.find((g: { type: string }) => g.type === 'db');
    expect(db.count).toBe(3);
    expect(db.histogram.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(3);
    const regions = await get(`/api/regions?group=${db.index}`);
    expect(ids(regions.items)).toEqual(ids(analysis.regions.filter((r) => r.type === 'db')));
    expect((await get('/api/regions?type=work')).total).toBe(9);
    // A histogram bucket of a group: its complete regions of that duration bucket.
    const work = groups.find((g: { type: string }) => g.type === 'work');
    for (const bucket of work.histogram) {
      const listed = await get(`/api/regions?group=${work.index}&bucket=${bucket.bucket}`);
      expect(listed.total).toBe(bucket.count);
      // The group is a (type, location) pair: a slow machine can put another location's work in the same bucket.
      const ofGroup = analysis.regions.filter((r) => r.type === 'work' && JSON.stringify(r.location) === JSON.stringify(work.location));
      expect(ids(listed.items)).toEqual(ids(ofGroup.filter((r) => r.complete && latencyBucket(r.duration) === bucket.bucket)));
    }
    const long = await get(`/api/regions?type=work&min=10000000`);
    expect(ids(long.items)).toEqual(ids(analysis.regions.filter((r) => r.type === 'work' && r.duration >= 10_000_000)));
  });

  test('/api/logs: by category and text', async () => {
    expect((await get('/api/logs')).total).toBe(analysis.logs.length);
    expect((await get('/api/logs?category=order')).total).toBe(9);
    expect((await get('/api/logs?category=nothing')).total).toBe(0);
    const found = await get('/api/logs?text=slow-2');
    expect(found.items.map((l: { message: string }) => l.message)).toEqual(['slow-2']);
  });

  test('/api/timeline: GC, tasks and a lane per flow with nested rows, and the heap counter; only the visible range', async () => {
    const timeline = await get(`/api/timeline?px=800`);
    expect(timeline.from).toBe(0);
    expect(timeline.to).toBe(analysis.summary.duration);
    const kinds = timeline.lanes.map((l: { kind: string }) => l.kind);
    expect(kinds[0]).toBe('gc');
    expect(kinds[1]).toBe('tasks');
    expect(kinds.filter((k: string) => k === 'flow').length).toBe(new Set(analysis.regions.map((r) => r.flow)).size);
    expect(timeline.heap.points.length).toBeGreaterThan(0);
    // The slow task's flow: work, with db nested below it.
    const db = analysis.regions.find((r) => r.type === 'db')!;
    const lane = timeline.lanes.find((l: { id: string }) => l.id === `flow:${db.flow}`);
    expect(lane.rows.length).toBeGreaterThanOrEqual(2);
    expect(lane.rows[1].some(([, , id]: number[]) => id === db.id)).toBe(true);
    // A narrow range holds only what overlaps it.
    const narrow = await get(`/api/timeline?px=800&from=${db.start + 1000}&to=${db.start + 2000}`);
    const visible = narrow.lanes.flatMap((l: { rows: number[][][] }) => l.rows.flat());
    expect(visible.length).toBeGreaterThan(0);
    for (const [start, end] of visible) expect(start <= db.start + 2000 && end >= db.start + 1000).toBe(true);
    expect((await get(`/api/timeline?px=800&flows=${db.flow}`)).lanes.map((l: { id: string }) => l.id)).toEqual([`flow:${db.flow}`]);
  });

  test("/api/timeline: each flow lane has its flow's logs, a mark text for each single one; the event-loop counter", async () => {
    const timeline = await get(`/api/timeline?px=100000`);
    for (const log of analysis.logs) {
      const lane = timeline.lanes.find((l: { id: string }) => l.id === `flow:${log.flow}`);
      const marks = (lane.logs as number[][]).filter(([ts, , , count]) => ts === log.ts && count === 1);
      expect(marks).toHaveLength(1);
      expect(timeline.logMarks[marks[0][2]]).toEqual({ text: `${log.category}: ${log.message}`, task: log.task });
    }
    expect(timeline.eventLoop.max).toBe(1);
    expect(timeline.eventLoop.points.length).toBeGreaterThan(0);
    expect(timeline.eventLoop.points.every(([, low, high]: number[]) => low >= 0 && high <= 1)).toBe(true);
    // Zoomed out to a pixel, the logs of a lane merge into one mark that counts them.
    const tiny = await get(`/api/timeline?px=1`);
    const counted = tiny.lanes.flatMap((l: { logs?: number[][] }) => l.logs ?? []).reduce((n: number, item: number[]) => n + item[3], 0);
    expect(counted).toBe(analysis.logs.length);
  });

  test('/api/timeline?lanes=packed: flows share lanes one after another, each region drawn once; auto keeps a lane per flow for few flows', async () => {
    const perFlow = await get(`/api/timeline?px=20000`);
    const packed = await get(`/api/timeline?px=20000&lanes=packed`);
    expect(perFlow.lanesMode).toBe('flow');
    expect(packed.lanesMode).toBe('packed');
    expect((await get(`/api/timeline?px=800&lanes=auto`)).lanesMode).toBe('flow');
    type Lane = { id: string; kind: string; rows: number[][][]; logs?: number[][] };
    const flowLanes = (t: { lanes: Lane[] }) => t.lanes.filter((l) => l.kind === 'flow');
    expect(flowLanes(packed).length).toBeLessThan(flowLanes(perFlow).length);
    const regionIds = (lanes: Lane[]) => lanes.flatMap((l) => l.rows.flat().map((item) => item[2])).sort((a, b) => a - b);
    const all = analysis.regions.map((r) => r.id);
    expect(regionIds(flowLanes(packed))).toEqual(all);
    // The flows of a packed lane follow one another: their lifetimes do not overlap.
    const byId = new Map(analysis.regions.map((r) => [r.id, r]));
    for (const lane of flowLanes(packed)) {
      const spans = new Map<number, [number, number]>();
      for (const [, , id] of lane.rows.flat()) {
        const r = byId.get(id)!;
        const span = spans.get(r.flow) ?? [Infinity, -Infinity];
        spans.set(r.flow, [Math.min(span[0], r.start), Math.max(span[1], r.end)]);
      }
      const sorted = [...spans.values()].sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i][0]).toBeGreaterThanOrEqual(sorted[i - 1][1]);
    }
    expect(flowLanes(packed).flatMap((l) => l.logs ?? []).reduce((n, item) => n + item[3], 0)).toBe(analysis.logs.length);
  });

  test('/api/region/:id: one region, as listed', async () => {
    const db = analysis.regions.find((r) => r.type === 'db')!;
    expect(await get(`/api/region/${db.id}`)).toEqual(db);
    expect((await fetch(new URL(`/api/region/${analysis.regions.length + 1}`, viewer.url))).status).toBe(404);
  });

  test('/api/timeline?top=&rows=: lanes laid out in rows with a spacer between them; only the window is filled', async () => {
    const all = await get(`/api/timeline?px=800`);
    const lanes = all.lanes as { id: string; top: number; rows: unknown[][] }[];
    lanes.forEach((lane, k) => expect(lane.top).toBe(k === 0 ? 0 : lanes[k - 1].top + lanes[k - 1].rows.length + 1));
    expect(all.layoutRows).toBe(lanes.at(-1)!.top + lanes.at(-1)!.rows.length);
    const middle = lanes[Math.floor(lanes.length / 2)];
    const window = await get(`/api/timeline?px=800&top=${middle.top}&rows=1`);
    expect(window.lanes.map((l: { id: string }) => l.id)).toEqual([middle.id]);
    expect(window.lanes[0].rows[0]).toEqual(middle.rows[0]);
    expect(window.lanes[0].rows.slice(1).every((row: unknown[]) => row.length === 0)).toBe(true);
    expect(window.heap).toEqual(all.heap);
  });

  test('/download/trace.json: the Chrome export, as an attachment', async () => {
    const response = await fetch(new URL('/download/trace.json', viewer.url));
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="/);
    const doc = JSON.parse(await response.text());
    expect(doc.traceEvents.length).toBeGreaterThan(analysis.regions.length);
  });
});

describe('the timeline index', () => {
  test('a million regions: the whole range is at most about one item per pixel per row; a zoomed range only what it shows', () => {
    const row = new IntervalRow();
    for (let i = 0; i < 1_000_000; i++) row.add(i * 100, i * 100 + 60, i + 1, 0);
    const all = row.visible(0, 100_000_000, 100_000); // 1000 pixels
    expect(all.length).toBeLessThanOrEqual(1001);
    expect(all.reduce((n, item) => n + item[3], 0)).toBe(1_000_000);
    const zoomed = row.visible(50_000_000, 50_010_000, 10);
    expect(zoomed.map((item) => item[2])).toEqual(Array.from({ length: 101 }, (_, i) => 500_001 + i));
    expect(zoomed.every((item) => item[3] === 1)).toBe(true);
  });

  test.each([
    ['overlap (a region ended out of order)', [50, 6, 30, 13, 25, 45]],
    ['follow each other (regions of one depth on a flow)', [4, 6, 11, 13, 25, 45]],
  ])('packed rows whose intervals %s answer each row as a row of its own would', (_, endList) => {
    const starts = Float64Array.from([0, 5, 10, 12, 20, 40]);
    const ends = Float64Array.from(endList);
    const rowOf = Int32Array.from([0, 1, 0, 1, 1, 0]);
    const types = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const packed = packRows(2, rowOf, { start: starts, end: ends, type: types, id: (i) => i + 1 });
    for (const r of [0, 1]) {
      const single = new IntervalRow();
      for (let i = 0; i < 6; i++) if (rowOf[i] === r) single.add(starts[i], ends[i], i + 1, types[i]);
      for (const [from, to, nsPerPixel] of [[0, 50, 1], [11, 21, 0.5], [0, 50, 20], [26, 39, 1], [5, 12, 1]]) {
        expect(packed.visible(r, from, to, nsPerPixel)).toEqual(single.visible(from, to, nsPerPixel));
      }
    }
  });

  test('a long interval that started before the range is visible; overlapping intervals too', () => {
    const row = new IntervalRow();
    row.add(0, 1000, 1, 0);
    row.add(10, 20, 2, 0);
    row.add(30, 2000, 3, 0);
    expect(row.visible(1500, 1600, 1).map((item) => item[2])).toEqual([3]);
    expect(row.visible(500, 600, 1).map((item) => item[2])).toEqual([1, 3]);
  });
});

describe('tstrace view', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
  }, 120_000);

  /** Runs `tstrace view ARGS` until it prints its URL; the caller stops it. */
  function runView(args: string[], env: NodeJS.ProcessEnv = process.env) {
    const child = spawn(process.execPath, [cli, 'view', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 20s: ${stdout} ${stderr}`)), 20_000);
      child.stdout.on('data', () => {
        const match = /http:\/\/[^\s/]+:\d+\//.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[0]);
        }
      });
      void exited.then(() => reject(new Error(`exited: ${stderr}`)));
    });
    return { child, url, exited, output: () => ({ stdout, stderr }) };
  }

  test('prints its URL on 127.0.0.1, serves the API, and exits 0 on SIGINT', async () => {
    const run = runView([tracePath]);
    const url = await run.url;
    const summary = (await (await fetch(`${url}api/summary`)).json()) as { summary: unknown };
    expect(summary.summary).toEqual(analysis.summary);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toBe(`tstrace view: ${tracePath} at ${url}  (Ctrl-C to stop)\n`);
  });

  test.skipIf(!existsSync('/usr/bin/script') || !existsSync('/usr/bin/timeout'))('on a terminal, a progress bar while reading, erased before the URL; none with --quiet', () => {
    // Under a pseudo-terminal (script), stopped with SIGINT after 2 s by timeout.
    const run = (quiet: string) =>
      spawnSync('script', ['-qec', `timeout -s INT 2 ${process.execPath} ${cli} view ${tracePath} ${quiet} 2>&1`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
    const shown = run('');
    expect(shown.stdout).toMatch(/^\rreading \S*viewer\.trace \[=+\] 100% .*\x1b\[K\r\x1b\[Ktstrace view: /);
    expect(run('--quiet').stdout).toMatch(/^tstrace view: /);
  });

  test('--port N listens there; --open runs xdg-open with the URL', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const opened = join(dir, 'opened.txt');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" > ${JSON.stringify(opened)}\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const probe = await startViewer({ file: tracePath });
    const port = Number(new URL(probe.url).port);
    await probe.close(); // a port that was just free
    const run = runView([tracePath, '--port', String(port), '--open'], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
    const url = await run.url;
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    for (let i = 0; i < 50 && !existsSync(opened); i++) await sleep(50);
    expect(readFileSync(opened, 'utf8').trim()).toBe(url);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  test.runIf(process.platform === 'linux')('runs with a small young generation (in a node it starts, when started without); Ctrl-C on a terminal exits 0', async () => {
    const child = spawn(process.execPath, [cli, 'view', tracePath], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    for (let i = 0; i < 200 && !stdout.includes('http://'); i++) await sleep(50);
    expect(stdout).toMatch(/^tstrace view: .* at http:\/\/127\.0\.0\.1:\d+\/ {2}\(Ctrl-C to stop\)\n$/);
    // The process serving is a child of the one started, with the flag.
    const children = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(child.pid));
    expect(children.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))).toEqual([expect.arrayContaining(['--max-semi-space-size=8', 'view', tracePath])]);
    process.kill(-child.pid!, 'SIGINT'); // the whole process group, as a terminal's Ctrl-C
    expect(await exited).toBe(0);
  });

  test("the API's locations have the one shape of the CLI's --json: { file, line, column, function } or null", async () => {
    const json = (command: string) => JSON.parse(execFileSync(process.execPath, [cli, command, tracePath, '--json'], { cwd: root, encoding: 'utf8' }));
    const where = (items: { location: unknown }[]) => items.map((item) => item.location);
    const { regions } = json('regions');
    expect(regions.some((r: { location: unknown }) => r.location !== null)).toBe(true);
    expect(where((await get('/api/regions?limit=5000')).items)).toEqual(where(regions));
    expect((await get(`/api/region/${regions[0].id}`)).location).toEqual(regions[0].location);
    expect(where((await get('/api/logs?limit=5000')).items)).toEqual(where(json('logs').logs));
    const stats = json('stats');
    expect(where(await get('/api/region-groups'))).toEqual(where(stats.regionGroups));
    expect(where((await get('/api/summary')).problems)).toEqual(where(stats.problems));
    for (const task of json('tasks').tasks) expect((await get(`/api/task/${task.id}`)).events).toEqual(task.events);
  });

  test('--host ADDR serves there, with a warning; Host is still checked', async () => {
    const run = runView([tracePath, '--host', '0.0.0.0']);
    const url = await run.url;
    const { port } = new URL(url);
    expect(url).toBe(`http://0.0.0.0:${port}/`);
    expect(await statusFor(`http://127.0.0.1:${port}/api/summary`, `127.0.0.1:${port}`)).toBe(200);
    expect(await statusFor(`http://127.0.0.1:${port}/api/summary`, `localhost:${port}`)).toBe(200);
    expect(await statusFor(`http://127.0.0.1:${port}/api/summary`, 'evil.example')).toBe(403);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output().stderr).toBe('tstrace: warning: serving on 0.0.0.0, not only to this machine: whoever can reach it can read the trace\n');
  });

  test('bad usage exits 2; a missing file or a taken port exits 1', async () => {
    const run = (args: string[]) => {
      try {
        execFileSync(process.execPath, [cli, 'view', ...args], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
        return { code: 0, stderr: '' };
      } catch (error) {
        const e = error as { status: number; stderr: string };
        return { code: e.status, stderr: e.stderr };
      }
    };
    expect(run([tracePath, '--port', 'abc'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--port must be a port number') });
    expect(run([tracePath, '--json'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--json does not apply to view') });
    expect(run([join(dir, 'absent.trace')])).toMatchObject({ code: 1, stderr: expect.stringContaining('no such file') });
    expect(run([tracePath, '--host', ''])).toMatchObject({ code: 2, stderr: expect.stringContaining('--host must be an address') });
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine.
    expect(run([tracePath, '--host', '192.0.2.1'])).toEqual({ code: 1, stderr: 'tstrace: error: view: cannot listen on 192.0.2.1 (not an address of this machine)\n' });
    const busy = await startViewer({ file: tracePath });
    try {
      expect(run([tracePath, '--port', new URL(busy.url).port])).toMatchObject({ code: 1, stderr: expect.stringContaining('is in use') });
    } finally {
      await busy.close();
    }
  });
});

// ---- the page, in Chromium -------------------------------------------------------------------------

browserSuite('viewer.test.ts', 'the page in headless Chromium', missing({ Chromium: CHROMIUM }), 'apt-get install -y chromium', () => {
  const open = viewerPages(dir, () => viewer.url);

  async function shot(tab: Awaited<ReturnType<typeof open>>['tab'], name: string): Promise<void> {
    mkdirSync(screenshots, { recursive: true });
    await tab.screenshot({ path: join(screenshots, name), fullPage: true });
  }

  test('the overview shows duration, events, dropped events and problems, and a histogram per task type', async () => {
    const { tab, errors } = await open('#/');
    const fact = (name: string) => tab.locator(`#summary tr[data-fact="${name}"] td`).nth(1).innerText();
    expect(await fact('Events')).toBe(String(analysis.summary.events));
    expect(await fact('Dropped events')).toBe('0');
    expect(await fact('Problems')).toBe('1');
    expect(await fact('Duration')).toMatch(/^\d+(\.\d+)?ms$/);
    expect(await tab.locator('#problems').innerText()).toContain('regionEndedTwice');
    expect(await tab.locator('.task-type').count()).toBe(4);
    expect(await tab.locator('.task-type[data-type="slow"] .bucket[data-count]:not([data-count="0"])').count()).toBe(analysis.taskTypes.find((t) => t.type === 'slow')!.histogram.length);
    await shot(tab, 'viewer-overview.png');
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('clicking a histogram bucket lists exactly the tasks of that bucket', async () => {
    const { tab, errors } = await open('#/');
    const fast = analysis.taskTypes.find((t) => t.type === 'fast')!;
    const bucket = fast.histogram[0];
    await tab.locator(`.task-type[data-type="fast"] .bucket[data-bucket="${bucket.bucket}"]`).click();
    await tab.waitForFunction(() => location.hash.startsWith('#/tasks') && document.body.dataset.ready === 'true');
    expect(await tab.locator('#task-count').innerText()).toBe(String(bucket.count));
    const listed = await tab.locator('#task-list tbody tr td:first-child').allInnerTexts();
    expect(listed.map(Number)).toEqual(analysis.tasks.filter((t) => t.type === 'fast' && t.complete && latencyBucket(t.latency) === bucket.bucket).map((t) => t.id));
    expect(await tab.locator('#bucket-note').innerText()).toContain('fast');
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('task list filters: type, completeness, latency range, log text', async () => {
    const { tab, errors } = await open('#/tasks');
    const count = async () => Number(await tab.locator('#task-count').innerText());
    expect(await count()).toBe(analysis.tasks.length);
    const waitFor = async (expected: number) => {
      await tab.waitForFunction((n) => document.body.dataset.ready === 'true' && document.getElementById('task-count')?.textContent === String(n), expected);
    };
    await tab.selectOption('select[name=type]', 'slow');
    await waitFor(3);
    // Each change re-renders the page: wait for it to settle before the next one, as a person would.
    await tab.selectOption('select[name=type]', '*');
    await waitFor(analysis.tasks.length);
    await tab.selectOption('select[name=complete]', 'false');
    await waitFor(1);
    expect(await tab.locator('#task-list tbody').innerText()).toContain('stuck');
    await tab.selectOption('select[name=complete]', '');
    await waitFor(analysis.tasks.length);
    await tab.fill('input[name=min]', '10ms');
    await waitFor(analysis.tasks.filter((t) => t.latency >= 10_000_000).length);
    await tab.fill('input[name=min]', '');
    await waitFor(analysis.tasks.length);
    await tab.fill('input[name=log]', 'slow-2');
    await waitFor(1);
    await shot(tab, 'viewer-tasks-filtered.png');
    await tab.locator('#task-list tbody a').first().click();
    await tab.waitForFunction(() => location.hash.startsWith('#/task/') && document.body.dataset.ready === 'true');
    expect(await tab.locator('#task-events').innerText()).toContain('order=slow-2');
    expect(await tab.locator('#child-tasks').innerText()).toContain('audit');
    await tab.waitForFunction(() => Number(document.querySelector('#task-timeline canvas')?.getAttribute('data-items')) > 0);
    await shot(tab, 'viewer-task.png');
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('logs search by category and text; region groups list their regions', async () => {
    const { tab, errors } = await open('#/logs');
    expect(await tab.locator('#log-count').innerText()).toBe(String(analysis.logs.length));
    await tab.fill('input[name=text]', 'fast-3');
    await tab.waitForFunction(() => document.body.dataset.ready === 'true' && document.getElementById('log-count')?.textContent === '1');
    await tab.goto(`${viewer.url}#/regions`);
    await tab.waitForSelector('body[data-ready="true"]');
    await tab.locator('.region-group[data-type="db"] a').first().click();
    await tab.waitForFunction(() => location.hash.startsWith('#/regions/list') && document.body.dataset.ready === 'true');
    expect(await tab.locator('#region-count').innerText()).toBe('3');
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('the timeline draws (non-blank pixels) and zooming narrows the visible range', async () => {
    const { tab, errors } = await open('#/timeline');
    const canvas = tab.locator('#trace-timeline canvas');
    await tab.waitForFunction(() => Number(document.querySelector('#trace-timeline canvas')?.getAttribute('data-items')) > 0);
    const painted = () =>
      tab.evaluate(() => {
        const c = document.querySelector('#trace-timeline canvas') as HTMLCanvasElement;
        const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let colored = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && !(data[i] > 240 && data[i + 1] > 240 && data[i + 2] > 240)) colored++;
        return colored;
      });
    expect(await painted()).toBeGreaterThan(1000);
    const range = async () => {
      const [from, to] = await canvas.evaluate((c) => [Number(c.dataset.from), Number(c.dataset.to)]);
      return { from, to };
    };
    const whole = await range();
    expect(whole).toEqual({ from: 0, to: analysis.summary.duration });
    await shot(tab, 'viewer-timeline.png');
    const box = (await canvas.boundingBox())!;
    await tab.mouse.move(box.x + 110 + (box.width - 110) / 2, box.y + 100);
    for (let i = 0; i < 5; i++) await tab.mouse.wheel(0, -200);
    await timelineSettled(tab);
    const zoomed = await range();
    expect(zoomed.to - zoomed.from).toBeLessThan((whole.to - whole.from) / 2);
    expect(zoomed.from).toBeGreaterThan(whole.from);
    expect(await painted()).toBeGreaterThan(100);
    await shot(tab, 'viewer-timeline-zoomed.png');
    await tab.click('#zoom-reset');
    await tab.waitForFunction(() => document.querySelector('#trace-timeline canvas')?.getAttribute('data-from') === '0');
    // The keys of Perfetto and chrome://tracing: W zooms in, D pans right by a fifth of the view, S zooms out.
    await tab.keyboard.press('w');
    await tab.keyboard.press('w');
    const keyed = await range();
    expect(keyed.to - keyed.from).toBeCloseTo((whole.to - whole.from) * 0.64, -1);
    await tab.keyboard.press('d');
    const panned = await range();
    expect(panned.from - keyed.from).toBeCloseTo((keyed.to - keyed.from) * 0.2, -1);
    await tab.keyboard.press('s');
    expect((await range()).to - (await range()).from).toBeCloseTo((keyed.to - keyed.from) * 1.25, -1);
    // Highlighting a type keeps its regions bright and fades the rest.
    await tab.click('#zoom-reset');
    await timelineSettled(tab);
    await tab.fill('#highlight', 'request');
    const lit = await canvas.evaluate((c) => ({ highlighted: Number(c.dataset.highlighted), items: Number(c.dataset.items) }));
    expect(lit.highlighted).toBeGreaterThan(0);
    expect(lit.highlighted).toBeLessThan(lit.items);
    await shot(tab, 'viewer-timeline-highlight.png');
    await tab.fill('#highlight', 'no such type');
    expect(await canvas.evaluate((c) => Number(c.dataset.highlighted))).toBe(0);
    await tab.fill('#highlight', '');
    // Typing in a form field is not a key for the timeline; a timeline left behind stops listening.
    await tab.goto(`${viewer.url}#/tasks`);
    await tab.waitForSelector('body[data-ready="true"] #task-filters');
    await tab.fill('input[name=log]', 'wasd');
    await tab.keyboard.press('w');
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('hovering a log mark shows its message; clicking it, or a region, opens its task', async () => {
    const slow = analysis.tasks.find((t) => t.type === 'slow')!;
    const log = slow.events.find((e) => e.kind === 'log')!;
    const db = analysis.regions.find((r) => r.type === 'db' && r.task === slow.id)!;
    // The whole trace on the canvas; then find where the timeline drew the mark and the region.
    const { tab, errors } = await open(`#/timeline?from=${db.start - 1_000_000}&to=${db.end + 1_000_000}`);
    await tab.waitForFunction(() => Number(document.querySelector('#trace-timeline canvas')?.getAttribute('data-items')) > 0);
    type Hit = { x: number; y: number; w: number; h: number; text: string };
    const hitWith = (prefix: string) =>
      tab.evaluate((p) => {
        const t = (window as unknown as { tstraceTimeline: { hits: Hit[] } }).tstraceTimeline;
        return t.hits.find((hit) => hit.text.startsWith(p)) ?? null;
      }, prefix);
    const box = (await tab.locator('#trace-timeline canvas').boundingBox())!;
    const mark = (await hitWith(`log ${log.kind === 'log' ? `${log.category}: ${log.message}` : ''}`))!;
    expect(mark).not.toBeNull();
    await tab.mouse.move(box.x + mark.x + mark.w / 2, box.y + mark.y + 2);
    expect(await tab.locator('#trace-timeline .tip').innerText()).toContain(log.kind === 'log' ? log.message : '');
    await tab.mouse.down();
    await tab.mouse.up();
    await tab.waitForFunction((id) => location.hash === `#/task/${id}` && document.body.dataset.ready === 'true' && !!document.getElementById('task-events'), slow.id);
    await tab.goBack();
    // Back on the timeline once the task page is gone and the new canvas has drawn.
    await tab.waitForFunction(() => !document.getElementById('task-events') && Number(document.querySelector('#trace-timeline canvas')?.getAttribute('data-items')) > 0);
    const region = (await hitWith(`region ${db.id} db`))!;
    expect(region).not.toBeNull();
    await tab.mouse.click(box.x + region.x + Math.min(region.w / 2, 20), box.y + region.y + region.h / 2);
    await tab.waitForFunction((id) => location.hash === `#/task/${id}` && document.body.dataset.ready === 'true' && !!document.getElementById('task-events'), slow.id);
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('the download button fetches the Chrome JSON', async () => {
    const { tab, errors } = await open('#/');
    const [download] = await Promise.all([tab.waitForEvent('download'), tab.click('#download')]);
    const path = join(dir, 'download.json');
    await download.saveAs(path);
    expect(JSON.parse(readFileSync(path, 'utf8')).traceEvents.length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await tab.close();
  });
});
