import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import {
  background,
  current,
  isEnabled,
  log,
  logf,
  newTask,
  start,
  startRegion,
  stop,
  withContext,
  withRegion,
  type Region,
} from '../runtime/index.js';
import { awaited, awaiting, call, finish, FrameKind, param, site } from '../runtime/instrument.js';
import type { TraceEvent } from '../format/events.js';
import { loadTrace } from '../analysis/reader.js';
import { analyzeTrace } from '../analysis/analysis.js';
import { annotations, sleep, tempTracePath, traceOf } from './helpers/trace.js';

/** Compact, comparable view of an event: what Go's tests compare. */
function brief(e: TraceEvent): string {
  switch (e.kind) {
    case 'taskCreate':
      return `taskCreate ${e.type}`;
    case 'taskEnd':
      return `taskEnd ${e.task}`;
    case 'regionStart':
      return `regionStart ${e.type}`;
    case 'regionEnd':
      return `regionEnd ${e.type}`;
    case 'log':
      return `log ${e.task} ${e.category}=${e.message}`;
    default:
      return e.kind;
  }
}

describe("Go's TestUserTaskRegion, re-expressed", () => {
  it('records the task, nested regions, the log and the post-existing region start; not the pre-existing region', async () => {
    const preExisting = startRegion(background, 'pre-existing region');
    const path = tempTracePath();
    start(path, { gc: false, heap: false, eventLoop: false });

    const [ctx, task] = newTask(background, 'task0');
    await withContext(ctx, async () => {
      withRegion(ctx, 'region0', () => {
        withRegion(ctx, 'region1', () => {
          log(ctx, 'key0', '0123456789abcdef');
        });
      });
      task.end();
    });

    preExisting.end();
    const postExisting = startRegion(background, 'post-existing region');
    await stop();
    postExisting.end();

    const { events, status } = await loadTrace(path);
    expect(status.complete).toBe(true);
    expect(annotations(events).filter((e) => e.kind !== 'flowStart').map(brief)).toEqual([
      'taskCreate task0',
      'regionStart region0',
      'regionStart region1',
      `log ${task.id} key0=0123456789abcdef`,
      'regionEnd region1',
      'regionEnd region0',
      `taskEnd ${task.id}`,
      'regionStart post-existing region',
    ]);
    const region0 = events.find((e) => e.kind === 'regionStart' && e.type === 'region0');
    expect(region0).toMatchObject({ task: task.id });
  });
});

describe('tasks', () => {
  it('nests task1 ⊃ task2 ⊃ task3 by parent id, as in Go', async () => {
    const ids: number[] = [];
    const { events } = await traceOf(() => {
      const [ctx1, task1] = newTask(background, 'task1');
      withRegion(ctx1, 'task1.region', () => {
        const [ctx2, task2] = newTask(ctx1, 'task2');
        withRegion(ctx2, 'task2.region', () => {
          const [ctx3, task3] = newTask(ctx2, 'task3');
          withRegion(ctx3, 'task3.region', () => {});
          task3.end();
          ids.push(task3.id);
        });
        task2.end();
        ids.push(task2.id);
      });
      task1.end();
      ids.push(task1.id);
    });
    const [id3, id2, id1] = ids;
    const created = events.filter((e) => e.kind === 'taskCreate');
    expect(created.map((e) => [e.task, e.parent])).toEqual([
      [id1, 0],
      [id2, id1],
      [id3, id2],
    ]);
    const regionTasks = events.filter((e) => e.kind === 'regionStart').map((e) => [e.type, e.task]);
    expect(regionTasks).toEqual([
      ['task1.region', id1],
      ['task2.region', id2],
      ['task3.region', id3],
    ]);
  });

  it('records only the first end, and a log after end still belongs to the task', async () => {
    let id = 0;
    const { events } = await traceOf(() => {
      const [ctx, task] = newTask(background, 'once');
      id = task.id;
      task.end();
      task.end();
      log(ctx, 'after', 'end');
    });
    expect(events.filter((e) => e.kind === 'taskEnd')).toHaveLength(1);
    expect(events.find((e) => e.kind === 'log')).toMatchObject({ task: id, category: 'after', message: 'end' });
  });

  it('uses up task ids while tracing is off, process-wide', async () => {
    const [, a] = newTask(background, 'off');
    const [, b] = newTask(background, 'off');
    expect(b.id).toBe(a.id + 1);
    const { events } = await traceOf(() => {
      newTask(background, 'on');
    });
    expect(events.find((e) => e.kind === 'taskCreate')).toMatchObject({ task: b.id + 1 });
  });
});

