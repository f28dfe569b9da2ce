// The runtime's hot path on the Node that runs this file: the contenders (bench/contenders.mjs), the
// write throughput and the await tax, as JSON on stdout. bench/run.mjs runs it once per Node version.
//
//   node bench/hot-path.mjs '{"rounds":9,…}'      (config: see bench/run.mjs)
import { rmSync } from 'node:fs';
import { measureAwaitTax, measureSchedulingCost } from './await-tax.mjs';
import { measureSessionCost } from './sessions.mjs';
import { contenders, droppedInRounds, tracePath } from './contenders.mjs';
import { runSuite } from './harness.mjs';
import { measureThroughput } from './throughput.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const started = Date.now();
const label = `node ${process.versions.node.split('.')[0]}`;
const results = await runSuite(contenders, {
  ...config,
  onRound: (r, total) => process.stderr.write(`  ${label}: round ${r}/${total} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
});
process.stderr.write(`  ${label}: throughput run (${config.pairs.toLocaleString('en-US')} region pairs)...\n`);
const throughput = await measureThroughput(tracePath, config);
rmSync(tracePath, { force: true });
process.stderr.write(`  ${label}: await tax...\n`);
const awaitTax = await measureAwaitTax(config.awaitTax);
process.stderr.write(`  ${label}: scheduling events on vs off...\n`);
const scheduling = await measureSchedulingCost(config.awaitTax);
process.stderr.write(`  ${label}: a long-lived loop across ${config.sessions.sessions} tracing sessions...\n`);
const sessions = await measureSessionCost(config.sessions);

process.stdout.write(
  JSON.stringify({
    node: process.version,
    v8: process.versions.v8,
    dropped: droppedInRounds.events,
    results: results.map(({ contender: c, n, median, min, max }) => ({ key: c.key, name: c.name, phase: c.phase, n, median, min, max })),
    throughput,
    awaitTax,
    scheduling,
    sessions,
  }),
);
