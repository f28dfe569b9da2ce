// Write throughput: region start/end events through the real runtime into a file, timed from the
// first event to stop() resolving (every byte written and the file closed). The program yields to the
// event loop between chunks, as a real program does, so the background writer can keep up.
import { statSync } from 'node:fs';
import { runtimeDir } from './runtime-dir.mjs';

const { background, newTask, start, startRegion, stop } = await import(`${runtimeDir}/runtime/index.js`);
const { S } = await import(`${runtimeDir}/runtime/recorder.js`);
// The reader always comes from this checkout's build.
const { readTrace } = await import(new URL('../dist/esm/analysis/reader.js', import.meta.url).href);

const [ctx] = newTask(background, 'throughput');

function regionPairs(n) {
  for (let i = 0; i < n; i++) {
    startRegion(ctx, 'x').end();
  }
}

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

async function writeTrace(path, pairs, chunk) {
  start(path);
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < pairs; done += chunk) {
    regionPairs(Math.min(chunk, pairs - done));
    await yieldToLoop();
  }
  const recorded = S.trace.recorded + S.count;
  const dropped = S.trace.dropped;
  await stop();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, recorded, dropped };
}

/** Reads the trace back: it must be complete and hold exactly the region events we wrote. */
async function verify(path) {
  let regionEvents = 0;
  let otherEvents = 0;
  const status = await readTrace(path, (event) => {
    if (event.kind === 'regionStart' || event.kind === 'regionEnd') regionEvents++;
    else otherEvents++;
  });
  return { status, regionEvents, otherEvents };
}

export async function measureThroughput(path, { pairs, chunk, verifyFile }) {
  // Warm-up: the same loop, a smaller trace.
  await writeTrace(path, Math.min(pairs, 200_000), chunk);
  const { seconds, recorded, dropped } = await writeTrace(path, pairs, chunk);
  const bytes = statSync(path).size;
  const events = 2 * pairs;
  const result = { pairs, events, seconds, eventsPerSecond: events / seconds, bytes, bytesPerEvent: bytes / events, recorded, dropped };
  if (verifyFile) {
    const { status, regionEvents, otherEvents } = await verify(path);
    result.verified = status.complete && regionEvents === events && status.footer?.dropped === 0;
    result.verifyNote = `complete=${status.complete}, region events read=${regionEvents}, other events=${otherEvents}, footer.dropped=${status.footer?.dropped}`;
  }
  return result;
}
