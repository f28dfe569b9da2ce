/**
 * A `// trace:region` (or `// trace:task`) comment right before a function — declaration, expression or
 * arrow — instruments that function, wherever the function stands: a call argument, an object property
 * value, an initialiser, a class field, a default export, a return value (docs/transformer.md, "Where a
 * directive goes"). What the instrumented programs do is compared with the plain ones by the execution
 * matrix (fixtures/directives.ts in execution.test.ts); this file checks the trace: which function each
 * directive instruments, the names of anonymous functions, and nesting under concurrent requests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RegionInfo, TraceAnalysis } from '../../analysis/analysis-types.js';
import { analyzeTrace } from '../../analysis/analysis.js';
import { build, fixturesDir, runFixtures, type MatrixConfig } from './harness.js';

const config: MatrixConfig = { target: 'ES2022', module: 'esm', decorators: 'tc39' };
const programs = fileURLToPath(new URL('./programs', import.meta.url));

/** Compiles `file` of `root` with the transformer, runs its scenarios traced; the trace's analysis. */
async function traceOf(root: string, file: string): Promise<{ analysis: TraceAnalysis; observations: Record<string, unknown> }> {
  const traced = build(config, true, [file], {}, root);
  expect(traced.diagnostics).toEqual([]);
  const run = runFixtures(traced.outDir, [file.replace(/\.ts$/, '.js')], 'on');
  const analysis = await analyzeTrace(run.tracePath);
  expect(analysis.status.complete).toBe(true);
  expect(analysis.problems).toEqual([]);
  return { analysis, observations: run.observations };
}

/**
 * The 1-based line where the function each `// trace:` directive of `source` must instrument starts: the
 * next line of code, or the directive's own for a function declaration it sits in (`export default // trace:region`
 * then `function () {`).
 */
function linesAfterDirectives(source: string): number[] {
  const lines = source.split('\n');
  const found: number[] = [];
  lines.forEach((line, i) => {
    if (!/\/\/ trace:(region|task)\b/.test(line)) return;
    let next = i + 1;
    while (lines[next].trim() === '' || lines[next].trim().startsWith('//')) next++;
    const declaration = /^export default \/\//.test(line) && /^(async )?function\b/.test(lines[next]);
    found.push(declaration ? i + 1 : next + 1);
  });
  return found;
}

/** Each source line that started a region, with the region's type (one per line: a line starts one function). */
function typesByLine(regions: readonly RegionInfo[]): Map<number, string> {
  const byLine = new Map<number, Set<string>>();
  for (const r of regions) if (r.location) byLine.set(r.location.line, (byLine.get(r.location.line) ?? new Set()).add(r.type));
  return new Map([...byLine].map(([line, types]) => [line, [...types].join(' | ')]));
}

describe('a directive right before a function expression or arrow instruments it, wherever it stands', () => {
  const file = 'test/transformer/fixtures/directives.ts';
  /** `<file>:<line>`, the name of a function bound to no name. */
  const UNNAMED = Symbol('unnamed');
  // The directives of fixtures/directives.ts in source order, and the region name each must give.
  const names: (string | typeof UNNAMED)[] = [
    'getUser', // app.get('/users/:id', // trace:region getUser  — a callback argument, named by the directive
    'logger', // app.use(\n // trace:region\n function logger …) — its own name
    UNNAMED, // app.use(// trace:region\n (error, req, res, next) => …) — an Express error handler
    UNNAMED, // app.get('/fail/:id', // trace:region\n async (req) => …)
    'loadUser', // const loadUser = // trace:region\n async (id) => …
    'formatName', // // trace:region\n const formatName = … — the line above the statement
    'increment', // concise bodies
    'pair',
    'delayed', // a promise-returning arrow
    'csv', // object property values
    'json',
    'method', // an object-literal method
    'Controller.handle', // class fields: instance, static, private
    'Controller.make',
    'Controller.#secret',
    'viaArrow', // an arrow using its enclosing function's this and arguments
    'counter', // return ( // trace:region counter\n () => ++n )
    UNNAMED, // (a) => // trace:region\n (b) => a + b — an arrow's body
    'countdown', // a generator function expression
    'cb', // a default parameter
    'assigned', // an assignment
    'holder.onDone', // an assignment to a property
    'picked', // a destructuring default
    'lazy', // ??=
    'asserted', // (( … ) => …) as T
    UNNAMED, // (// trace:region\n () => 42)() — immediately invoked
    UNNAMED, // export default // trace:region\n function (x) …
    'source', // a generator expression in a function
    UNNAMED, // collect(// trace:region\n async function* () …) — an argument
  ];
  let analysis: TraceAnalysis;

  beforeAll(async () => {
    ({ analysis } = await traceOf(fixturesDir, 'directives.ts'));
  });

  it('each directive instruments the function that starts on the next line, named after its binding, else <file>:<line>', () => {
    const lines = linesAfterDirectives(readFileSync(join(fixturesDir, 'directives.ts'), 'utf8'));
    expect(lines).toHaveLength(names.length);
    const expected = new Map(lines.map((line, i) => [line, names[i] === UNNAMED ? `${file}:${line}` : names[i]]));
    expect(typesByLine(analysis.regions)).toEqual(expected);
  });

  it('records where each function is, and compiles the name in as the function', () => {
    for (const r of analysis.regions) {
      expect(r.location?.file).toBe(file);
      expect(r.location?.function).toBe(r.type);
    }
    // The arrow itself (`async` included), not the call it is passed to.
    const [getUser] = analysis.regions.filter((r) => r.type === 'getUser');
    expect(getUser.location).toMatchObject({ column: 3 });
  });

  it('gives each resumption of a generator expression its own region, as for generator declarations', () => {
    // countdown(3): next, next, then return (a resumption too: it closes the generator at its yield);
    // [...countdown(2)]: next, next, next (to completion).
    expect(analysis.regions.filter((r) => r.type === 'countdown')).toHaveLength(6);
  });
});

