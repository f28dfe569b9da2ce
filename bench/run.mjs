// tstrace benchmark suite: the runtime's hot path against the physical limit and against peers, on
// Node 24 and on this Node side by side (bench/hot-path.mjs, one child process each), and so are the
// transformer's call benchmarks and build times and the bundler plugin's builds. Figures, not
// assertions: the targets are printed as met / not met.
//
//   npm run bench                 build, then the full run (about 9 minutes on 2 cores): the hot path,
//                                 the OpenTelemetry bridge's part — bench/otel.mjs —, the
//                                 transformer's part — bench/transformer.mjs —, the bundler
//                                 plugin's build times — bench/bundler.mjs —, then the reader's part —
//                                 bench/reader.mjs: a 10M-event trace read and summarized, next to
//                                 Go's loader (with Go 1.19)
//   node bench/run.mjs --quick    a smoke run with few iterations and a 1M-event trace (needs a build)
//   TSTRACE_BENCH_DIST=/other/dist/esm node bench/run.mjs    measure another build (A/B a change)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchNodes, lpad, pad, printMachine } from './machine.mjs';
import { runtimeDir } from './runtime-dir.mjs';
import { runReaderBench } from './reader.mjs';
import { runTransformerBench } from './transformer.mjs';
import { runBundlerBench } from './bundler.mjs';
import { measureFlightCost, printFlightCost } from './flight.mjs';
import { measureOtelBridge, printOtelBridge } from './otel.mjs';

const quick = process.argv.includes('--quick');
const config = quick
  ? { rounds: 3, warmups: 1, roundMs: 30, minN: 200_000, maxN: 500_000, pairs: 1_000_000, chunk: 20_000, verifyFile: true, awaitTax: { rounds: 3, n: 100_000 }, sessions: { sessions: 100, sessionMs: 5 } }
  : { rounds: 9, warmups: 2, roundMs: 250, minN: 1_000_000, maxN: 5_000_000, pairs: 5_000_000, chunk: 20_000, verifyFile: true, awaitTax: { rounds: 9, n: 500_000 }, sessions: { sessions: 400, sessionMs: 5 } };

printMachine(`tstrace bench${quick ? ' (--quick: smoke run, figures are rough)' : ''}`);
console.log(`rounds: ${config.rounds} (median reported), warm-up rounds: ${config.warmups}, ~${config.roundMs} ms per round, n per round in [${config.minN}, ${config.maxN}]`);
console.log(`runtime: ${runtimeDir}`);
console.log(`tracing on = start(file) with default options (gc, heap, eventLoop), stopped after each round\n`);

const started = Date.now();
// The hot path on each Node in a child process of its own: Node 24 first (performance is judged there).
const hotPath = fileURLToPath(new URL('./hot-path.mjs', import.meta.url));
const runOn = (binary) => JSON.parse(execFileSync(binary, [hotPath, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, env: process.env }).toString());
const runs = benchNodes().map((node) => runOn(node.binary));

// ---------------------------------------------------------------------------------------------------
const fmt = (x, digits = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(digits));
const tracingLabel = { on: 'on', off: 'off', peer: '-' };

for (const run of runs) {
  const by = Object.fromEntries(run.results.map((r) => [r.key, r]));
  const ideal = by.ideal.median;
  const empty = by.empty.median;
  console.log(`node ${run.node} (V8 ${run.v8})`);
  console.log(`${pad('operation', 38)}${pad('tracing', 9)}${lpad('ns/op', 9)}${lpad('min–max', 16)}${lpad('− loop', 9)}${lpad('× ideal', 9)}${lpad('n/round', 10)}`);
  console.log('-'.repeat(100));
  for (const r of run.results) {
    console.log(
      pad(r.name, 38) +
        pad(tracingLabel[r.phase], 9) +
        lpad(fmt(r.median, 2), 9) +
        lpad(`${fmt(r.min, 2)}–${fmt(r.max, 2)}`, 16) +
        lpad(fmt(r.median - empty, 2), 9) +
        lpad(r.key === 'empty' ? '' : `${(r.median / ideal).toFixed(2)}`, 9) +
        lpad(r.n.toLocaleString('en-US'), 10),
    );
  }
  const tp = run.throughput;
  console.log(`throughput: ${tp.events.toLocaleString('en-US')} region events in ${tp.seconds.toFixed(3)} s to stop() resolving = ${(tp.eventsPerSecond / 1e6).toFixed(2)} M events/s; ${tp.bytesPerEvent.toFixed(2)} bytes per event; dropped: ${tp.dropped}`);
  if (tp.verifyNote !== undefined) console.log(`  read back: ${tp.verified ? 'OK' : 'MISMATCH'} (${tp.verifyNote})`);
  console.log(`await elsewhere (an uninstrumented \`await helper()\`): ${fmt(run.awaitTax.offNs, 1)} ns off, ${fmt(run.awaitTax.onNs, 1)} ns with tracing on`);
  const sc = run.scheduling;
  console.log(`scheduling events (20 tasks awaiting, an immediate every 100 awaits): ${fmt(sc.onNs, 1)} ns per await with annotations only, ${fmt(sc.schedulingNs, 1)} ns with scheduling: true; ${sc.bytesPerIteration.toFixed(2)} trace bytes per await`);
  const ss = run.sessions;
  console.log(`a long-lived loop across ${ss.sessions} tracing sessions (a task and a region across an await per turn): ${fmt(ss.early, 1)} ns per turn in sessions 20–59, ${fmt(ss.late, 1)} ns in the last 40`);
  if (run.dropped > 0) console.log(`WARNING: ${run.dropped} events were dropped during tracing-on rounds; those figures are too low.`);
  console.log('');
}
console.log(`ns/op: median of rounds; "− loop": minus the empty loop; "× ideal": ratio to the ideal recorder (a region pair, same run).`);

