/**
 * Installable everywhere: the package as a user gets it, from a clean checkout.
 *
 * A copy of this checkout without dist/ (its tracked and unignored files, with this repository's
 * node_modules linked in) is packed with `npm pack`, which builds dist/ through the `prepare` script.
 * The tarball is installed with the toolchain the README names (TypeScript 5.9, ts-patch 3,
 * @types/node) into two fresh projects: an ES module project (`"type": "module"`) and a CommonJS
 * project (what `npm init -y` makes); and with TypeScript 6 + ts-patch 4 into a third, CommonJS. In each:
 * - a JavaScript program imports (or requires) the runtime, traces, and reads its trace back with
 *   `tstrace/reader`;
 * - a TypeScript program with `@traced` and `// trace:region` is compiled by `npx tspc` with
 *   `"plugins": [{ "transform": "tstrace/transformer" }]` in its tsconfig.json, runs, and
 *   `npx tstrace stats --json` shows the task, the regions with their compiled-in locations, and the log;
 * - `npx tstrace --help` runs;
 * - the same program is bundled with tstrace's bundler plugin instead of tspc — by `npx vite build` with
 *   `plugins: [tstrace()]` from `tstrace/vite` in the ES module project, and by an esbuild script that
 *   does `require('tstrace/esbuild')` in the CommonJS project — and records the same regions.
 *
 * The installs use npm's cache (`--prefer-offline`). When the registry cannot be reached and the cache
 * cannot serve them, the tests skip, saying so, except under CI=true, where that fails.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec as execWithin, type ExecResult as Result } from './helpers/exec.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Each command of an install may take minutes on a busy machine, never forever. */
const exec = (command: string, args: string[], cwd: string) => execWithin(command, args, cwd, 240_000);
const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
/** What the README tells a user to install next to tstrace: TypeScript 5.9 + ts-patch 3, or TypeScript 6 + ts-patch 4. */
const TS5 = ['typescript@5.9', 'ts-patch@3', '@types/node@20'];
const TS6 = ['typescript@6', 'ts-patch@4', '@types/node@20'];
/** What docs/transformer.md tells a user to install beside tstrace for its Vite and esbuild plugins. */
const BUNDLER_VITE = ['vite@8', 'unplugin@3', 'magic-string@0.30'];
const BUNDLER_ESBUILD = ['esbuild@0.28', 'unplugin@3', 'magic-string@0.30'];

/** The bundler builds: a Vite config (ES module project) and an esbuild script (CommonJS project), each one line of tstrace. */
const bundlerFiles = {
  vite: {
    'vite.config.js': `import tstrace from 'tstrace/vite';
export default { plugins: [tstrace()], logLevel: 'warn', build: { ssr: 'src/app.ts', outDir: 'bundled', target: 'esnext', sourcemap: true } };
`,
  },
  esbuild: {
    'build.js': `const esbuild = require('esbuild');
const { tstrace } = require('tstrace/esbuild');
esbuild
  .build({ entryPoints: ['src/app.ts'], bundle: true, platform: 'node', format: 'cjs', target: 'esnext', outfile: 'bundled/app.js', external: ['tstrace', 'tstrace/*'], sourcemap: true, plugins: [tstrace()] })
  .catch(() => { process.exitCode = 1; });
`,
  },
} as const;


