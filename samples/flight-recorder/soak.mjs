// `npm run soak:flight`: minutes of steady traffic through the flight-recorder service (service.mjs),
// a slow request every 30 s writing a snapshot. Checks what the test checks in seconds: the ring stays
// within maxBytes, every snapshot covers at least minAge, reads complete, has typed tasks, no problems,
// and holds the slow request; prints the process's memory as it goes. SOAK_SECONDS (default 180).
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlightRecorder } from 'tstrace';
import { analyzeTrace } from 'tstrace/reader';
import { flightService, traffic } from './service.mjs';

const seconds = Number(process.env.SOAK_SECONDS ?? 180);
const minAge = 5000;
const maxBytes = 8 << 20;
const dir = mkdtempSync(join(tmpdir(), 'tstrace-soak-'));
const recorder = new FlightRecorder({ minAge, maxBytes });
recorder.start();
const snapshots = [];
let count = 0;
const server = flightService({
  recorder,
  budgetMs: 200,
  snapshotPath: () => join(dir, `flight-${++count}.out`),
  onSnapshot: (path, bytes, task) => snapshots.push({ path, bytes, task }),
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${server.address().port}`;

let maxBuffered = 0;
const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, recorder.bufferedBytes)), 50);
const started = performance.now();
const end = started + seconds * 1000;
const slowOnes = (async () => {
  while (performance.now() + 30_000 < end) {
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    await (await fetch(`${url}/slow`)).text();
    const mb = (n) => (n / 2 ** 20).toFixed(1);
    const m = process.memoryUsage();
    console.log(`${((performance.now() - started) / 1000).toFixed(0)} s: ring ${mb(recorder.bufferedBytes)} MiB (max ${mb(maxBuffered)}), heap ${mb(m.heapUsed)} MiB, rss ${mb(m.rss)} MiB, snapshots ${snapshots.length}`);
  }
})();
const requests = await traffic(`${url}/`, 8, end);
await slowOnes;
clearInterval(sampler);
server.close();
await recorder.stop();

let failures = 0;
const check = (ok, what) => {
  if (!ok) {
    failures++;
    console.log(`FAILED: ${what}`);
  }
};
check(maxBuffered <= maxBytes, `the ring held ${maxBuffered} bytes, more than maxBytes ${maxBytes}`);
for (const s of snapshots) {
  const a = await analyzeTrace(s.path);
  const tasks = a.tasks.toArray();
  const slow = tasks.find((t) => t.id === s.task);
  console.log(`${s.path}: ${s.bytes} bytes, ${(a.summary.duration / 1e9).toFixed(2)} s, ${tasks.length} tasks (${tasks.filter((t) => t.beganBefore !== null).length} began before), ${a.problems.length} problems`);
  check(a.status.complete, `${s.path} is not complete`);
  check(a.problems.length === 0, `${s.path} has problems`);
  check(a.summary.duration >= minAge * 1e6, `${s.path} covers less than minAge`);
  check(tasks.every((t) => t.type !== ''), `${s.path} has tasks without a type`);
  check(slow?.complete === true && slow.regions.length === 3, `${s.path} lacks the slow request`);
}
check(snapshots.length >= Math.floor(seconds / 30) - 1, `only ${snapshots.length} snapshots`);
rmSync(dir, { recursive: true, force: true });
console.log(`${requests} requests in ${seconds} s, ${snapshots.length} snapshots: ${failures === 0 ? 'all checks passed' : `${failures} checks FAILED`}`);
process.exitCode = failures === 0 ? 0 : 1;
