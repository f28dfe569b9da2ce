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
    observe('handle', await Promise.all([handle(current(), 1), handle(current(), 2)]));
    await usesExplicit(current());
  },
};
