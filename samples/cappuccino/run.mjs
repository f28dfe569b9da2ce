// `npm start`: compiles the cappuccino sample with tspc (and tstrace's transformer), runs it (it writes trace.out in the current
// directory), then prints the trace's statistics with the tstrace CLI. Expects `npm run build` first.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const sampleDir = dirname(fileURLToPath(import.meta.url));
const root = join(sampleDir, '..', '..');
const tspc = createRequire(join(root, 'package.json')).resolve('ts-patch/bin/tspc');
const cli = join(root, 'dist', 'esm', 'tool', 'cli.js');
const trace = 'trace.out';

/** Runs `node ...args` (in `cwd`, by default the current directory), showing its output; exits with its status if it fails. */
function node(args, cwd = process.cwd()) {
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

requireBuilt(join(root, 'dist', 'esm', 'runtime', 'index.js'));
// tspc runs tstrace's transformer (see tsconfig.json), which compiles each region's location in,
// relative to the directory tspc runs in: the repository's, so they read samples/cappuccino/main.ts.
node([tspc, '-p', sampleDir], root);
// Source maps let captured locations point at main.ts rather than the compiled JavaScript.
node(['--enable-source-maps', join(sampleDir, 'dist', 'main.js')]);
requireBuilt(cli);
console.log();
node([cli, 'stats', trace]);
console.log(`\nEach order's timeline: npx tstrace tasks ${trace}`);
