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

export const scenarios = {
  async run(observe: (label: string, value: unknown) => void) {
    observe('served', await serve(200, 50));
    observe('items', (await Promise.all(Array.from({ length: 100 }, (_, i) => processItem(i)))).length);
    await Promise.all([1, 2, 3, 4, 5].map(makeCappuccino));
  },
};
