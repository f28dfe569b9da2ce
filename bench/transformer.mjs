// The transformer's benchmarks, run by bench/run.mjs after the runtime's: what an instrumented call
// costs against the same method written by hand, wrapped by the runtime decorator, uninstrumented,
// and in an OpenTelemetry active span; and what the plugin costs a build. Figures, not assertions:
// the targets are printed as met / not met.
//
// Method calls: bench/fixtures/methods.ts, compiled before any timing (bench/transformer-compile.mjs,
// a child process) into bench/.work/run-PID/fixtures/ — TC39 decorators, ES2022, ES modules.
// Build time: a generated project (bench/transformer-project.mjs) built by `tsc`, by ts-patch's `tspc`
// without plugins, and by `tspc` with the tstrace plugin, each as a child process.
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
  return JSON.parse(child.stdout).map((r) => ({ ...r, contender: { key: r.key, name: r.name, phase: 'never' } }));
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
// OpenTelemetry as an application sets it up: an AsyncLocalStorage context manager (registered for
// the rounds of this contender only: its promise hooks would slow every other async contender).
const otelOn = {
  phase: 'otel',
  setup() {
    if (!context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())) throw new Error('a global context manager is already registered');
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

function buildOnce(dir, build) {
  const t0 = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [build.bin, '-p', build.config, '--extendedDiagnostics'], { cwd: dir, encoding: 'utf8' });
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

async function measureBuilds({ lines, runs, warmup }, progress) {
  const dir = join(workRoot, 'project');
  const project = generateProject(dir, lines);
  const tsc = tool('typescript', 'bin/tsc');
  const tspc = tool('ts-patch', 'bin/tspc.js');
  const builds = [
    { key: 'tsc', name: 'tsc', bin: tsc, config: 'tsconfig.plain.json' },
    { key: 'tspcBare', name: 'tspc, no plugin', bin: tspc, config: 'tsconfig.plain.json' },
    { key: 'tspc', name: 'tspc + tstrace plugin', bin: tspc, config: 'tsconfig.traced.json' },
  ];
  if (warmup) {
    // Untimed: ts-patch's patched-compiler cache, and every file (libraries, sources) in the page cache.
    progress('  build time: warm-up build (untimed)...\n');
    buildOnce(dir, builds[2]);
  }
  const samples = new Map(builds.map((b) => [b, []]));
  for (let r = 0; r < runs; r++) {
    // Rotated order: a drift of the machine's speed during the runs does not favour one build.
    for (let i = 0; i < builds.length; i++) {
      const b = builds[(i + r) % builds.length];
      samples.get(b).push(buildOnce(dir, b));
      progress(`  build time: run ${r + 1}/${runs}, ${b.name} done\n`);
    }
  }
  const instrumented = countInstrumented(join(dir, 'out-traced'));
  const leaked = countInstrumented(join(dir, 'out-plain'));
  if (instrumented.functions === 0 || leaked.functions !== 0) throw new Error(`the plugin did not instrument as expected: ${JSON.stringify({ instrumented, leaked })}`);
  const results = {};
  for (const b of builds) {
    const s = samples.get(b);
    const phase = (name) => median(s.map((x) => x.phases[name] ?? NaN));
    results[b.key] = { build: b, seconds: median(s.map((x) => x.seconds)), all: s.map((x) => x.seconds), program: phase('Program'), check: phase('Check'), emit: phase('Emit'), transform: phase('transformTime'), total: phase('Total') };
  }
  return { project, instrumented, results };
}

// ---------------------------------------------------------------------------------------------------
const fmt = (x, digits = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(digits));
const pad = (s, w) => String(s).padEnd(w);
const lpad = (s, w) => String(s).padStart(w);
const signed = (x) => `${x >= -0.005 ? '+' : '−'}${fmt(Math.abs(x), 2)}`;

function printTable(title, results) {
  const by = Object.fromEntries(results.map((r) => [r.contender.key, r]));
  console.log(`\n${title}`);
  console.log(`${pad('operation', 38)}${pad('tracing', 9)}${lpad('ns/op', 9)}${lpad('min–max', 16)}${lpad('− uninstr.', 12)}${lpad('n/round', 10)}`);
  console.log('-'.repeat(94));
  for (const r of results) {
    const c = r.contender;
    // The same call uninstrumented, in the same state (OTel: tracing off, its context manager on).
    const base = c.phase === 'on' ? by.plainOn : c.phase === 'never' ? by.plainNever : by.plainOff;
    const tracing = c.phase === 'otel' ? '-' : c.phase === 'never' ? 'never' : c.phase;
    console.log(
      pad(c.name, 38) +
        pad(tracing, 9) +
        lpad(fmt(r.median, 2), 9) +
        lpad(`${fmt(r.min, 2)}–${fmt(r.max, 2)}`, 16) +
        lpad(c.key.startsWith('plain') ? '' : signed(r.median - base.median), 12) +
        lpad(r.n.toLocaleString('en-US'), 10),
    );
  }
  return by;
}

/**
 * Runs the transformer's benchmarks and prints their tables and targets. `config` is run.mjs's;
 * `progress` writes progress lines (stderr).
 */
export async function runTransformerBench({ quick, config, progress = (s) => process.stderr.write(s) }) {
  const started = Date.now();
  const compiledFixtures = compileFixtures();
  await loadFixtures(compiledFixtures.outDirs);

  const syncConfig = { rounds: config.rounds, warmups: config.warmups, warmN: 200_000, roundMs: quick ? 30 : 200, minN: quick ? 20_000 : 100_000, maxN: config.maxN };
  const asyncConfig = { rounds: config.rounds, warmups: config.warmups, warmN: quick ? 5_000 : 20_000, roundMs: quick ? 30 : 150, minN: quick ? 5_000 : 20_000, maxN: quick ? 200_000 : 1_000_000 };
  const buildConfig = quick ? { lines: 2_000, runs: 1, warmup: false } : { lines: 10_000, runs: 3, warmup: true };
  const onRound = (what) => (r, total) => progress(`  transformer ${what}: round ${r}/${total} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);

  const syncResults = await runSuite(syncContenders, { ...syncConfig, onRound: onRound('sync') });
  const asyncResults = await runSuite(asyncContenders, { ...asyncConfig, onRound: onRound('async') });
  progress('  transformer sync, process never traced (child process)...\n');
  const neverResults = measureNeverTraced(dirname(compiledFixtures.outDirs.traced), { rounds: config.rounds, warmups: config.warmups, roundMs: quick ? 10 : 50, minN: quick ? 200_000 : 1_000_000, maxN: config.maxN });
  rmSync(tracePath, { force: true });
  const builds = await measureBuilds(buildConfig, progress);
  rmSync(workRoot, { recursive: true, force: true });

  console.log(`\n=== transformer ===`);
  console.log(
    `fixtures: bench/fixtures/methods.ts compiled with TypeScript ${compiledFixtures.typescript} (ES2022, ES modules, TC39 decorators) ` +
      `with the plugin and without, in ${(compiledFixtures.wallMs / 1000).toFixed(1)} s before any timing (not counted)`,
  );
  const same = Object.values(compiledFixtures.sameAsDirective).every(Boolean);
  console.log(`"// trace:region" on a method compiles to the same body as @traced: ${same ? 'yes (checked), so only @traced is timed' : `NO (${JSON.stringify(compiledFixtures.sameAsDirective)})`}`);
  console.log(`rounds: ${syncConfig.rounds} (median), sync ~${syncConfig.roundMs} ms per round, async ~${asyncConfig.roundMs} ms per round; tracing on as above`);

  const sync = printTable(`method calls: o.add(x) { this.total = (this.total + x) | 0; return this.total }`, [...syncResults, ...neverResults]);
  const asy = printTable(`async method calls, awaited one at a time: async o.addLater(x) { await null; …; return this.total }`, asyncResults);
  console.log(`"− uninstr.": minus the uninstrumented call with tracing in the same state (OTel rows: minus the call with tracing off).`);
  console.log(`tracing "never": a child process that never starts tracing (bench/transformer-off.mjs); "off" rows ran in this process, between rounds with tracing on.`);
  console.log(`async "on" rounds: start(), then one instrumented async call, so tstrace's AsyncLocalStorage is in use (its promise hooks slow every promise).`);
  console.log(`OTel: BasicTracerProvider + NoopSpanProcessor, AsyncLocalStorageContextManager registered during its rounds only.`);
  if (dropped.events > 0) console.log(`WARNING: ${dropped.events} events were dropped during tracing-on rounds; those figures are too low.`);

  const b = builds.results;
  console.log(
    `\nbuild time: generated project of ${builds.project.lines.toLocaleString('en-US')} lines in ${builds.project.files} files ` +
      `(${builds.project.markedFiles} with tstrace markers; the plugin instrumented ${builds.instrumented.functions} functions in ${builds.instrumented.files} files)`,
  );
  console.log(`each build a child process (--extendedDiagnostics, declaration + sourceMap emit), ${buildConfig.runs} run${buildConfig.runs > 1 ? 's' : ''} each in rotated order${buildConfig.warmup ? ' after an untimed warm-up build' : ''}, median`);
  console.log(`${pad('build', 26)}${lpad('wall s', 8)}${lpad('× tsc', 8)}${lpad('runs', 22)}${lpad('program', 9)}${lpad('check', 8)}${lpad('emit', 8)}${lpad('transform', 11)}${lpad('total', 8)}`);
  console.log('-'.repeat(108));
  for (const r of Object.values(b)) {
    console.log(
      pad(r.build.name, 26) +
        lpad(r.seconds.toFixed(2), 8) +
        lpad((r.seconds / b.tsc.seconds).toFixed(2), 8) +
        lpad(r.all.map((s) => s.toFixed(2)).join(' '), 22) +
        lpad(r.program.toFixed(2), 9) +
        lpad(r.check.toFixed(2), 8) +
        lpad(r.emit.toFixed(2), 8) +
        lpad(r.transform.toFixed(2), 11) +
        lpad(r.total.toFixed(2), 8),
    );
  }
  console.log(`program/check/emit/transform/total: the compiler's own phase times in s (transform = all transformers, TypeScript's included), median.`);

  // Async overheads against the uninstrumented call with tracing off: the instrumentation's whole cost,
  // including what enabling AsyncLocalStorage costs every promise.
  const asyncOverhead = asy.compiledOn.median - asy.plainOff.median;
  const otelOverhead = asy.otel.median - asy.plainOff.median;
  const targets = [
    [`disabled instrumented call ≤ uninstrumented + 2 ns`, `${signed(sync.compiledOff.median - sync.plainOff.median)} ns (${fmt(sync.compiledOff.median, 2)} vs ${fmt(sync.plainOff.median, 2)} ns), tracing on in earlier rounds`, sync.compiledOff.median <= sync.plainOff.median + 2],
    [`  the same, in a process that never traced`, `${signed(sync.compiledNever.median - sync.plainNever.median)} ns (${fmt(sync.compiledNever.median, 2)} vs ${fmt(sync.plainNever.median, 2)} ns)`, sync.compiledNever.median <= sync.plainNever.median + 2],
    [`disabled instrumented async ≤ uninstrumented + 2 ns`, `${signed(asy.compiledOff.median - asy.plainOff.median)} ns (${fmt(asy.compiledOff.median, 2)} vs ${fmt(asy.plainOff.median, 2)} ns)`, asy.compiledOff.median <= asy.plainOff.median + 2],
    [
      `instrumented async ≤ 0.3× OTel startActiveSpan`,
      `${(asyncOverhead / otelOverhead).toFixed(2)}× of the added cost (${fmt(asyncOverhead)} vs ${fmt(otelOverhead)} ns); whole calls ${(asy.compiledOn.median / asy.otel.median).toFixed(2)}× (${fmt(asy.compiledOn.median)} vs ${fmt(asy.otel.median)} ns)`,
      asyncOverhead <= 0.3 * otelOverhead,
    ],
    [`tspc + plugin ≤ 1.3× tsc (wall)`, `${(b.tspc.seconds / b.tsc.seconds).toFixed(2)}× (${b.tspc.seconds.toFixed(2)} vs ${b.tsc.seconds.toFixed(2)} s); tspc alone ${(b.tspcBare.seconds / b.tsc.seconds).toFixed(2)}×`, b.tspc.seconds <= 1.3 * b.tsc.seconds],
  ];
  console.log(`\ntransformer targets`);
  for (const [what, value, met] of targets) console.log(`  ${met ? 'met    ' : 'NOT MET'}  ${pad(what, 52)} ${value}`);

  console.log(`\ntransformer, for reference`);
  console.log(`  sync, tracing on: instrumented ${fmt(sync.compiledOn.median)} ns, hand-written ${fmt(sync.handOn.median)} ns (${(sync.compiledOn.median / sync.handOn.median).toFixed(2)}×), runtime decorator ${fmt(sync.decoratedOn.median)} ns (${(sync.decoratedOn.median / sync.compiledOn.median).toFixed(2)}× instrumented), OTel ${fmt(sync.otel.median)} ns (${(sync.otel.median / sync.compiledOn.median).toFixed(1)}× instrumented)`);
  console.log(`  sync, tracing off over uninstrumented: hand-written ${signed(sync.handOff.median - sync.plainOff.median)} ns, runtime decorator ${signed(sync.decoratedOff.median - sync.plainOff.median)} ns`);
  console.log(`  async, tracing on: instrumented ${fmt(asy.compiledOn.median)} ns, hand-written ${fmt(asy.handOn.median)} ns (no flow of its own), runtime decorator ${fmt(asy.decoratedOn.median)} ns (${(asy.decoratedOn.median / asy.compiledOn.median).toFixed(2)}× instrumented)`);
  console.log(`  async, tracing off over uninstrumented: hand-written ${signed(asy.handOff.median - asy.plainOff.median)} ns, runtime decorator ${signed(asy.decoratedOff.median - asy.plainOff.median)} ns`);
  console.log(`  async vs OTel without the promise-hook cost both pay (each minus the uninstrumented call with AsyncLocalStorage in use): ${((asy.compiledOn.median - asy.plainOn.median) / (asy.otel.median - asy.plainOn.median)).toFixed(2)}× (${fmt(asy.compiledOn.median - asy.plainOn.median)} vs ${fmt(asy.otel.median - asy.plainOn.median)} ns)`);
  console.log(`  tracing on costs an uninstrumented async call ${signed(asy.plainOn.median - asy.plainOff.median)} ns (AsyncLocalStorage's promise hooks), an uninstrumented sync call ${signed(sync.plainOn.median - sync.plainOff.median)} ns`);
  const ms = (seconds) => `${seconds >= 0 ? '+' : '−'}${Math.round(Math.abs(seconds) * 1000)} ms`;
  console.log(`  build: the plugin adds ${ms(b.tspc.seconds - b.tspcBare.seconds)} to tspc (transform phase ${ms(b.tspc.transform - b.tspcBare.transform)}, total ${ms(b.tspc.total - b.tspcBare.total)}); tspc itself adds ${ms(b.tspcBare.seconds - b.tsc.seconds)} to tsc`);
  console.log(`transformer part: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
