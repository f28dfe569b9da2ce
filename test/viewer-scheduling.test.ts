/**
 * `tstrace view` on a trace with scheduling events (docs/cli.md, "view"): a task's page gives its wall
 * time as running + queued + waiting and its top blockers, as analyzeExecution (and `tstrace tasks`)
 * gives them; the timeline gives, for the visible range only, when each flow ran (on the flow's lane)
 * and each thread's long runs (≥ 10 ms) on a lane of their own. A trace without runs has none of it.
 * Then the page in headless Chromium (skipped without it, as in viewer.test.ts).
 */
import { createReadStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadTrace } from '../analysis/reader.js';
import type { TraceEvent } from '../format/events.js';
import { analyzeExecution, type ExecutionAnalysis } from '../analysis/time-breakdown.js';
import { background, newTask, withRegion } from '../runtime/index.js';
import { loadViewerModel, taskJson } from '../viewer/model.js';
import { startViewer, type Viewer } from '../viewer/server.js';
import { browserSuite, CHROMIUM, missing, viewerPages } from './helpers/chromium.js';
import { viewerApi } from './helpers/viewer.js';
import { traceOf } from './helpers/trace.js';

const MS = 1e6;

/** Holds the thread for `duration` ms: work of known length. */
function busy(duration: number): void {
  const end = performance.now() + duration;
  while (performance.now() < end);
}

const timer = (duration: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, duration));

/**
 * Concurrent tasks: one runs a 50 ms busy loop (region "crunch"), one waits on a 30 ms timer, 10 others
 * on 10 ms timers; and a timer callback of the background that makes a task "late" and spins 12 ms in it
 * (a run that began outside any task).
 */
async function scheduled(): Promise<{ busy: number; timer: number; late: number; others: number[]; crunchMs: number }> {
  const late = new Promise<number>((resolve) =>
    setTimeout(() => {
      const [ctx, task] = newTask(background, 'late');
      withRegion(ctx, 'spin', () => busy(12));
      task.end();
      resolve(task.id);
    }, 1),
  );
  const job = (type: string, body: (ctx: ReturnType<typeof newTask>[0]) => Promise<void>) => {
    const [ctx, task] = newTask(background, type);
    const done = withRegion(ctx, 'handle', () => body(ctx)).then(() => task.end());
    return { id: task.id, done };
  };
  let crunchMs = 0;
  const busyJob = job('busy', async (ctx) => {
    await timer(5);
    withRegion(ctx, 'crunch', () => {
      const from = performance.now();
      busy(50);
      crunchMs = performance.now() - from; // as long as it really took (a loaded machine stretches it)
    });
  });
  const timerJob = job('timer', () => timer(30));
  const others = Array.from({ length: 10 }, () => job('other', () => timer(10)));
  await Promise.all([busyJob.done, timerJob.done, ...others.map((o) => o.done)]);
  return { busy: busyJob.id, timer: timerJob.id, late: await late, others: others.map((o) => o.id), crunchMs };
}

let ids: { busy: number; timer: number; late: number; others: number[]; crunchMs: number };
let tracePath: string;
let recorded: TraceEvent[];
let execution: ExecutionAnalysis;
let viewer: Viewer;
let plain: Viewer;

beforeAll(async () => {
  let made = { busy: 0, timer: 0, late: 0, others: [] as number[], crunchMs: 0 };
  const { path } = await traceOf(async () => (made = await scheduled()), { scheduling: true });
  ids = made;
  tracePath = path;
  const { events } = await loadTrace(path);
  recorded = events;
  execution = analyzeExecution(events);
  viewer = await startViewer({ file: path, cwd: process.cwd() });
  const without = await traceOf(() => scheduled());
  plain = await startViewer({ file: without.path, cwd: process.cwd() });
}, 60_000);
afterAll(async () => {
  await viewer?.close();
  await plain?.close();
  rmSync(dir, { recursive: true, force: true });
});

const dir = mkdtempSync(join(tmpdir(), 'tstrace-viewer-scheduling-'));
const screenshots = fileURLToPath(new URL('.work/screenshots', import.meta.url));

async function shot(tab: Page, name: string): Promise<void> {
  mkdirSync(screenshots, { recursive: true });
  await tab.screenshot({ path: join(screenshots, name), fullPage: true });
}

const get = viewerApi(() => viewer.url);
const getPlain = viewerApi(() => plain.url);

