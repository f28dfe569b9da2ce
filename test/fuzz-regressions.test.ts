// Bugs the fuzzer found (npm run fuzz, docs/fuzzing.md), each on the smallest trace that shows it. The
// traces are built by hand from docs/format.md (fuzz/frames.mjs).
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { analyzeTrace, exportChrome, summarizeTrace, TraceSummarizer, type TraceEvent } from 'tstrace/reader';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript module without declarations
import { encodeTrace, TYPE } from '../fuzz/frames.mjs';
// @ts-expect-error: a plain JavaScript module without declarations
import { chromeRuleProblems } from '../fuzz/chrome-rules.mjs';
import { encodedTrace, tempTracePath } from './helpers/trace.js';
import { runCli } from '../cli/cli-run.js';

type ChromeEvent = { ph: string; name: string; ts: number; tid: number; dur?: number };

/** A trace of batches of events (each batch's times from its own base), with a header and a footer. */
function trace(...batches: { baseTs: number; events: ReturnType<typeof ev>[] }[]): Uint8Array {
  return encodeTrace({ header: { hrtimeOriginNs: 0n }, batches, footer: { events: 0, dropped: 0, endTs: 0 } });
}

async function chrome(bytes: Uint8Array): Promise<{ events: ChromeEvent[]; warnings: string[]; problems: string[] }> {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  const { warnings } = await exportChrome(bytes, out);
  const doc = JSON.parse(text) as { traceEvents: ChromeEvent[] };
  return { events: doc.traceEvents.filter((e) => e.ph !== 'M'), warnings, problems: chromeRuleProblems(doc) };
}

const ev = (type: number, dt: number, flow: number | undefined, task: number | undefined, ...args: unknown[]) => ({ type, dt, flow, task, args });
const statsOnly = <T extends { status: unknown }>(stats: T) => JSON.stringify({ ...stats, status: null, tasks: undefined, regions: undefined, logs: undefined });

