// Flows follow real concurrency: the shapes of Node code that people really write, with hand-written
// regions, record no problem and give every region the parent that enclosed it in its own chain.
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { background, log, newTask, startRegion, withRegion, type Context, type Region } from '../runtime/index.js';
import type { RegionInfo, TraceAnalysis } from '../analysis/analysis-types.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { sleep, traceOf } from './helpers/trace.js';

async function analysisOf(body: () => unknown): Promise<TraceAnalysis> {
  const { path } = await traceOf(body);
  return analyzeTrace(path);
}

const problemKinds = (a: TraceAnalysis) => a.problems.map((p) => p.kind);

/** Every region of `type` has a parent of `parentType` in the same task (null: no parent). */
function expectParents(a: TraceAnalysis, type: string, parentType: string | null): void {
  const regions = a.regions.filter((r) => r.type === type);
  expect(regions.length).toBeGreaterThan(0);
  const byId = new Map(a.regions.map((r) => [r.id, r]));
  for (const r of regions) {
    const parent = r.parent === null ? null : byId.get(r.parent)!;
    expect(parent?.type ?? null, `parent of ${type} #${r.id}`).toBe(parentType);
    if (parent) expect(parent.task, `task of ${type} #${r.id}'s parent`).toBe(r.task);
  }
}

/** Regions on one flow nest strictly: each starts and ends inside the one below it. */
function expectStrictNestingPerFlow(a: TraceAnalysis): void {
  const byFlow = new Map<number, RegionInfo[]>();
  for (const r of a.regions) byFlow.set(r.flow, [...(byFlow.get(r.flow) ?? []), r]);
  for (const [flow, regions] of byFlow) {
    const open: RegionInfo[] = [];
    for (const r of [...regions].sort((x, y) => x.start - y.start || x.id - y.id)) {
      while (open.length > 0 && open[open.length - 1].end! <= r.start) open.pop();
      const top = open[open.length - 1];
      if (top) expect(r.end!, `region #${r.id} on flow ${flow} ends inside #${top.id}`).toBeLessThanOrEqual(top.end!);
      open.push(r);
    }
  }
}

async function db(ctx: Context, ms: number): Promise<void> {
  const r = startRegion(ctx, 'db');
  await sleep(ms);
  r.end();
}

/** A node:http server: a task and a hand-written 'handle' region per request, awaited 'db' helpers. */
async function serveRequests(count: number, concurrency: number): Promise<number> {
  const server: Server = createServer(async (req, res) => {
    const [ctx, task] = newTask(background, 'request');
    log(ctx, 'url', req.url ?? '');
    const r = startRegion(ctx, 'handle');
    await db(ctx, 1 + (Number(req.url?.slice(1)) % 3));
    const inner = startRegion(ctx, 'render');
    await sleep(0);
    inner.end();
    await db(ctx, 1);
    r.end();
    res.end('ok');
    task.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let done = 0;
  const get = (i: number) =>
    new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: `/${i}`, agent: false }, (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => resolve());
      })
        .on('error', reject)
        .end();
    });
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        await get(next++);
        done++;
      }
    }),
  );
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return done;
}

