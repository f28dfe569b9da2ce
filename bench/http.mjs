// The headline, measured: what tracing costs a real service. samples/http-service (a task per request,
// `@traced` handlers and helpers, an await per request for its database lookup) under autocannon on
// 127.0.0.1, in five variants, each a server process of its own:
//
//   uninstrumented      the same service compiled with plain tsc, its `@traced` lines removed: the baseline
//   never started       the sample as tspc compiles it (tstrace's transformer), tracing never started
//   tracing on          the same, tracing to a temporary file (default options), removed afterwards
//   scheduling events   the same with start(…, { scheduling: true }): the async_hooks hook (issue 13)
//   OpenTelemetry       the uninstrumented build with the OpenTelemetry Node SDK preloaded (bench/http-otel.mjs):
//                       HTTP instrumentation, BatchSpanProcessor, an exporter that drops spans, and a span
//                       around each method the sample marks `@traced`, the same work tstrace traces
//
// on Node 24 and on this Node, side by side (Node 24 first: performance is judged there). Every server
// is warmed up, then the rounds are interleaved (each round loads every server once, one Node's after the
// other's, in an order rotated from round to round), and medians are reported: requests per second, p99
// latency, the server's CPU time per request (user + system, all its threads, from /proc), and their
// ratios to the uninstrumented build measured in the same round. On a busy machine req/s and p99 depend
// on how much of the CPU the server got; CPU time per request is what the work cost, whoever else ran.
// Figures, not assertions: the goals are printed as met / NOT MET, on req/s and on CPU per request.
// Then the same handler called in-process (bench/http-inprocess.mjs): CPU per request, without the
// network's noise, for the uninstrumented build, tracing never started and tracing on.
//
//   npm run bench:http                 build, then the full run (7 rounds of 3 s per server, ~4 minutes)
//   node bench/http.mjs --quick        a smoke run: 2 rounds of 1 s (needs a build; figures are rough)
//   node bench/http.mjs --only=off --node=20 --rounds=9 --seconds=3
//                                      an A/B of some variants (the uninstrumented one always runs) on
//                                      one Node, with more or shorter rounds (the goals need every variant)
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { compileSample, compileSampleUninstrumented } from '../samples/build.mjs';
import { measureInProcess } from './http-inprocess.mjs';
import { benchNodes, lpad, pad, printMachine } from './machine.mjs';

const quick = process.argv.includes('--quick');
/** The value of the option `--name=value`, or undefined. */
const option = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const config = quick ? { rounds: 2, seconds: 1, warmupSeconds: 1 } : { rounds: 7, seconds: 3, warmupSeconds: 3 };
config.rounds = Number(option('rounds') ?? config.rounds);
config.seconds = Number(option('seconds') ?? config.seconds);
const CONNECTIONS = 100;
// What each connection asks for, in turn, as samples/http-service/run.mjs does: one drink in six is not
// on the menu (404, which is the service's answer, not an error).
const DRINKS = ['espresso', 'cappuccino', 'flat-white', 'latte', 'mocha', 'matcha'];
const SIZES = ['small', 'medium', 'large'];
const REQUESTS = DRINKS.map((drink, i) => ({ method: 'GET', path: `/drinks/${drink}?size=${SIZES[i % SIZES.length]}` }));

const benchDir = dirname(fileURLToPath(import.meta.url));
const sampleDir = join(benchDir, '..', 'samples', 'http-service');

printMachine(`tstrace HTTP bench${quick ? ' (--quick: smoke run, figures are rough)' : ''}`);
console.log(`samples/http-service under autocannon on 127.0.0.1: ${CONNECTIONS} connections, ${config.rounds} interleaved rounds of ${config.seconds} s per server (median reported), ${config.warmupSeconds} s of warm-up each`);

compileSample(sampleDir);
const plainDist = compileSampleUninstrumented(sampleDir, join(benchDir, '.work', 'http-service-plain'));
const tracedDist = join(sampleDir, 'dist');

