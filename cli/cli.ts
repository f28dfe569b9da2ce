#!/usr/bin/env node
/**
 * The `tstrace` executable (package.json `bin`): runs the command line of cli-run.ts on this process's
 * arguments. Importing this module runs it.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from './cli-run.js';
import { missingNodeFlags, relaunch, VIEW_NODE_FLAGS } from './node-flags.js';

/** This module's file: `__filename` in the CommonJS build; in the ESM build, the script node runs (this one). */
function thisFile(): string {
  if (typeof __filename === 'string') return __filename;
  return realpathSync(process.argv[1] ?? '.');
}

/** The version in the package.json of the tstrace package this file belongs to. */
function packageVersion(): string {
  let dir = dirname(thisFile());
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'tstrace' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No (readable) package.json here: look further up.
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

// Output piped into a command that stops reading (`| head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

const args = process.argv.slice(2);
// `view` runs with a smaller young generation (node-flags.ts): when started without it, in a child that has it.
const missing = args[0] === 'view' ? missingNodeFlags(VIEW_NODE_FLAGS) : [];
const run = missing.length > 0 ? relaunch(missing, thisFile(), args) : runCli(args, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  get version() {
    return packageVersion();
  },
  cwd: process.cwd(),
  get stderrColumns() {
    return process.stderr.isTTY ? process.stderr.columns || 80 : null;
  },
  stdoutStream: process.stdout,
  raise: (signal) => {
    process.kill(process.pid, signal);
  },
});
run.then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`tstrace: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 70;
  },
);
