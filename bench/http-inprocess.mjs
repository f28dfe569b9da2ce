// What tracing costs a request in CPU, without the network's noise: samples/http-service's compiled
// `DrinkService.handleRequest` called in-process with a stand-in request and response, 100 requests in
// flight, in three variants, each a child process. The database's wait is one turn of the event loop
// (setImmediate) instead of a 4–10 ms timer: with timers, how many requests each turn of the loop
// serves, and so the loop's own CPU per request, varies from run to run more than tracing costs.
//
//   uninstrumented   the service compiled with plain tsc, its `@traced` lines removed
//   never started    the service as tspc compiles it, tracing never started
//   tracing on       the same, tracing to a temporary file (default options)
//
// on Node 24 and this Node. Each child warms up, then times a fixed number of requests; the figure is
// its main thread's CPU time per request (user + system: process.threadCpuUsage), or on a Node without
// it (Node 20) the process's (all threads: process.cpuUsage, which V8's background GC threads make vary
// by a few µs from run to run). Rounds are interleaved; the medians and the differences to the
// uninstrumented build are printed. bench/http.mjs runs it after
// its load test; alone:
//
//   npm run build && node bench/http-inprocess.mjs [--rounds=5] [--requests=20000]
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './harness.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const IN_FLIGHT = 100;

if (process.argv[2] === '--child') {
  // One measure: node bench/http-inprocess.mjs --child SERVICE_JS TRACE_FILE|off REQUESTS
  const [, , , service, trace, requests] = process.argv;
  const n = Number(requests);
  const { Database, DrinkService } = await import(pathToFileURL(service).href);
  const { start, stop } = await import(pathToFileURL(join(benchDir, '..', 'dist', 'esm', 'runtime', 'index.js')).href);
  const drinks = new DrinkService(
    new Database(
      [
        { name: 'espresso', cents: 220 },
        { name: 'cappuccino', cents: 340 },
        { name: 'flat-white', cents: 360 },
        { name: 'latte', cents: 380 },
        { name: 'mocha', cents: 410 },
      ],
      () => new Promise((resolve) => setImmediate(resolve)),
    ),
  );
  // What the handler uses of a response; the URLs are those the load test asks for (one in six a 404).
  const response = { writeHead: () => response, end: () => {} };
  const urls = ['espresso', 'cappuccino', 'flat-white', 'latte', 'mocha', 'matcha'].map((drink, i) => `/drinks/${drink}?size=${['small', 'medium', 'large'][i % 3]}`);
  const serve = async (count, lane) => {
    for (let i = 0; i < count; i++) await drinks.handleRequest({ method: 'GET', url: urls[(i + lane) % urls.length] }, response);
  };
  const run = (count) => Promise.all(Array.from({ length: IN_FLIGHT }, (_, lane) => serve(count / IN_FLIGHT, lane)));
  if (trace !== 'off') start(trace);
  // Warm-up: enough calls for every path to be optimized before the timed ones.
  await run(Math.max(20_000, n / 2));
  const before = process.cpuUsage();
  // This thread's own (Node ≥ 23.9): V8's background GC threads make the process's figure vary by µs.
  const threadBefore = process.threadCpuUsage?.();
  await run(n);
  const thread = threadBefore && process.threadCpuUsage(threadBefore);
  const used = process.cpuUsage(before);
  if (trace !== 'off') await stop();
  process.stdout.write(JSON.stringify({ cpuPerRequest: (used.user + used.system) / n, threadCpuPerRequest: thread ? (thread.user + thread.system) / n : null }));
  process.exit(0);
}

/**
 * Runs the rounds on each of `nodes` ({ major, version, binary }) and prints the table. `plainService`
 * and `tracedService`: the two compiled service.js files.
 */
export function measureInProcess({ nodes, plainService, tracedService, rounds = 5, requests = 200_000 }) {
  const variants = [
    { key: 'plain', name: 'uninstrumented (plain tsc)', service: plainService, traced: false },
    { key: 'off', name: 'tstrace, tracing never started', service: tracedService, traced: false },
    { key: 'on', name: 'tstrace, tracing on', service: tracedService, traced: true },
  ];
  const figures = new Map();
  /** Nodes whose figures count all threads (no process.threadCpuUsage). */
  const allThreads = new Set();
  for (let round = 0; round < rounds; round++) {
    for (const node of nodes) {
      // Rotated each round, so that no variant always runs first.
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(i + round) % variants.length];
        const trace = variant.traced ? join(tmpdir(), `tstrace-bench-inprocess-${process.pid}.trace`) : 'off';
        try {
          const out = execFileSync(node.binary, [fileURLToPath(import.meta.url), '--child', variant.service, trace, String(requests)], { encoding: 'utf8' });
          const key = `${node.major} ${variant.key}`;
          const { cpuPerRequest, threadCpuPerRequest } = JSON.parse(out);
          figures.set(key, [...(figures.get(key) ?? []), threadCpuPerRequest ?? cpuPerRequest]);
          if (threadCpuPerRequest === null) allThreads.add(node.major);
        } finally {
          if (trace !== 'off') rmSync(trace, { force: true });
        }
      }
    }
    process.stderr.write(`  in-process round ${round + 1}/${rounds} done\n`);
  }
  console.log(`\nCPU per request in-process (the compiled handler called directly, ${IN_FLIGHT} in flight, ${requests.toLocaleString('en-US')} requests a run, medians of ${rounds} interleaved rounds, min–max)`);
  for (const node of nodes) {
    const plain = median(figures.get(`${node.major} plain`));
    console.log(`  node ${node.version}: ${allThreads.has(node.major) ? 'the process (all threads)' : 'the main thread'}`);
    for (const variant of variants) {
      const all = figures.get(`${node.major} ${variant.key}`);
      const cpu = median(all);
      const extra = variant.key === 'plain' ? '' : `  ${cpu >= plain ? '+' : '−'}${Math.abs(cpu - plain).toFixed(2)} µs (${cpu >= plain ? '+' : '−'}${(Math.abs(cpu / plain - 1) * 100).toFixed(1)} %)`;
      console.log(`    ${variant.name.padEnd(34)}${cpu.toFixed(2).padStart(7)} µs  (${Math.min(...all).toFixed(2)}–${Math.max(...all).toFixed(2)})${extra}`);
    }
  }
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const option = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const { compileSample, compileSampleUninstrumented } = await import('../samples/build.mjs');
  const { benchNodes, printMachine } = await import('./machine.mjs');
  printMachine('tstrace HTTP bench, in-process');
  const sampleDir = join(benchDir, '..', 'samples', 'http-service');
  compileSample(sampleDir);
  const plainDist = compileSampleUninstrumented(sampleDir, join(benchDir, '.work', 'http-service-plain'));
  measureInProcess({
    nodes: benchNodes().filter((node) => !option('node') || node.major === option('node')),
    plainService: join(plainDist, 'service.js'),
    tracedService: join(sampleDir, 'dist', 'service.js'),
    rounds: Number(option('rounds') ?? 5),
    requests: Number(option('requests') ?? 200_000),
  });
}
