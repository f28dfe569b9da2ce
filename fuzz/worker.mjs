// A campaign worker (a child process of fuzz/run.mjs): runs the cases it is given and reports each one.
import { prepare, runCase } from './campaign.mjs';

process.once('message', async (job) => {
  const context = await prepare(job.corpusDir);
  for (let index = job.start; index < job.end; index += job.step) {
    const { case: c, result, cli } = await runCase(context, job.seed, index, job.options);
    process.send({
      type: 'done',
      index,
      kind: c.kind,
      origin: c.origin,
      feed: c.feed.mode,
      size: c.bytes.length,
      outcome: result.outcome,
      events: result.events,
      totalMs: result.totalMs,
      memory: result.memory,
      rss: result.rss,
      failures: result.failures,
      cli,
    });
  }
  process.send({ type: 'finished' }, () => process.exit(0));
});