class CommandFailed extends Error {
  constructor(
    readonly command: string,
    readonly result: Result,
  ) {
    super(`${command} exited with ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
}

/** Runs a command that must succeed; its output is in the error otherwise. */
async function ok(command: string, args: string[], cwd: string): Promise<string> {
  const result = await exec(command, args, cwd);
  if (result.code !== 0) throw new CommandFailed(`${command} ${args.join(' ')}`, result);
  return result.stdout;
}

/** Whether npm failed because it could reach neither the registry nor a cached copy. */
const unreachable = (error: unknown): boolean =>
  error instanceof CommandFailed &&
  /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ENOTCACHED)\b/.test(error.result.stdout + error.result.stderr);

type Flavour = 'esm' | 'cjs';

interface Consumer {
  /** Its folder's name. */
  readonly name: string;
  readonly flavour: Flavour;
  readonly toolchain: readonly string[];
  /** A bundler build of the same program with tstrace's plugin, and what it installs for it. */
  readonly bundler?: { readonly name: 'vite' | 'esbuild'; readonly packages: readonly string[] };
}

// TypeScript 6 in a CommonJS project: ES modules are TypeScript 6's default, CommonJS is where tstrace's
// declarations come from its dist/cjs build.
const consumers: readonly Consumer[] = [
  { name: 'esm', flavour: 'esm', toolchain: TS5, bundler: { name: 'vite', packages: BUNDLER_VITE } },
  { name: 'cjs', flavour: 'cjs', toolchain: TS5, bundler: { name: 'esbuild', packages: BUNDLER_ESBUILD } },
  { name: 'cjs-ts6', flavour: 'cjs', toolchain: TS6 },
];

/** The JavaScript program: the runtime traces, the reader reads the trace back. */
const tracePrograms: Record<Flavour, string> = {
  esm: `
import { background, log, newTask, start, stop, withRegion } from 'tstrace';
import { loadTrace } from 'tstrace/reader';
start('trace.out');
const [ctx, task] = newTask(background, 'esmTask');
await withRegion(ctx, 'esmRegion', async () => {
  await new Promise((resolve) => setTimeout(resolve, 1));
  log(ctx, 'from', 'esm');
});
task.end();
await stop();
const { events, status } = await loadTrace('trace.out');
console.log(JSON.stringify({ complete: status.complete, kinds: events.map((e) => (e.kind === 'taskCreate' || e.kind.startsWith('region') ? e.kind + ' ' + e.type : e.kind)) }));
`,
  cjs: `
const { background, log, newTask, start, stop, withRegion } = require('tstrace');
const { loadTrace } = require('tstrace/reader');
async function main() {
  start('trace.out');
  const [ctx, task] = newTask(background, 'cjsTask');
  await withRegion(ctx, 'cjsRegion', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    log(ctx, 'from', 'cjs');
  });
  task.end();
  await stop();
  const { events, status } = await loadTrace('trace.out');
  console.log(JSON.stringify({ complete: status.complete, kinds: events.map((e) => (e.kind === 'taskCreate' || e.kind.startsWith('region') ? e.kind + ' ' + e.type : e.kind)) }));
}
main().catch((error) => { console.error(error); process.exitCode = 1; });
`,
};

/** The TypeScript program, the same for both projects: tsc emits it as an ES module or as CommonJS. */
const instrumentedProgram = `import { start, stop, traced } from 'tstrace';

class Barista {
  @traced({ task: true, log: ['orderID'] })
  async makeCappuccino(orderID: string): Promise<string> {
    await steamMilk();
    return \`cappuccino \${orderID}\`;
  }
}

// trace:region
async function steamMilk(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
}

async function main(): Promise<void> {
  start(process.argv[2]);
  const barista = new Barista();
  const cups = await Promise.all(['A1', 'A2'].map((id) => barista.makeCappuccino(id)));
  await stop();
  console.log(cups.join(', '));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const tsconfig = JSON.stringify(
  {
    compilerOptions: {
      module: 'NodeNext',
      target: 'ES2022',
      strict: true,
      rootDir: 'src',
      outDir: 'out',
      types: ['node'],
      plugins: [{ transform: 'tstrace/transformer' }],
    },
    include: ['src'],
  },
  null,
  2,
);

/** Copies the files git knows of (tracked, or new and not ignored): a checkout as a user clones it, without dist/. */
async function cleanCopy(to: string): Promise<void> {
  const listed = await ok('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root);
  for (const file of listed.split('\0')) {
    if (file === '' || !existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(root, file), join(to, file));
  }
  // The devDependencies a clone gets from `npm install`: this repository's, to save the download.
  symlinkSync(join(root, 'node_modules'), join(to, 'node_modules'), 'dir');
}

/** A fresh project of the given flavour with the packed tarball and the toolchain installed, and its `npx tspc` build. */
async function install(work: string, { name, flavour, toolchain, bundler }: Consumer, tarball: string): Promise<{ dir: string; build: Result }> {
  const dir = join(work, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  await ok('npm', ['init', '-y'], dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string };
  if (flavour === 'esm') manifest.type = 'module';
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, 'trace.js'), tracePrograms[flavour]);
  writeFileSync(join(dir, 'src', 'app.ts'), instrumentedProgram);
  writeFileSync(join(dir, 'tsconfig.json'), tsconfig);
  for (const [file, text] of Object.entries(bundler ? bundlerFiles[bundler.name] : {})) writeFileSync(join(dir, file), text);
  // ts-patch 4 declares engines.node >= 22.15; it runs on Node 20 too (see test/transformer/typescript6.test.ts).
  await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--engine-strict=false', '--loglevel=error', tarball, ...toolchain, ...(bundler?.packages ?? [])], dir);
  // The slowest step, run here so that the projects compile side by side; checked by a test.
  const build = await exec('npx', ['--no-install', 'tspc', '-p', '.'], dir);
  return { dir, build };
}

describe('installing the package from a clean checkout (npm pack, then npm install of the tarball)', () => {
  let work: string;
  let setup: { tarball: string; packed: { mode: string; path: string }[]; projects: Record<string, { dir: string; build: Result }> } | { skip: string } | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tstrace-install-'));
    const checkout = join(work, 'checkout');
    await cleanCopy(checkout);
    // `npm pack` runs `prepare`, which builds dist/ in the copy.
    await ok('npm', ['pack', '--loglevel=error', '--pack-destination', work], checkout);
    const tarball = join(work, readdirSync(work).find((name) => name.endsWith('.tgz'))!);
    const packed = (await ok('tar', ['-tvzf', tarball], work))
      .trim()
      .split('\n')
      .map((line) => {
        const fields = line.trim().split(/\s+/);
        return { mode: fields[0], path: fields[fields.length - 1].replace(/^package\//, '') };
      });
    try {
      const installed = await Promise.all(consumers.map((consumer) => install(work, consumer, tarball)));
      setup = { tarball, packed, projects: Object.fromEntries(consumers.map((consumer, i) => [consumer.name, installed[i]])) };
    } catch (error) {
      if (!unreachable(error) || inCI) throw error;
      setup = { skip: `npm could not fetch ${[...new Set([...TS5, ...TS6, ...BUNDLER_VITE, ...BUNDLER_ESBUILD])].join(', ')} (no network and not in npm's cache): ${String(error).split('\n')[0]}` };
    }
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function need(ctx: { skip: (note?: string) => never }) {
    if (!setup) throw new Error('beforeAll did not run');
    if ('skip' in setup) ctx.skip(setup.skip);
    return setup;
  }

  it('packs dist/ (ESM, CommonJS, declarations, the viewer page, the CLI) and no sources, tests or caches', (ctx) => {
    const { packed } = need(ctx);
    const paths = packed.map((f) => f.path);
    for (const flavour of ['esm', 'cjs']) {
      for (const entry of ['runtime/index', 'runtime/instrument', 'runtime/http', 'reader/index', 'transformer/index', 'cli/cli', ...['vite', 'rollup', 'esbuild', 'webpack', 'rspack'].map((b) => `transformer/bundler/${b}`)]) {
        expect(paths).toContain(`dist/${flavour}/${entry}.js`);
        expect(paths).toContain(`dist/${flavour}/${entry}.d.ts`);
      }
      for (const asset of ['index.html', 'viewer.js', 'viewer.css', 'favicon.svg']) expect(paths).toContain(`dist/${flavour}/viewer/assets/${asset}`);
    }
    expect(paths).toContain('dist/cjs/package.json');
    expect(packed.find((f) => f.path === 'dist/esm/cli/cli.js')?.mode).toMatch(/^-rwx/);
    const unexpected = paths.filter(
      (path) =>
        !/^(dist\/(esm|cjs)\/|docs\/[^/]+\.md$|package\.json$|README\.md$|LICENSE)/.test(path) ||
        /^dist\/(esm|cjs)\/(test|bench|samples|scripts)\//.test(path) ||
        /(^|\/)\.cache\//.test(path) ||
        (/\.[cm]?ts$/.test(path) && !/\.d\.[cm]?ts$/.test(path)),
    );
    expect(unexpected).toEqual([]);
  });

  describe.each(consumers.map((c) => ({ ...c, typescript: c.toolchain.slice(0, 2).join(' + ') })))('into a fresh $flavour project with $typescript', ({ name, flavour }) => {
    it('installs a working package: dist/, the CLI with its shebang, source maps carrying their sources', (ctx) => {
      const dir = join(need(ctx).projects[name].dir, 'node_modules', 'tstrace');
      expect(readFileSync(join(dir, 'dist', 'esm', 'cli', 'cli.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
      const map = JSON.parse(readFileSync(join(dir, 'dist', flavour, 'runtime', 'index.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      expect(map.sourcesContent?.length).toBe(map.sources.length);
      expect(map.sourcesContent?.[0]).toContain('export');
    });

    it(`${flavour === 'esm' ? 'imports' : 'requires'} the runtime and the reader, and traces a program`, async (ctx) => {
      const { dir } = need(ctx).projects[name];
      const report = JSON.parse(await ok(process.execPath, ['trace.js'], dir)) as { complete: boolean; kinds: string[] };
      expect(report.complete).toBe(true);
      expect(report.kinds.filter((k) => /^(task|region|log)/.test(k))).toEqual([
        `taskCreate ${flavour}Task`,
        `regionStart ${flavour}Region`,
        'log',
        `regionEnd ${flavour}Region`,
        'taskEnd',
      ]);
    });

    it('compiles @traced and // trace:region with npx tspc and the tstrace/transformer plugin; the program records them', async (ctx) => {
      const { dir, build } = need(ctx).projects[name];
      expect(build.stdout + build.stderr).toBe('');
      expect(build.code).toBe(0);
      const js = readFileSync(join(dir, 'out', 'app.js'), 'utf8');
      // The module format the project asks for, and the compiled instrumentation in it: the runtime
      // imported, and @traced replaced by the no-op `compiled` decorator (not left as the runtime decorator).
      if (flavour === 'esm') expect(js).toMatch(/^import \* as __tstrace\w* from "tstrace\/instrument";/m);
      else expect(js).toMatch(/require\("tstrace\/instrument"\)/);
      expect(js).toMatch(/__tstrace\w*\)?\.compiled\b/);
      expect(js).toMatch(/__tstrace\w*\.call\(__tstrace_site/);

      expect((await ok(process.execPath, [join('out', 'app.js'), 'app.out'], dir)).trim()).toBe('cappuccino A1, cappuccino A2');
      const stats = JSON.parse(await ok('npx', ['--no-install', 'tstrace', 'stats', '--json', 'app.out'], dir)) as {
        status: { complete: boolean };
        taskTypes: { type: string; count: number; complete: number }[];
        regionGroups: { type: string; count: number; location: { file: string; line: number; function: string } | null }[];
        logCategories: { category: string; count: number }[];
      };
      expect(stats.status.complete).toBe(true);
      expect(stats.taskTypes.map(({ type, count, complete }) => ({ type, count, complete }))).toEqual([{ type: 'Barista.makeCappuccino', count: 2, complete: 2 }]);
      // Static locations, compiled in (relative to the tsconfig.json's folder).
      expect(stats.regionGroups.map(({ type, count, location }) => ({ type, count, file: location?.file, line: location?.line }))).toEqual([
        { type: 'Barista.makeCappuccino', count: 2, file: 'src/app.ts', line: 4 }, // the method, from its decorator
        { type: 'steamMilk', count: 2, file: 'src/app.ts', line: 12 },
      ]);
      expect(stats.logCategories).toEqual([{ category: 'orderID', count: 2 }]);
    });

    it.runIf(!!consumers.find((c) => c.name === name)?.bundler)(`bundles the program with tstrace's ${flavour === 'esm' ? 'Vite plugin (npx vite build)' : "esbuild plugin (require('tstrace/esbuild'))"}; it records the same regions`, async (ctx) => {
      const { dir } = need(ctx).projects[name];
      const bundler = consumers.find((c) => c.name === name)!.bundler!;
      const build = () => (bundler.name === 'vite' ? ok('npx', ['--no-install', 'vite', 'build'], dir) : ok(process.execPath, ['build.js'], dir));
      await build();
      const js = readFileSync(join(dir, 'bundled', 'app.js'), 'utf8');
      // The instrumented module is kept in the project's node_modules/.cache/tstrace; a rebuild served from there is the same.
      const store = join(dir, 'node_modules', '.cache', 'tstrace');
      expect(readdirSync(store, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).length).toBeGreaterThan(0);
      await build();
      expect(readFileSync(join(dir, 'bundled', 'app.js'), 'utf8')).toBe(js);
      // Compiled in, @traced (TC39 here) deleted: no decorator left for the bundler, no runtime decorator.
      expect(js).toMatch(/\.call\(__tstrace_site/);
      expect(js).not.toMatch(/^\s*@/m);
      expect((await ok(process.execPath, ['--enable-source-maps', join('bundled', 'app.js'), 'bundled.out'], dir)).trim()).toBe('cappuccino A1, cappuccino A2');
      const stats = JSON.parse(await ok('npx', ['--no-install', 'tstrace', 'stats', '--json', 'bundled.out'], dir)) as {
        status: { complete: boolean };
        taskTypes: { type: string; count: number }[];
        regionGroups: { type: string; count: number; location: { file: string; line: number } | null }[];
      };
      expect(stats.status.complete).toBe(true);
      expect(stats.taskTypes.map(({ type, count }) => ({ type, count }))).toEqual([{ type: 'Barista.makeCappuccino', count: 2 }]);
      // The locations tspc compiles (relative to the folder of tsconfig.json).
      expect(stats.regionGroups.map(({ type, count, location }) => ({ type, count, file: location?.file, line: location?.line }))).toEqual([
        { type: 'Barista.makeCappuccino', count: 2, file: 'src/app.ts', line: 4 },
        { type: 'steamMilk', count: 2, file: 'src/app.ts', line: 12 },
      ]);
    });

    it('runs the tstrace command: npx tstrace --help', async (ctx) => {
      const { dir } = need(ctx).projects[name];
      expect(await ok('npx', ['--no-install', 'tstrace', '--help'], dir)).toContain('Usage:');
    });
  });
});
