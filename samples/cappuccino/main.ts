/**
 * The cappuccino example of Go's runtime/trace package doc, in TypeScript.
 *
 * Each order is a task (`makeCappuccino`) carrying its `orderID` log. Milk is steamed and coffee is
 * extracted at the same time, each in a region on a flow of its own (an async function passed to
 * `withRegion` runs on its own flow, like a goroutine); milk and coffee are mixed once both are ready,
 * and then the task ends. Three baristas work through eight orders, so orders overlap too.
 *
 * Writes `trace.out` in the current directory. Analyse it with `npx tstrace stats trace.out`.
 */
import { background, log, newTask, start, stop, withContext, withRegion, type Context } from 'tstrace';

const ORDERS = 8;
const BARISTAS = 3;
const TRACE_FILE = 'trace.out';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// The work itself: it knows nothing about tracing. Durations vary a little from order to order.
const steamMilk = (order: number): Promise<void> => sleep(12 + (order % 3) * 4);
const extractCoffee = (order: number): Promise<void> => sleep(10 + (order % 4) * 3);
const mixMilkCoffee = (order: number): Promise<void> => sleep(3 + (order % 2));

async function makeCappuccino(ctx: Context, order: number): Promise<void> {
  const [orderCtx, task] = newTask(ctx, 'makeCappuccino');
  // orderID allows to identify a specific order among many cappuccino order records.
  log(orderCtx, 'orderID', `order-${order}`);

  // Milk and espresso at the same time, each on its own flow.
  const milk = withRegion(orderCtx, 'steamMilk', async () => steamMilk(order));
  const espresso = withRegion(orderCtx, 'extractCoffee', async () => extractCoffee(order));
  await Promise.all([milk, espresso]);

  await withRegion(orderCtx, 'mixMilkCoffee', async () => mixMilkCoffee(order));
  task.end(); // The order is complete.
}

async function main(): Promise<void> {
  // Record where each task, region and log was created (of the compiled JavaScript): the reports show it.
  start(TRACE_FILE, { captureLocations: true });
  let next = 1;
  // Each barista works on a flow of its own and takes the next order when done with one.
  const barista = (): Promise<void> =>
    withContext(background, async () => {
      while (next <= ORDERS) await makeCappuccino(background, next++);
    });
  await Promise.all(Array.from({ length: BARISTAS }, barista));
  await stop();
  console.log(`Traced ${ORDERS} cappuccino orders made by ${BARISTAS} baristas: the trace is in ${TRACE_FILE}`);
}

await main();
