// `npm run sample:http`: compiles the HTTP service sample with tspc (and tstrace's transformer), serves
// it on 127.0.0.1 (any free port), sends it a bounded number of requests over loopback, a few at a time,
// shuts it down (it writes trace.out in the current directory), then prints the trace's statistics with
// the tstrace CLI. Expects `npm run build` first.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { compileSample, printStats } from '../build.mjs';

const REQUESTS = 50;
const CONCURRENCY = 10;
// What the clients ask for: "matcha" is not on the menu (404).
const DRINKS = ['espresso', 'cappuccino', 'flat-white', 'latte', 'mocha', 'matcha'];
const SIZES = ['small', 'medium', 'large'];

const sampleDir = dirname(fileURLToPath(import.meta.url));
const trace = 'trace.out';

/** Starts the service; resolves with its process and base URL once it listens. Its output is shown. */
function serve() {
  const service = spawn(process.execPath, ['--enable-source-maps', join(sampleDir, 'dist', 'main.js')], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => service.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  return new Promise((resolve, reject) => {
    createInterface({ input: service.stdout }).on('line', (line) => {
      console.log(line);
      const url = /^Serving drinks on (http:\/\/\S+)$/.exec(line)?.[1];
      if (url) resolve({ service, exited, url });
    });
    exited.then((code) => reject(new Error(`the service exited (code ${code}) before it listened`)));
  });
}

/** Sends REQUESTS requests, CONCURRENCY at a time; returns how many got each status. */
async function load(url) {
  const statuses = new Map();
  let next = 0;
  const client = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const response = await fetch(`${url}/drinks/${DRINKS[i % DRINKS.length]}?size=${SIZES[i % SIZES.length]}`);
      await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  return statuses;
}

compileSample(sampleDir);

const { service, exited, url } = await serve().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
let statuses;
try {
  statuses = await load(url);
} catch (error) {
  service.kill();
  console.error(`The requests failed: ${error.message}`);
  process.exit(1);
}
const counts = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${count} × ${status}`);
console.log(`Sent ${REQUESTS} requests, ${CONCURRENCY} at a time: ${counts.join(', ')}`);
// Closing the IPC channel tells the service to shut down and stop tracing.
service.disconnect();
const code = await exited;
if (code !== 0) process.exit(code);

printStats(trace);
console.log(`\nEach request's timeline: npx tstrace tasks ${trace}`);
console.log(`All of it in a browser: npx tstrace view ${trace} --open`);
