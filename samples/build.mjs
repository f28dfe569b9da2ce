// What the samples' run.mjs scripts share: compiling a sample with tspc (and tstrace's transformer),
// and printing its trace's statistics with the tstrace CLI. Both need `npm run build` first, and stop
// with a hint when it has not run. bench/http.mjs also compiles a sample without any tracing in it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const requireHere = createRequire(join(root, 'package.json'));
const tspc = requireHere.resolve('ts-patch/bin/tspc');
const tsc = requireHere.resolve('typescript/bin/tsc');
const cli = join(root, 'dist', 'esm', 'cli', 'cli.js');

/** Runs `node ...args` (in `cwd`, by default the current directory), showing its output; exits with its status if it fails. */
export function node(args, cwd = process.cwd()) {
  try {
    execFileSync(process.execPath, args, { cwd, stdio: 'inherit' });
  } catch (error) {
    process.exit(typeof error.status === 'number' && error.status !== 0 ? error.status : 1);
  }
}

/** Stops with a hint when `npm run build` has not produced `file`. */
function requireBuilt(file) {
  if (existsSync(file)) return;
  const shown = relative(process.cwd(), file);
  console.error(`tstrace is not built (${shown.startsWith('..') ? file : shown} is missing): run \`npm run build\` first.`);
  process.exit(1);
}

/**
 * Compiles the sample project in `sampleDir` with tspc, which runs tstrace's transformer (see the
 * sample's tsconfig.json). Stops first with a hint when tstrace's runtime is not built.
 */
export function compileSample(sampleDir) {
  requireBuilt(join(root, 'dist', 'esm', 'runtime', 'index.js'));
  // The transformer compiles each region's location in relative to the directory tspc runs in: the
  // repository's, so they read samples/<sample>/….
  node([tspc, '-p', sampleDir], root);
}

/**
 * Compiles the sample project in `sampleDir` as if it had never been instrumented, into `workDir`/dist:
 * its `.ts` files are copied to `workDir` without their `@traced` lines and compiled with plain tsc (no
 * transformer), under the sample's tsconfig.json less its plugins. The `traced` import is left unused,
 * and tsc drops it. Returns the folder of the compiled files.
 */
export function compileSampleUninstrumented(sampleDir, workDir) {
  requireBuilt(join(root, 'dist', 'esm', 'runtime', 'index.js'));
  mkdirSync(workDir, { recursive: true });
  for (const file of readdirSync(sampleDir).filter((name) => name.endsWith('.ts'))) {
    const source = readFileSync(join(sampleDir, file), 'utf8').replace(/^[ \t]*@traced\b.*\n/gm, '');
    // A decorator on the same line as its method would survive: stop rather than measure it.
    if (/^(?![ \t]*(\/\/|\/\*|\*)).*@traced\b/m.test(source)) throw new Error(`${file}: a @traced not alone on its line`);
    writeFileSync(join(workDir, file), source);
  }
  const tsconfig = { extends: join(sampleDir, 'tsconfig.json'), compilerOptions: { plugins: [], rootDir: '.', outDir: 'dist' }, include: ['*.ts'] };
  writeFileSync(join(workDir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  node([tsc, '-p', workDir], root);
  return join(workDir, 'dist');
}

/** After a blank line, prints the statistics of the trace file `trace` with the tstrace CLI (stops with a hint when it is not built). */
export function printStats(trace) {
  requireBuilt(cli);
  console.log();
  node([cli, 'stats', trace]);
}

/** Prints `tstrace blockers TRACE --limit N` (a trace with scheduling events). */
export function printBlockers(trace, limit) {
  requireBuilt(cli);
  console.log();
  node([cli, 'blockers', trace, '--limit', String(limit)]);
}
