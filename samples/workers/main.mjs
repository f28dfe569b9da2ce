// Worker threads in one trace: 8 jobs, each a task of the main thread split into 4 parts done by a
// pool of 4 worker threads. `node samples/workers/main.mjs [trace.out]`, then `npx tstrace tasks trace.out`:
// every job lists its regions from the main thread and from the workers.
import { background, newTask, start, stop } from 'tstrace';
import { job, workerPool } from './pool.mjs';

const JOBS = 8;
const WORKERS = 4;
const output = process.argv[2] ?? 'workers.trace';

start(output);
const pool = workerPool(WORKERS);
await Promise.all(
  Array.from({ length: JOBS }, async (_, n) => {
    const [ctx, task] = newTask(background, 'job');
    const total = await job(pool, ctx, WORKERS);
    task.end();
    return total;
  }),
);
await stop();
await pool.close();
console.log(`${JOBS} jobs on ${WORKERS} worker threads: trace written to ${output}`);
