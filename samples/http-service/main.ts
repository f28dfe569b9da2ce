/**
 * Serves the drinks service on 127.0.0.1 while tracing it to `trace.out` in the current directory.
 * The environment variable `TSTRACE_SAMPLE_TRACE` changes where: `off` never starts tracing (the
 * instrumented code then runs with tracing off, as `npm run bench:http` measures it), any other value
 * is the trace file's path.
 *
 * Listens on the port given as first argument (default 0: any free port) and prints
 * `Serving drinks on http://127.0.0.1:PORT`. Shuts down on Ctrl-C (SIGINT), SIGTERM, or when the
 * process that started it with an IPC channel disconnects (how run.mjs stops it): stops accepting
 * requests, lets those in progress finish, stops tracing, then prints how many requests it traced. Analyse the trace with `npx tstrace stats trace.out`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { start, stop } from 'tstrace';
import { Database, DrinkService } from './service.js';

/** The trace file, or null when tracing is never started. */
const traceFile = process.env.TSTRACE_SAMPLE_TRACE === 'off' ? null : process.env.TSTRACE_SAMPLE_TRACE || 'trace.out';

const service = new DrinkService(
  new Database([
    { name: 'espresso', cents: 220 },
    { name: 'cappuccino', cents: 340 },
    { name: 'flat-white', cents: 360 },
    { name: 'latte', cents: 380 },
    { name: 'mocha', cents: 410 },
  ]),
);

// `npm run bench:http` also measures the service with scheduling events (TSTRACE_SAMPLE_SCHEDULING=1).
if (traceFile !== null) start(traceFile, { scheduling: process.env.TSTRACE_SAMPLE_SCHEDULING === '1' });

let requests = 0;
const server = createServer((req, res) => {
  requests++;
  service.handleRequest(req, res).catch((error: unknown) => {
    console.error(error);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`Serving drinks on http://127.0.0.1:${port}`);
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // close() stops accepting connections, closes idle ones and waits for requests in progress.
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  const served = `${requests} request${requests === 1 ? '' : 's'}`;
  if (traceFile === null) {
    console.log(`Served ${served} (tracing off)`);
    return;
  }
  await stop();
  console.log(`Traced ${served}: the trace is in ${traceFile}`);
}

process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
if (process.send) process.once('disconnect', shutdown);