describe('start and stop', () => {
  it('throws when started twice, and stopping twice is fine', async () => {
    const path = tempTracePath();
    start(path);
    expect(isEnabled()).toBe(true);
    expect(() => start(tempTracePath())).toThrow('tracing is already enabled');
    await stop();
    expect(isEnabled()).toBe(false);
    await expect(stop()).resolves.toBeUndefined();
  });

  it('writes nothing after stop() resolves', async () => {
    const path = tempTracePath();
    start(path, { sampleInterval: 5 });
    const region = startRegion(background, 'open');
    await stop();
    const size = statSync(path).size;
    region.end();
    log(background, 'late', 'message');
    withRegion(background, 'late', () => {});
    await sleep(30);
    expect(statSync(path).size).toBe(size);
    const { status } = await loadTrace(path);
    expect(status.complete).toBe(true);
  });

  it('keeps a 70,000-character region and task name intact', async () => {
    const name = 'x'.repeat(70_000);
    const { events, status } = await traceOf(() => {
      const [ctx, task] = newTask(background, name);
      withRegion(ctx, name, () => {});
      task.end();
    });
    expect(status.complete).toBe(true);
    expect(events.find((e) => e.kind === 'taskCreate')).toMatchObject({ type: name });
    expect(events.find((e) => e.kind === 'regionStart')).toMatchObject({ type: name });
  });

  it('logf formats only while tracing is on', async () => {
    let formatted = 0;
    const arg = { toString: () => (formatted++, 'arg') };
    logf(background, 'cat', '%s', arg);
    expect(formatted).toBe(0);
    const { events } = await traceOf(() => logf(background, 'cat', 'value=%s n=%d', arg, 42));
    expect(formatted).toBe(1);
    expect(events.find((e) => e.kind === 'log')).toMatchObject({ category: 'cat', message: 'value=arg n=42' });
  });
  it('a long-lived traced loop sees nothing of earlier sessions: each session traces it afresh', async () => {
    // Go's trace endpoint is polled (a trace every minute): a chain that outlives a session (a queue
    // consumer, a traced task started in the first) must not carry that session's context into the next.
    const dir = dirname(tempTracePath());
    const sessions = 4;
    const child = spawnSync(process.execPath, [fileURLToPath(new URL('./fixtures/sessions-long-loop.mjs', import.meta.url)), dir, String(sessions)], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    // The first session's turn is in the consumer's task; later sessions never saw it start.
    expect(JSON.parse(child.stdout)).toEqual(['consume', ...Array(sessions - 1).fill('background')]);
    for (let s = 0; s < sessions; s++) {
      const { events, status } = await loadTrace(join(dir, `session-${s}.trace`));
      expect(status.complete).toBe(true);
      // The consumer's task and its region (on a lane of its own) begin in the first session, and stay open.
      const consumer = s === 0 ? ['taskCreate consume', 'flowStart', 'regionStart consume'] : [];
      expect(annotations(events).map(brief).filter((e) => !e.startsWith('taskEnd'))).toEqual([...consumer, 'taskCreate job', 'regionStart step', 'regionEnd step']);
      // Each job is a subtask of this session's consumer task, or of none: never of an earlier session's.
      const job = events.find((e) => e.kind === 'taskCreate' && e.type === 'job');
      const consume = events.find((e) => e.kind === 'taskCreate' && e.type === 'consume');
      expect(job).toMatchObject({ parent: consume?.kind === 'taskCreate' ? consume.task : 0 });
    }
  });
});

describe('withRegion', () => {
  it('returns the result, rethrows the same error, and ends the region either way', async () => {
    const boom = new Error('boom');
    let thrown: unknown;
    let result = 0;
    const { events } = await traceOf(() => {
      result = withRegion(background, 'ok', () => 42);
      try {
        withRegion(background, 'fails', () => {
          throw boom;
        });
      } catch (error) {
        thrown = error;
      }
    });
    expect(result).toBe(42);
    expect(thrown).toBe(boom);
    expect(annotations(events).map(brief)).toEqual(['regionStart ok', 'regionEnd ok', 'regionStart fails', 'regionEnd fails']);
  });

  it('ends an async region when its promise settles, with the same value or error', async () => {
    const failure = new Error('async failure');
    let value: unknown;
    let rejection: unknown;
    const { events } = await traceOf(async () => {
      value = await withRegion(background, 'slow', async () => {
        await sleep(10);
        return 'done';
      });
      rejection = await withRegion(background, 'rejects', async () => {
        await sleep(1);
        throw failure;
      }).catch((e: unknown) => e);
    });
    expect(value).toBe('done');
    expect(rejection).toBe(failure);
    const start = events.find((e) => e.kind === 'regionStart' && e.type === 'slow')!;
    const end = events.find((e) => e.kind === 'regionEnd' && e.type === 'slow')!;
    expect(end.ts - start.ts).toBeGreaterThanOrEqual(9_000_000);
    expect(events.some((e) => e.kind === 'regionEnd' && e.type === 'rejects')).toBe(true);
  });

  it('returns a thenable that is not a promise as it is, without calling its then, and ends the region with fn', async () => {
    // A lazy query builder (knex, mongoose): chained after withRegion, run when awaited — once.
    const builder = () => {
      const calls = { then: 0, limit: 0 };
      const query = {
        calls,
        limit(n: number) {
          calls.limit = n;
          return query;
        },
        then(resolve: (rows: string) => void) {
          calls.then++;
          resolve(`rows, limit ${calls.limit}`);
        },
      };
      return query;
    };
    const throwing = { then: () => { throw new Error('then throws'); } };
    const run = async () => {
      const query = withRegion(background, 'build', builder).limit(1);
      const rows = await query;
      const same = withRegion(background, 'throwing', () => throwing);
      const error = await (async () => same)().catch((e: unknown) => (e as Error).message);
      return { rows, calls: { ...query.calls }, same: same === throwing, error };
    };
    const off = await run();
    let on: Awaited<ReturnType<typeof run>> | undefined;
    const { events } = await traceOf(async () => {
      on = await run();
    });
    expect(off).toEqual({ rows: 'rows, limit 1', calls: { then: 1, limit: 1 }, same: true, error: 'then throws' });
    expect(on).toEqual(off);
    expect(annotations(events).map(brief)).toEqual(['regionStart build', 'regionEnd build', 'regionStart throwing', 'regionEnd throwing']);
  });

  it('makes ctx the ambient context inside fn and across its awaits', async () => {
    const seen: unknown[] = [];
    const [ctx, task] = newTask(background, 'ambient');
    await traceOf(async () => {
      await withRegion(ctx, 'r', async () => {
        seen.push(current().task);
        await sleep(1);
        seen.push(current().task);
      });
      seen.push(current().task);
    });
    task.end();
    expect(seen).toEqual([task, task, null]);
  });
});

/** Each region's parent, derived from per-flow stacks and flow forks, keyed by region type. */
function regionParents(events: TraceEvent[]): Map<string, string | null> {
  const stacks = new Map<number, string[]>();
  const forkParent = new Map<number, string | null>();
  const parents = new Map<string, string | null>();
  for (const e of events) {
    if (e.kind === 'flowStart') {
      const stack = stacks.get(e.parentFlow) ?? [];
      // Forked under the open region with `regionsAbove` regions above it on the parent flow.
      forkParent.set(e.flow, stack.at(-1 - e.regionsAbove) ?? forkParent.get(e.parentFlow) ?? null);
    } else if (e.kind === 'regionStart') {
      const stack = stacks.get(e.flow) ?? [];
      stacks.set(e.flow, stack);
      parents.set(e.type, stack.at(-1) ?? forkParent.get(e.flow) ?? null);
      stack.push(e.type);
    } else if (e.kind === 'regionEnd') {
      // Pair with the innermost open region of that type (the top one, unless the program misused ends).
      const stack = stacks.get(e.flow)!;
      stack.splice(stack.lastIndexOf(e.type), 1);
    }
  }
  return parents;
}

describe('flows', () => {
  it('gives 1,000 interleaved async calls their own flows, so nested regions have the right parents', async () => {
    const { events, status } = await traceOf(async () => {
      await withRegion(background, 'root', async () => {
        await Promise.all(
          Array.from({ length: 1000 }, (_, i) =>
            withRegion(background, `outer-${i}`, async () => {
              await sleep(Math.random() * 5);
              withRegion(background, `sync-${i}`, () => {});
              await withRegion(background, `inner-${i}`, async () => {
                await sleep(Math.random() * 5);
                const r = startRegion(current(), `leaf-${i}`);
                await sleep(0);
                r.end();
              });
            }),
          ),
        );
      });
    });
    expect(status.complete).toBe(true);
    expect(events.filter((e) => e.kind === 'misuse')).toEqual([]);
    // Strict nesting per flow: every end closes the innermost open region of its flow.
    const open = new Map<number, string[]>();
    for (const e of events) {
      if (e.kind === 'regionStart') open.set(e.flow, [...(open.get(e.flow) ?? []), e.type]);
      if (e.kind === 'regionEnd') expect(open.get(e.flow)!.pop()).toBe(e.type);
    }
    const parents = regionParents(events);
    expect(parents.get('root')).toBeNull();
    for (let i = 0; i < 1000; i++) {
      expect(parents.get(`outer-${i}`)).toBe('root');
      expect(parents.get(`sync-${i}`)).toBe(`outer-${i}`);
      expect(parents.get(`inner-${i}`)).toBe(`outer-${i}`);
      expect(parents.get(`leaf-${i}`)).toBe(`inner-${i}`);
    }
  });

  it("keeps the caller's context and region when a callee suspends at an await", async () => {
    const [callerCtx] = newTask(background, 'caller');
    const [calleeCtx] = newTask(background, 'callee');
    const seen: unknown[] = [];
    const { events } = await traceOf(async () => {
      await withRegion(callerCtx, 'caller', async () => {
        const pending = withRegion(calleeCtx, 'callee', async () => {
          await sleep(5);
        });
        seen.push(current());
        startRegion(current(), 'after-call').end();
        await pending;
        seen.push(current());
      });
    });
    expect(seen).toEqual([callerCtx, callerCtx]);
    const parents = regionParents(events);
    expect(parents.get('after-call')).toBe('caller');
    expect(parents.get('callee')).toBe('caller');
  });

  it('records misuse (double end, out of order, other chain) without throwing, and keeps nesting usable', async () => {
    const { events } = await traceOf(async () => {
      const outer = startRegion(background, 'outer');
      const inner = startRegion(background, 'inner');
      outer.end(); // out of order
      inner.end();
      inner.end(); // twice
      let crossing: Region | null = null;
      // A timer scheduled before the region began runs in another chain of execution.
      const elsewhere = new Promise<void>((resolve) => setTimeout(() => resolve(crossing?.end()), 1));
      crossing = startRegion(background, 'crossing');
      await elsewhere;
      withRegion(background, 'after', () => {});
    });
    expect(events.filter((e) => e.kind === 'misuse').map((e) => e.kind === 'misuse' && [e.misuse, e.type])).toEqual([
      ['regionEndedOutOfOrder', 'outer'],
      ['regionEndedTwice', 'inner'],
      ['regionEndedOnOtherFlow', 'crossing'],
    ]);
    expect(regionParents(events).get('after')).toBeNull();
  });

  it('pairs an out-of-order end exactly, even among recursive regions of one type', async () => {
    const { path } = await traceOf(async () => {
      const outer = startRegion(background, 'recurse');
      const inner = startRegion(background, 'recurse');
      outer.end();
      await sleep(5);
      inner.end();
    });
    const analysis = await analyzeTrace(path);
    const [outer, inner] = analysis.regions;
    expect(inner.parent).toBe(outer.id);
    expect(outer.complete && inner.complete).toBe(true);
    // The outer region ended first, ~5 ms before the inner one: the reader did not swap them.
    expect(inner.end - outer.end).toBeGreaterThanOrEqual(4_000_000);
    expect(analysis.problems.map((p) => p.kind)).toEqual(['regionEndedOutOfOrder']);
  });

  it('has no ambient context while tracing is off', async () => {
    const [ctx] = newTask(background, 'off');
    await withContext(ctx, async () => {
      expect(current()).toBe(background);
    });
  });
});

describe('the time of a traced call', () => {
  it("records the call's task, lane, region and logged parameters at one instant, and its region's and task's ends at another", async () => {
    // What compiled code does for `@traced({ task: true, log: ['item'] }) async order(item)`.
    const orderSite = site('order', 'shop.ts', 3, 1, 'order', true);
    async function order(item: string): Promise<void> {
      const f = call(orderSite, undefined, FrameKind.Async);
      param(f, 'item', item);
      try {
        awaited(f, await awaiting(f, sleep(2)));
      } finally {
        finish(f);
      }
    }
    const { events } = await traceOf(() => Promise.all([order('tea'), order('cake')]));
    for (const item of ['tea', 'cake']) {
      const logged = events.find((e) => e.kind === 'log' && e.message === item) as Extract<TraceEvent, { kind: 'log' }>;
      const created = events.find((e) => e.kind === 'taskCreate' && e.task === logged.task)!;
      const begun = events.find((e) => e.kind === 'regionStart' && e.task === logged.task) as Extract<TraceEvent, { kind: 'regionStart' }>;
      const forked = events.find((e) => e.kind === 'flowStart' && e.flow === begun.flow)!;
      const regionEnd = events.find((e) => e.kind === 'regionEnd' && e.flow === begun.flow)!;
      const taskEnd = events.find((e) => e.kind === 'taskEnd' && e.task === logged.task)!;
      // Both calls are concurrent, each on a lane of its own, forked when it began.
      expect([created.ts, forked.ts, logged.ts]).toEqual([begun.ts, begun.ts, begun.ts]);
      expect(taskEnd.ts).toBe(regionEnd.ts);
      expect(regionEnd.ts - begun.ts).toBeGreaterThanOrEqual(2e6);
    }
  });
});

describe('execution events', () => {
  it('records garbage collections with kind and duration, heap size after them, and event-loop utilization', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { events } = await traceOf(
      async () => {
        gc();
        await sleep(60);
      },
      { gc: true, heap: true, eventLoop: true, sampleInterval: 10 },
    );
    const gcs = events.filter((e) => e.kind === 'gc');
    expect(gcs.some((e) => e.kind === 'gc' && e.gcKind === 'major' && e.duration > 0)).toBe(true);
    expect(events.some((e) => e.kind === 'heap' && e.bytes > 0)).toBe(true);
    const loops = events.filter((e) => e.kind === 'eventLoop');
    expect(loops.length).toBeGreaterThanOrEqual(2);
    for (const e of loops) if (e.kind === 'eventLoop') expect(e.utilization).toBeGreaterThanOrEqual(0);
  });

  it('can switch each execution event off', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { events } = await traceOf(
      async () => {
        gc();
        await sleep(30);
      },
      { gc: false, heap: false, eventLoop: false, sampleInterval: 5 },
    );
    expect(events.filter((e) => e.kind === 'gc' || e.kind === 'heap' || e.kind === 'eventLoop')).toEqual([]);
  });
});

