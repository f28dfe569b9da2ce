// tstrace benchmark suite: the runtime's hot path against the physical limit and against peers, in one
// process. Figures, not assertions: the targets are printed as met / not met.
//
//   npm run bench                 build, then the full run (about 2 minutes on 2 cores, the
//                                 transformer's part — bench/transformer.mjs — included), then the
//                                 reader's part — bench/reader.mjs: a 10M-event trace read and
//                                 summarized, next to Go's loader; about 1.5 minutes more with Go 1.19
//   node bench/run.mjs --quick    a smoke run with few iterations and a 1M-event trace (needs a build)
//   TSTRACE_BENCH_DIST=/other/dist/esm node bench/run.mjs    measure another build (A/B a change)
import { rmSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release } from 'node:os';
import { contenders, droppedInRounds, tracePath } from './contenders.mjs';
import { runtimeDir } from './runtime-dir.mjs';
import { runSuite } from './harness.mjs';
import { measureThroughput } from './throughput.mjs';
import { runReaderBench } from './reader.mjs';
import { runTransformerBench } from './transformer.mjs';

const quick = process.argv.includes('--quick');
const config = quick
  ? { rounds: 3, warmups: 1, roundMs: 30, minN: 200_000, maxN: 500_000, pairs: 1_000_000, chunk: 20_000, verifyFile: true }
  : { rounds: 9, warmups: 2, roundMs: 250, minN: 1_000_000, maxN: 5_000_000, pairs: 5_000_000, chunk: 20_000, verifyFile: true };

const cpuList = cpus();
console.log(`tstrace bench${quick ? ' (--quick: smoke run, figures are rough)' : ''}`);
console.log(`node ${process.version} (V8 ${process.versions.v8}) on ${platform()} ${arch()} ${release()}`);
console.log(`CPU: ${cpuList[0]?.model ?? 'unknown'} × ${cpuList.length}`);
const load = loadavg()[0];
console.log(`load average (1 min) before the run: ${load.toFixed(2)}${load > 0.5 ? '  — other processes are using the CPU; figures will be noisier and higher' : ''}`);
console.log(`rounds: ${config.rounds} (median reported), warm-up rounds: ${config.warmups}, ~${config.roundMs} ms per round, n per round in [${config.minN}, ${config.maxN}]`);
console.log(`runtime: ${runtimeDir}`);
console.log(`tracing on = start('${tracePath}') with default options (gc, heap, eventLoop), stopped after each round\n`);

