// `npm run sample:blocking`: a node:http service traced with scheduling events; 41 requests, one of
// which runs a 50 ms synchronous job. Then `tstrace blockers` names that job as what the slow requests
// were queued behind, and `tstrace stats` shows running / queued / waiting per request type.
import { once } from 'node:events';
import { start, stop } from 'tstrace';
import { printBlockers, printStats } from '../build.mjs';
import { blockingService, traffic } from './service.mjs';

// Locations name the blocking job's line in `tstrace blockers`.
start('trace.out', { scheduling: true, captureLocations: true });
const server = blockingService();
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const requests = await traffic(`http://127.0.0.1:${server.address().port}`);
server.close();
await stop();
console.log(`Served ${requests} requests (one GET /report with a 50 ms synchronous job): the trace is in trace.out`);
printStats('trace.out');
printBlockers('trace.out', 5);
console.log();
console.log("Each request's time and what it was queued behind: npx tstrace tasks trace.out");
