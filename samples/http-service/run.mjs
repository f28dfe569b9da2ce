// `npm run sample:http`: compiles the HTTP service sample with tspc (and tstrace's transformer), serves
// it on 127.0.0.1 (any free port), sends it a bounded number of requests over loopback, a few at a time,
// shuts it down (it writes trace.out in the current directory), then prints the trace's statistics with
// the tstrace CLI. Expects `npm run build` first.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REQUESTS = 50;
const CONCURRENCY = 10;
// What the clients ask for: "matcha" is not on the menu (404).
const DRINKS = ['espresso', 'cappuccino', 'flat-white', 'latte', 'mocha', 'matcha'];
const SIZES = ['small', 'medium', 'large'];

const sampleDir = dirname(fileURLToPath(import.meta.url));
const root = join(sampleDir, '..', '..');
const tspc = createRequire(join(root, 'package.json')).resolve('ts-patch/bin/tspc');
const cli = join(root, 'dist', 'esm', 'tool', 'cli.js');
const trace = 'trace.out';

/** Runs `node ...args` (in `cwd`, by default the current directory), showing its output; exits with its status if it fails. */
function node(args, cwd = process.cwd()) {
  try {
    execFileSync(process.execPath, args, { cwd, stdio: 'inherit' });
  } catch (error) {
    process.exit(typeof error.status === 'number' && error.status !== 0 ? error.status : 1);
  }
}

/** Stops with a hint when `npm run build` has not produced `file`. */
function requireBuilt(file) {
  if (existsSync(file)) return;
  const shown = relative(process.cwd(), file);
  console.error(`tstrace is not built (${shown.startsWith('..') ? file : shown} is missing): run \`npm run build\` first.`);
  process.exit(1);
}

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

requireBuilt(join(root, 'dist', 'esm', 'runtime', 'index.js'));
// tspc runs tstrace's transformer (see tsconfig.json), which compiles each region's location in,
// relative to the directory tspc runs in: the repository's, so they read samples/http-service/….
node([tspc, '-p', sampleDir], root);

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

requireBuilt(cli);
console.log();
node([cli, 'stats', trace]);
console.log(`\nEach request's timeline: npx tstrace tasks ${trace}`);