const ALL_VARIANTS = [
  { key: 'plain', name: 'uninstrumented (plain tsc)', main: join(plainDist, 'main.js') },
  { key: 'off', name: 'tstrace, tracing never started', main: join(tracedDist, 'main.js') },
  { key: 'on', name: 'tstrace, tracing on', main: join(tracedDist, 'main.js'), traced: true },
  { key: 'scheduling', name: 'tstrace, scheduling events on', main: join(tracedDist, 'main.js'), traced: true, env: { TSTRACE_SAMPLE_SCHEDULING: '1' } },
  { key: 'otel', name: 'OpenTelemetry SDK', main: join(plainDist, 'main.js'), preload: join(benchDir, 'http-otel.mjs') },
];
const only = option('only')?.split(',');
const VARIANTS = ALL_VARIANTS.filter((v) => v.key === 'plain' || !only || only.includes(v.key));

/** Starts `variant` of the service on `node`; resolves once it listens. Its output is collected, not shown. */
function serve(node, variant) {
  const trace = variant.traced ? join(tmpdir(), `tstrace-bench-http-${process.pid}-node${node.major}-${variant.key}.trace`) : null;
  const args = [...(variant.preload ? ['--import', variant.preload] : []), variant.main];
  const env = { ...process.env, TSTRACE_SAMPLE_TRACE: trace ?? 'off', TSTRACE_BENCH_SERVICE: join(plainDist, 'service.js'), ...variant.env };
  const child = spawn(node.binary, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env });
  const lines = [];
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const url = /^Serving drinks on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line)?.[1];
      if (url) resolve({ node, variant, url, trace, lines, exited, pid: child.pid, stop: () => child.connected && child.disconnect(), rounds: [] });
    });
    exited.then((code) => reject(new Error(`${variant.name} on node ${node.major} exited (code ${code}) before it listened`)));
  });
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;
  } catch {
    return 100;
  }
})();