const started = Date.now();
const results = await runSuite(contenders, {
  ...config,
  onRound: (r, total) => process.stderr.write(`  round ${r}/${total} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
});
const by = Object.fromEntries(results.map((r) => [r.contender.key, r]));

// ---------------------------------------------------------------------------------------------------
const fmt = (x, digits = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(digits));
const pad = (s, w) => String(s).padEnd(w);
const lpad = (s, w) => String(s).padStart(w);
const tracingLabel = { on: 'on', off: 'off', peer: '-' };
const ideal = by.ideal.median;
const empty = by.empty.median;

console.log(`\n${pad('operation', 38)}${pad('tracing', 9)}${lpad('ns/op', 9)}${lpad('min–max', 16)}${lpad('− loop', 9)}${lpad('× ideal', 9)}${lpad('n/round', 10)}`);
console.log('-'.repeat(100));
for (const r of results) {
  const c = r.contender;
  console.log(
    pad(c.name, 38) +
      pad(tracingLabel[c.phase], 9) +
      lpad(fmt(r.median, 2), 9) +
      lpad(`${fmt(r.min, 2)}–${fmt(r.max, 2)}`, 16) +
      lpad(fmt(r.median - empty, 2), 9) +
      lpad(c.key === 'empty' ? '' : `${(r.median / ideal).toFixed(2)}`, 9) +
      lpad(r.n.toLocaleString('en-US'), 10),
  );
}
console.log(`ns/op: median of rounds; "− loop": minus the empty loop; "× ideal": ratio to the ideal recorder (a region pair).`);
if (droppedInRounds.events > 0) console.log(`WARNING: ${droppedInRounds.events} events were dropped during tracing-on rounds; those figures are too low.`);

// ---------------------------------------------------------------------------------------------------
process.stderr.write(`  throughput run (${config.pairs.toLocaleString('en-US')} region pairs)...\n`);
const tp = await measureThroughput(tracePath, config);
rmSync(tracePath, { force: true });

console.log(`\nthroughput: ${tp.events.toLocaleString('en-US')} region events (startRegion/end) into ${tracePath}`);
console.log(`  ${tp.seconds.toFixed(3)} s from the first event to stop() resolving = ${(tp.eventsPerSecond / 1e6).toFixed(2)} M events/s`);
console.log(`  file: ${tp.bytes.toLocaleString('en-US')} bytes = ${tp.bytesPerEvent.toFixed(2)} bytes per region event; dropped: ${tp.dropped}`);
if (tp.verifyNote !== undefined) console.log(`  read back: ${tp.verified ? 'OK' : 'MISMATCH'} (${tp.verifyNote})`);

// ---------------------------------------------------------------------------------------------------
const region = by.regionOn.median;
const plain = by.plain.median;
const ceiling = (peer) => `the ideal recorder itself reaches ${(peer / ideal).toFixed(1)}×`;
const targets = [
  [`region pair ≤ 1.3× ideal recorder`, `${(region / ideal).toFixed(2)}× (${fmt(region, 2)} vs ${fmt(ideal, 2)} ns)`, region <= 1.3 * ideal],
  [`≥ 10× cheaper than an OTel span`, `${(by.otel.median / region).toFixed(1)}× (${fmt(by.otel.median)} vs ${fmt(region, 2)} ns)`, by.otel.median >= 10 * region, ceiling(by.otel.median)],
  [`≥ 3× cheaper than User Timing`, `${(by.userTiming.median / region).toFixed(1)}× (${fmt(by.userTiming.median)} vs ${fmt(region, 2)} ns)`, by.userTiming.median >= 3 * region, ceiling(by.userTiming.median)],
  [`disabled startRegion+end ≤ plain call + 2 ns`, `${fmt(by.regionOff.median - plain, 2)} ns over (${fmt(by.regionOff.median, 2)} vs ${fmt(plain, 2)} ns)`, by.regionOff.median <= plain + 2],
  [`disabled withRegion(fn) ≤ plain fn() + 2 ns`, `${fmt(by.withRegionOff.median - plain, 2)} ns over (${fmt(by.withRegionOff.median, 2)} vs ${fmt(plain, 2)} ns)`, by.withRegionOff.median <= plain + 2],
  [`≥ 10 M events/s written`, `${(tp.eventsPerSecond / 1e6).toFixed(2)} M/s`, tp.eventsPerSecond >= 10e6 && tp.dropped === 0],
  [`≤ 8 bytes per region event`, `${tp.bytesPerEvent.toFixed(2)} B`, tp.bytesPerEvent <= 8],
];
console.log(`\ntargets`);
for (const [what, value, met, note] of targets) console.log(`  ${met ? 'met    ' : 'NOT MET'}  ${pad(what, 46)} ${value}${note ? `; ${note}` : ''}`);

console.log(`\nfor reference`);
console.log(`  withRegion(fn) on / startRegion+end on: ${(by.withRegionOn.median / region).toFixed(2)}×`);
console.log(`  tracingChannel.traceSync(fn) / region pair: ${(by.tracingChannel.median / region).toFixed(2)}×`);
console.log(`  newTask+end on: ${fmt(by.taskOn.median, 2)} ns; log on: ${fmt(by.logOn.median, 2)} ns`);
console.log(`  one performance.now(): ${fmt(by.clock.median, 2)} ns, so 2 clock reads are ${((2 * by.clock.median) / ideal * 100).toFixed(0)}% of the ideal recorder`);
// The transformer's benchmarks (bench/transformer.mjs): method calls, async calls, build time.
await runTransformerBench({ quick, config });
// Reading a big trace (bench/reader.mjs): analyzeTrace and readTrace against Go's loader.
await runReaderBench({ quick });

console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
