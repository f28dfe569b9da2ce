// What the samples' run.mjs scripts share: compiling a sample with tspc (and tstrace's transformer),
// and printing its trace's statistics with the tstrace CLI. Both need `npm run build` first, and stop
// with a hint when it has not run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tspc = createRequire(join(root, 'package.json')).resolve('ts-patch/bin/tspc');
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

/** After a blank line, prints the statistics of the trace file `trace` with the tstrace CLI (stops with a hint when it is not built). */
export function printStats(trace) {
  requireBuilt(cli);
  console.log();
  node([cli, 'stats', trace]);
}