describe('flows follow real concurrency (hand-written regions)', () => {
  it('a node:http server with a task per request and regions across awaits: no problem, right parents', async () => {
    let served = 0;
    const a = await analysisOf(async () => {
      served = await serveRequests(200, 50);
    });
    expect(served).toBe(200);
    expect(problemKinds(a)).toEqual([]);
    expect(a.tasks.filter((t) => t.type === 'request' && t.end !== null)).toHaveLength(200);
    expectParents(a, 'handle', null);
    expectParents(a, 'db', 'handle');
    expectParents(a, 'render', 'handle');
    expect(a.regions.filter((r) => r.type === 'db')).toHaveLength(400);
    expectStrictNestingPerFlow(a);
  });

  it('a few thousand interleaved requests on one server stay apart', async () => {
    let served = 0;
    const a = await analysisOf(async () => {
      served = await serveRequests(3000, 100);
    });
    expect(served).toBe(3000);
    expect(problemKinds(a)).toEqual([]);
    expectParents(a, 'db', 'handle');
    expect(a.regions.filter((r) => r.type === 'handle')).toHaveLength(3000);
    expectStrictNestingPerFlow(a);
  });

  it('Promise.all over async arrows, a task each, regions across awaits', async () => {
    const a = await analysisOf(async () => {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const [ctx, t] = newTask(background, 'item');
          const r = startRegion(ctx, 'outer');
          await sleep(i % 5);
          startRegion(ctx, 'inner').end();
          r.end();
          t.end();
        }),
      );
    });
    expect(problemKinds(a)).toEqual([]);
    expectParents(a, 'outer', null);
    expectParents(a, 'inner', 'outer');
    expectStrictNestingPerFlow(a);
  });

  it("the seed's cappuccino: withRegion with plain functions returning promises, 5 orders at once", async () => {
    const a = await analysisOf(async () => {
      const order = async (id: number) => {
        const [ctx, task] = newTask(background, 'makeCappuccino');
        log(ctx, 'orderID', String(id));
        await Promise.all([withRegion(ctx, 'steamMilk', () => sleep(3)), withRegion(ctx, 'extractCoffee', () => sleep(2))]);
        await withRegion(ctx, 'mixMilkCoffee', () => sleep(1));
        task.end();
      };
      await Promise.all([1, 2, 3, 4, 5].map(order));
    });
    expect(problemKinds(a)).toEqual([]);
    for (const type of ['steamMilk', 'extractCoffee', 'mixMilkCoffee']) expectParents(a, type, null);
    // Each order's page lists its own regions only.
    for (const task of a.tasks.filter((t) => t.type === 'makeCappuccino')) {
      expect(a.regions.filter((r) => r.task === task.id).map((r) => r.type).sort()).toEqual(['extractCoffee', 'mixMilkCoffee', 'steamMilk']);
    }
    expectStrictNestingPerFlow(a);
  });

  it('regions started in the callbacks of a promise-returning withRegion function nest inside it', async () => {
    const a = await analysisOf(async () => {
      const [ctx, task] = newTask(background, 't');
      await Promise.all(
        [1, 2, 3].map((i) =>
          withRegion(ctx, 'step', () =>
            sleep(i).then(() => {
              startRegion(ctx, 'inCallback').end();
            }),
          ),
        ),
      );
      task.end();
    });
    expect(problemKinds(a)).toEqual([]);
    expectParents(a, 'inCallback', 'step');
  });

  it('timers and event-emitter callbacks scheduled inside a region nest inside it', async () => {
    const a = await analysisOf(async () => {
      const [ctx, task] = newTask(background, 't');
      const r = startRegion(ctx, 'outer');
      await Promise.all([
        new Promise<void>((resolve) =>
          setTimeout(() => {
            startRegion(ctx, 'inTimer').end();
            resolve();
          }, 2),
        ),
        new Promise<void>((resolve) =>
          setImmediate(() => {
            startRegion(ctx, 'inImmediate').end();
            resolve();
          }),
        ),
      ]);
      r.end();
      task.end();
    });
    expect(problemKinds(a)).toEqual([]);
    expectParents(a, 'inTimer', 'outer');
    expectParents(a, 'inImmediate', 'outer');
  });

  it("each run of a repeating callback (setInterval's ticks, a socket's 'data' events) is a chain of its own", async () => {
    // Node 20 and 22 keep a callback's scope on its async resource, which runs again on the next tick.
    const a = await analysisOf(async () => {
      const [ctx, task] = newTask(background, 'poller');
      const outer = startRegion(ctx, 'outer');
      let ticks = 0;
      const ended: Promise<void>[] = [];
      await new Promise<void>((resolve) => {
        const interval = setInterval(() => {
          const poll = startRegion(ctx, 'poll');
          ended.push(sleep(8).then(() => poll.end()));
          if (++ticks === 6) {
            clearInterval(interval);
            resolve();
          }
        }, 1);
      });
      await Promise.all(ended);
      outer.end();
      // A connection's messages, one task for the connection, a region per message ended later.
      const [connCtx, connTask] = newTask(background, 'connection');
      const server = createNetServer((socket) => {
        socket.on('data', (chunk) => {
          const message = startRegion(connCtx, 'message');
          ended.push(sleep(8).then(() => message.end()));
          if (chunk.includes('last')) socket.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
      const closed = new Promise((resolve) => client.on('close', resolve));
      for (const text of ['a', 'b', 'c', 'last']) {
        client.write(text);
        await sleep(3);
      }
      await closed;
      await Promise.all(ended);
      await new Promise((resolve) => server.close(resolve));
      connTask.end();
      task.end();
    });
    expect(problemKinds(a)).toEqual([]);
    expect(a.regions.filter((r) => r.type === 'poll')).toHaveLength(6);
    expectParents(a, 'poll', 'outer');
    expectParents(a, 'message', null);
  });

  it('sync regions in one chain still nest on one flow', async () => {
    const a = await analysisOf(() => {
      const [ctx, task] = newTask(background, 't');
      const outer = startRegion(ctx, 'outer');
      const inner = startRegion(ctx, 'inner');
      inner.end();
      outer.end();
      task.end();
    });
    expect(problemKinds(a)).toEqual([]);
    expectParents(a, 'inner', 'outer');
    expect(new Set(a.regions.map((r) => r.flow)).size).toBe(1);
  });

  it('still reports genuine misuse in one chain: an outer region ended before its inner one', async () => {
    const a = await analysisOf(async () => {
      const [ctx, task] = newTask(background, 't');
      const outer = startRegion(ctx, 'outer');
      const inner = startRegion(ctx, 'inner');
      await sleep(1);
      outer.end();
      inner.end();
      task.end();
    });
    expect(problemKinds(a)).toEqual(['regionEndedOutOfOrder']);
    expect(a.problems[0].message).toMatch(/outer/);
  });

  /**
   * A task whose region "x" is ended by a timer scheduled before it began (another chain of execution);
   * with `nested`, a region "inner" is open in it meanwhile, and ended after.
   */
  const endedFromATimer = (nested: boolean) =>
    analysisOf(async () => {
      const [ctx, task] = newTask(background, 't');
      let r: Region | null = null;
      const endedElsewhere = new Promise<void>((resolve) =>
        setTimeout(() => {
          r?.end();
          resolve();
        }, 2),
      );
      r = startRegion(ctx, 'x');
      const inner = nested ? startRegion(ctx, 'inner') : null;
      await endedElsewhere;
      inner?.end();
      task.end();
    });

  it('reports a region ended from another chain of execution (a timer scheduled before it began)', async () => {
    expect(problemKinds(await endedFromATimer(false))).toEqual(['regionEndedOnOtherFlow']);
  });

  it('reports such an end once, when regions nested in the ended one are still open', async () => {
    const a = await endedFromATimer(true);
    // The runtime records two misuse events for that end (the reader needs the out-of-order one to
    // keep its stack): one mistake, one problem.
    expect(problemKinds(a)).toEqual(['regionEndedOnOtherFlow']);
    expect(a.problems[0].message).toMatch(/"x" was ended by a chain of execution that did not start it.*nested in it were still open/);
    expectParents(a, 'inner', 'x');
  });
});
