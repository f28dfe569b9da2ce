/**
 * Scheduling events in the Chrome and Perfetto exports: each flow's runs as "running" slices on a track
 * beside its regions, and runs of 10 ms or more also on the thread's "long runs" track, named after
 * their task — only in traces that have runs.
 */
import { describe, expect, test } from 'vitest';
import { exportChrome, LONG_RUNS_TID, RUNNING_TID_OFFSET } from '../export/export-chrome.js';
import { exportPerfetto } from '../export/export-perfetto.js';
import { background, newTask, withRegion } from '../runtime/index.js';
import { collector } from './helpers/collector.js';
import { decodePerfetto } from './helpers/perfetto-decode.js';
import { sleep, traceOf } from './helpers/trace.js';

interface ChromeEvent {
  ph: string;
  name: string;
  cat?: string;
  ts: number;
  dur?: number;
  tid: number;
  args?: Record<string, unknown>;
}

function busy(duration: number): void {
  const end = performance.now() + duration;
  while (performance.now() < end);
}

/** A task that waits 2 ms, then holds the thread 30 ms, and a few short ones. */
async function busyTrace(scheduling: boolean): Promise<string> {
  const { path } = await traceOf(
    async () => {
      const jobs = ['crunch', 'short', 'short'].map((type) => {
        const [ctx, task] = newTask(background, type);
        return withRegion(ctx, 'job', async () => {
          await sleep(2);
          busy(type === 'crunch' ? 30 : 1);
          task.end();
        });
      });
      await Promise.all(jobs);
    },
    { scheduling },
  );
  return path;
}

async function chromeEvents(path: string): Promise<ChromeEvent[]> {
  const json = collector();
  await exportChrome(path, json.out);
  return (JSON.parse(json.bytes().toString('utf8')) as { traceEvents: ChromeEvent[] }).traceEvents;
}

describe('runs in the Chrome and Perfetto exports', () => {
  test('Chrome: running slices on each flow’s running track, the long run on "long runs" named after its task', async () => {
    const events = await chromeEvents(await busyTrace(true));
    const running = events.filter((e) => e.ph === 'X' && e.name === 'running');
    expect(running.length).toBeGreaterThan(0);
    for (const e of running) expect(e.tid).toBeGreaterThan(RUNNING_TID_OFFSET);
    // Each running track is named after its flow, whose regions are on tid = flow.
    const names = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, e.args!.name]));
    for (const e of running) expect(names.get(e.tid)).toBe(`flow ${e.tid - RUNNING_TID_OFFSET} · running`);
    // Runs of one flow never overlap: one track nests them trivially.
    const byTrack = new Map<number, ChromeEvent[]>();
    for (const e of running) byTrack.set(e.tid, [...(byTrack.get(e.tid) ?? []), e]);
    for (const list of byTrack.values()) {
      const sorted = [...list].sort((a, b) => a.ts - b.ts);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i].ts).toBeGreaterThanOrEqual(sorted[i - 1].ts + sorted[i - 1].dur! - 0.001);
    }
    const long = events.filter((e) => e.tid === LONG_RUNS_TID && e.ph === 'X');
    // The 30 ms job, once (a loaded machine may stretch a 1 ms job past 10 ms too: only 10 ms runs are there).
    expect(long.filter((e) => e.name === 'long run: crunch')).toHaveLength(1);
    for (const e of long) expect(e.dur!).toBeGreaterThanOrEqual(10_000);
    expect(long.find((e) => e.name === 'long run: crunch')!.dur!).toBeGreaterThanOrEqual(30_000);
    expect(names.get(LONG_RUNS_TID)).toBe('long runs');
  });

  test('Chrome: a trace without scheduling events has no run tracks', async () => {
    const events = await chromeEvents(await busyTrace(false));
    expect(events.filter((e) => e.cat === 'run' || e.tid === LONG_RUNS_TID || (e.tid > RUNNING_TID_OFFSET && e.tid < LONG_RUNS_TID))).toEqual([]);
  });

  test('Perfetto: the same runs, as slices on "flow N · running" tracks and the long one on "long runs"', async () => {
    const path = await busyTrace(true);
    const out = collector();
    await exportPerfetto(path, out.out);
    const trace = decodePerfetto(out.bytes());
    expect(trace.problems).toEqual([]);
    const trackName = (uuid: bigint) => trace.tracks.get(uuid)?.name;
    const begins = trace.events.filter((e) => e.type === 'begin' && e.categories.includes('run'));
    const running = begins.filter((e) => e.name === 'running');
    expect(running.length).toBe((await chromeEvents(path)).filter((e) => e.name === 'running').length);
    for (const e of running) expect(trackName(e.track)).toMatch(/^flow \d+ · running$/);
    const long = begins.filter((e) => trackName(e.track) === 'long runs');
    const crunch = long.filter((e) => e.name === 'long run: crunch');
    expect(crunch).toHaveLength(1);
    expect(long.map((e) => e.name).sort()).toEqual((await chromeEvents(path)).filter((e) => e.tid === LONG_RUNS_TID && e.ph === 'X').map((e) => e.name).sort());
    const end = trace.events.find((e) => e.type === 'end' && e.track === crunch[0].track && e.ts > crunch[0].ts)!;
    expect(Number(end.ts - crunch[0].ts)).toBeGreaterThanOrEqual(30e6);
    // What the run resumed: the timer, or the promise it resolved (a timer callback and its continuation are one run).
    expect(['Timeout', 'PROMISE']).toContain(crunch[0].args.waitedOn);
  });
});
