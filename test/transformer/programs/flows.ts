// Instrumented async code under heavy interleaving: what the regions test checks in the trace.
import { current, log, startRegion, type Context } from 'tstrace';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const jitter = () => sleep(Math.random() * 4);

// trace:region
function inner(i: number) {
  return i;
}

// trace:region
async function leaf(i: number) {
  await jitter();
  return inner(i);
}

// trace:region
async function outer(i: number) {
  await jitter();
  const v = await leaf(i);
  await jitter();
  return v;
}

// trace:region
async function root() {
  return Promise.all(Array.from({ length: 1000 }, (_, i) => outer(i)));
}

// A timer may fire up to ~1 ms early by the high-resolution clock: wait until 10 ms have really passed.
const atLeast = async (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) await sleep(end - performance.now());
};

// trace:region
async function slowReturn() {
  return atLeast(10);
}

// trace:region
async function callee() {
  await sleep(5);
}

// trace:region
async function caller() {
  const pending = callee();
  startRegion(current(), 'afterCall').end();
  await pending;
  startRegion(current(), 'afterAwait').end();
}

async function* ticks(count: number) {
  for (let i = 0; i < count; i++) {
    await sleep(2);
    yield i;
  }
}

// trace:region
async function streamCallee() {
  let sum = 0;
  for await (const tick of ticks(3)) {
    startRegion(current(), 'inLoop').end();
    sum += tick;
  }
  startRegion(current(), 'afterLoop').end();
  return sum;
}

// trace:region
async function streamCaller() {
  const pending = streamCallee();
  // The callee now waits in its loop's implicit await: this is the caller's code again.
  startRegion(current(), 'whileStreaming').end();
  const sum = await pending;
  startRegion(current(), 'afterStream').end();
  return sum;
}

// trace:region
async function promisesCallee() {
  let sum = 0;
  for await (const value of [sleep(3).then(() => 1), sleep(3).then(() => 2)]) {
    startRegion(current(), 'inPromisesLoop').end();
    sum += value;
  }
  return sum;
}

// trace:region
async function promisesCaller() {
  const pending = promisesCallee();
  startRegion(current(), 'whilePromises').end();
  return pending;
}

// trace:region
async function labelledLoopCallee() {
  outer: for (const round of [1, 2]) {
    for await (const tick of ticks(2)) {
      if (tick === 1) continue outer;
    }
    startRegion(current(), 'neverHere').end();
  }
  startRegion(current(), 'afterOuter').end();
  inner: for await (const tick of ticks(1)) if (tick > 5) break inner;
  startRegion(current(), 'afterLabelled').end();
  try {
    await Promise.reject(new Error('no'));
  } finally {
    startRegion(current(), 'inFinally').end();
  }
}

// trace:region
async function labelledLoopCaller() {
  await labelledLoopCallee().catch(() => undefined);
}

// trace:task handle
async function handle(ctx: Context, id: number) {
  log(current(), 'id', String(id));
  await sleep(1);
  return [current().task !== null, current().task !== ctx.task];
}

// trace:region
async function usesExplicit(ctx: Context) {
  await sleep(1);
  log(ctx, 'explicit', 'context');
}

export const scenarios = {
  async run(observe: (label: string, value: unknown) => void) {
    observe('root', (await root()).length);
    await slowReturn();
    await caller();
    observe('stream', await streamCaller());
    observe('promises', await promisesCaller());
    await labelledLoopCaller();
    observe('handle', await Promise.all([handle(current(), 1), handle(current(), 2)]));
    await usesExplicit(current());
  },
};
