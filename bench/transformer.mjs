// The transformer's benchmarks, run by bench/run.mjs after the runtime's: what an instrumented call
// costs against the same method written by hand, wrapped by the runtime decorator, uninstrumented,
// and in an OpenTelemetry active span; and what the plugin costs a build. Figures, not assertions:
// the targets are printed as met / not met.
//
// Method calls: bench/fixtures/methods.ts, compiled before any timing (bench/transformer-compile.mjs,
// a child process) into bench/.work/run-PID/fixtures/ — TC39 decorators, ES2022, ES modules — and
// timed on Node 24 and on the Node running this file, each in a child process of its own
// (`node bench/transformer.mjs --calls JSON`), printed side by side.
// Build time: a generated project (bench/transformer-project.mjs) built by `tsc`, by ts-patch's `tspc`
// without plugins, and by `tspc` with the tstrace plugin, each as a child process, on both Nodes.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { median } from './harness.mjs';
import { benchNodes, lpad, pad } from './machine.mjs';
import { runtimeDir } from './runtime-dir.mjs';
import { runSuite } from './transformer-harness.mjs';
import { generateProject } from './transformer-project.mjs';

const { start, stop } = await import(`${runtimeDir}/runtime/index.js`);
const { S } = await import(`${runtimeDir}/runtime/recorder.js`);

const require = createRequire(import.meta.url);
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const tracePath = join(tmpdir(), `tstrace-bench-transformer-${process.pid}.trace`);
// Compiled fixtures and the generated project: under the repository (so `tstrace` resolves through
// node_modules/tstrace), one folder per run (parallel runs must not overwrite each other's files),
// removed at the end.
const workRoot = join(benchDir, '.work', `run-${process.pid}`);

// ---------------------------------------------------------------------------------------------------
// The subjects, set by loadFixtures(): one object per shape (see bench/fixtures/methods.ts).
let plain; // Plain, compiled without the plugin
let compiled; // Instrumented, compiled with the plugin (tspc)
let decorated; // Instrumented, compiled without the plugin: @traced is the runtime decorator
let hand; // HandWritten: startRegion(current(), name) … region.end()
let otel; // OtelSpans: tracer.startActiveSpan(name, span => { …; span.end() })

function compileFixtures() {
  const t0 = performance.now();
  const child = spawnSync(process.execPath, [join(benchDir, 'transformer-compile.mjs'), join(workRoot, 'fixtures'), runtimeDir], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`compiling the bench fixtures failed:\n${child.stderr}${child.stdout}`);
  return { ...JSON.parse(child.stdout), wallMs: performance.now() - t0 };
}

/** bench/transformer-off.mjs in a child process: sync calls in a process that never starts tracing. */
function measureNeverTraced(outRoot, config) {
  const child = spawnSync(process.execPath, [join(benchDir, 'transformer-off.mjs'), outRoot, JSON.stringify(config)], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`bench/transformer-off.mjs failed:\n${child.stderr}${child.stdout}`);
  return JSON.parse(child.stdout).map(({ key, name, n, median, min, max }) => ({ key, name, phase: 'never', n, median, min, max }));
}

async function loadFixtures(outDirs) {
  const traced = await import(pathToFileURL(join(outDirs.traced, 'methods.js')).href);
  const untraced = await import(pathToFileURL(join(outDirs.plain, 'methods.js')).href);
  const tracer = new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }).getTracer('bench');
  plain = new untraced.Plain();
  compiled = new traced.Instrumented();
  decorated = new untraced.Instrumented();
  hand = new untraced.HandWritten();
  otel = new untraced.OtelSpans(tracer);
}

// ---------------------------------------------------------------------------------------------------
// Tracing on: as in contenders.mjs, start() with default options before the round, stop() after it.
const dropped = { events: 0 };
const tracingOn = {
  phase: 'on',
  setup() {
    start(tracePath);
  },
  async teardown() {
    dropped.events += S.trace.dropped;
    await stop();
  },
};
// Async rounds with tracing on: one instrumented async call first, so that tstrace's AsyncLocalStorage
// is in use (its promise hooks are installed at the first enterWith, and then every promise pays for
// them), as in any traced program with instrumented async code.
const tracingOnAls = {
  ...tracingOn,
  async setup() {
    start(tracePath);
    await compiled.addLater(0);
  },
};
// OpenTelemetry as an application sets it up: one AsyncLocalStorage context manager (registered for
// the rounds of this contender only: its promise hooks would slow every other async contender; one for
// all of them, as an application has one: on Node 24 each new one would add a key to the context
// frames of this process's long-lived chains, which every scope change then copies).
const otelContextManager = new AsyncLocalStorageContextManager();
const otelOn = {
  phase: 'otel',
  setup() {
    if (!context.setGlobalContextManager(otelContextManager.enable())) throw new Error('a global context manager is already registered');
  },
  teardown() {
    context.disable();
  },
};

