// The HTTP service sample (`npm run sample:http`), run end to end: it serves 50 requests, 10 at a time,
// on loopback; its trace tells each request as a task, made of the regions that the transformer
// compiled in from `@traced` — with no hand-written tracing in the service.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegionInfo, TaskInfo, TraceAnalysis } from '../analysis/analysis-types.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { removeSampleRun, runSample, samplePath, type SampleRun } from './helpers/sample.js';

// As run.mjs sends them: 50 requests from 10 clients; one drink in six is not on the menu.
const REQUESTS = 50;
const CONCURRENCY = 10;
const NOT_FOUND = 8;
const STEPS = ['DrinkService.parse', 'Database.findDrink', 'DrinkService.render'];

/** The lines of service.ts where the traced method `name` starts: its `@traced` line, then its own. */
function methodLines(name: string): number[] {
  const lines = readFileSync(samplePath('http-service', 'service.ts'), 'utf8').split('\n');
  const index = lines.findIndex((line) => new RegExp(`^  (async )?${name}\\(`).test(line));
  expect(index, `method ${name} in service.ts`).toBeGreaterThan(0);
  expect(lines[index - 1]).toMatch(/^  @traced\b/);
  return [index, index + 1];
}

describe('samples/http-service (npm run sample:http)', () => {
  let run: SampleRun;
  let trace: TraceAnalysis;

  beforeAll(async () => {
    run = await runSample('http-service');
    trace = await analyzeTrace(run.trace);
  }, 120_000);

  afterAll(() => removeSampleRun(run));

  const regionsOf = (task: TaskInfo): RegionInfo[] => task.regions.map((id) => trace.regions.at(id - 1)!);

  it('serves, sends the requests, shuts down, then prints the stats table and where to look next', () => {
    expect(run.code, `run.mjs failed:\n${run.stderr}`).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Serving drinks on http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines[1]).toBe(`Sent ${REQUESTS} requests, ${CONCURRENCY} at a time: ${REQUESTS - NOT_FOUND} × 200, ${NOT_FOUND} × 404`);
    expect(lines[2]).toBe(`Traced ${REQUESTS} requests: the trace is in trace.out`);
    expect(lines.slice(-2)).toEqual(["Each request's timeline: npx tstrace tasks trace.out", 'All of it in a browser: npx tstrace view trace.out --open']);
    const table = lines.slice(3, -2).join('\n');
    expect(table).toContain('handleRequest');
    expect(table).toContain('service.ts');
  });

  it('writes a complete trace, with no problem and nothing dropped', () => {
    expect(trace.status.problem).toBeNull();
    expect(trace.status.complete).toBe(true);
    expect(trace.summary.dropped).toBe(0);
    expect(trace.problems).toEqual([]);
  });

  it('records one complete handleRequest task per request, each logging the drink it looked up', () => {
    expect(trace.tasks.map((t) => [t.type, t.parent, t.complete])).toEqual(Array(REQUESTS).fill(['handleRequest', 0, true]));
    for (const task of trace.tasks) {
      const logs = task.events.filter((e) => e.kind === 'log');
      expect(logs.map((e) => e.category), `logs of task ${task.id}`).toEqual(['name']);
    }
  });

  it('makes each request a handleRequest region with parse, then the database lookup, then render in it', () => {
    expect(trace.regions).toHaveLength(4 * REQUESTS);
    expect(trace.regions.every((r) => r.complete)).toBe(true);
    for (const task of trace.tasks) {
      const [request, ...steps] = regionsOf(task);
      expect([request!.type, ...steps.map((r) => r.type)], `regions of task ${task.id}, in start order`).toEqual(['handleRequest', ...STEPS]);
      expect(request!.parent).toBeNull();
      expect(request!.start).toBeGreaterThanOrEqual(task.start);
      expect(task.end).toBeGreaterThanOrEqual(request!.end);
      for (const step of steps) {
        expect(step.parent, `parent of ${step.type}`).toBe(request!.id);
        expect(step.start).toBeGreaterThanOrEqual(request!.start);
        expect(step.end).toBeLessThanOrEqual(request!.end);
      }
      const [parse, db, render] = steps;
      expect(parse!.end).toBeLessThanOrEqual(db!.start);
      expect(db!.end).toBeLessThanOrEqual(render!.start);
      // Sync methods run on the request's flow; the async lookup on a flow of its own.
      expect(parse!.flow).toBe(request!.flow);
      expect(render!.flow).toBe(request!.flow);
      expect(db!.flow).not.toBe(request!.flow);
    }
  });

  it('looks up the database for concurrent requests at the same time, on different flows', () => {
    const lookups = trace.regions.filter((r) => r.type === 'Database.findDrink');
    expect(new Set(lookups.map((r) => r.flow)).size).toBe(REQUESTS);
    expect(new Set(trace.regions.filter((r) => r.type === 'handleRequest').map((r) => r.flow)).size).toBe(REQUESTS);
    for (const lookup of lookups) {
      const overlapping = lookups.filter((other) => other !== lookup && other.start < lookup.end && lookup.start < other.end);
      expect(overlapping.every((other) => other.task !== lookup.task && other.flow !== lookup.flow)).toBe(true);
    }
    // At most one lookup per client at a time, and more than one at some point.
    const edges = lookups.flatMap((r) => [[r.start, 1] as const, [r.end, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let inProgress = 0;
    let most = 0;
    for (const [, delta] of edges) most = Math.max(most, (inProgress += delta));
    expect(most, 'lookups in progress at once').toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(CONCURRENCY);
  });

  it('gives every task and region its location in service.ts, compiled in by the transformer', () => {
    const method = { handleRequest: 'handleRequest', 'DrinkService.parse': 'parse', 'Database.findDrink': 'findDrink', 'DrinkService.render': 'render' };
    for (const region of trace.regions) {
      const { file, line, function: fn } = region.location ?? { file: '', line: 0, function: '' };
      expect([file, fn], `location of region ${region.id}`).toEqual(['service.ts', region.type]);
      expect(methodLines(method[region.type as keyof typeof method])).toContain(line);
    }
    for (const task of trace.tasks) {
      const create = task.events.find((e) => e.kind === 'create')!;
      expect(create.location).toEqual(regionsOf(task)[0]!.location);
    }
  });

  // How `npm run bench:http` measures the instrumented code with tracing never started.
  it('serves without tracing, and writes no trace file, when TSTRACE_SAMPLE_TRACE=off', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tstrace-sample-off-'));
    try {
      const service = spawn(process.execPath, [samplePath('http-service', 'dist', 'main.js')], {
        cwd,
        env: { ...process.env, TSTRACE_SAMPLE_TRACE: 'off' },
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      });
      const exited = new Promise<number | null>((resolve) => service.once('exit', resolve));
      const lines: string[] = [];
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: service.stdout! }).on('line', (line) => {
          lines.push(line);
          const served = /^Serving drinks on (http:\/\/\S+)$/.exec(line)?.[1];
          if (served) resolve(served);
        });
        exited.then((code) => reject(new Error(`the service exited (code ${code}) before it listened`)));
      });
      const response = await fetch(`${url}/drinks/latte?size=large`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ drink: 'latte', size: 'large', price: '4.94' });
      service.disconnect();
      expect(await exited).toBe(0);
      expect(lines.at(-1)).toBe('Served 1 request (tracing off)');
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
