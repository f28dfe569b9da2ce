/**
 * `tstrace view` on a million regions (docs/cli.md): a service trace of 250,000 requests — each a task
 * with four regions, one of them on an async flow of its own, and a log — is loaded, and the viewer
 * stays usable: the timeline API answers with about one item per pixel per row and only the rows in the
 * asked window (of 750,000 layout rows), lists are paged, and in headless Chromium the timeline draws,
 * zooms and scrolls down to the last flows, and a histogram bucket lists exactly its regions.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { latencyBucket } from '../analysis/histogram.js';
import { startViewer, type Viewer } from '../viewer/server.js';
import { browserSuite, CHROMIUM, missing, timelineSettled, viewerPages } from './helpers/chromium.js';
import { viewerApi } from './helpers/viewer.js';
import { requestsTrace } from './helpers/export-traces.js';
import { tempTracePath } from './helpers/trace.js';

/** 250,048: whole batches of 64. */
const REQUESTS = Math.ceil(250_000 / 64) * 64;
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tstrace-viewer-million-'));
const screenshots = join(root, 'test/.work/screenshots');

let viewer: Viewer;

beforeAll(async () => {
  const tracePath = tempTracePath('million.trace');
  // 250,048 requests, 64 at a time: 1,000,192 regions, and as many tasks, logs and async flows as requests.
  await requestsTrace(tracePath, REQUESTS, 1000, { gc: true, heap: true, eventLoop: false });
  viewer = await startViewer({ file: tracePath, cwd: root });
}, 180_000);
afterAll(async () => {
  await viewer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = viewerApi(() => viewer.url);

type Item = [start: number, end: number, id: number, count: number, type: number];
interface Lane {
  id: string;
  kind: string;
  top: number;
  rows: Item[][];
}

describe('a million regions: the API', () => {
  test('the summary counts every region, task and log', async () => {
    const { summary } = await get('/api/summary');
    expect(summary).toMatchObject({ regions: REQUESTS * 4, tasks: REQUESTS, logs: REQUESTS, dropped: 0 });
  });

  test('the whole timeline: about one item per pixel per row, only the rows of the window, every region accounted for once zoomed out', async () => {
    const px = 1000;
    const whole = await get(`/api/timeline?px=${px}&top=0&rows=120`);
    expect(whole.layoutRows).toBeGreaterThan(REQUESTS * 3);
    const lanes = whole.lanes as Lane[];
    expect(lanes.length).toBeGreaterThan(10);
    expect(lanes.length).toBeLessThanOrEqual(120);
    for (const lane of lanes) {
      lane.rows.forEach((row, k) => {
        expect(row.length).toBeLessThanOrEqual(px + 1);
        if (lane.top + k >= 120) expect(row).toEqual([]);
      });
    }
    // Deep down: the last flows, and nothing of the lanes above the window.
    // Packed, the 250,000 short flows share as many lanes as were in flight at once.
    const packed = await get(`/api/timeline?px=${px}&top=0&rows=120&lanes=auto`);
    expect(packed.lanesMode).toBe('packed');
    expect(packed.layoutRows).toBeLessThan(2000);
    const packedAll = await get(`/api/timeline?px=1&lanes=packed`);
    expect((packedAll.lanes as Lane[]).filter((l) => l.kind === 'flow').flatMap((l) => l.rows.flat()).reduce((n, item) => n + item[3], 0)).toBe(REQUESTS * 4);
    const last = await get(`/api/timeline?px=${px}&top=${whole.layoutRows - 30}&rows=30`);
    expect((last.lanes as Lane[]).every((lane) => lane.kind === 'flow' && lane.top + lane.rows.length > whole.layoutRows - 30)).toBe(true);
    expect((last.lanes as Lane[]).flatMap((lane) => lane.rows.flat()).length).toBeGreaterThan(0);
    // Merged items say how many regions they stand for: a flow lane's items add up to its regions.
    const lane = (last.lanes as Lane[]).at(-1)!;
    const flow = Number(lane.id.slice('flow:'.length));
    const zoomedIn = await get(`/api/timeline?px=${px}&flows=${flow}`);
    const regions = (zoomedIn.lanes as Lane[])[0].rows.flat().reduce((n, item) => n + item[3], 0);
    expect(regions).toBe(lane.rows.flat().reduce((n, item) => n + item[3], 0));
  });

  test('lists are paged; a region histogram bucket lists exactly its regions', async () => {
    const tasks = await get('/api/tasks?offset=1000&limit=500');
    expect(tasks).toMatchObject({ total: REQUESTS, offset: 1000 });
    expect(tasks.items).toHaveLength(500);
    const slow = await get('/api/tasks?log=slow%20query');
    expect(slow.total).toBe(Math.floor((REQUESTS - 1) / 1000) + 1);
    const groups = await get('/api/region-groups');
    const query = groups.find((g: { type: string }) => g.type === 'query');
    expect(query.count).toBe(REQUESTS);
    expect(query.duration.exact).toBe(false); // more than 65,536: from the sketch
    const bucket = query.histogram.at(-1);
    const listed = await get(`/api/regions?group=${query.index}&bucket=${bucket.bucket}&limit=5000`);
    expect(listed.total).toBe(bucket.count);
    for (const region of listed.items) expect(latencyBucket(region.duration)).toBe(bucket.bucket);
  });
});

browserSuite('viewer-million.test.ts', 'a million regions in headless Chromium', missing({ Chromium: CHROMIUM }), 'apt-get install -y chromium', () => {
  const open = viewerPages(dir, () => viewer.url);

  test('the timeline draws with flows packed, switches to a lane per flow, zooms, and scrolls down to the last flows', async () => {
    const { tab, errors } = await open('#/timeline');
    const canvas = tab.locator('#trace-timeline canvas');
    await tab.waitForFunction(() => Number(document.querySelector('#trace-timeline canvas')?.getAttribute('data-items')) > 0);
    const state = () =>
      canvas.evaluate((c) => ({ items: Number(c.dataset.items), lanes: Number(c.dataset.lanes), layoutRows: Number(c.dataset.layoutRows), scrollY: Number(c.dataset.scrollY) }));
    const packed = await state();
    expect(await canvas.evaluate((c) => c.dataset.lanesMode)).toBe('packed');
    expect(packed.layoutRows).toBeLessThan(2000);
    mkdirSync(screenshots, { recursive: true });
    await tab.evaluate(() => window.scrollTo(0, 0));
    await tab.screenshot({ path: join(screenshots, 'viewer-million-timeline-packed.png') });
    await tab.click('#lanes-toggle');
    await tab.waitForFunction(() => document.querySelector('#trace-timeline canvas')?.getAttribute('data-lanes-mode') === 'flow');
    const first = await state();
    expect(first.layoutRows).toBeGreaterThan(REQUESTS * 3);
    expect(first.lanes).toBeGreaterThanOrEqual(2); // GC, and the tasks lane (64 rows of requests in flight) fills the screen
    // What is drawn is bounded by the pixels, not by the million regions.
    expect(first.items).toBeLessThan(200_000);
    await tab.screenshot({ path: join(screenshots, 'viewer-million-timeline.png') });

    // Scroll to the bottom by dragging the content up, a screen at a time, then a long way at once.
    const box = (await canvas.boundingBox())!;
    const x = box.x + 110 + (box.width - 110) / 2;
    await tab.evaluate(() => {
      const t = (window as unknown as { tstraceTimeline: { scrollY: number; clampScroll(y: number): number; changed(): void } }).tstraceTimeline;
      t.scrollY = t.clampScroll(Number.MAX_SAFE_INTEGER);
      t.changed();
    });
    await tab.waitForFunction(() => {
      const t = (window as unknown as { tstraceTimeline: { data: { lanes: { top: number }[]; layoutRows: number } } }).tstraceTimeline;
      return t.data.lanes.length > 0 && t.data.lanes[0].top > t.data.layoutRows - 200;
    });
    await tab.mouse.move(x, box.y + box.height / 2);
    await tab.mouse.down();
    await tab.mouse.move(x, box.y + box.height / 2 + 200, { steps: 4 });
    await tab.mouse.up();
    await tab.waitForFunction(() => {
      const t = (window as unknown as { tstraceTimeline: { data: { lanes: { top: number }[]; layoutRows: number }; scrollY: number } }).tstraceTimeline;
      const c = document.querySelector('#trace-timeline canvas') as HTMLCanvasElement;
      return Number(c.dataset.scrollY) === t.scrollY && t.data.lanes.length > 0 && Number(c.dataset.lanes) > 0;
    });
    const bottom = await state();
    expect(bottom.scrollY).toBeGreaterThan(REQUESTS * 3 * 16 - 2000);
    expect(bottom.lanes).toBeGreaterThan(10);
    expect(bottom.items).toBeGreaterThan(0);
    await tab.screenshot({ path: join(screenshots, 'viewer-million-timeline-bottom.png') });

    // Zoom in at the pointer: a narrower range, still drawn.
    const before = await canvas.evaluate((c) => Number(c.dataset.to) - Number(c.dataset.from));
    await tab.mouse.move(x, box.y + 100);
    for (let i = 0; i < 5; i++) await tab.mouse.wheel(0, -200);
    await timelineSettled(tab);
    expect(await canvas.evaluate((c) => Number(c.dataset.to) - Number(c.dataset.from))).toBeLessThan(before / 2);
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('clicking a region histogram bucket lists exactly its regions, a page at a time', async () => {
    const groups = await get('/api/region-groups');
    const query = groups.find((g: { type: string }) => g.type === 'query');
    const bucket = [...query.histogram].sort((a: { count: number }, b: { count: number }) => b.count - a.count)[0];
    const { tab, errors } = await open('#/regions');
    await tab.click(`.region-group[data-type="query"] .bucket[data-bucket="${bucket.bucket}"]`);
    await tab.waitForFunction(() => location.hash.startsWith('#/regions/list') && document.body.dataset.ready === 'true' && !!document.getElementById('region-count'));
    expect(await tab.locator('#region-count').innerText()).toBe(String(bucket.count));
    expect(await tab.locator('#bucket-note').innerText()).toContain(`bucket ${bucket.bucket}`);
    expect(await tab.locator('#region-list tbody tr').count()).toBe(Math.min(500, bucket.count));
    if (bucket.count > 500) {
      await tab.click('#region-next');
      // The old page stays (ready) until the new one replaces it: wait for the new page's range.
      const range = `501-${Math.min(1000, bucket.count)}`;
      await tab.waitForFunction((r) => document.body.dataset.ready === 'true' && document.querySelector('.pager [data-range]')?.getAttribute('data-range') === r, range);
      expect(await tab.evaluate(() => location.hash)).toContain('offset=500');
    }
    expect(errors).toEqual([]);
    await tab.close();
  });
});
