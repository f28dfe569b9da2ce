// The runtime `@traced` decorator, for code the transformer does not compile: in both decorator
// modes it records what the instrumented body would, and the method behaves as it did.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';
import { runInThisContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type * as TS from 'typescript';
import * as runtime from '../runtime/index.js';
import { background, current, isEnabled, newTask, startRegion, Task, traced, withContext, withRegion, type Context } from '../runtime/index.js';
import { compiled } from '../runtime/instrument.js';
import { analyzeTrace } from '../analysis/analysis.js';
import type { RegionInfo, TraceAnalysis } from '../analysis/analysis-types.js';
import type * as ShapesModule from './fixtures/traced/shapes.js';
import type * as PrivateModule from './fixtures/traced/private.js';
import { sleep, traceOf } from './helpers/trace.js';

const require = createRequire(import.meta.url);
const ts = require('typescript') as typeof TS;
const fixtures = fileURLToPath(new URL('./fixtures/traced/', import.meta.url));

type Mode = 'tc39' | 'experimental';

/** A minimal `Reflect.metadata`, enough for TypeScript's `__metadata` helper. */
function metadataShim() {
  const store = new Map<string, unknown>();
  const keyOf = (k: string, target: object, member: PropertyKey) => `${k}|${String(member)}|${target === Object(target) ? (target as { constructor?: { name?: string } }).constructor?.name : ''}`;
  return Object.assign(Object.create(Reflect) as typeof Reflect, {
    metadata: (k: string, v: unknown) => (target: object, member: PropertyKey) => void store.set(keyOf(k, target, member), v),
    getMetadata: (k: string, target: object, member: PropertyKey) => store.get(keyOf(k, target, member)),
  });
}

/**
 * Compiles a fixture with TypeScript (target ES2022, CommonJS) in one decorator mode and runs it in
 * this realm under the name `<fixture>.<mode>.js`, its import of the runtime bound to ours.
 */
function load<T>(fixture: string, mode: Mode): T & { Reflect: ReturnType<typeof metadataShim> } {
  const file = join(fixtures, fixture);
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      experimentalDecorators: mode === 'experimental',
      emitDecoratorMetadata: mode === 'experimental',
    },
  });
  const filename = join(dirname(file), `${basename(file, '.ts')}.${mode}.js`);
  const run = runInThisContext(`(function (exports, require, module, Reflect) {${outputText}\n})`, { filename }) as Function;
  const module = { exports: {} as Record<string, unknown> };
  const shim = metadataShim();
  const resolve = (id: string): unknown => (id.endsWith('/runtime/index.js') ? runtime : require(id));
  run(module.exports, resolve, module, shim);
  return Object.assign(module.exports, { Reflect: shim }) as unknown as T & { Reflect: typeof shim };
}

async function analyzed(body: () => unknown): Promise<TraceAnalysis> {
  const { path, status } = await traceOf(body);
  expect(status.complete).toBe(true);
  return analyzeTrace(path);
}

const regions = (a: TraceAnalysis, type: string): RegionInfo[] => a.regions.filter((r) => r.type === type);
const only = (a: TraceAnalysis, type: string): RegionInfo => {
  const found = regions(a, type);
  expect(found, type).toHaveLength(1);
  return found[0];
};
/** The parent region (items of an analysis are made when asked for: equal each time, not identical). */
const parentOf = (a: TraceAnalysis, r: RegionInfo): RegionInfo | null => (r.parent === null ? null : a.regions.at(r.parent - 1)!);

/** Every region ended, in order on its flow, and the runtime saw no misuse. */
function expectWellNested(a: TraceAnalysis): void {
  expect(a.problems).toEqual([]);
  expect(a.regions.filter((r) => !r.complete).map((r) => r.type)).toEqual([]);
}

const AsyncFunction = Object.getPrototypeOf(async () => {}) as object;
const GeneratorFunction = Object.getPrototypeOf(function* () {}) as object;