// ---------------------------------------------------------------------------------------------------
/** Each target: [what, value on a run, met on a run]. */
const targets = [
  ['hand-written region pair ≤ 1.3× ideal', (by) => `${(by.regionOn.median / by.ideal.median).toFixed(2)}×`, (by) => by.regionOn.median <= 1.3 * by.ideal.median],
  ['compiled sync region ≤ 1.3× ideal', (by) => `${(by.compiledOn.median / by.ideal.median).toFixed(2)}×`, (by) => by.compiledOn.median <= 1.3 * by.ideal.median],
  ['OTel span / region pair ≥ 10×', (by) => `${(by.otel.median / by.regionOn.median).toFixed(1)}× (ideal ${(by.otel.median / by.ideal.median).toFixed(1)}×)`, (by) => by.otel.median >= 10 * by.regionOn.median],
  ['User Timing / region pair ≥ 3×', (by) => `${(by.userTiming.median / by.regionOn.median).toFixed(1)}× (ideal ${(by.userTiming.median / by.ideal.median).toFixed(1)}×)`, (by) => by.userTiming.median >= 3 * by.regionOn.median],
  ['disabled startRegion+end ≤ call + 2 ns', (by) => `+${fmt(by.regionOff.median - by.plain.median, 2)} ns`, (by) => by.regionOff.median <= by.plain.median + 2],
  ['disabled withRegion(fn) ≤ fn() + 2 ns', (by) => `+${fmt(by.withRegionOff.median - by.plain.median, 2)} ns`, (by) => by.withRegionOff.median <= by.plain.median + 2],
  ['await elsewhere, on / off ≤ 1.2×', (by, run) => `${run.awaitTax.ratio.toFixed(2)}×`, (by, run) => run.awaitTax.ratio <= 1.2],
  ['scheduling on / off, await-heavy ≤ 1.1×', (by, run) => `${run.scheduling.ratio.toFixed(2)}×`, (by, run) => run.scheduling.ratio <= 1.1],
  ['long-lived loop, late / early sessions ≤ 1.2×', (by, run) => `${run.sessions.ratio.toFixed(2)}×`, (by, run) => run.sessions.ratio <= 1.2],
  ['region events to a file ≥ 15 M/s', (by, run) => `${(run.throughput.eventsPerSecond / 1e6).toFixed(2)} M/s`, (by, run) => run.throughput.eventsPerSecond >= 15e6 && run.throughput.dropped === 0],
  ['≤ 8 bytes per region event', (by, run) => `${run.throughput.bytesPerEvent.toFixed(2)} B`, (by, run) => run.throughput.bytesPerEvent <= 8],
];
console.log(`\ntargets${runs.map((run) => lpad(`node ${run.node.split('.')[0].slice(1)}`, 30)).join('')}`);
for (const [what, value, met] of targets) {
  const cells = runs.map((run) => {
    const by = Object.fromEntries(run.results.map((r) => [r.key, r]));
    return lpad(`${met(by, run) ? 'met' : 'NOT MET'}  ${value(by, run)}`, 30);
  });
  console.log(`  ${pad(what, 40)}${cells.join('')}`);
}
{
  const run = runs[runs.length - 1];
  const by = Object.fromEntries(run.results.map((r) => [r.key, r]));
  console.log(`\nfor reference (node ${run.node})`);
  console.log(`  withRegion(fn) on / startRegion+end on: ${(by.withRegionOn.median / by.regionOn.median).toFixed(2)}×`);
  console.log(`  tracingChannel.traceSync(fn) / region pair: ${(by.tracingChannel.median / by.regionOn.median).toFixed(2)}×`);
  console.log(`  newTask+end on: ${fmt(by.taskOn.median, 2)} ns; log on: ${fmt(by.logOn.median, 2)} ns`);
  console.log(`  one performance.now(): ${fmt(by.clock.median, 2)} ns, so 2 clock reads are ${((2 * by.clock.median) / by.ideal.median * 100).toFixed(0)}% of the ideal recorder`);
}
// The flight recorder's cost next to streaming to a file (bench/flight.mjs), on this Node.
printFlightCost(await measureFlightCost({ quick }));
// tstrace/otel's bridge next to the OpenTelemetry SDK by hand (bench/otel.mjs), on this Node.
printOtelBridge(await measureOtelBridge({ quick }));
// The transformer's benchmarks (bench/transformer.mjs): method calls, async calls, build time.
await runTransformerBench({ quick, config });
// The bundler plugin's build time (bench/bundler.mjs): tspc, Vite and esbuild with and without it.
await runBundlerBench({ quick, rounds: quick ? 1 : 3 });
// Reading a big trace (bench/reader.mjs): analyzeTrace and readTrace against Go's loader.
await runReaderBench({ quick });

console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
