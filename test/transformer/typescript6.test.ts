/**
 * The transformer under TypeScript 6 + ts-patch 4 (the project's rule: it must also work there).
 *
 * Both are installed with npm into a temporary folder outside the repository, once, and the install is
 * kept in node_modules/.cache/tstrace-ts6 (delete that folder to fetch newer 6.x / 4.x releases). Then:
 * - `tspc` of that install compiles a project that names the plugin in its tsconfig.json (TypeScript 6
 *   defaults: ES modules, target ES2025, strict) and the output runs; a misused directive makes it fail;
 * - the execution matrix of execution.test.ts is compiled with that install's `ts-patch/compiler` in
 *   process (what tspc runs) with and without the plugin, and held to the same check (harness.ts's
 *   expectInstrumentedToMatchPlain): the programs must observe exactly the same things, tracing on or
 *   off, and record the regions.
 *
 * ts-patch 4 declares `engines.node >= 22.15.0`. Its only use of a newer Node is `module.registerHooks`,
 * needed to load transformers written in TypeScript (.ts/.mts/.cts entries); ours is compiled JavaScript
 * loaded with `require`, so it runs on Node 20 too. Should a ts-patch 4 release stop running on this
 * Node, the tests skip, saying so, but only if the Node version is outside ts-patch's engines range.
 * When the registry cannot be reached they skip too, except under CI=true, where that fails.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as TS from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWith, configName, expectInstrumentedToMatchPlain, matrix, repoRoot } from './harness.js';

const PACKAGES = ['typescript@6', 'ts-patch@4'];
const cacheDir = join(repoRoot, 'node_modules', '.cache', 'tstrace-ts6');
// Outputs must be inside the repository: compiled code resolves `tstrace` through node_modules/tstrace.
const workDir = join(repoRoot, 'test', '.work', 'ts6-matrix');
const cliDir = join(repoRoot, 'test', '.work', 'ts6-cli');
const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

interface Toolchain {
  readonly dir: string;
  /** TypeScript 6 patched by ts-patch 4 (`ts-patch/compiler`): honours `compilerOptions.plugins`. */
  readonly ts: typeof TS;
  readonly tsVersion: string;
  readonly tsPatchVersion: string;
  readonly tspc: string;
  /** The tspc run on the `ok` project, made while preparing (it is also the probe of whether ts-patch 4 runs here). */
  readonly okRun: CliRun;
}

interface CliRun {
  readonly status: number | null;
  readonly output: string;
}

let setup: { toolchain: Toolchain } | { skip: string } | undefined;

function need(ctx: { skip: (note?: string) => never }): Toolchain {
  if (!setup) throw new Error('beforeAll did not run');
  if ('skip' in setup) ctx.skip(setup.skip);
  return setup.toolchain;
}

const readJson = (path: string): { version?: string; engines?: { node?: string } } => JSON.parse(readFileSync(path, 'utf8')) as { version?: string; engines?: { node?: string } };

/** The versions installed in `dir` when they are TypeScript 6 and ts-patch 4, else null. */
function installedVersions(dir: string): { ts: string; tsPatch: string } | null {
  try {
    const ts = readJson(join(dir, 'node_modules', 'typescript', 'package.json')).version ?? '';
    const tsPatch = readJson(join(dir, 'node_modules', 'ts-patch', 'package.json')).version ?? '';
    return ts.startsWith('6.') && tsPatch.startsWith('4.') ? { ts, tsPatch } : null;
  } catch {
    return null;
  }
}

