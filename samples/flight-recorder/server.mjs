// `npm run sample:flight`: a node:http service runs with a flight recorder (the last 2 s kept, at most
// 4 MiB); steady traffic for 3 s, then one request over its 100 ms budget, which writes the last
// seconds to flight.out — then `tstrace stats` and the slow request's task from that snapshot.
import { once } from 'node:events';
import { FlightRecorder } from 'tstrace';
import { printStats } from '../build.mjs';
import { flightService, traffic } from './service.mjs';
import { analyzeTrace } from 'tstrace/reader';

const recorder = new FlightRecorder({ minAge: 2000, maxBytes: 4 << 20 });
recorder.start();
let snapshot = null;
const server = flightService({
  recorder,
  budgetMs: 100,
  snapshotPath: () => 'flight.out',
  onSnapshot: (path, bytes, task) => {
    snapshot = { path, task };
    console.log(`request task ${task} was over budget: wrote the last seconds to ${path} (${bytes} bytes)`);
  },
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${server.address().port}`;
const requests = await traffic(`${url}/`, 8, performance.now() + 3000);
console.log(`${requests} requests in 3 s; now a slow one`);
await (await fetch(`${url}/slow`)).text();
while (snapshot === null) await new Promise((resolve) => setTimeout(resolve, 10));
server.close();
await recorder.stop();
printStats(snapshot.path);
const analysis = await analyzeTrace(snapshot.path);
const slow = analysis.tasks.find((task) => task.id === snapshot.task);
console.log(`\nthe slow request in the snapshot: task ${slow.id} "${slow.type}", ${(slow.latency / 1e6).toFixed(1)} ms, regions:`);
for (const id of slow.regions) {
  const region = analysis.regions.at(id - 1);
  console.log(`  ${region.type}  ${(region.duration / 1e6).toFixed(1)} ms`);
}
const carried = analysis.tasks.filter((task) => task.beganBefore !== null).length;
console.log(`${carried} tasks began before the window (marked, not problems); problems: ${analysis.problems.length}`);