describe.each(['tc39', 'experimental'] as const)('@traced with %s decorators', (mode) => {
  const { Shapes, Base, Derived, Repository, Named, Nest, Reflect: metadata } = load<typeof ShapesModule>('shapes.ts', mode);

  describe('the method is unchanged', () => {
    it('keeps this, arguments, the result, name and length', async () => {
      const s = new Shapes('x');
      const check = () => {
        const result = s.add(1, 2);
        expect(result).toEqual({ sum: 3, self: s, count: 2 });
        expect(result.self).toBe(s);
      };
      check();
      await traceOf(check);
      const proto = Shapes.prototype;
      expect([proto.add.name, proto.add.length]).toEqual(['add', 2]);
      expect([proto.later.name, proto.later.length]).toEqual(['later', 1]);
      expect([proto.find.name, proto.find.length]).toEqual(['find', 2]);
      expect([Shapes.make.name, Shapes.make.length]).toEqual(['make', 1]);
      const size = Object.getOwnPropertyDescriptor(proto, 'size')!;
      const limit = Object.getOwnPropertyDescriptor(proto, 'limit')!;
      expect([size.get!.name, size.set!.name, size.set!.length, limit.set!.name, limit.set!.length]).toEqual(['get size', 'set size', 1, 'set limit', 1]);
      expect(Object.getPrototypeOf(proto.later)).toBe(AsyncFunction);
      expect(Object.getPrototypeOf(proto.count)).toBe(GeneratorFunction);
      expect(Object.hasOwn(proto.add, 'prototype')).toBe(false);
    });

    it('rethrows the very error (or rejection) and ends the region anyway', async () => {
      const s = new Shapes();
      const errors = [new Error('sync boom'), new Error('async boom'), new TypeError('quiet boom')];
      const caught: unknown[] = [];
      const a = await analyzed(async () => {
        try {
          s.fail(errors[0]);
        } catch (error) {
          caught.push(error);
        }
        caught.push(await s.failLater(errors[1]).catch((error: unknown) => error));
        try {
          s.failQuietly(errors[2]);
        } catch (error) {
          caught.push(error);
        }
      });
      expect(caught).toEqual(errors);
      caught.forEach((error, i) => expect(error).toBe(errors[i]));
      expectWellNested(a);
      expect(a.regions.map((r) => r.type)).toEqual(['Shapes.fail', 'Shapes.failLater', 'Shapes.failQuietly']);
    });

    it('does the same while tracing is off, and leaves generators alone', async () => {
      expect(isEnabled()).toBe(false);
      const s = new Shapes();
      expect(s.add(2, 3).sum).toBe(5);
      await expect(s.later(1)).resolves.toBe(1);
      const g = s.count(2);
      expect(Object.hasOwn(g, 'next')).toBe(false);
      expect([...g]).toEqual([0, 1]);
      const values: number[] = [];
      for await (const v of s.ticks(2)) values.push(v);
      expect(values).toEqual([0, 1]);
      expect(s.job()).toBeNull();
    });
  });

  describe('regions', () => {
    it('names a region Class.method, for instance and static methods, getters and setters', async () => {
      const s = new Shapes();
      const a = await analyzed(() => {
        s.add(1, 1);
        expect(Shapes.make('made').label).toBe('made');
        s.size = 7;
        expect(s.size).toBe(7);
        s.limit = 5;
        expect(s.size).toBe(5);
        expect(s.named()).toBe('named');
      });
      // experimentalDecorators decorate a get/set pair at once; TC39 decorators, each accessor alone.
      const setSize = mode === 'experimental' ? ['Shapes.set size'] : [];
      expect(a.regions.map((r) => r.type)).toEqual(['Shapes.add', 'Shapes.make', ...setSize, 'Shapes.get size', 'Shapes.set limit', 'Shapes.get size', 'custom name']);
      expectWellNested(a);
    });

    it('names an inherited method after the class that defines it', async () => {
      const a = await analyzed(() => {
        expect(new Derived().greet()).toBe('base');
        expect(new Base().greet()).toBe('base');
      });
      expect(a.regions.map((r) => r.type)).toEqual(['Base.greet', 'Base.greet']);
    });

    it('records where the decorator was applied', async () => {
      const a = await analyzed(() => new Shapes().add(1, 2));
      expect(a.regions.at(0)!.location).toMatchObject({ file: join(fixtures, `shapes.${mode}.js`), line: expect.any(Number) });
      expect(a.regions.at(0)!.location!.line).toBeGreaterThan(1);
    });

    it('ends an async method’s region when its promise settles, on a flow of its own', async () => {
      let value: unknown;
      const a = await analyzed(async () => {
        await withRegion(background, 'caller', async () => {
          await new Shapes().settlesLater(10);
          value = await new Shapes().later(3);
        });
      });
      expect(value).toBe(3);
      const caller = only(a, 'caller');
      const settles = only(a, 'Shapes.settlesLater');
      expect(settles.duration).toBeGreaterThanOrEqual(9_000_000);
      expect(settles.flow).not.toBe(caller.flow);
      expect(parentOf(a, settles)).toEqual(caller);
      expect(parentOf(a, only(a, 'Shapes.later'))).toEqual(caller);
      expectWellNested(a);
    });

    it("leaves the caller's context and regions intact when it does not await the call", async () => {
      const [ctx] = newTask(background, 'caller');
      const s = new Shapes();
      const seen: unknown[] = [];
      const a = await analyzed(async () => {
        const outside = s.later(2);
        seen.push(current());
        await withRegion(ctx, 'caller', async () => {
          const pending = s.later(5);
          seen.push(current());
          startRegion(current(), 'after-call').end();
          await pending;
          seen.push(current());
        });
        await outside;
        seen.push(current());
      });
      expect(seen).toEqual([background, ctx, ctx, background]);
      const caller = only(a, 'caller');
      const after = only(a, 'after-call');
      expect(parentOf(a, after)).toEqual(caller);
      expect(after.flow).toBe(caller.flow);
      const [top, inner] = regions(a, 'Shapes.later');
      expect(parentOf(a, top)).toBeNull();
      expect(parentOf(a, inner)).toEqual(caller);
      expectWellNested(a);
    });

    it('nests 100 interleaved async calls, with nested traced calls, under the right parents', async () => {
      const nest = new Nest();
      const a = await analyzed(async () => {
        await withRegion(background, 'root', async () => {
          const results = await Promise.all(Array.from({ length: 100 }, (_, i) => nest.outer(i, Math.random() * 5, Math.random() * 5)));
          expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i));
        });
      });
      expectWellNested(a);
      // Strict nesting per flow, as Go's trace parser requires.
      const open = new Map<number, RegionInfo[]>();
      for (const r of [...a.regions].sort((x, y) => x.start - y.start)) {
        const stack = (open.get(r.flow) ?? []).filter((o) => o.end > r.start);
        if (stack.length) expect(r.end).toBeLessThanOrEqual(stack.at(-1)!.end);
        open.set(r.flow, [...stack, r]);
      }
      // Each call's regions carry its index through the logs recorded inside them, on their flow.
      const indexOf = (r: RegionInfo): string | undefined =>
        a.logs.find((l) => l.category === 'i' && l.flow === r.flow && l.ts >= r.start && l.ts <= r.end)?.message;
      const root = only(a, 'root');
      const outers = regions(a, 'Nest.outer');
      expect(outers).toHaveLength(100);
      for (const outer of outers) expect(parentOf(a, outer)).toEqual(root);
      for (const middle of regions(a, 'Nest.middle')) {
        expect(parentOf(a, middle)!.type).toBe('Nest.outer');
        expect(indexOf(parentOf(a, middle)!)).toBe(indexOf(middle));
      }
      const inners = regions(a, 'Nest.inner');
      expect(new Set(inners.map((r) => r.flow)).size).toBe(100);
      for (const inner of inners) {
        const i = indexOf(inner);
        expect(i).toBeDefined();
        expect(indexOf(parentOf(a, inner)!)).toBe(i);
        expect(parentOf(a, only(a, `leaf-${i}`))).toEqual(inner);
      }
    });
  });

  describe('generators', () => {
    it('makes each resumption of a generator one region on the flow that resumes it', async () => {
      const s = new Shapes();
      let values: number[] = [];
      let returned: unknown;
      const a = await analyzed(() => {
        withRegion(background, 'consumer', () => {
          const g = s.count(2);
          expect(types.isGeneratorObject(g)).toBe(true);
          expect(g[Symbol.iterator]()).toBe(g);
          expect(g).toBeInstanceOf(Shapes.prototype.count);
          for (let r = g.next(); ; r = g.next()) {
            if (r.done) {
              returned = r.value;
              break;
            }
            values.push(r.value);
            startRegion(current(), `between-${r.value}`).end();
          }
        });
      });
      expect(values).toEqual([0, 1]);
      expect(returned).toBe('done');
      const consumer = only(a, 'consumer');
      const resumptions = regions(a, 'Shapes.count');
      expect(resumptions).toHaveLength(3); // two yields, then the completion
      for (const r of resumptions) {
        expect(parentOf(a, r)).toEqual(consumer);
        expect(r.flow).toBe(consumer.flow);
      }
      expect(parentOf(a, only(a, 'between-0'))).toEqual(consumer);
      expect(parentOf(a, only(a, 'between-1'))).toEqual(consumer);
      expectWellNested(a);

      // Abandoned early: `return()` is one more resumption; nothing stays open.
      values = [];
      const early = await analyzed(() => {
        for (const v of s.count(5)) {
          values.push(v);
          if (v === 1) break;
        }
        const unstarted = s.count(3);
        expect(unstarted.return('never started')).toEqual({ value: 'never started', done: true });
        expect(unstarted.next()).toEqual({ value: undefined, done: true });
      });
      expect(values).toEqual([0, 1]);
      expect(regions(early, 'Shapes.count')).toHaveLength(3);
      expectWellNested(early);
    });

    it('makes each resumption of an async generator one region on the generator’s flow', async () => {
      const s = new Shapes();
      const [ctx] = newTask(background, 'consumer');
      const values: number[] = [];
      const seen: unknown[] = [];
      const a = await analyzed(() =>
        withRegion(ctx, 'consumer', async () => {
          for await (const v of s.ticks(3)) {
            values.push(v);
            seen.push(current());
            startRegion(current(), `between-${v}`).end();
          }
        }),
      );
      expect(values).toEqual([0, 1, 2]);
      expect(seen).toEqual([ctx, ctx, ctx]);
      const consumer = only(a, 'consumer');
      const resumptions = regions(a, 'Shapes.ticks');
      expect(resumptions).toHaveLength(4);
      expect(new Set(resumptions.map((r) => r.flow)).size).toBe(1);
      expect(resumptions[0].flow).not.toBe(consumer.flow);
      for (const r of resumptions.slice(0, 3)) expect(r.duration).toBeGreaterThanOrEqual(1_000_000);
      for (const v of [0, 1, 2]) {
        const between = only(a, `between-${v}`);
        expect(parentOf(a, between)).toEqual(consumer);
        expect(between.flow).toBe(consumer.flow);
      }
      expectWellNested(a);

      // Abandoned early: `return()` is one more resumption; nothing stays open.
      const early = await analyzed(async () => {
        for await (const v of s.ticks(5)) if (v === 0) break;
      });
      expect(regions(early, 'Shapes.ticks')).toHaveLength(2);
      expectWellNested(early);
    });

    it('gives back their own scope to consumers that take turns resuming one async generator', async () => {
      const s = new Shapes();
      const [ctxA] = newTask(background, 'A');
      const [ctxB] = newTask(background, 'B');
      const seen: unknown[] = [];
      await traceOf(async () => {
        const g = s.ticks(3);
        await withContext(ctxA, async () => {
          const pending = g.next();
          seen.push(current());
          await pending;
        });
        await withContext(ctxB, async () => {
          const pending = g.next();
          seen.push(current());
          expect(await pending).toEqual({ value: 1, done: false });
          seen.push(current());
        });
      });
      expect(seen).toEqual([ctxA, ctxB, ctxB]);
    });
  });

  describe('options', () => {
    it('task: each call is a task that callees see, ending with the call', async () => {
      const s = new Shapes();
      const [ctx, outer] = newTask(background, 'outer');
      let syncTask: unknown;
      let asyncTask: unknown;
      const { events } = await traceOf(() =>
        withContext(ctx, async () => {
          syncTask = s.job();
          expect(current()).toBe(ctx);
          asyncTask = await s.asyncJob();
          expect(current()).toBe(ctx);
        }),
      );
      expect(syncTask).toBeInstanceOf(Task);
      expect(asyncTask).toBeInstanceOf(Task);
      const [sync, async] = [syncTask as Task, asyncTask as Task];
      expect([sync.type, async.type]).toEqual(['Shapes.job', 'Shapes.asyncJob']);
      const created = events.filter((e) => e.kind === 'taskCreate');
      expect(created.map((e) => [e.task, e.parent])).toEqual([
        [sync.id, outer.id],
        [async.id, outer.id],
      ]);
      expect(events.filter((e) => e.kind === 'taskEnd').map((e) => e.task)).toEqual([sync.id, async.id]);
      const regionTasks = events.filter((e) => e.kind === 'regionStart').map((e) => [e.type, e.task]);
      expect(regionTasks).toEqual([
        ['Shapes.job', sync.id],
        ['Shapes.asyncJob', async.id],
      ]);
      const asyncEnd = events.find((e) => e.kind === 'taskEnd' && e.task === async.id)!;
      const asyncStart = events.find((e) => e.kind === 'taskCreate' && e.task === async.id)!;
      expect(asyncEnd.ts - asyncStart.ts).toBeGreaterThanOrEqual(500_000);
    });

    it('log: records the named parameters at entry, inside the region', async () => {
      const s = new Shapes();
      const a = await analyzed(() => expect(s.find('abc', { deep: { x: 1 } }, 3, 7, 8)).toBe(5));
      const region = only(a, 'Shapes.find');
      expect(a.logs.map((l) => [l.category, l.message])).toEqual([
        ['id', 'abc'],
        ['options', '{ deep: { x: 1 } }'],
        ['rest', '[ 7, 8 ]'],
      ]);
      for (const l of a.logs) expect([l.flow, l.ts >= region.start && l.ts <= region.end]).toEqual([region.flow, true]);
    });

    it('err: logs a thrown error or a rejection in category "error"; without it, nothing', async () => {
      const s = new Shapes();
      const a = await analyzed(async () => {
        expect(() => s.fail(new Error('sync boom'))).toThrow('sync boom');
        await expect(s.failLater(new Error('async boom'))).rejects.toThrow('async boom');
        expect(() => s.failQuietly(new Error('quiet boom'))).toThrow('quiet boom');
      });
      expect(a.logs.map((l) => [l.category, l.message])).toEqual([
        ['error', expect.stringMatching(/sync boom$/)],
        ['error', expect.stringMatching(/async boom$/)],
      ]);
      const failLater = only(a, 'Shapes.failLater');
      expect(a.logs.at(1)!.flow).toBe(failLater.flow);
      expect(a.logs.at(1)!.ts).toBeLessThanOrEqual(failLater.end);
    });

    it('takes the task of a Context argument; other objects are not contexts', async () => {
      const s = new Shapes();
      const [given, task] = newTask(background, 'given');
      const [ambient, ambientTask] = newTask(background, 'ambient');
      const lookalikes = [{ task: null }, { task: { id: 1, type: 'x', end() {} } }];
      const hostile = new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
          getOwnPropertyDescriptor: () => {
            throw new Error('trap');
          },
          has: () => {
            throw new Error('trap');
          },
          getPrototypeOf: () => {
            throw new Error('trap');
          },
        },
      );
      const a = await analyzed(() =>
        withContext(ambient, () => {
          expect(s.withContext(given, 1)).toBe(1);
          for (const lookalike of lookalikes) s.withContext(lookalike as unknown as Context, 2);
          expect(s.withContext(hostile as Context, 3)).toBe(3);
          expect(s.find('id', hostile)).toBe(1);
        }),
      );
      expect(regions(a, 'Shapes.withContext').map((r) => r.task)).toEqual([task.id, ambientTask.id, ambientTask.id, ambientTask.id]);
      // A context argument is the region's task; it does not change the ambient context of the body.
      expect(regions(a, 'inside').map((r) => r.task)).toEqual([ambientTask.id, ambientTask.id, ambientTask.id, ambientTask.id]);
    });
  });

  describe('on a class', () => {
    it('traces its own prototype and static methods and accessors, not the constructor, fields or methods traced already', async () => {
      let repository: InstanceType<typeof Repository> | undefined;
      const a = await analyzed(async () => {
        repository = new Repository();
        expect(repository.load(7)).toBe(7);
        expect(await repository.save()).toBe('saved');
        expect(Repository.create()).toBeInstanceOf(Repository);
        expect(repository.computed).toBe(1);
        expect(repository.field()).toBe('field');
        expect(Repository.staticField()).toBe('static field');
        expect(repository.own()).toBe('own');
      });
      expect(a.regions.map((r) => r.type)).toEqual(['Repository.load', 'Repository.save', 'Repository.create', 'Repository.get computed', 'Repository.custom']);
      expect(only(a, 'Repository.save').flow).not.toBe(only(a, 'Repository.load').flow);
      expect([Repository.prototype.load.name, Repository.prototype.load.length]).toEqual(['load', 1]);
    });

    it('applies its options to each method, with name standing for the class name', async () => {
      let task: unknown;
      const a = await analyzed(() => {
        task = new Named().run();
      });
      expect(task).toMatchObject({ type: 'Renamed.run' });
      expect(only(a, 'Renamed.run').task).toBe((task as Task).id);
    });
  });

  if (mode === 'experimental') {
    it('keeps design metadata (emitDecoratorMetadata)', () => {
      expect(metadata.getMetadata('design:paramtypes', Shapes.prototype, 'add')).toEqual([Number, Number]);
      expect(metadata.getMetadata('design:returntype', Shapes.prototype, 'later')).toBe(Promise);
    });
  }
});

