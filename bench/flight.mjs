// The flight recorder's cost: the same workload (region pairs of a task, in chunks, yielding to the
// event loop between them as a service does) with a FlightRecorder running (defaults: minAge 10 s,
// maxBytes 10 MiB — it evicts, and decodes what it evicts, all along), and with start(file) streaming
// to a file. CPU time of the whole process (user + system, the file's writer threads included), from
// the first event to stop() resolving, median of rounds. Goal: the recorder costs ≤ 1× the file.
//
//   node bench/flight.mjs [--quick]      (needs a build; part of `npm run bench`)
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runtimeDir } from './runtime-dir.mjs';

const { background, FlightRecorder, newTask, start, startRegion, stop } = await import(`${runtimeDir}/runtime/index.js`);

const tracePath = join(tmpdir(), `tstrace-bench-flight-${process.pid}.trace`);
const [ctx] = newTask(background, 'flight-bench');
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
const quiet = { gc: false, heap: false, eventLoop: false };

async function workload(pairs, chunk) {
  for (let done = 0; done < pairs; done += chunk) {
    for (let i = 0, n = Math.min(chunk, pairs - done); i < n; i++) {
      const [c, task] = newTask(ctx, 'request');
      const outer = startRegion(c, 'handle');
      startRegion(c, 'db').end();
      outer.end();
      task.end();
    }
    await yieldToLoop();
  }
}

const modes = {
  off: { begin() {}, async end() {} },
  file: {
    begin() {
      start(tracePath, quiet);
    },
    end: () => stop(),
  },
  flight: {
    recorder: null,
    begin() {
      this.recorder = new FlightRecorder(quiet);
      this.recorder.start();
    },
    async end() {
      await this.recorder.stop();
    },
  },
};

async function cpuOf(mode, pairs, chunk) {
  const before = process.cpuUsage();
  mode.begin();
  await workload(pairs, chunk);
  await mode.end();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000; // ms
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Runs the rounds (modes interleaved, so a loaded machine shifts all alike) and returns the medians in ms. */
export async function measureFlightCost({ quick = false } = {}) {
  const rounds = quick ? 3 : 7;
  const pairs = quick ? 100_000 : 400_000;
  const chunk = 2_000;
  const times = { off: [], file: [], flight: [] };
  for (const name of Object.keys(modes)) await cpuOf(modes[name], Math.min(pairs, 50_000), chunk); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(modes)) times[name].push(await cpuOf(modes[name], pairs, chunk));
  }
  rmSync(tracePath, { force: true });
  const m = Object.fromEntries(Object.entries(times).map(([name, t]) => [name, median(t)]));
  return { rounds, events: pairs * 6, ...m, ratio: (m.flight - m.off) / (m.file - m.off), totalRatio: m.flight / m.file };
}

/** Prints the figure and the goal, met or not. */
export function printFlightCost(result) {
  const perEvent = (ms) => `${((ms * 1e6) / result.events).toFixed(1)} ns/event`;
  console.log(`\nflight recorder vs streaming to a file (${result.events.toLocaleString('en-US')} events a round, CPU time, median of ${result.rounds} rounds)`);
  console.log(`  tracing off ${result.off.toFixed(0)} ms (${perEvent(result.off)}), file ${result.file.toFixed(0)} ms (${perEvent(result.file)}), flight recorder ${result.flight.toFixed(0)} ms (${perEvent(result.flight)})`);
  const met = result.ratio <= 1;
  console.log(`  recorder cost / file cost (above tracing off) ≤ 1×: ${met ? 'met' : 'NOT MET'}  ${result.ratio.toFixed(2)}×  (totals ${result.totalRatio.toFixed(2)}×)`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  printFlightCost(await measureFlightCost({ quick: process.argv.includes('--quick') }));
}
