// A node:http service where one kind of request sometimes does a long synchronous job — the classic
// production mystery: the *other* requests get slow, and their own code is not why. Each request is a
// task; a drink lookup waits for a "database" (a timer) in a region; `GET /report` builds a report
// synchronously (a busy loop of `reportMs`) in the region "buildReport".
import { createServer } from 'node:http';
import { background, newTask, withRegion } from 'tstrace';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Holds the thread for `ms`: a big JSON parse, a report, a template render. */
export function buildReport(ms) {
  const end = performance.now() + ms;
  let rows = 0;
  while (performance.now() < end) rows++;
  return rows;
}

/** The service: `GET /drinks/:name` waits `dbMs` for its lookup; `GET /report` runs `reportMs` of synchronous work. */
export function blockingService({ dbMs = 30, reportMs = 50 } = {}) {
  return createServer((req, res) => {
    const report = req.url === '/report';
    const [ctx, task] = newTask(background, report ? 'GET /report' : 'GET /drinks/:name');
    withRegion(ctx, 'handle', async () => {
      if (report) {
        const rows = withRegion(ctx, 'buildReport', () => buildReport(reportMs));
        return { rows };
      }
      await withRegion(ctx, 'db.findDrink', () => sleep(dbMs));
      return { drink: req.url.slice('/drinks/'.length), price: '3.20' };
    }).then((body) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
      task.end();
    });
  });
}

/**
 * Traffic: `drinks` requests in flight at once, then — while their lookups wait — one report, then the
 * same number of drinks again. Resolves to the number of requests answered.
 */
export async function traffic(url, drinks = 20) {
  const get = async (path) => (await fetch(`${url}${path}`)).text();
  const first = Array.from({ length: drinks }, (_, i) => get(`/drinks/latte-${i}`));
  // The first lookups are still waiting (30 ms) when the report's 50 ms job takes the thread.
  await sleep(5);
  const report = get('/report');
  const second = Array.from({ length: drinks }, (_, i) => get(`/drinks/mocha-${i}`));
  await Promise.all([...first, report, ...second]);
  return 2 * drinks + 1;
}