describe('@traced on #private methods (TC39 decorators)', () => {
  const { Private } = load<typeof PrivateModule>('private.ts', 'tc39');

  it('traces private instance and static methods as Class.#name', async () => {
    const a = await analyzed(() => {
      expect(new Private().reveal(2)).toBe(4);
      expect(Private.build()).toBe(1);
    });
    expect(a.regions.map((r) => r.type)).toEqual(['Private.#secret', 'Private.#make']);
  });
});

describe('misuse throws when the class is defined', () => {
  const method = (name: string, extra: object = {}) => ({ kind: 'method', name, static: false, private: false, addInitializer() {}, ...extra });

  it('on a field, an accessor field or a parameter', () => {
    expect(() => traced(undefined as never, { kind: 'field', name: 'x' } as never)).toThrow(/not to the field x/);
    expect(() => traced({} as never, { kind: 'accessor', name: 'y' } as never)).toThrow(/not to the accessor y/);
    expect(() => traced({}, 'z', undefined as never)).toThrow(/not to the field Object.z/);
    expect(() => (traced as Function)(class {}, undefined, 0)).toThrow(/not to a parameter/);
    expect(() => (traced as Function)({}, 'method', 0)).toThrow(/not to a parameter/);
    expect(() => traced(function helper() {})).toThrow(/not to the function helper; wrap a call in withRegion instead/);
    expect(() => traced(class Empty {})).not.toThrow();
  });

  it('with log naming a parameter the method does not have', () => {
    function find(this: unknown, id: string, { deep }: { deep: number }, ...rest: number[]) {
      return [id, deep, rest];
    }
    expect(() => traced({ log: ['nope'] })(find, method('find') as never)).toThrow(
      '@traced: log names the parameter "nope", but find has (id, <destructured>, ...rest); log takes names of simple or rest parameters',
    );
    expect(() => traced({ log: ['deep'] })({}, 'find', { value: find, writable: true, configurable: true })).toThrow(/"deep", but find of Object has/);
    expect(() => traced({ log: ['id'] })(class Whole {})).toThrow(/on class Whole: log names parameters of one method/);
  });

  it('with invalid options', () => {
    expect(() => traced({ nmae: 'x' } as never)).toThrow('@traced: unknown option "nmae" (options are name, task, log, err)');
    expect(() => traced('')).toThrow(/must not be empty/);
    expect(() => traced(42 as never)).toThrow(/expected a region name or options/);
    expect(() => traced({ log: 'a' } as never)).toThrow(/log must be an array/);
  });
});

