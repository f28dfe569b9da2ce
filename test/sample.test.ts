// The cappuccino sample (`npm start`), run end to end: what it prints, and what its trace says.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadStatus, TraceEvent } from '../format/events.js';
import { loadTrace } from '../tool/reader.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ORDERS = 8;
const BARISTAS = 3;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node args` in `cwd` to completion. */
function runNode(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A region as the trace tells it: started and ended on one flow. */
interface TracedRegion {
  type: string;
  task: number;
  flow: number;
  start: number;
  end: number;
}

/** Pairs each regionStart with its regionEnd on the same flow (regions nest within a flow). */
function regionsOf(events: TraceEvent[]): TracedRegion[] {
  const open = new Map<number, TracedRegion[]>();
  const done: TracedRegion[] = [];
  for (const e of events) {
    if (e.kind === 'regionStart') {
      const stack = open.get(e.flow) ?? [];
      stack.push({ type: e.type, task: e.task, flow: e.flow, start: e.ts, end: Number.NaN });
      open.set(e.flow, stack);
    } else if (e.kind === 'regionEnd') {
      const region = open.get(e.flow)?.pop();
      expect(region?.type, `regionEnd ${e.type} on flow ${e.flow}`).toBe(e.type);
      done.push({ ...region!, end: e.ts });
    }
  }
  const unended = [...open.values()].flat();
  expect(unended, 'regions never ended').toEqual([]);
  return done;
}

describe('samples/cappuccino (npm start)', () => {
  let cwd: string;
  let run: Run;
  let events: TraceEvent[];
  let status: ReadStatus;

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'tstrace-sample-'));
    run = await runNode([join(root, 'samples', 'cappuccino', 'run.mjs')], cwd);
    const trace = join(cwd, 'trace.out');
    if (!existsSync(trace)) {
      throw new Error(`the sample wrote no trace.out (exit code ${run.code}):\n${run.stdout}\n${run.stderr}`);
    }
    ({ events, status } = await loadTrace(trace));
  }, 120_000);

  afterAll(() => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('prints what was traced, then the stats table, then where to look next', () => {
    expect(run.code, `run.mjs failed:\n${run.stderr}`).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Traced ${ORDERS} cappuccino orders made by ${BARISTAS} baristas: the trace is in trace.out`);
    expect(lines.at(-1)).toBe("Each order's timeline: npx tstrace tasks trace.out");
    expect(lines.slice(1, -1).join('\n')).toContain('makeCappuccino');
  });

  it('writes a complete trace, with no misuse and nothing dropped', () => {
    expect(status.problem).toBeNull();
    expect(status.complete).toBe(true);
    expect(status.footer?.dropped).toBe(0);
    expect(events.filter((e) => e.kind === 'misuse' || e.kind === 'dropped')).toEqual([]);
  });

  it(`records ${ORDERS} makeCappuccino tasks, all ended, each with one orderID log`, () => {
    const created = events.filter((e) => e.kind === 'taskCreate');
    expect(created.map((e) => e.type)).toEqual(Array(ORDERS).fill('makeCappuccino'));
    expect(created.map((e) => e.parent)).toEqual(Array(ORDERS).fill(0));
    const ids = created.map((e) => e.task);

    const ended = events.filter((e) => e.kind === 'taskEnd').map((e) => e.task);
    expect([...ended].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));

    const logs = events.filter((e) => e.kind === 'log');
    for (const id of ids) {
      expect(logs.filter((e) => e.task === id).map((e) => e.category)).toEqual(['orderID']);
    }
    const orderIDs = logs.map((e) => e.message);
    expect(new Set(orderIDs).size).toBe(ORDERS);
  });

  it('puts every region of an order in its task: one steamMilk, one extractCoffee, one mixMilkCoffee', () => {
    const ids = events.filter((e) => e.kind === 'taskCreate').map((e) => e.task);
    const regions = regionsOf(events);
    expect(regions).toHaveLength(3 * ORDERS);
    for (const id of ids) {
      const types = regions.filter((r) => r.task === id).map((r) => r.type);
      expect(types.sort(), `regions of task ${id}`).toEqual(['extractCoffee', 'mixMilkCoffee', 'steamMilk']);
    }
  });

  it('steams milk and extracts coffee at the same time, on different flows, and mixes after both', () => {
    const regions = regionsOf(events);
    const tasks = new Map(events.flatMap((e) => (e.kind === 'taskCreate' ? [[e.task, e.ts] as const] : [])));
    const taskEnds = new Map(events.flatMap((e) => (e.kind === 'taskEnd' ? [[e.task, e.ts] as const] : [])));
    for (const [id, created] of tasks) {
      const one = (type: string) => regions.find((r) => r.task === id && r.type === type)!;
      const milk = one('steamMilk');
      const coffee = one('extractCoffee');
      const mix = one('mixMilkCoffee');
      expect(milk.flow).not.toBe(coffee.flow);
      expect(milk.start).toBeLessThan(coffee.end);
      expect(coffee.start).toBeLessThan(milk.end);
      expect(mix.start).toBeGreaterThanOrEqual(Math.max(milk.end, coffee.end));
      expect(Math.min(milk.start, coffee.start)).toBeGreaterThanOrEqual(created);
      expect(taskEnds.get(id)).toBeGreaterThanOrEqual(mix.end);
    }
  });

  it(`makes orders concurrently, at most ${BARISTAS} at a time`, () => {
    let inProgress = 0;
    let most = 0;
    for (const e of events) {
      if (e.kind === 'taskCreate') most = Math.max(most, ++inProgress);
      if (e.kind === 'taskEnd') inProgress--;
    }
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(BARISTAS);
  });
});
