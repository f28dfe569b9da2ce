// One case of the campaign, end to end: generate it (from the seed and its index), check every reader
// entry point, and — for every `cliEvery`-th case — one CLI command in a child process.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCorpus } from './corpus.mjs';
import { caseArbitrary, caseAt } from './cases.mjs';
import { checkCase } from './oracle.mjs';
import { checkCli, CLI_COMMANDS } from './cli-check.mjs';
import { readTrace } from 'tstrace/reader';

/** The corpus (fuzz/corpus unless `corpusDir`; recorded when empty or `rewrite`) and the case arbitrary over it. */
export async function prepare(corpusDir, { rewrite = false } = {}) {
  const corpus = await buildCorpus(corpusDir, { rewrite });
  return { corpus, arbitrary: caseArbitrary(corpus) };
}

/** The CLI command of case `index`, or -1: every `cliEvery`-th case, the commands in turn. */
export function cliCommandOf(index, cliEvery) {
  if (cliEvery <= 0 || index % cliEvery !== 0) return -1;
  return (index / cliEvery) % CLI_COMMANDS.length;
}

/**
 * Runs case `index` of campaign `seed`. Options: `tmpDir`, `cliEvery` (0: no CLI), `timeBoundMs`,
 * `memoryBoundBytes`, `cliTimeoutMs`. Returns the case and what the oracle found.
 */
export async function runCase({ arbitrary }, seed, index, options) {
  const c = caseAt(arbitrary, seed, index);
  const result = await checkCase(c, options);
  let cli = null;
  const which = cliCommandOf(index, options.cliEvery ?? 0);
  if (which >= 0) {
    const file = join(options.tmpDir, `cli-case-${process.pid}.trace`);
    writeFileSync(file, c.bytes);
    const status = await readTrace(c.bytes, () => {});
    cli = await checkCli(file, which, status, { tmpDir: options.tmpDir, timeoutMs: options.cliTimeoutMs });
    result.failures.push(...cli.failures);
    cli = { command: CLI_COMMANDS[which].join(' '), code: cli.code, ms: cli.ms };
  }
  return { case: c, result, cli };
}