describe('log reads parameter names from the source text', () => {
  const method = { kind: 'method', name: 'm', static: false, private: false, addInitializer() {} };
  const accepts = (fn: Function, names: string[]) => expect(() => traced({ log: names })(fn as never, method as never)).not.toThrow();

  it('through comments, strings, templates, computed keys and default values', () => {
    const o = {
      ['m(' + ')'](/* (a, */ first: string, second = ')', third = `${'('}`, fourth = { a: [1, 2] }, /* x */ ...rest: unknown[]) {
        return [first, second, third, fourth, rest];
      },
      async *gen(a: number, b = (x: number) => x) {
        yield [a, b];
      },
    };
    accepts(o['m()'], ['first', 'second', 'third', 'fourth', 'rest']);
    accepts(o.gen, ['a', 'b']);
    accepts(function plain(x: number, y: number) {
      return x + y;
    }, ['y']);
  });
});

describe('compiled (what the transformer leaves in place of @traced)', () => {
  it('does nothing, in either decorator mode', () => {
    const fn = function m() {};
    const descriptor = { value: fn, writable: true, configurable: true, enumerable: false };
    const klass = class K {};
    expect(compiled(fn, { kind: 'method', name: 'm' })).toBeUndefined();
    expect(compiled(klass, { kind: 'class', name: 'K' })).toBeUndefined();
    expect(compiled(klass.prototype, 'm', descriptor)).toBeUndefined();
    expect(compiled(klass)).toBeUndefined();
    expect(descriptor).toEqual({ value: fn, writable: true, configurable: true, enumerable: false });
    expect(Object.getOwnPropertyNames(klass.prototype)).toEqual(['constructor']);
  });
});

