// The blocking sample (`npm run sample:blocking`), run end to end: a real node:http server, 41
// requests in flight, one of which runs a 50 ms synchronous job; the trace, recorded with scheduling
// events, must name that job as what the slow requests were queued behind.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrace } from '../analysis/reader.js';
import { ExecutionCollector, type ExecutionAnalysis, type TaskTimeBreakdown } from '../analysis/time-breakdown.js';
import { removeSampleRun, runSample, samplePath, type SampleRun } from './helpers/sample.js';

const ms = (ns: number): number => ns / 1e6;

describe('samples/blocking (npm run sample:blocking)', () => {
  let run: SampleRun;
  let times: ExecutionAnalysis;

  beforeAll(async () => {
    run = await runSample('blocking');
    const collector = new ExecutionCollector();
    const status = await readTrace(run.trace, (event) => collector.add(event));
    expect(status.complete).toBe(true);
    times = collector.finish(status.footer!.endTs);
  }, 120_000);

  afterAll(() => removeSampleRun(run));

  const report = (): TaskTimeBreakdown => times.tasks.find((t) => t.type === 'GET /report')!;
  // The job's run. Not necessarily the first blocker: on a loaded machine (a CI run's parallel test
  // files) a stall of the process can make another request's run longer still, and that is measured too.
  const jobRun = () => times.blockers.find((b) => b.task === report().task && b.region === 'buildReport')!;

  it('serves 41 requests, then prints the stats with where the time went, and the blockers', () => {
    expect(run.code, `run.mjs failed:\n${run.stderr}`).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('Served 41 requests');
    expect(run.stdout).toContain('Where the time went, by task type');
    const table = run.stdout.slice(run.stdout.lastIndexOf('DELAYED'));
    expect(table).toMatch(/task \d+ \(GET \/report\)\s+buildReport/);
  });

  it('the report’s job is one run of at least its 50 ms, attributed to the report task and its region', () => {
    const job = jobRun();
    expect(job).toMatchObject({ task: report().task, taskType: 'GET /report', region: 'buildReport' });
    // The region's location: the line of service.mjs that runs the job.
    expect(job.location?.file).toMatch(/samples\/blocking\/service\.mjs$/);
    const lines = readFileSync(samplePath('blocking', 'service.mjs'), 'utf8').split('\n');
    expect(job.location?.line).toBe(lines.findIndex((line) => line.includes("withRegion(ctx, 'buildReport'")) + 1);
    expect(ms(job.duration)).toBeGreaterThanOrEqual(50);
    // The run began a little before the task did (the server's callback parsed the request first).
    expect(ms(report().running)).toBeGreaterThanOrEqual(50);
  });

  it('every request queued during the job names it as a blocker (the top one, unless a stall ran longer), for about the time it overlapped', () => {
    const job = jobRun();
    const jobEnd = job.start + job.duration;
    const drinks = times.tasks.filter((t) => t.type === 'GET /drinks/:name');
    expect(drinks).toHaveLength(40);
    // The first lookups' timers fell due while the job held the thread.
    const delayed = drinks.filter((t) => t.blockers.some((b) => b.task === job.task && b.region === 'buildReport'));
    expect(delayed.length).toBeGreaterThanOrEqual(5);
    for (const t of delayed) {
      const top = t.blockers[0];
      // The job, unless a stall made another run longer than it (then that run is named first, rightly).
      if (top.task !== job.task) expect(top.duration).toBeGreaterThan(job.duration);
      else expect(top).toMatchObject({ task: job.task, region: 'buildReport' });
      const byJob = t.blockers.find((b) => b.task === job.task)!;
      // Queued from its due time (≥ the job's start) to the job's end at most, and within the task's life.
      expect(byJob.delayed).toBeLessThanOrEqual(job.duration);
      expect(t.queued).toBeGreaterThanOrEqual(byJob.delayed);
      expect(t.start + t.wall).toBeGreaterThanOrEqual(jobEnd);
      expect(t.running + t.queued + t.waiting).toBe(t.wall);
    }
    expect(job.tasksDelayed).toBeGreaterThanOrEqual(delayed.length);
  });
});