describe('callbacks under concurrent requests: tasks, nesting and names', () => {
  const file = 'test/transformer/programs/callbacks.ts';
  let analysis: TraceAnalysis;
  let observations: Record<string, unknown>;
  const source = readFileSync(join(programs, 'callbacks.ts'), 'utf8');
  const [queryLine, renderLine, middlewareLine, listOrdersLine, healthLine, serveLine] = linesAfterDirectives(source);

  beforeAll(async () => {
    ({ analysis, observations } = await traceOf(programs, 'callbacks.ts'));
  });

  const regionsOf = (type: string) => analysis.regions.filter((r) => r.type === type);
  const byId = () => new Map(analysis.regions.map((r) => [r.id, r]));

  it('runs the requests as without tracing', () => {
    const responses = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? [`<p>${`select * from orders where id = ${i}`.length}</p>`] : ['ok']));
    expect(observations['callbacks.js:run']).toEqual([['responses', responses]]);
  });

  it('names each callback: a directive name, the property, Class.field, else <file>:<line>', () => {
    expect(typesByLine(analysis.regions)).toEqual(
      new Map([
        [queryLine, 'query'],
        [renderLine, 'Views.render'],
        [middlewareLine, `${file}:${middlewareLine}`],
        [listOrdersLine, 'listOrders'],
        [healthLine, `${file}:${healthLine}`],
        [serveLine, `${file}:${serveLine}`],
      ]),
    );
  });

  it('makes each call of a handler marked // trace:task a task, with the handler’s callees nested in its region', () => {
    const ids = byId();
    const tasks = analysis.tasks.filter((t) => t.type === 'listOrders');
    expect(tasks).toHaveLength(10);
    for (const task of tasks) {
      expect(task.complete).toBe(true);
      const regions = task.regions.map((id) => ids.get(id)!);
      expect(regions.map((r) => r.type)).toEqual(['listOrders', 'query', 'Views.render']);
      const [handler, query, render] = regions;
      expect(query.parent).toBe(handler.id);
      expect(render.parent).toBe(handler.id);
      expect(render.flow).toBe(handler.flow);
      expect(query.end).toBeLessThanOrEqual(render.start);
      expect(handler.start).toBeLessThanOrEqual(query.start);
      expect(render.end).toBeLessThanOrEqual(handler.end);
    }
    // Each request its own task: ten different flows.
    expect(new Set(tasks.map((t) => regionsOf('listOrders').find((r) => r.task === t.id)!.flow)).size).toBe(10);
  });

  it('nests every handler, middleware and route, under the default export that sends the requests', () => {
    const [serve] = regionsOf(`${file}:${serveLine}`);
    expect(serve.complete).toBe(true);
    for (const type of [`${file}:${middlewareLine}`, `${file}:${healthLine}`, 'listOrders']) {
      const regions = regionsOf(type);
      expect(regions, type).toHaveLength(10);
      for (const r of regions) expect(r.parent, type).toBe(serve.id);
    }
    // The middleware's logs belong to no task: it runs before the handler's task starts.
    expect(analysis.logs.filter((l) => l.category === 'tag').map((l) => l.task)).toEqual(Array(10).fill(0));
  });
});