/** The CPU time (user + system, every thread) process `pid` has used, in µs; NaN where /proc cannot tell. */
function cpuMicros(pid) {
  try {
    // Fields 14 and 15 of /proc/PID/stat, counted after the command name (in parentheses) ends.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * Loads `server` for `seconds`; returns req/s (answered requests over the elapsed time), p99 (ms),
 * the server's CPU µs per answered request, and what went wrong.
 */
async function load(server, seconds) {
  const cpuBefore = cpuMicros(server.pid);
  const result = await autocannon({ url: server.url, connections: CONNECTIONS, duration: seconds, requests: REQUESTS });
  const answered = result['2xx'] + result.non2xx;
  return {
    rps: answered / result.duration,
    p99: result.latency.p99,
    cpu: (cpuMicros(server.pid) - cpuBefore) / answered,
    errors: result.errors + result.timeouts,
    unexpected: result.non2xx - result['4xx'],
  };
}

/** Tracing on: a task per request served and nothing dropped, or its figure is too good. */
async function traceCheck(server) {
  // This checkout's reader (the service imports this checkout's runtime); compileSample checked it is built.
  const { summarizeTrace } = await import(new URL('../dist/esm/reader/index.js', import.meta.url).href);
  const { summary, status } = await summarizeTrace(server.trace);
  const served = servedBy(server);
  const mb = (statSync(server.trace).size / 1e6).toFixed(1);
  rmSync(server.trace);
  const whole = status.complete ? '' : ` (INCOMPLETE: ${status.problem?.kind} at byte ${status.problem?.offset})`;
  return `  ${server.variant.key === 'on' ? 'tracing on' : server.variant.name.replace('tstrace, ', '')} wrote ${mb} MB${whole}: ${summary.tasks.toLocaleString('en-US')} tasks for ${served.toLocaleString('en-US')} requests served, ${summary.events.toLocaleString('en-US')} events, ${summary.dropped} dropped`;
}

/** How many requests the service says it served, from its last words. */
const servedBy = (server) => Number(/^(?:Served|Traced) (\d+) request/.exec(server.lines.find((l) => /^(Served|Traced) /.test(l)) ?? '')?.[1] ?? NaN);

/** OpenTelemetry: five spans per request (the HTTP server span and the four methods') for the figure to count. */
function otelCheck(server) {
  const spans = Number(/^OpenTelemetry: (\d+) spans exported$/.exec(server.lines.find((l) => l.startsWith('OpenTelemetry:')) ?? '')?.[1] ?? NaN);
  const served = servedBy(server);
  return `  OpenTelemetry exported ${spans.toLocaleString('en-US')} spans for ${served.toLocaleString('en-US')} requests served: ${(spans / served).toFixed(2)} per request (5 expected)`;
}

const nodes = benchNodes().filter((node) => !option('node') || node.major === option('node'));
const servers = [];
const loads = [];
const started = Date.now();
try {
  for (const node of nodes) for (const variant of VARIANTS) servers.push(await serve(node, variant));
  for (const server of servers) {
    process.stderr.write(`  warm-up: ${server.variant.name}, node ${server.node.major}\n`);
    await load(server, config.warmupSeconds);
  }
  for (let round = 0; round < config.rounds; round++) {
    // One Node's servers after the other's, so that each is compared with its baseline a few seconds
    // apart; the Nodes alternate and each one's servers are rotated from round to round, so that none
    // always runs first or right after the same one.
    const order = [...nodes.slice(round % nodes.length), ...nodes.slice(0, round % nodes.length)].flatMap((node) => {
      const own = servers.filter((server) => server.node === node);
      return own.map((_, i) => own[(i + round) % own.length]);
    });
    for (const server of order) server.rounds[round] = await load(server, config.seconds);
    loads.push(loadavg()[0]);
    process.stderr.write(`  round ${round + 1}/${config.rounds} done (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
} finally {
  for (const server of servers) server.stop();
  process.once('exit', () => servers.forEach((server) => server.trace && rmSync(server.trace, { force: true })));
}
const exitCodes = await Promise.all(servers.map((server) => server.exited));

// ---------------------------------------------------------------------------------------------------
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const percent = (ratio) => `${ratio >= 1 ? '+' : '−'}${(Math.abs(ratio - 1) * 100).toFixed(1)} %`;
const serverOf = (node, key) => servers.find((s) => s.node === node && s.variant.key === key);
/** The median over rounds of `a`'s figure `field` divided by `b`'s in the same round. */
const pairedRatio = (a, b, field) => median(roundRatios(a, b, field));
/** `a`'s figure `field` divided by `b`'s, round by round. */
const roundRatios = (a, b, field) => a.rounds.map((r, i) => r[field] / b.rounds[i][field]);

console.log(`\nload average (1 min) after each round: ${loads.map((l) => l.toFixed(2)).join(', ')}  (the bench's own server and client keep about 2 busy)`);
const notes = [];
for (const node of nodes) {
  const plain = serverOf(node, 'plain');
  console.log(`\nnode ${node.version}`);
  console.log(`${pad('', 34)}${lpad('req/s', 8)}${lpad('min–max', 14)}${lpad('p99', 7)}${lpad('CPU/req', 10)}${lpad('vs uninstrumented', 46)}`);
  console.log(`${pad('variant', 34)}${lpad('', 8)}${lpad('', 14)}${lpad('ms', 7)}${lpad('µs', 10)}${lpad('req/s', 19)}${lpad('p99', 8)}${lpad('CPU/req', 19)}`);
  console.log('-'.repeat(119));
  for (const variant of VARIANTS) {
    const server = serverOf(node, variant.key);
    const rps = server.rounds.map((r) => r.rps);
    const same = server === plain;
    console.log(
      pad(variant.name, 34) +
        lpad(median(rps).toFixed(0), 8) +
        lpad(`${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)}`, 14) +
        lpad(median(server.rounds.map((r) => r.p99)).toFixed(0), 7) +
        lpad(median(server.rounds.map((r) => r.cpu)).toFixed(1), 10) +
        lpad(same ? '' : `${pairedRatio(server, plain, 'rps').toFixed(3)}× (${percent(pairedRatio(server, plain, 'rps'))})`, 19) +
        lpad(same ? '' : `${pairedRatio(server, plain, 'p99').toFixed(2)}×`, 8) +
        lpad(same ? '' : `${pairedRatio(server, plain, 'cpu').toFixed(3)}× (${percent(pairedRatio(server, plain, 'cpu'))})`, 19),
    );
    const errors = server.rounds.reduce((sum, r) => sum + r.errors + r.unexpected, 0);
    if (errors > 0) notes.push(`WARNING: ${variant.name} on node ${node.major}: ${errors} errors, timeouts or unexpected statuses; its figures are not comparable.`);
  }
  for (const key of ['on', 'scheduling']) if (serverOf(node, key)) console.log(await traceCheck(serverOf(node, key)));
  if (serverOf(node, 'otel')) console.log(otelCheck(serverOf(node, 'otel')));
}
for (const note of notes) console.log(note);
servers.forEach((server, i) => exitCodes[i] !== 0 && console.log(`WARNING: ${server.variant.name} on node ${server.node.major} exited with code ${exitCodes[i]}`));
console.log(`\nreq/s: requests answered per second; CPU/req: the server's CPU time (user + system, all threads) per request answered; each the median of rounds.`);
console.log(`vs uninstrumented: the median over rounds of the ratio to the uninstrumented build on the same Node in the same round.`);

// ---------------------------------------------------------------------------------------------------
/** The median over rounds of `a`'s `field` over `b`'s, on `node`. */
const ratio = (node, a, b, field) => pairedRatio(serverOf(node, a), serverOf(node, b), field);
/** How `a`'s req/s compare with `b`'s: the median, and how far single rounds went (the noise). */
const rpsChange = (node, a, b) => {
  const ratios = roundRatios(serverOf(node, a), serverOf(node, b), 'rps');
  return `${percent(median(ratios))} (rounds ${percent(Math.min(...ratios))} to ${percent(Math.max(...ratios))})`;
};
/**
 * Each goal: [what, met on a node, its figure on a node]. A throughput loss of x % is x % fewer req/s,
 * or, counted in CPU, 1 / (1 − x %) times the CPU per request (2 % fewer = 1.0204×).
 */
const goals = [
  ['tracing on: ≤ 2 % fewer req/s', (node) => ratio(node, 'on', 'plain', 'rps') >= 0.98, (node) => rpsChange(node, 'on', 'plain')],
  ['  … counted in CPU per request', (node) => ratio(node, 'on', 'plain', 'cpu') <= 1 / 0.98, (node) => `${percent(1 / ratio(node, 'on', 'plain', 'cpu'))} req/s`],
  ['scheduling events: ≤ 10 % fewer req/s', (node) => ratio(node, 'scheduling', 'plain', 'rps') >= 0.9, (node) => rpsChange(node, 'scheduling', 'plain')],
  ['  … counted in CPU per request', (node) => ratio(node, 'scheduling', 'plain', 'cpu') <= 1 / 0.9, (node) => `${percent(1 / ratio(node, 'scheduling', 'plain', 'cpu'))} req/s`],
  ['tracing never started: ≤ 0.5 % fewer', (node) => ratio(node, 'off', 'plain', 'rps') >= 0.995, (node) => rpsChange(node, 'off', 'plain')],
  ['  … counted in CPU per request', (node) => ratio(node, 'off', 'plain', 'cpu') <= 1 / 0.995, (node) => `${percent(1 / ratio(node, 'off', 'plain', 'cpu'))} req/s`],
  [
    'tracing on ahead of OpenTelemetry',
    (node) => ratio(node, 'on', 'otel', 'rps') > 1 && ratio(node, 'on', 'otel', 'cpu') < 1,
    (node) => `${ratio(node, 'on', 'otel', 'rps').toFixed(2)}× req/s, ${ratio(node, 'on', 'otel', 'p99').toFixed(2)}× p99, ${ratio(node, 'on', 'otel', 'cpu').toFixed(2)}× CPU`,
  ],
];
if (VARIANTS.length === ALL_VARIANTS.length) {
  console.log(`\n${pad('goals', 40)}${nodes.map((node) => pad(`node ${node.major}`, 52)).join('')}`);
  for (const [what, met, figure] of goals) {
    console.log(`  ${pad(what, 38)}${nodes.map((node) => pad(`${met(node) ? 'met' : 'NOT MET'}  ${figure(node)}`, 52)).join('')}`);
  }
} else {
  console.log('\ngoals: not judged (--only ran some variants)');
}

// The same handler called in-process: CPU per request without the network's noise (bench/http-inprocess.mjs).
if (!only) {
  measureInProcess({
    nodes,
    plainService: join(plainDist, 'service.js'),
    tracedService: join(tracedDist, 'service.js'),
    rounds: quick ? 2 : config.rounds,
    requests: quick ? 20_000 : 200_000,
  });
}

console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
