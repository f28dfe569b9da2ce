/**
 * The cappuccino example of Go's runtime/trace package doc, in TypeScript, instrumented at compile
 * time: the comments `// trace:task` and `// trace:region` below are all the tracing there is, apart
 * from the orderID log and starting and stopping the trace. tspc compiles them into tasks and regions
 * (see tsconfig.json's "plugins").
 *
 * Each order is a task (`makeCappuccino`) carrying its `orderID` log. Milk is steamed and coffee is
 * extracted at the same time, each in a region on a flow of its own (every call of a traced async
 * function runs on its own flow, like a goroutine); milk and coffee are mixed once both are ready,
 * and then the task ends. Three baristas work through eight orders, so orders overlap too.
 *
 * Writes `trace.out` in the current directory. Analyse it with `npx tstrace stats trace.out`.
 */
import { current, log, start, stop } from 'tstrace';

const ORDERS = 8;
const BARISTAS = 3;
const TRACE_FILE = 'trace.out';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// The steps: each call is a region of the order's task. Durations vary a little from order to order.

// trace:region
async function steamMilk(order: number): Promise<void> {
  await sleep(12 + (order % 3) * 4);
}

// trace:region
async function extractCoffee(order: number): Promise<void> {
  await sleep(10 + (order % 4) * 3);
}

// trace:region
async function mixMilkCoffee(order: number): Promise<void> {
  await sleep(3 + (order % 2));
}

// trace:task makeCappuccino
async function makeCappuccino(order: number): Promise<void> {
  // orderID allows to identify a specific order among many cappuccino order records.
  log(current(), 'orderID', `order-${order}`);
  // Milk and espresso at the same time, each on its own flow.
  await Promise.all([steamMilk(order), extractCoffee(order)]);
  await mixMilkCoffee(order);
  // The order is complete: the task ends as this call's promise settles.
}

async function main(): Promise<void> {
  // Tasks and regions get their locations (in main.ts) from the transformer, at no run-time cost.
  start(TRACE_FILE);
  let next = 1;
  // Each barista takes the next order when done with one.
  const barista = async (): Promise<void> => {
    while (next <= ORDERS) await makeCappuccino(next++);
  };
  await Promise.all(Array.from({ length: BARISTAS }, barista));
  await stop();
  console.log(`Traced ${ORDERS} cappuccino orders made by ${BARISTAS} baristas: the trace is in ${TRACE_FILE}`);
}

await main();