describe('locations', () => {
  it('records where hand-written calls happened when asked to', async () => {
    const { events } = await traceOf(
      () => {
        startRegion(background, 'here').end();
      },
      { captureLocations: true },
    );
    const region = events.find((e) => e.kind === 'regionStart');
    expect(region && region.kind === 'regionStart' && region.location).toMatchObject({
      file: expect.stringMatching(/runtime\.test\.ts$/),
      line: expect.any(Number),
    });
  });
});

describe('the tracer never throws into user code', () => {
  it('accepts whatever a JavaScript caller passes as context, names and messages', async () => {
    const unprintable = {
      toString() {
        throw new Error('no');
      },
    };
    const loose = (fn: Function, ...args: unknown[]) => () => fn(...args);
    const { events, status } = await traceOf(() => {
      expect(loose(log, undefined, 'cat', 'no context')).not.toThrow();
      expect(loose(log, background, 42, unprintable)).not.toThrow();
      expect(loose(startRegion, null, Symbol('sym'))).not.toThrow();
      expect(loose(newTask, undefined, { type: 'object' })).not.toThrow();
      expect(loose(withRegion, undefined, 'fn', () => 1)).not.toThrow();
    });
    expect(status.complete).toBe(true);
    expect(events.filter((e) => e.kind === 'log').map((e) => e.kind === 'log' && [e.category, e.message])).toEqual([
      ['cat', 'no context'],
      ['42', '<unprintable>'],
    ]);
    expect(events.find((e) => e.kind === 'regionStart')).toMatchObject({ type: 'Symbol(sym)' });
    expect(events.find((e) => e.kind === 'taskCreate')).toMatchObject({ type: '[object Object]' });
  });
});