describe('the task page with scheduling events', () => {
  test("/api/task/:id: running, queued and waiting as analyzeExecution gives them, summing to the wall time; the busy task named as the timer task's blocker", async () => {
    for (const id of [ids.busy, ids.timer, ids.late, ...ids.others]) {
      const expected = execution.tasks.find((t) => t.task === id)!;
      const { time } = await get(`/api/task/${id}`);
      expect(time).toMatchObject({ wall: expected.wall, running: expected.running, queued: expected.queued, waiting: expected.waiting, runs: expected.runs });
      expect(time.running + time.queued + time.waiting).toBeCloseTo(time.wall, 0);
      expect(time.blockers.map((b: { task: number }) => b.task)).toEqual(expected.blockers.map((b) => b.task));
    }
    const busyTime = (await get(`/api/task/${ids.busy}`)).time;
    expect(busyTime.running).toBeGreaterThanOrEqual(50 * MS);
    // The crunch as the test timed it, and its other runs short (generous: a loaded machine stalls any of them).
    expect(busyTime.running).toBeGreaterThanOrEqual((ids.crunchMs - 0.05) * MS);
    expect(busyTime.running).toBeLessThan((ids.crunchMs + 50) * MS);
    // The timer fell due at ~30 ms, while the busy loop (~5–55 ms) held the thread.
    const timerTime = (await get(`/api/task/${ids.timer}`)).time;
    expect(timerTime.queued).toBeGreaterThan(10 * MS);
    expect(timerTime.blockers[0]).toMatchObject({ task: ids.busy, taskType: 'busy', region: 'crunch' });
    expect(timerTime.blockers[0].duration).toBeGreaterThanOrEqual(50 * MS);
    expect(timerTime.blockers[0].where).toBe(''); // recorded without locations
  });

  test('read from a stream (read once, so the breakdown is collected in the same pass): the same times', async () => {
    const model = await loadViewerModel(createReadStream(tracePath), process.cwd());
    for (const id of [ids.busy, ids.timer]) expect(taskJson(model, id)?.time).toEqual((await get(`/api/task/${id}`)).time);
  });

  test('a trace without scheduling events: no time on the task page', async () => {
    const list = await getPlain('/api/tasks?type=busy');
    expect((await getPlain(`/api/task/${list.items[0].id}`)).time).toBeNull();
  });
});

describe('the timeline with scheduling events', () => {
  test("each flow's lane has the flow's runs in the visible range; a long-runs lane has the busy loop's run", async () => {
    const summary = await get('/api/summary');
    const whole = await get(`/api/timeline?from=0&to=${summary.summary.duration}&px=100000`);
    const long = whole.lanes.find((l: { kind: string }) => l.kind === 'runs');
    expect(long).toMatchObject({ id: 'long-runs:0', label: 'long runs' });
    const longRuns: [number, number, number, number, number][] = long.rows[0];
    const crunch = longRuns.find(([, , run]) => whole.runMarks[run]?.task === ids.busy)!;
    expect(crunch).toBeDefined();
    expect(crunch[1] - crunch[0]).toBeGreaterThanOrEqual(50 * MS);
    expect(whole.types[crunch[4]]).toBe('busy');
    expect(whole.runMarks[crunch[2]]).toMatchObject({ task: ids.busy, taskType: 'busy', duration: crunch[1] - crunch[0] });
    for (const [start, end] of longRuns) expect(end - start).toBeGreaterThanOrEqual(10 * MS);

    // A run that began outside any task is shown for the task the breakdown gives it (the one it made).
    const spin = longRuns.find(([, , run]) => whole.runMarks[run]?.task === ids.late)!;
    expect(spin).toBeDefined();
    expect(whole.runMarks[spin[2]]).toMatchObject({ taskType: 'late' });
    expect(recorded.find((e) => e.kind === 'run' && e.ts === spin[0])).toMatchObject({ task: 0 });
    expect(spin[1] - spin[0]).toBeGreaterThanOrEqual(12 * MS);
    expect(execution.tasks.find((t) => t.task === ids.late)!.running).toBeGreaterThanOrEqual(12 * MS);

    // The busy loop's flow: its runs on its lane, the busy loop among them.
    const flowLane = whole.lanes.find((l: { id: string }) => l.id === `flow:${whole.runMarks[crunch[2]].flow}`);
    expect(flowLane.runs.some((r: number[]) => r[2] === crunch[2])).toBe(true);
    const runs = flowLane.runs.length;
    expect(runs).toBeGreaterThan(1);

    // A window inside the busy loop: only that run on the lane.
    const inside = await get(`/api/timeline?from=${crunch[0] + 10 * MS}&to=${crunch[0] + 20 * MS}&px=1000`);
    const sameLane = inside.lanes.find((l: { id: string }) => l.id === flowLane.id);
    expect(sameLane.runs).toEqual([[crunch[0], crunch[1], crunch[2], 1, crunch[4]]]);
    // Flows packed into shared lanes: each run on its flow's lane, once.
    const packed = await get(`/api/timeline?from=0&to=${summary.summary.duration}&px=100000&lanes=packed`);
    expect(packed.lanesMode).toBe('packed');
    const packedRuns = packed.lanes.flatMap((l: { kind: string; runs?: number[][] }) => (l.kind === 'flow' ? (l.runs ?? []) : []));
    expect(packedRuns.filter((r: number[]) => r[2] === crunch[2])).toHaveLength(1);
    const flowRuns = whole.lanes.flatMap((l: { kind: string; runs?: number[][] }) => (l.kind === 'flow' ? (l.runs ?? []) : []));
    // (Runs shorter than a pixel may merge with another flow's in a shared lane: compare the longer ones.)
    const longer = (list: number[][]) => list.filter((r) => r[1] - r[0] >= MS).map((r) => r[2]).sort((a, b) => a - b);
    expect(longer(packedRuns).length).toBeGreaterThan(0);
    expect(longer(packedRuns)).toEqual(longer(flowRuns));
    // A window after the trace's end: nothing.
    const after = await get(`/api/timeline?from=${summary.summary.duration + MS}&to=${summary.summary.duration + 2 * MS}&px=1000`);
    for (const lane of after.lanes) expect(lane.runs ?? []).toEqual([]);
  });

  test('a trace without scheduling events: no long-runs lane, no runs on flow lanes', async () => {
    const whole = await getPlain('/api/timeline?px=1000');
    expect(whole.lanes.some((l: { kind: string }) => l.kind === 'runs')).toBe(false);
    expect(whole.lanes.some((l: { runs?: unknown }) => l.runs !== undefined)).toBe(false);
    expect(whole.runMarks).toEqual({});
  });
});