// One loop function per contender, so each call site stays monomorphic and is optimised on its own.
function syncPlainOff(n) {
  const o = plain;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncPlainOn(n) {
  const o = plain;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncCompiledOff(n) {
  const o = compiled;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncCompiledOn(n) {
  const o = compiled;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncHandOff(n) {
  const o = hand;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncHandOn(n) {
  const o = hand;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncDecoratedOff(n) {
  const o = decorated;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncDecoratedOn(n) {
  const o = decorated;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}
function syncOtel(n) {
  const o = otel;
  for (let i = 0; i < n; i++) o.add(1);
  return o.total;
}

async function asyncPlainOff(n) {
  const o = plain;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncPlainOn(n) {
  const o = plain;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncCompiledOff(n) {
  const o = compiled;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncCompiledOn(n) {
  const o = compiled;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncHandOff(n) {
  const o = hand;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncHandOn(n) {
  const o = hand;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncDecoratedOff(n) {
  const o = decorated;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncDecoratedOn(n) {
  const o = decorated;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}
async function asyncOtel(n) {
  const o = otel;
  for (let i = 0; i < n; i++) await o.addLater(1);
  return o.total;
}

const off = { phase: 'off' };
const syncContenders = [
  { name: 'uninstrumented  o.add(x)', key: 'plainOff', ...off, loop: syncPlainOff },
  { name: 'uninstrumented  o.add(x)', key: 'plainOn', ...tracingOn, loop: syncPlainOn },
  { name: 'instrumented (tspc, @traced)', key: 'compiledOff', ...off, loop: syncCompiledOff },
  { name: 'instrumented (tspc, @traced)', key: 'compiledOn', ...tracingOn, loop: syncCompiledOn },
  { name: 'hand-written startRegion/end', key: 'handOff', ...off, loop: syncHandOff },
  { name: 'hand-written startRegion/end', key: 'handOn', ...tracingOn, loop: syncHandOn },
  { name: 'runtime @traced (tsc, TC39)', key: 'decoratedOff', ...off, loop: syncDecoratedOff },
  { name: 'runtime @traced (tsc, TC39)', key: 'decoratedOn', ...tracingOn, loop: syncDecoratedOn },
  { name: 'OTel startActiveSpan (ALS ctx)', key: 'otel', ...otelOn, loop: syncOtel, warmN: 50_000 },
];
const asyncContenders = [
  { name: 'uninstrumented  await o.addLater(x)', key: 'plainOff', ...off, loop: asyncPlainOff },
  { name: 'uninstrumented  await o.addLater(x)', key: 'plainOn', ...tracingOnAls, loop: asyncPlainOn },
  { name: 'instrumented (tspc, @traced)', key: 'compiledOff', ...off, loop: asyncCompiledOff },
  { name: 'instrumented (tspc, @traced)', key: 'compiledOn', ...tracingOnAls, loop: asyncCompiledOn },
  { name: 'hand-written startRegion/end', key: 'handOff', ...off, loop: asyncHandOff },
  { name: 'hand-written startRegion/end', key: 'handOn', ...tracingOnAls, loop: asyncHandOn },
  { name: 'runtime @traced (tsc, TC39)', key: 'decoratedOff', ...off, loop: asyncDecoratedOff },
  { name: 'runtime @traced (tsc, TC39)', key: 'decoratedOn', ...tracingOnAls, loop: asyncDecoratedOn },
  { name: 'OTel startActiveSpan (ALS ctx)', key: 'otel', ...otelOn, loop: asyncOtel },
].map((c) => ({ ...c, roundWarmN: 2_000 }));

// ---------------------------------------------------------------------------------------------------
// Build time.
function tool(pkg, bin) {
  return join(dirname(require.resolve(`${pkg}/package.json`)), bin);
}

/** Phase times `tsc --extendedDiagnostics` prints, in seconds. */
function phases(stdout) {
  const out = {};
  for (const m of stdout.matchAll(/^(Program|Check|Emit|transformTime|Total) time:\s+([\d.]+)s$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

function buildOnce(dir, build, node) {
  const t0 = process.hrtime.bigint();
  const child = spawnSync(node, [build.bin, '-p', build.config, '--extendedDiagnostics'], { cwd: dir, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (child.status !== 0) throw new Error(`${build.name} failed (exit ${child.status}):\n${child.stdout}${child.stderr}`);
  return { seconds, phases: phases(child.stdout) };
}

function countInstrumented(outDir) {
  let functions = 0;
  let files = 0;
  for (const file of readdirSync(outDir)) {
    if (!file.endsWith('.js')) continue;
    const text = readFileSync(join(outDir, file), 'utf8');
    const n = (text.match(/__tstrace_\d+\.(?:enter|call)\(/g) ?? []).length;
    functions += n;
    if (n > 0) files++;
  }
  return { functions, files };
}

/** The build times on each of `nodes` (bench/machine.mjs benchNodes), one project, runs interleaved across builds and Nodes. */
function measureBuilds({ lines, runs, warmup }, nodes, progress) {
  const dir = join(workRoot, 'project');
  const project = generateProject(dir, lines);
  const tsc = tool('typescript', 'bin/tsc');
  const tspc = tool('ts-patch', 'bin/tspc.js');
  const builds = [
    { key: 'tsc', name: 'tsc', bin: tsc, config: 'tsconfig.plain.json' },
    { key: 'tspcBare', name: 'tspc, no plugin', bin: tspc, config: 'tsconfig.plain.json' },
    { key: 'tspc', name: 'tspc + tstrace plugin', bin: tspc, config: 'tsconfig.traced.json' },
  ];
  const runsOf = nodes.flatMap((node) => builds.map((build) => ({ node, build, samples: [] })));
  if (warmup) {
    // Untimed: ts-patch's patched-compiler cache (one per Node), and every file in the page cache.
    progress('  build time: warm-up builds (untimed)...\n');
    for (const node of nodes) buildOnce(dir, builds[2], node.binary);
  }
  for (let r = 0; r < runs; r++) {
    // Rotated order: a drift of the machine's speed during the runs does not favour one build.
    for (let i = 0; i < runsOf.length; i++) {
      const run = runsOf[(i + r) % runsOf.length];
      run.samples.push(buildOnce(dir, run.build, run.node.binary));
      progress(`  build time: run ${r + 1}/${runs}, ${run.build.name} on Node ${run.node.major} done\n`);
    }
  }
  const instrumented = countInstrumented(join(dir, 'out-traced'));
  const leaked = countInstrumented(join(dir, 'out-plain'));
  if (instrumented.functions === 0 || leaked.functions !== 0) throw new Error(`the plugin did not instrument as expected: ${JSON.stringify({ instrumented, leaked })}`);
  const results = nodes.map((node) => {
    const byBuild = {};
    for (const { build, samples: s } of runsOf.filter((run) => run.node === node)) {
      const phase = (name) => median(s.map((x) => x.phases[name] ?? NaN));
      byBuild[build.key] = { build, seconds: median(s.map((x) => x.seconds)), all: s.map((x) => x.seconds), program: phase('Program'), check: phase('Check'), emit: phase('Emit'), transform: phase('transformTime'), total: phase('Total') };
    }
    return byBuild;
  });
  return { project, instrumented, results };
}

// ---------------------------------------------------------------------------------------------------
const fmt = (x, digits = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(digits));
const signed = (x) => `${x >= -0.005 ? '+' : '−'}${fmt(Math.abs(x), 2)}`;
const flat = (results) => results.map(({ contender: { key, name, phase }, n, median: med, min, max }) => ({ key, name, phase, n, median: med, min, max }));

/**
 * The method-call suites on the Node running this file (a child process of runTransformerBench, one per
 * Node): fixtures from `outDirs`, results as flat rows `{ key, name, phase, n, median, min, max }`.
 */
async function measureCalls({ quick, config, outDirs }, progress) {
  const started = Date.now();
  await loadFixtures(outDirs);
  const syncConfig = { rounds: config.rounds, warmups: config.warmups, warmN: 200_000, roundMs: quick ? 30 : 200, minN: quick ? 20_000 : 100_000, maxN: config.maxN };
  const asyncConfig = { rounds: config.rounds, warmups: config.warmups, warmN: quick ? 5_000 : 20_000, roundMs: quick ? 30 : 150, minN: quick ? 5_000 : 20_000, maxN: quick ? 200_000 : 1_000_000 };
  const onRound = (what) => (r, total) => progress(`  transformer ${what} (Node ${process.versions.node.split('.')[0]}): round ${r}/${total} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  const sync = flat(await runSuite(syncContenders, { ...syncConfig, onRound: onRound('sync') }));
  const asyncRows = flat(await runSuite(asyncContenders, { ...asyncConfig, onRound: onRound('async') }));
  progress(`  transformer sync, process never traced (Node ${process.versions.node.split('.')[0]}, child process)...\n`);
  const never = measureNeverTraced(dirname(outDirs.traced), { rounds: config.rounds, warmups: config.warmups, roundMs: quick ? 10 : 50, minN: quick ? 200_000 : 1_000_000, maxN: config.maxN });
  rmSync(tracePath, { force: true });
  return { node: process.version, v8: process.versions.v8, sync: [...sync, ...never], async: asyncRows, dropped: dropped.events, syncRoundMs: syncConfig.roundMs, asyncRoundMs: asyncConfig.roundMs };
}

function printTable(title, results) {
  const by = Object.fromEntries(results.map((r) => [r.key, r]));
  console.log(`\n${title}`);
  console.log(`${pad('operation', 38)}${pad('tracing', 9)}${lpad('ns/op', 9)}${lpad('min–max', 16)}${lpad('− uninstr.', 12)}${lpad('n/round', 10)}`);
  console.log('-'.repeat(94));
  for (const r of results) {
    // The same call uninstrumented, in the same state (OTel: tracing off, its context manager on).
    const base = r.phase === 'on' ? by.plainOn : r.phase === 'never' ? by.plainNever : by.plainOff;
    const tracing = r.phase === 'otel' ? '-' : r.phase;
    console.log(
      pad(r.name, 38) +
        pad(tracing, 9) +
        lpad(fmt(r.median, 2), 9) +
        lpad(`${fmt(r.min, 2)}–${fmt(r.max, 2)}`, 16) +
        lpad(r.key.startsWith('plain') ? '' : signed(r.median - base.median), 12) +
        lpad(r.n.toLocaleString('en-US'), 10),
    );
  }
  return by;
}

/** One Node's build table (tsc, tspc, tspc + plugin). */
function printBuilds(b, node, buildConfig) {
  console.log(`\nbuild time on node ${node.version}: each build a child process (--extendedDiagnostics, declaration + sourceMap emit), ${buildConfig.runs} run${buildConfig.runs > 1 ? 's' : ''} each, rotated order across builds and Nodes${buildConfig.warmup ? ' after untimed warm-up builds' : ''}, median`);
  console.log(`${pad('build', 26)}${lpad('wall s', 8)}${lpad('× tsc', 8)}${lpad('runs', 22)}${lpad('program', 9)}${lpad('check', 8)}${lpad('emit', 8)}${lpad('transform', 11)}${lpad('total', 8)}`);
  console.log('-'.repeat(108));
  for (const r of Object.values(b)) {
    console.log(
      pad(r.build.name, 26) +
        lpad(r.seconds.toFixed(2), 8) +
        lpad((r.seconds / b.tsc.seconds).toFixed(2), 8) +
        lpad(r.all.map((x) => x.toFixed(2)).join(' '), 22) +
        lpad(r.program.toFixed(2), 9) +
        lpad(r.check.toFixed(2), 8) +
        lpad(r.emit.toFixed(2), 8) +
        lpad(r.transform.toFixed(2), 11) +
        lpad(r.total.toFixed(2), 8),
    );
  }
}

/** The transformer's targets of one Node: [what, value, met]. */
function targetsOf(sync, asy, b) {
  // Async overheads against the uninstrumented call with tracing off: the instrumentation's whole cost,
  // including what enabling AsyncLocalStorage costs every promise.
  const asyncOverhead = asy.compiledOn.median - asy.plainOff.median;
  const otelOverhead = asy.otel.median - asy.plainOff.median;
  return [
    [`disabled instrumented call ≤ uninstrumented + 2 ns`, `${signed(sync.compiledOff.median - sync.plainOff.median)} ns`, sync.compiledOff.median <= sync.plainOff.median + 2],
    [`  the same, in a process that never traced`, `${signed(sync.compiledNever.median - sync.plainNever.median)} ns`, sync.compiledNever.median <= sync.plainNever.median + 2],
    [`disabled instrumented async ≤ uninstrumented + 2 ns`, `${signed(asy.compiledOff.median - asy.plainOff.median)} ns`, asy.compiledOff.median <= asy.plainOff.median + 2],
    [`instrumented async ≤ 0.3× OTel startActiveSpan`, `${(asyncOverhead / otelOverhead).toFixed(2)}× (${fmt(asyncOverhead)}/${fmt(otelOverhead)} ns)`, asyncOverhead <= 0.3 * otelOverhead],
    [`tspc + plugin ≤ 1.3× tsc (wall)`, `${(b.tspc.seconds / b.tsc.seconds).toFixed(2)}× (${b.tspc.seconds.toFixed(1)}/${b.tsc.seconds.toFixed(1)} s)`, b.tspc.seconds <= 1.3 * b.tsc.seconds],
  ];
}

/**
 * Runs the transformer's benchmarks on each Node (bench/machine.mjs benchNodes: Node 24 first, then
 * this one), each in a child process of its own, and prints their tables and the targets side by side.
 * `config` is run.mjs's; `progress` writes progress lines (stderr).
 */
export async function runTransformerBench({ quick, config, progress = (s) => process.stderr.write(s) }) {
  const started = Date.now();
  const compiledFixtures = compileFixtures();
  const nodes = benchNodes();
  const self = fileURLToPath(import.meta.url);
  const runs = nodes.map((node) => {
    const child = spawnSync(node.binary, [self, '--calls', JSON.stringify({ quick, config, outDirs: compiledFixtures.outDirs })], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    if (child.status !== 0) throw new Error(`the transformer's call benchmarks failed on node ${node.version} (exit ${child.status}):\n${child.stdout}`);
    return JSON.parse(child.stdout);
  });
  const buildConfig = quick ? { lines: 2_000, runs: 1, warmup: false } : { lines: 10_000, runs: 3, warmup: true };
  const builds = measureBuilds(buildConfig, nodes, progress);
  rmSync(workRoot, { recursive: true, force: true });

  console.log(`\n=== transformer ===`);
  console.log(
    `fixtures: bench/fixtures/methods.ts compiled with TypeScript ${compiledFixtures.typescript} (ES2022, ES modules, TC39 decorators) ` +
      `with the plugin and without, in ${(compiledFixtures.wallMs / 1000).toFixed(1)} s before any timing (not counted)`,
  );
  const same = Object.values(compiledFixtures.sameAsDirective).every(Boolean);
  console.log(`"// trace:region" on a method compiles to the same body as @traced: ${same ? 'yes (checked), so only @traced is timed' : `NO (${JSON.stringify(compiledFixtures.sameAsDirective)})`}`);
  console.log(`rounds: ${config.rounds} (median), sync ~${runs[0].syncRoundMs} ms per round, async ~${runs[0].asyncRoundMs} ms per round; tracing on as above; each Node in a child process of its own`);
  console.log(
    `build time: generated project of ${builds.project.lines.toLocaleString('en-US')} lines in ${builds.project.files} files ` +
      `(${builds.project.markedFiles} with tstrace markers; the plugin instrumented ${builds.instrumented.functions} functions in ${builds.instrumented.files} files)`,
  );

  const perNode = runs.map((run, i) => {
    console.log(`\n--- node ${run.node} (V8 ${run.v8}) ---`);
    const sync = printTable(`method calls: o.add(x) { this.total = (this.total + x) | 0; return this.total }`, run.sync);
    const asy = printTable(`async method calls, awaited one at a time: async o.addLater(x) { await null; …; return this.total }`, run.async);
    if (run.dropped > 0) console.log(`WARNING: ${run.dropped} events were dropped during tracing-on rounds; those figures are too low.`);
    const b = builds.results[i];
    printBuilds(b, nodes[i], buildConfig);
    printReference(sync, asy, b);
    return targetsOf(sync, asy, b);
  });
  console.log(`\n"− uninstr.": minus the uninstrumented call with tracing in the same state (OTel rows: minus the call with tracing off).`);
  console.log(`tracing "never": a child process that never starts tracing (bench/transformer-off.mjs); "off" rows ran in the same process as the "on" rows, between rounds with tracing on.`);
  console.log(`async "on" rounds: start(), then one instrumented async call, so tstrace's AsyncLocalStorage is in use (on Node 20 its promise hooks slow every promise).`);
  console.log(`OTel: BasicTracerProvider + NoopSpanProcessor, AsyncLocalStorageContextManager registered during its rounds only.`);
  console.log(`program/check/emit/transform/total: the compiler's own phase times in s (transform = all transformers, TypeScript's included), median.`);

  console.log(`\ntransformer targets${runs.map((run) => lpad(`node ${run.node.split('.')[0].slice(1)}`, 34)).join('')}`);
  perNode[0].forEach(([what], row) => {
    const cells = perNode.map((targets) => lpad(`${targets[row][2] ? 'met' : 'NOT MET'}  ${targets[row][1]}`, 34));
    console.log(`  ${pad(what, 52)}${cells.join('')}`);
  });
  console.log(`transformer part: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** What one Node's figures say beside the targets. */
function printReference(sync, asy, b) {
  console.log(`\nfor reference`);
  console.log(`  sync, tracing on: instrumented ${fmt(sync.compiledOn.median)} ns, hand-written ${fmt(sync.handOn.median)} ns (${(sync.compiledOn.median / sync.handOn.median).toFixed(2)}×), runtime decorator ${fmt(sync.decoratedOn.median)} ns (${(sync.decoratedOn.median / sync.compiledOn.median).toFixed(2)}× instrumented), OTel ${fmt(sync.otel.median)} ns (${(sync.otel.median / sync.compiledOn.median).toFixed(1)}× instrumented)`);
  console.log(`  sync, tracing off over uninstrumented: hand-written ${signed(sync.handOff.median - sync.plainOff.median)} ns, runtime decorator ${signed(sync.decoratedOff.median - sync.plainOff.median)} ns`);
  console.log(`  async, tracing on: instrumented ${fmt(asy.compiledOn.median)} ns, hand-written ${fmt(asy.handOn.median)} ns (no flow of its own), runtime decorator ${fmt(asy.decoratedOn.median)} ns (${(asy.decoratedOn.median / asy.compiledOn.median).toFixed(2)}× instrumented)`);
  console.log(`  async, tracing off over uninstrumented: hand-written ${signed(asy.handOff.median - asy.plainOff.median)} ns, runtime decorator ${signed(asy.decoratedOff.median - asy.plainOff.median)} ns`);
  console.log(`  async vs OTel without the promise-hook cost both pay (each minus the uninstrumented call with AsyncLocalStorage in use): ${((asy.compiledOn.median - asy.plainOn.median) / (asy.otel.median - asy.plainOn.median)).toFixed(2)}× (${fmt(asy.compiledOn.median - asy.plainOn.median)} vs ${fmt(asy.otel.median - asy.plainOn.median)} ns)`);
  console.log(`  tracing on costs an uninstrumented async call ${signed(asy.plainOn.median - asy.plainOff.median)} ns (AsyncLocalStorage), an uninstrumented sync call ${signed(sync.plainOn.median - sync.plainOff.median)} ns`);
  const ms = (seconds) => `${seconds >= 0 ? '+' : '−'}${Math.round(Math.abs(seconds) * 1000)} ms`;
  console.log(`  build: the plugin adds ${ms(b.tspc.seconds - b.tspcBare.seconds)} to tspc (transform phase ${ms(b.tspc.transform - b.tspcBare.transform)}, total ${ms(b.tspc.total - b.tspcBare.total)}); tspc itself adds ${ms(b.tspcBare.seconds - b.tsc.seconds)} to tsc`);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--calls') {
  // A child of runTransformerBench: the call suites on this Node, as JSON on stdout.
  process.stdout.write(JSON.stringify(await measureCalls(JSON.parse(process.argv[3]), (line) => process.stderr.write(line))));
}