/** Installs into a new temporary folder, then keeps a copy in the cache; returns where to use it from. */
function install(): string {
  const tmp = mkdtempSync(join(tmpdir(), 'tstrace-ts6-'));
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'tstrace-ts6', private: true }));
  const args = ['install', '--no-audit', '--no-fund', '--no-package-lock', '--engine-strict=false', '--fetch-retries=1', '--loglevel=error', ...PACKAGES];
  const npm = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd: tmp, encoding: 'utf8', timeout: 150_000, shell: process.platform === 'win32' });
  if (npm.error || npm.status !== 0 || !installedVersions(tmp)) {
    const why = npm.error?.message ?? (npmErrorSummary(`${npm.stderr}\n${npm.stdout}`) || `exit status ${npm.status}`);
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`\`npm ${args.join(' ')}\` failed: ${why}`);
  }
  // Copy, then rename: the cache is never seen half-written. A concurrent run may win the rename.
  const staging = `${cacheDir}.${process.pid}`;
  try {
    mkdirSync(join(cacheDir, '..'), { recursive: true });
    rmSync(staging, { recursive: true, force: true });
    cpSync(tmp, staging, { recursive: true, verbatimSymlinks: true });
    rmSync(cacheDir, { recursive: true, force: true });
    renameSync(staging, cacheDir);
  } catch {
    rmSync(staging, { recursive: true, force: true });
    return installedVersions(cacheDir) ? cacheDir : tmp;
  }
  rmSync(tmp, { recursive: true, force: true });
  return cacheDir;
}

/** "code ECONNREFUSED | FetchError: request to … failed" out of npm's error output (no stack, no fields). */
function npmErrorSummary(output: string): string {
  const lines = output.split('\n').map((line) => line.replace(/^npm (error|ERR!) ?/, ''));
  return lines.filter((line) => /^[A-Za-z]/.test(line) && !/^(syscall|errno|A complete log|If you are behind|npm warn)/.test(line)).slice(0, 3).join(' | ');
}

function tspc(tool: string, project: string): CliRun {
  const run = spawnSync(process.execPath, [tool, '-p', project], { cwd: project, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, output: `${run.error?.message ?? ''}${run.stdout}${run.stderr}`.trim() };
}

/** The line of a crash's output that names the error ("TypeError: …"), else its first line. */
const firstError = (output: string): string => {
  const lines = output.split('\n');
  return (lines.find((line) => /^\s*[A-Z]\w*Error\b/.test(line)) ?? lines[0]).trim();
};

/** A project under cliDir: tsconfig.json naming the plugin, and `files` in src/. */
function writeProject(name: string, files: Record<string, string>, compilerOptions: Record<string, unknown> = {}): string {
  const dir = join(cliDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'src'), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, 'src', file), text);
  const tsconfig = { compilerOptions: { rootDir: 'src', outDir: 'out', types: [], plugins: [{ transform: 'tstrace/transformer' }], ...compilerOptions }, include: ['src'] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  return dir;
}

const okSource = `// trace:region
export function double(n: number): number {
  return n * 2;
}

export const half = (n: number) => n / 2;

console.log(JSON.stringify([double(21), half(8), double.name, double.length]));
`;

/** Whether this Node is in `range` (with ts-patch's own semver; else a plain ">=x.y.z"; unknown forms pass). */
function nodeSatisfies(range: string, requireFromInstall: NodeJS.Require): boolean {
  try {
    return (requireFromInstall('semver') as { satisfies: (version: string, range: string) => boolean }).satisfies(process.versions.node, range);
  } catch {
    const floor = /^>=\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
    if (!floor) return true;
    const [major, minor, patch] = process.versions.node.split('.').map(Number);
    const [fMajor, fMinor = 0, fPatch = 0] = floor.slice(1).map((n) => (n === undefined ? undefined : Number(n)));
    return major !== fMajor! ? major > fMajor! : minor !== fMinor ? minor > fMinor : patch >= fPatch;
  }
}