// ---- the page, in Chromium -------------------------------------------------------------------------

browserSuite('viewer-scheduling.test.ts', 'scheduling events in headless Chromium', missing({ Chromium: CHROMIUM }), 'apt-get install -y chromium', () => {
  // One browser for both viewers: `shown` is the one pages are opened on.
  let shown = (): Viewer => viewer;
  const openOn = viewerPages(dir, () => shown().url);
  const open = (hash: string) => ((shown = () => viewer), openOn(hash));
  const openPlain = (hash: string) => ((shown = () => plain), openOn(hash));

  test("a task's page: running / queued / waiting, and its blockers, each linking to its task", async () => {
    const { tab, errors } = await open(`#/task/${ids.timer}`);
    const expected = execution.tasks.find((t) => t.task === ids.timer)!;
    const facts = await tab.locator('#task-time table.facts').innerText();
    expect(facts).toMatch(/running\s/);
    expect(facts).toMatch(/queued\s/);
    expect(facts).toMatch(/waiting\s/);
    expect(facts).toContain(`Runs\t${expected.runs}`);
    await shot(tab, 'viewer-task-time.png');
    // What it waited on: its 30 ms timer (no site: hand-written regions without captureLocations have no location).
    expect(await tab.locator('#task-waits tbody tr').first().innerText()).toMatch(/^Timeout\t/);
    const first = tab.locator('#task-blockers tbody tr').first();
    expect(await first.innerText()).toContain('crunch');
    await first.locator('a').click();
    await tab.waitForFunction((id) => location.hash === `#/task/${id}` && document.body.dataset.ready === 'true' && !!document.getElementById('task-time'), ids.busy);
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('a task without runs, in a trace without scheduling events: no such section', async () => {
    const { items } = await getPlain('/api/tasks?type=timer');
    const { tab, errors } = await openPlain(`#/task/${items[0].id}`);
    await tab.waitForSelector('#task-events');
    expect(await tab.locator('#task-time').count()).toBe(0);
    expect(errors).toEqual([]);
    await tab.close();
  });

  test("the timeline: the busy loop on the long-runs lane and on its flow's lane; hovering says whose run it is; clicking opens its task", async () => {
    const { tab, errors } = await open('#/timeline');
    await tab.waitForFunction(() => Number(document.querySelector('#trace-timeline canvas')?.getAttribute('data-items')) > 0);
    type Hit = { x: number; y: number; w: number; h: number; text: string };
    const hits = (prefix: string) =>
      tab.evaluate((p) => (window as unknown as { tstraceTimeline: { hits: Hit[] } }).tstraceTimeline.hits.filter((hit) => hit.text.startsWith(p)), prefix);
    // The long-runs lane's (and, when its flow's lane is in view, the strip on it).
    const busyRuns = (await hits(`run of task ${ids.busy} busy`)).filter((hit) => hit.w > 20);
    expect(busyRuns.length).toBeGreaterThanOrEqual(1);
    const box = (await tab.locator('#trace-timeline canvas').boundingBox())!;
    await shot(tab, 'viewer-timeline-runs.png');
    const hit = busyRuns[0];
    await tab.mouse.move(box.x + hit.x + hit.w / 2, box.y + hit.y + hit.h / 2);
    expect(await tab.locator('#trace-timeline .tip').innerText()).toContain(`run of task ${ids.busy} busy`);
    await tab.mouse.down();
    await tab.mouse.up();
    await tab.waitForFunction((id) => location.hash === `#/task/${id}` && document.body.dataset.ready === 'true', ids.busy);
    // The task page's timeline (its flows only): the busy loop as a strip on its flow's lane.
    await tab.waitForFunction(
      (prefix) =>
        (window as unknown as { tstraceTimeline: { hits: Hit[] } }).tstraceTimeline.hits.some((hit) => hit.text.startsWith(prefix) && hit.w > 20 && hit.h < 10),
      `run of task ${ids.busy} busy`,
    );
    expect(errors).toEqual([]);
    await tab.close();
  });
});