describe('typing', () => {
  /** Type-checks the fixtures plus `extra` (as a virtual file beside them) in one decorator mode. */
  function diagnostics(mode: Mode, extra: string): string[] {
    const virtual = join(fixtures, 'virtual.ts');
    const options: TS.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      experimentalDecorators: mode === 'experimental',
      emitDecoratorMetadata: mode === 'experimental',
    };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (name, version, ...rest) => (name === virtual ? ts.createSourceFile(name, extra, version) : getSourceFile(name, version, ...rest));
    host.fileExists = (name) => name === virtual || fileExists(name);
    host.readFile = (name) => (name === virtual ? extra : readFile(name));
    const roots = [join(fixtures, 'shapes.ts'), ...(mode === 'tc39' ? [join(fixtures, 'private.ts')] : []), virtual];
    const program = ts.createProgram(roots, options, host);
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  }

  const source = [
    "import { traced } from '../../../runtime/index.js';",
    'export class Misused {',
    '  @traced field = 1;', // line 3: the only error expected
    '}',
    "import { compiled } from '../../../runtime/instrument.js';",
    '@compiled',
    'export class Compiled {',
    '  @traced() empty(): void {}',
    '  @compiled method(a: number): number { return a; }',
    '  @compiled static method(): void {}',
    '  @compiled get value(): number { return 1; }',
    '}',
  ].join('\n');

  it.each(['tc39', 'experimental'] as const)('type-checks every form (and compiled) with %s decorators, and rejects it on a field', (mode) => {
    const found = diagnostics(mode, source);
    expect(found.length).toBeGreaterThan(0);
    expect(found.filter((d) => !d.startsWith('virtual.ts:3 '))).toEqual([]);
  }, 60_000);
});
