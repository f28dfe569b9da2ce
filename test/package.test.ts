// The published package, as a user gets it: `npm pack`, installed into a fresh project, used from ESM,
// CommonJS and TypeScript, and through its `tstrace` command. Needs `npm run build` first (`npm test`
// does it).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, type ExecResult as Result } from './helpers/exec.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../format/events.js';
import { loadTrace } from '../analysis/reader.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
// The CLI and the `tstrace/reader` entry are written in parallel with this test: check them once they exist.
const hasCli = existsSync(join(root, 'cli', 'cli.ts'));
const hasReaderEntry = existsSync(join(root, 'reader', 'index.ts'));


/** Runs a command that must succeed; its output is in the error otherwise. */
async function ok(command: string, args: string[], cwd: string): Promise<string> {
  const result = await exec(command, args, cwd);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/** "kind type" of each task and region event, in order: what the consumer scripts recorded. */
function annotations(events: TraceEvent[]): string[] {
  return events.flatMap((e) => {
    if (e.kind === 'taskCreate' || e.kind === 'regionStart' || e.kind === 'regionEnd') return [`${e.kind} ${e.type}`];
    if (e.kind === 'taskEnd' || e.kind === 'log') return [e.kind];
    return [];
  });
}

const consumerFiles: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2),

  'source.mjs': `
import { createRequire } from 'node:module';
const esm = Object.keys(await import('tstrace/source')).sort();
const cjs = Object.keys(createRequire(import.meta.url)('tstrace/source')).sort();
console.log(JSON.stringify({ esm, cjs }));
`,

  'marked.mjs': `
// trace:region
export function f() { return 1; }
console.log(f());
`,

  'esm.mjs': `
import { start, stop, newTask, withRegion, log, background } from 'tstrace';
start(process.argv[2]);
const [ctx, task] = newTask(background, 'esmTask');
await withRegion(ctx, 'esmRegion', async () => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  log(ctx, 'from', 'esm');
});
task.end();
await stop();
`,

  'cjs.cjs': `
const { start, stop, newTask, withRegion, log, background } = require('tstrace');
async function main() {
  start(process.argv[2]);
  const [ctx, task] = newTask(background, 'cjsTask');
  await withRegion(ctx, 'cjsRegion', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    log(ctx, 'from', 'cjs');
  });
  task.end();
  await stop();
}
main().catch((error) => { console.error(error); process.exitCode = 1; });
`,

  // Both copies of the package in one process: tracing started by one records the other's events.
  'dual.mjs': `
import { createRequire } from 'node:module';
import * as esm from 'tstrace';
const cjs = createRequire(import.meta.url)('tstrace');
esm.start(process.argv[2]);
const enabledInCjs = cjs.isEnabled();
const [ctx, task] = cjs.newTask(cjs.background, 'cjsTask');
await cjs.withRegion(ctx, 'cjsRegion', async () => {
  esm.withRegion(ctx, 'esmRegionInCjsRegion', () => {});
});
task.end();
await esm.stop();
console.log(JSON.stringify({ twoCopies: esm.start !== cjs.start, enabledInCjs, enabledAfterStop: cjs.isEnabled() }));
`,

  // The Vitest plugin loads without vitest (it needs only its types); the preload does nothing unless told to.
  'entries.mjs': `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const esm = await import('tstrace/vitest');
const cjs = require('tstrace/vitest');
await import('tstrace/run-preload');
const plugin = esm.traceVitest({ output: 'never.out' });
console.log(JSON.stringify({ esm: typeof esm.traceVitest, cjs: typeof cjs.traceVitest, name: plugin.name, runner: require.resolve('tstrace/vitest/runner').endsWith('dist/esm/vitest/runner.js') }));
`,

  'reader.mjs': `
import { createRequire } from 'node:module';
const esm = await import('tstrace/reader');
const cjs = createRequire(import.meta.url)('tstrace/reader');
console.log(JSON.stringify({ esm: Object.keys(esm).sort(), cjs: Object.keys(cjs).sort() }));
`,

  'http.mjs': `
import { createRequire } from 'node:module';
const esm = await import('tstrace/http');
const cjs = createRequire(import.meta.url)('tstrace/http');
console.log(JSON.stringify({ esm: Object.keys(esm).sort(), cjs: Object.keys(cjs).sort() }));
`,

  // Type-checked, not run. Each @ts-expect-error fails the check if the types degrade to \`any\`.
  'consumer.mts': `
import { background, log, logf, newTask, start, startRegion, stop, withRegion, type Context, type Task } from 'tstrace';
start(process.stdout, { gc: false });
const [ctx, task]: [Context, Task] = newTask(background, 'typed');
const n: number = withRegion(ctx, 'sync', () => 1);
const s: Promise<string> = withRegion(ctx, 'async', async () => 'x');
startRegion(ctx, 'region').end();
log(ctx, 'category', 'message');
logf(ctx, 'category', '%d cups', 2);
task.end();
const stopped: Promise<void> = stop();
// @ts-expect-error a task type is a string
newTask(background, 42);
// @ts-expect-error withRegion runs a function
withRegion(ctx, 'region', 'not a function');
// @ts-expect-error an unknown option
start('trace.out', { colour: true });
export { n, s, stopped };
`,

  'consumer-http.mts': `
import { createServer } from 'node:http';
import { listen, traceHandler, type TraceServer } from 'tstrace/http';
const trace = traceHandler({ maxSeconds: 10, authorize: async (req) => req.headers.authorization === 'Bearer t' });
createServer((req, res) => (req.url?.startsWith('/debug/tstrace/') ? trace(req, res) : res.end())).listen(0);
const server: Promise<TraceServer> = listen({ port: 0 });
// @ts-expect-error an unknown option
traceHandler({ maxSecond: 10 });
export { server };
`,

  'consumer.cts': `
import tstrace = require('tstrace');
const [ctx, task] = tstrace.newTask(tstrace.background, 'typed');
const n: number = tstrace.withRegion(ctx, 'sync', () => 1);
task.end();
const stopped: Promise<void> = tstrace.stop();
// @ts-expect-error a task type is a string
tstrace.newTask(tstrace.background, 42);
export = { n, stopped };
`,

  'tsconfig.json': JSON.stringify(
    {
      compilerOptions: {
        module: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        // The shipped declarations are checked too.
        skipLibCheck: false,
        // A TypeScript user on Node has @types/node; borrow this repository's.
        typeRoots: [join(root, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['consumer.mts', 'consumer-http.mts', 'consumer.cts'],
    },
    null,
    2,
  ),
};

describe('the npm package', () => {
  let work: string;
  let project: string;
  let packed: string[];
  /** The type check, started as soon as the package is installed: the slowest step runs alongside the others. */
  let typeCheck: Promise<Result>;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'esm', 'runtime', 'index.js')) || !existsSync(join(root, 'dist', 'cjs', 'package.json'))) {
      throw new Error('dist/ is not built: run `npm run build` (npm test does) before this test');
    }
    work = mkdtempSync(join(tmpdir(), 'tstrace-package-'));
    const [pack] = JSON.parse(await ok('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], root)) as [
      { filename: string; files: { path: string }[] },
    ];
    packed = pack.files.map((f) => f.path);

    project = join(work, 'consumer');
    mkdirSync(project);
    for (const [name, text] of Object.entries(consumerFiles)) writeFileSync(join(project, name), text);
    // tstrace has no dependencies, so this needs no network.
    await ok('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, pack.filename)], project);
    typeCheck = exec(process.execPath, [tsc, '-p', '.'], project);
  }, 120_000);

  afterAll(async () => {
    await typeCheck;
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the ESM and CommonJS builds with their declarations, and no sources, tests or samples', () => {
    for (const file of [
      'package.json',
      'dist/esm/runtime/index.js',
      'dist/esm/runtime/index.d.ts',
      'dist/cjs/runtime/index.js',
      'dist/cjs/runtime/index.d.ts',
      'dist/cjs/package.json',
    ]) {
      expect(packed).toContain(file);
    }
    const unexpected = packed.filter(
      (path) =>
        !/^(dist\/|docs\/|package\.json$|README\.md$|LICENSE)/.test(path) ||
        /^dist\/(esm|cjs)\/(test|bench|samples)\//.test(path) ||
        (path.endsWith('.ts') && !path.endsWith('.d.ts')),
    );
    expect(unexpected).toEqual([]);
  });

  it('works from ESM: import { start, stop, newTask, withRegion, background } from "tstrace"', async () => {
    const trace = join(project, 'esm.out');
    await ok(process.execPath, ['esm.mjs', trace], project);
    const { events, status } = await loadTrace(trace);
    expect(status.complete).toBe(true);
    expect(annotations(events)).toEqual(['taskCreate esmTask', 'regionStart esmRegion', 'log', 'regionEnd esmRegion', 'taskEnd']);
  });

  it('works from CommonJS: require("tstrace")', async () => {
    const trace = join(project, 'cjs.out');
    await ok(process.execPath, ['cjs.cjs', trace], project);
    const { events, status } = await loadTrace(trace);
    expect(status.complete).toBe(true);
    expect(annotations(events)).toEqual(['taskCreate cjsTask', 'regionStart cjsRegion', 'log', 'regionEnd cjsRegion', 'taskEnd']);
  });

  it('shares one tracer between the ESM and the CommonJS copy loaded in one process', async () => {
    const trace = join(project, 'dual.out');
    const report = JSON.parse(await ok(process.execPath, ['dual.mjs', trace], project));
    expect(report).toEqual({ twoCopies: true, enabledInCjs: true, enabledAfterStop: false });
    const { events, status } = await loadTrace(trace);
    expect(status.complete).toBe(true);
    expect(annotations(events)).toEqual([
      'taskCreate cjsTask',
      'regionStart cjsRegion',
      'regionStart esmRegionInCjsRegion',
      'regionEnd esmRegionInCjsRegion',
      'regionEnd cjsRegion',
      'taskEnd',
    ]);
  });

  it('has types that resolve for ESM and CommonJS consumers (tsc, module NodeNext)', async () => {
    const result = await typeCheck;
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it.skipIf(!hasReaderEntry)('exposes the reader as "tstrace/reader" to import and require', async () => {
    const { esm, cjs } = JSON.parse(await ok(process.execPath, ['reader.mjs'], project));
    expect(esm.length).toBeGreaterThan(0);
    expect(cjs).toEqual(esm);
  });

  it('exposes the HTTP endpoint as "tstrace/http" to import and require', async () => {
    const { esm, cjs } = JSON.parse(await ok(process.execPath, ['http.mjs'], project));
    expect(esm).toEqual(['DEFAULT_MAX_SECONDS', 'DEFAULT_SECONDS', 'TRACE_PATH', 'listen', 'traceHandler']);
    expect(cjs).toEqual(esm);
  });

  it('exposes tstrace/vitest (ESM and CommonJS), its runner, and tstrace/run-preload', async () => {
    expect(JSON.parse(await ok(process.execPath, ['entries.mjs'], project))).toEqual({ esm: 'function', cjs: 'function', name: 'tstrace:vitest', runner: true });
  });

  it('exposes tstrace/source and tstrace/register, whose peers (typescript, magic-string) are needed only by a marked module', async () => {
    expect(JSON.parse(await ok(process.execPath, ['source.mjs'], project))).toEqual({
      esm: ['MissingPeerError', 'instrumentSource', 'loadMagicString', 'loadTypeScript'],
      cjs: ['MissingPeerError', 'instrumentSource', 'loadMagicString', 'loadTypeScript'],
    });
    // Nothing marked: nothing parsed, no peer needed.
    const trace = join(project, 'register.out');
    await ok(process.execPath, ['--import', 'tstrace/register', 'esm.mjs', trace], project);
    expect((await loadTrace(trace)).status.complete).toBe(true);
    // A marked module without TypeScript installed: what to install.
    const marked = await exec(process.execPath, ['--import', 'tstrace/register', 'marked.mjs'], project);
    expect(marked.code).not.toBe(0);
    expect(marked.stderr).toMatch(/tstrace\/source needs typescript, which is not installed here .*npm install -D typescript@5\.9/);
  });

  it.skipIf(!hasCli)('installs the tstrace command: npx tstrace stats <trace>', async () => {
    const trace = join(project, 'cli.out');
    await ok(process.execPath, ['esm.mjs', trace], project);
    const stdout = await ok('npx', ['--no-install', 'tstrace', 'stats', trace], project);
    expect(stdout).toContain('esmTask');
  });
});
