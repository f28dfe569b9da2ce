import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../analysis/reader.js';
import { annotations, sleep, tempTracePath } from './helpers/trace.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('a process that exits while tracing loses no recorded event', () => {
  for (const how of ['exit', 'return', 'throw'] as const) {
    it(`via ${how === 'exit' ? 'process.exit()' : how === 'return' ? 'the end of the program' : 'an uncaught exception'}`, async () => {
      const path = tempTracePath();
      const count = 50_000;
      const child = spawnSync(process.execPath, [fixture('exit-mid-trace.mjs'), path, how, String(count)], { encoding: 'utf8' });
      expect(child.status).toBe(how === 'exit' ? 3 : how === 'throw' ? 1 : 0);
      if (how === 'throw') expect(child.stderr).toContain('uncaught on purpose');
      const { events, status } = await loadTrace(path);
      expect(status.problem).toBeNull();
      expect(status.complete).toBe(true);
      expect(events.filter((e) => e.kind === 'regionStart')).toHaveLength(count);
      expect(events.filter((e) => e.kind === 'regionEnd')).toHaveLength(count);
      const logs = events.filter((e) => e.kind === 'log');
      expect(logs).toHaveLength(count);
      expect(logs.at(-1)).toMatchObject({ message: String(count - 1) });
      expect(annotations(events).at(-1)).toMatchObject({ kind: 'taskEnd' });
      expect(status.footer).toMatchObject({ dropped: 0 });
    });
  }

  it('after SIGKILL, reads every complete batch and says where and why it stopped', async () => {
    const path = tempTracePath();
    const child = spawn(process.execPath, [fixture('run-until-killed.mjs'), path], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await sleep(20);
      try {
        if (statSync(path).size > 300_000) break;
      } catch {
        // not created yet
      }
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const size = statSync(path).size;
    const { events, status } = await loadTrace(path);
    expect(status.complete).toBe(false);
    expect(['truncated', 'unfinished']).toContain(status.problem?.kind);
    expect(status.problem?.offset).toBe(status.bytesRead);
    expect(status.bytesRead).toBeLessThanOrEqual(size);
    const logs = events.filter((e) => e.kind === 'log');
    expect(logs.length).toBeGreaterThan(1000);
    // Nothing is lost in the middle: the logs are 0, 1, 2, … up to where the file stops.
    logs.forEach((e, i) => expect(e).toMatchObject({ message: String(i) }));
  });
});
