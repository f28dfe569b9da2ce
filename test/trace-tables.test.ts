import { describe, expect, it } from 'vitest';
import { loadTraceTables } from '../analysis/trace-tables.js';
import { encodedTrace } from './helpers/trace.js';

const header = { version: 6, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v24', command: 'x' } as const;

describe('trace tables', () => {
  it('a trace with more than 65,536 distinct strings (types, categories) and locations: every task, region and log keeps its own', async () => {
    // The tables hold type and location indexes in 16 bits while they fit: these go past that, in every column.
    const n = 22_000;
    const at = (line: number, fn: string) => Object.freeze({ file: 'app.ts', line, column: 1, function: fn });
    const bytes = encodedTrace(header, (e) => {
      for (let k = 1; k <= n; k++) {
        const ts = k * 10;
        e.taskCreate(ts, k, k, 0, `task${k}`, at(k, 'create'));
        e.regionStart(ts + 1, k, k, `region${k}`, at(k, 'region'));
        e.log(ts + 2, k, k, `category${k}`, `message ${k}`, at(k, 'log'));
        e.regionEnd(ts + 3, k, `region${k}`);
        e.taskEnd(ts + 4, k, k, at(k, 'end'));
      }
    });
    const tables = await loadTraceTables(bytes);
    expect(tables.stats.status.complete).toBe(true);
    expect(tables.regions.length).toBe(n);
    for (const k of [1, 21_845, 21_846, n]) {
      const region = tables.region(k - 1);
      expect([region.type, region.location?.line, region.location?.function, region.duration]).toEqual([`region${k}`, k, 'region', 2]);
      const log = tables.log(k - 1);
      expect([log.category, log.message, log.location?.line, log.location?.function]).toEqual([`category${k}`, `message ${k}`, k, 'log']);
      const task = tables.task(tables.taskRow(k));
      expect([task.type, task.latency, task.regions.length]).toEqual([`task${k}`, 4, 1]);
      const [create, , , , end] = task.events;
      expect([create.kind, create.location?.line, create.location?.function]).toEqual(['create', k, 'create']);
      expect([end.kind, end.location?.line, end.location?.function]).toEqual(['end', k, 'end']);
    }
  });

  it("events of one time are listed in a task's history in the order they were recorded", async () => {
    // A coarse clock: everything at 10 µs, in this order, then at 20 µs the same again with the ends swapped.
    const bytes = encodedTrace(header, (e) => {
      for (const ts of [10_000, 20_000]) {
        const task = ts / 10_000;
        e.taskCreate(ts, task, task, 0, 'job', null);
        e.regionStart(ts, task, task, 'a', null);
        e.log(ts, task, task, 'step', 'in a', null);
        e.regionEnd(ts, task, 'a');
        e.regionStart(ts, task, task, 'b', null);
        if (task === 1) e.regionEnd(ts, task, 'b');
        e.taskEnd(ts, task, task, null);
        if (task === 2) e.regionEnd(ts, task, 'b');
      }
    });
    const tables = await loadTraceTables(bytes);
    const history = (id: number) => tables.task(tables.taskRow(id)).events.map((event) => ('type' in event && event.kind !== 'create' ? `${event.kind} ${event.type}` : event.kind));
    expect(history(1)).toEqual(['create', 'regionStart a', 'log', 'regionEnd a', 'regionStart b', 'regionEnd b', 'end']);
    expect(history(2)).toEqual(['create', 'regionStart a', 'log', 'regionEnd a', 'regionStart b', 'end', 'regionEnd b']);
  });
});