function prepare(): { toolchain: Toolchain } | { skip: string } {
  let dir: string;
  if (installedVersions(cacheDir)) dir = cacheDir;
  else {
    try {
      dir = install();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      if (inCI) throw new Error(`CI=true: TypeScript 6 + ts-patch 4 must be installable. ${why}`);
      return { skip: `could not install ${PACKAGES.join(' and ')} from the npm registry (set CI=true to make this a failure): ${why}` };
    }
  }
  const versions = installedVersions(dir)!;
  const tool = join(dir, 'node_modules', 'ts-patch', 'bin', 'tspc.js');
  const requireFromInstall = createRequire(join(dir, 'package.json'));
  const engines = readJson(join(dir, 'node_modules', 'ts-patch', 'package.json')).engines?.node;
  const nodeSupported = !engines || nodeSatisfies(engines, requireFromInstall);
  const notOnThisNode = (what: string) =>
    `ts-patch ${versions.tsPatch} requires Node ${engines} (its engines field) and does not run on this Node ${process.version}: ${what}`;

  // The probe: the real tspc on a small project. Failures on a supported Node are left to the tests.
  const okRun = tspc(tool, writeProject('ok', { 'ok.ts': okSource }));
  if (okRun.status !== 0 && !nodeSupported) return { skip: notOnThisNode(`tspc exited ${okRun.status}: ${firstError(okRun.output)}`) };
  let ts: typeof TS;
  try {
    ts = requireFromInstall('ts-patch/compiler') as typeof TS;
  } catch (error) {
    if (!nodeSupported) return { skip: notOnThisNode(`require("ts-patch/compiler") threw ${String(error)}`) };
    throw error;
  }
  return { toolchain: { dir, ts, tsVersion: versions.ts, tsPatchVersion: versions.tsPatch, tspc: tool, okRun } };
}

beforeAll(() => {
  setup = prepare();
  if ('skip' in setup) console.warn(`typescript6.test.ts: skipped: ${setup.skip}`);
}, 240_000);

describe('tspc of TypeScript 6 + ts-patch 4', () => {
  it('compiles a project that names the plugin in tsconfig.json; the output is instrumented and runs', (ctx) => {
    const { okRun, ts, tsVersion, tsPatchVersion } = need(ctx);
    expect(ts.version).toBe(tsVersion);
    expect([tsVersion, tsPatchVersion]).toEqual([expect.stringMatching(/^6\./), expect.stringMatching(/^4\./)]);
    expect(okRun).toEqual({ status: 0, output: '' });
    const dir = join(cliDir, 'ok');
    const js = readFileSync(join(dir, 'out', 'ok.js'), 'utf8');
    // TypeScript 6 defaults to ES module output: the runtime comes in as a namespace import.
    expect(js).toMatch(/import \* as __tstrace\w* from "tstrace\/instrument"/);
    expect(js).toMatch(/\.site\("double", "[^"]*ok\.ts", 2,/);
    writeFileSync(join(dir, 'out', 'package.json'), JSON.stringify({ type: 'module' }));
    const run = spawnSync(process.execPath, [join(dir, 'out', 'ok.js')], { encoding: 'utf8', cwd: dir });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual([42, 4, 'double', 1]);
  });

  it('exits non-zero with the tstrace diagnostic when a directive is misused', (ctx) => {
    const { tspc: tool } = need(ctx);
    const dir = writeProject('misuse', { 'bad.ts': '// trace:regoin\nexport function f() {\n  return 1;\n}\n' }, { module: 'commonjs' });
    const run = tspc(tool, dir);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('src/bad.ts(1,1): error TS91009: tstrace: unknown directive "trace:regoin"');
  });
});

describe.each(matrix.map((config) => [configName(config), config] as const))('TypeScript 6 + ts-patch 4, %s', (_name, config) => {
  it('instrumented programs do exactly what the uninstrumented ones do, tracing on or off', async (ctx) => {
    const { ts } = need(ctx);
    // TypeScript 6 deprecates (error TS5107) moduleResolution node10, which the 5.9 matrix uses for
    // CommonJS: use bundler, 6.0's default for these module kinds. It deprecates alwaysStrict: false too,
    // which keeps script output sloppy so that a lost "use strict" prologue would show: keep it, with
    // ignoreDeprecations (it works through 6.x).
    const ts6: TS.CompilerOptions = { moduleResolution: ts.ModuleResolutionKind.Bundler, ignoreDeprecations: '6.0' };
    await expectInstrumentedToMatchPlain(config, (plugin, files) => buildWith(ts, workDir, config, plugin, files, ts6));
  });
});
