// A short fuzzing campaign (docs/fuzzing.md): the cases `npm run fuzz` runs by the 100,000, a few hundred
// here. The oracle and the cases are fuzz/*.mjs; the reader is reached only through `tstrace/reader` and
// the CLI through the package's `bin`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadTrace } from 'tstrace/reader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript modules without declarations
import { prepare, runCase } from '../fuzz/campaign.mjs';
// @ts-expect-error: plain JavaScript modules without declarations
import { checkCase } from '../fuzz/oracle.mjs';
// @ts-expect-error: plain JavaScript modules without declarations
import { CLI_COMMANDS } from '../fuzz/cli-check.mjs';

type Failure = { entry: string; message: string };
type Case = { kind: string; origin: string; bytes: Uint8Array; feed: { mode: string } };

let dir = '';
let context: { corpus: { name: string; bytes: Uint8Array }[]; arbitrary: fc.Arbitrary<Case> };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tstrace-fuzz-test-'));
  context = await prepare(); // fuzz/corpus: the fixed seed gives the same cases on every machine
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const describeFailures = (c: Case, failures: Failure[]) =>
  `${c.kind} (${c.origin}, ${c.bytes.length} bytes, fed as ${c.feed.mode}):\n${failures.map((f) => `  ${f.entry}: ${f.message}`).join('\n')}`;

/** The property every case must have: no rejection, a clear status, agreement, time and memory bounds. */
async function property(c: Case): Promise<void> {
  const { failures } = await checkCase(c, { tmpDir: dir, timeBoundMs: 10_000 });
  if (failures.length) throw new Error(describeFailures(c, failures));
}

describe('fuzzing: truncated, bit-flipped, spliced and generated traces', () => {
  it('has a corpus of real and hand-built traces that read as they should', async () => {
    const names = context.corpus.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['cappuccino', 'nested', 'misuse', 'batches', 'timed', 'dropped', 'execution', 'built-allTypes']));
    // If the format changes, rewrite the corpus: node fuzz/run.mjs --write-corpus --cases 0
    for (const seed of context.corpus) {
      const { status } = await loadTrace(seed.bytes);
      expect(status.complete, `${seed.name}: ${status.problem?.reason}`).toBe(seed.name !== 'built-unpaired');
    }
  });

  it('records a fresh corpus with the current runtime', async () => {
    const fresh = await prepare(join(dir, 'corpus'));
    expect(fresh.corpus.map((s: { name: string }) => s.name)).toEqual(context.corpus.map((s) => s.name));
    for (const seed of fresh.corpus) expect((await loadTrace(seed.bytes)).status.problem?.kind ?? 'complete', seed.name).toBe(seed.name === 'built-unpaired' ? 'unfinished' : 'complete');
  });

  it('300 cases of a fixed seed: every reader entry point succeeds or says clearly why it stopped', async () => {
    await fc.assert(fc.asyncProperty(context.arbitrary, property), { seed: 20251204, numRuns: 300, endOnFailure: false });
  });

  it('100 cases of a random seed (printed, for reproduction)', async () => {
    const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
    console.log(`fuzz test: random seed ${seed} (fc.assert's seed, FUZZ_SEED=${seed} runs it again; a failure also prints the path to the failing case)`);
    await fc.assert(fc.asyncProperty(context.arbitrary, property), { seed, numRuns: 100 });
  });

  it('every CLI command on fuzzed files exits 0 or 1 as the status says, with clear messages only', async () => {
    const seen = new Set<string>();
    for (let index = 0; index < CLI_COMMANDS.length; index++) {
      const { case: c, result, cli } = await runCase(context, 77, index, { tmpDir: dir, cliEvery: 1, timeBoundMs: 10_000, cliTimeoutMs: 30_000 });
      expect(result.failures, describeFailures(c, result.failures)).toEqual([]);
      expect([0, 1]).toContain(cli.code);
      seen.add(cli.command);
    }
    expect(seen.size).toBe(CLI_COMMANDS.length);
  });

  it('the oracle fails a case that breaks its rules (it can fail)', async () => {
    // Bounds no case can keep: the oracle must report them.
    const c: Case = { ...fc.sample(context.arbitrary, { seed: 1, numRuns: 1 })[0], feed: { mode: 'bytes' } };
    const { failures } = await checkCase(c, { tmpDir: dir, timeBoundMs: -1 });
    expect(failures.map((f: Failure) => f.entry)).toContain('time');
    const memory = await checkCase(c, { tmpDir: dir, memoryBoundBytes: -1 });
    expect(memory.failures.map((f: Failure) => f.entry)).toContain('memory');
  });
});