describe('fuzz regressions', () => {
  it('a flow started twice keeps its open regions: analyzeTrace has the statistics of summarizeTrace', async () => {
    // Flow 2 is forked, opens "a", is forked again (a damaged or spliced trace), then ends "a".
    const bytes = encodeTrace({
      header: {},
      batches: [
        {
          baseTs: 0,
          events: [
            ev(TYPE.FlowStart, 1, 2, undefined, 1),
            ev(TYPE.RegionStart, 1, 2, 0, { s: 'a' }, { loc: null }),
            ev(TYPE.FlowStart, 1, 2, undefined, 1),
            ev(TYPE.RegionEnd, 5, 2, undefined, { s: 'a' }),
          ],
        },
      ],
      footer: { events: 4, dropped: 0, endTs: 10 },
    });
    const summary = await summarizeTrace(bytes);
    const analysis = await analyzeTrace(bytes);
    expect(summary.regionGroups).toMatchObject([{ type: 'a', count: 1, complete: 1 }]);
    expect(analysis.problems).toEqual([]);
    expect(analysis.regions.toArray()).toMatchObject([{ id: 1, type: 'a', flow: 2, complete: true, start: 2, end: 8 }]);
    expect(statsOnly(analysis)).toBe(statsOnly(summary));
  });

  // Times that go back from one batch to the next (batches duplicated or reordered in a damaged file; the
  // runtime never writes them): the Chrome export keeps the rules of docs/export.md.
  it('Chrome export: a flow whose regions all ended does not go back in time when it starts another', async () => {
    const bytes = trace(
      { baseTs: 100_000, events: [ev(TYPE.RegionStart, 0, 1, 0, { s: 'a' }, { loc: null }), ev(TYPE.RegionEnd, 100_000, 1, undefined, { s: 'a' })] },
      { baseTs: 50_000, events: [ev(TYPE.RegionStart, 0, 1, 0, { s: 'b' }, { loc: null }), ev(TYPE.RegionEnd, 10_000, 1, undefined, { s: 'b' })] },
    );
    const { events, warnings, problems } = await chrome(bytes);
    expect(problems).toEqual([]);
    expect(events.filter((e) => e.ph === 'B' || e.ph === 'E').map((e) => `${e.ph} ${e.name} ${e.ts}`)).toEqual(['B a 100', 'E a 200', 'B b 200', 'E b 200']);
    expect(warnings.join('\n')).toMatch(/an event on flow 1 at 50µs is earlier than the one before it \(200µs\)/);
  });

  it('Chrome export: a task ended before its creation ends at its creation', async () => {
    const bytes = trace(
      { baseTs: 100_000, events: [ev(TYPE.TaskCreate, 0, 1, 0, 7, { s: 't' }, { loc: null })] },
      { baseTs: 50_000, events: [ev(TYPE.TaskEnd, 0, 1, 7, { loc: null })] },
    );
    const { events, warnings, problems } = await chrome(bytes);
    expect(problems).toEqual([]);
    expect(events.filter((e) => e.name === 't').map((e) => `${e.ph} ${e.ts} ${e.dur ?? ''}`)).toEqual(['b 100 ', 'e 100 ', 'X 100 0']);
    expect(warnings).toContain('task 7 ended at 50µs, before its creation (100µs); it is ended at its creation');
  });

  it('Chrome export: no arrow back in time from where a task was created to its first region', async () => {
    const bytes = trace(
      {
        baseTs: 100_000,
        events: [ev(TYPE.RegionStart, 0, 1, 0, { s: 'outer' }, { loc: null }), ev(TYPE.TaskCreate, 1000, 1, 3, 7, { s: 't' }, { loc: null })],
      },
      { baseTs: 50_000, events: [ev(TYPE.RegionStart, 0, 2, 7, { s: 'first' }, { loc: null })] },
    );
    const { events, problems } = await chrome(bytes);
    expect(problems).toEqual([]);
    expect(events.filter((e) => e.ph === 's' || e.ph === 'f')).toEqual([]);
  });

  it("an export's warnings stay one line of stderr each, whatever the trace's strings hold (a region type with a line break)", async () => {
    const bytes = encodedTrace({ version: 6, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v24', command: 'x' }, (e) => {
      e.regionEnd(10_000, 1, 'r\n\u0011e\u2028');
    });
    const path = tempTracePath('line-break.out');
    writeFileSync(path, bytes);
    for (const format of ['chrome', 'go']) {
      const out = { stdout: '', stderr: '' };
      const io = { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t), version: '0', cwd: '/' };
      expect(await runCli(['export', path, '--format', format, '-o', tempTracePath(`line-break.${format}`)], io)).toBe(0);
      const lines = out.stderr.split('\n').slice(0, -1);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(/^tstrace: warning: /);
      expect(out.stderr).toContain('r\\u000a\\u0011e\\u2028');
    }
  });

  it('Chrome export: times stay in order when the hrtime origin is past 2^53 µs (a damaged header), where no number is exact to the µs', async () => {
    const header = { version: 6, wallClockOriginNs: 0n, hrtimeOriginNs: 2n ** 64n - 1n, pid: 1, nodeVersion: 'v24', command: 'x' };
    const bytes = encodedTrace(header, (e) => {
      // Nested regions 35 ns apart, and one ended out of order (continued as new slices): every slice's B and E.
      let ts = 1_190_982_901_136_142;
      for (const type of ['a', 'b', 'c', 'b']) e.regionStart((ts += 35), 1, 0, type, null);
      e.regionEnd((ts += 35), 1, 'c');
      e.regionEnd((ts += 35), 1, 'a');
      for (let k = 0; k < 20; k++) e.regionStart((ts += 1 + (k % 3)), 1, 0, `r${k}`, null);
    });
    const { events, problems } = await chrome(bytes);
    expect(problems).toEqual([]);
    expect(events.filter((e) => e.ph === 'B').length).toBeGreaterThan(20);
  });

  it('Chrome export: runs of one thread that overlap (a damaged trace) are cut or left out, so slices never overlap', async () => {
    // Run A 5–10 ms; B 8–12 ms starts inside A; C 9.5–10.5 ms lies within B. All on flow 1 of thread 0.
    const bytes = encodedTrace({ version: 6, wallClockOriginNs: 0n, hrtimeOriginNs: 0n, pid: 1, nodeVersion: 'v24', command: 'x' }, (e) => {
      e.run(10e6, 1, 0, 5e6, 5e6, 0, 'Timeout');
      e.run(12e6, 1, 0, 4e6, 4e6, 0, 'Immediate');
      e.run(12.5e6, 1, 0, 3e6, 1e6, 0, 'PROMISE');
    });
    const { events, warnings, problems } = await chrome(bytes);
    expect(problems).toEqual([]);
    const runs = events.filter((e) => e.name === 'running').map((e) => [e.ts, e.dur]);
    expect(runs).toEqual([
      [5000, 5000],
      [10000, 2000],
    ]);
    expect(warnings.some((w) => /overlapping runs/.test(w) || /started before the previous run/.test(w))).toBe(true);
  });

  it('sparse task ids cost bytes each, not a 512-byte bitmap each (a hostile trace cannot make the reader take 150 times its size)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = heap();
    const summarizer = new TraceSummarizer();
    // 50,000 ends of tasks not created in the trace, with ids far apart: about 6 bytes each in a file.
    for (let i = 0; i < 50_000; i++) {
      const event: TraceEvent = { kind: 'taskEnd', ts: i, flow: 1, task: (i * 2654435761) % 2 ** 52 * 2 + 1, location: null };
      summarizer.add(event);
    }
    const grown = heap() - before;
    expect(summarizer.finish({ complete: false, bytesRead: 0, header: null, footer: null, problem: null }).summary.tasks).toBe(50_000);
    // Measured: 13.5 MB (77 MB with a bitmap per id).
    expect(grown, `${(grown / 1e6).toFixed(1)} MB`).toBeLessThan(30 * 1024 * 1024);
  });
});
