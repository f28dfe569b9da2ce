// The CLI's oracle: `tstrace` (the package.json `bin`, run by node in a child process) on a fuzzed file
// exits 0 or 1 — as the reader's status says — with clear one-line messages on stderr, never a stack
// trace, never an internal error, never a hang; what it prints or writes is JSON when it says so.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI script: the package's `bin.tstrace`, resolved from the package root. */
export function cliPath() {
  const manifestPath = fileURLToPath(import.meta.resolve('tstrace/package.json'));
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin.tstrace;
  return resolve(dirname(manifestPath), bin);
}

const GO_HEADER = Buffer.concat([Buffer.from('go 1.19 trace', 'latin1'), Buffer.alloc(3)]);

/** The command lines tried, `OUT` standing for an output file. */
export const CLI_COMMANDS = [
  ['stats'],
  ['stats', '--json'],
  ['tasks'],
  ['tasks', '--json'],
  ['regions'],
  ['regions', '--json'],
  ['logs'],
  ['logs', '--json'],
  ['export', '--format', 'chrome', '-o', 'OUT'],
  ['export', '--format', 'go', '-o', 'OUT'],
];

function run(args, timeoutMs) {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [cliPath(), ...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolvePromise({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, signal: error?.signal ?? null, killed: error?.killed ?? false, stdout, stderr });
    });
  });
}

/**
 * Runs command `CLI_COMMANDS[which]` on `file`; `status` is the reader's status of the same bytes.
 * Returns `{ failures: [{ entry, message }], code, ms }`.
 */
export async function checkCli(file, which, status, { tmpDir, timeoutMs = 30_000 }) {
  const template = CLI_COMMANDS[which];
  const out = join(tmpDir, `cli-out-${process.pid}`);
  rmSync(out, { force: true });
  const args = [template[0], file, ...template.slice(1).map((a) => (a === 'OUT' ? out : a))];
  const name = `cli ${template.join(' ')}`;
  const failures = [];
  const fail = (message) => failures.push({ entry: name, message });
  const t0 = performance.now();
  const r = await run(args, timeoutMs);
  const ms = performance.now() - t0;
  if (r.killed || r.signal) {
    fail(r.killed ? `no exit after ${timeoutMs} ms (killed)` : `killed by ${r.signal}`);
    return { failures, code: null, ms };
  }
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const expected = !status.header || status.problem?.kind === 'corrupt' ? 1 : 0;
  if (r.code !== expected) fail(`exit code ${r.code}, expected ${expected} (status ${status.problem?.kind ?? 'complete'})`);
  if (lines.some((l) => /^\s+at /.test(l)) || /internal error/.test(r.stderr)) fail(`stack trace or internal error on stderr: ${r.stderr.slice(0, 800)}`);
  const unclear = lines.find((l) => !/^tstrace: (warning|error): \S/.test(l));
  if (unclear !== undefined) fail(`stderr line is not a tstrace warning or error: ${JSON.stringify(unclear.slice(0, 300))}`);
  const errors = lines.filter((l) => l.startsWith('tstrace: error: '));
  if (r.code === 1 && errors.length !== 1) fail(`exit 1 with ${errors.length} error lines: ${r.stderr.slice(0, 800)}`);
  if (r.code === 0 && errors.length !== 0) fail(`exit 0 with an error line: ${errors[0]}`);
  if (errors.length === 1 && /undefined|NaN|\[object/.test(errors[0])) fail(`unclear error: ${errors[0]}`);
  if (template[0] === 'export') {
    if (!status.header) {
      if (existsSync(out)) fail('an output file was written for a file that is not a trace');
    } else if (!existsSync(out)) {
      fail('no output file');
    } else if (template[2] === 'chrome') {
      try {
        JSON.parse(readFileSync(out, 'utf8'));
      } catch (error) {
        fail(`output is not JSON: ${error.message}`);
      }
    } else if (!readFileSync(out).subarray(0, 16).equals(GO_HEADER)) {
      fail('output does not start with the Go trace header');
    }
    rmSync(out, { force: true });
  } else if (!status.header) {
    if (r.stdout !== '') fail('a report on stdout for a file that is not a trace');
  } else if (template.includes('--json')) {
    try {
      JSON.parse(r.stdout);
    } catch (error) {
      fail(`stdout is not JSON: ${error.message}`);
    }
  }
  return { failures, code: r.code, ms };
}
