// The shapes of test/flows.test.ts with instrumented functions instead of hand-written regions:
// a node:http server whose handler is a task, Promise.all over instrumented calls, and the seed's
// cappuccino with plain functions that return promises.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { current, log } from 'tstrace';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// trace:region
async function query(id: number) {
  await sleep(1 + (id % 3));
  return id;
}

// trace:region
function render(id: number) {
  return `row ${id}`;
}

// trace:task request
async function handleRequest(url: string) {
  log(current(), 'url', url);
  const id = await query(Number(url.slice(1)));
  await sleep(0);
  return render(await query(id));
}

async function serve(count: number, concurrency: number) {
  const server = createServer((req, res) => {
    void handleRequest(req.url ?? '/0').then((body) => res.end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let next = 0;
  let ok = 0;
  const get = (i: number) =>
    new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: `/${i}`, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(body));
      })
        .on('error', reject)
        .end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        if ((await get(i)) === `row ${i}`) ok++;
      }
    }),
  );
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

// trace:region
async function innerStep(i: number) {
  await sleep(i % 4);
}

// trace:task item
async function processItem(i: number) {
  await sleep(i % 5);
  await innerStep(i);
  return i;
}

// trace:region
function steamMilk() {
  return sleep(3);
}

// trace:region
function extractCoffee() {
  return sleep(2);
}

// trace:region
function mixMilkCoffee() {
  return sleep(1);
}

// trace:task makeCappuccino
async function makeCappuccino(orderID: number) {
  log(current(), 'orderID', String(orderID));
  await Promise.all([steamMilk(), extractCoffee()]);
  await mixMilkCoffee();
}

// Statements marked as regions that hold an await or a yield: the region is the statement's, never
// held open while its function is suspended. In a function that is not traced (the region is the only
// one), in a traced one, and in a generator whose consumer works between resumptions.
async function untracedHandler(i: number) {
  // trace:region step
  await sleep(i % 3);
  afterStep();
}

// trace:region
async function lookup(id: number) {
  await sleep(id % 2);
  return id;
}

// trace:region
async function tracedHandler(i: number) {
  // trace:region tracedStep
  {
    const got = await lookup(i);
    await sleep(got % 2);
  }
  afterStep();
}

// trace:region
function afterStep() {
  return 0;
}

function* produce() {
  // trace:region produceStep
  {
    yield 1;
    yield 2;
  }
}

// trace:region
function consume() {
  return 1;
}

// Generators closed early — return(), throw() without a catch, a for-of left by break — run their
// finally blocks in that resumption: an occurrence of the generator's region, with the cleanup in it.
// trace:region
function cleanup() {
  return 0;
}

// trace:region
function* closable() {
  try {
    yield 1;
    yield 2;
  } finally {
    cleanup();
  }
}

// trace:region
function* bare() {
  yield 1;
  yield 2;
}

function closeEarly(): unknown[] {
  const closed: unknown[] = [];
  const noFinally = bare();
  noFinally.next();
  closed.push(noFinally.return(undefined).done);
  const returned = closable();
  returned.next();
  closed.push(returned.return(undefined).done);
  const thrown = closable();
  thrown.next();
  try {
    thrown.throw(new Error('closed'));
  } catch (error) {
    closed.push((error as Error).message);
  }
  for (const value of closable()) {
    closed.push(value);
    break;
  }
  return closed;
}

export const scenarios = {
  async statements(observe: (label: string, value: unknown) => void) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => untracedHandler(i)));
    await Promise.all(Array.from({ length: 20 }, (_, i) => tracedHandler(i)));
    let sum = 0;
    for (const value of produce()) sum += value + consume();
    const suspended = produce();
    suspended.next();
    consume();
    observe('consumed', sum);
    observe('closed early', closeEarly());
  },

  async run(observe: (label: string, value: unknown) => void) {
    observe('served', await serve(200, 50));
    observe('items', (await Promise.all(Array.from({ length: 100 }, (_, i) => processItem(i)))).length);
    await Promise.all([1, 2, 3, 4, 5].map(makeCappuccino));
  },
};
