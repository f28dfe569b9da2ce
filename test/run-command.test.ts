// `tstrace run -- COMMAND`: traces programs that never call start(), from their first module to their
// exit, whichever way they exit. Needs `npm run build` first (npm test does it).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../analysis/reader.js';
import { parseRunArguments } from '../cli/run-command.js';
import { isPackageManagerScript } from '../runtime/run-preload.js';
import { cleanEnv, type ExecResult } from './helpers/exec.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'esm', 'cli', 'cli.js');
const app = join(root, 'test', 'fixtures', 'run-app.mjs');
const env = Object.fromEntries(Object.entries(cleanEnv).filter(([name]) => !/^(VITEST|TSTRACE_)/.test(name)));

interface Ended extends ExecResult {
  signal: NodeJS.Signals | null;
}

/** Runs `tstrace run ARGS` in a fresh folder; resolves with how it ended. */
function tstraceRun(args: string[], cwd = mkdtempSync(join(tmpdir(), 'tstrace-run-'))): Promise<Ended & { cwd: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'run', ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code: code ?? -1, signal: (error?.signal as NodeJS.Signals | undefined) ?? null, stdout, stderr, cwd });
    });
  });
}

/** The trace's user events, counted by kind and type. */
async function traceAt(path: string) {
  const { events, status } = await loadTrace(path);
  const steps = events.filter((e) => e.kind === 'regionStart' && e.type === 'step').length;
  const logs = events.filter((e) => e.kind === 'log').length;
  const tasks = events.filter((e) => e.kind === 'taskCreate').map((e) => (e.kind === 'taskCreate' ? e.type : ''));
  const ended = events.filter((e) => e.kind === 'taskEnd').length;
  return { status, steps, logs, tasks, ended };
}

describe('tstrace run -- node app.mjs (a program that never calls start())', () => {
  it('traces a program that ends normally, exits 0, and prints what it wrote', async () => {
    const run = await tstraceRun(['--', 'node', app, 'normal']);
    expect(run.code, run.stderr).toBe(0);
    const trace = await traceAt(join(run.cwd, 'trace.out'));
    expect(trace.status.complete).toBe(true);
    expect(trace).toMatchObject({ steps: 10_000, logs: 10_000, tasks: ['job'], ended: 1 });
    expect(trace.status.header?.command).toContain('run-app.mjs normal');
    expect(run.stderr).toMatch(/^tstrace run: wrote trace\.out \([\d.]+ KiB; pid \d+, 1 task of 1 type, 10001 regions, 10000 logs, 0 problems\)$/m);
    expect(run.stderr).toContain('npx tstrace stats trace.out');
  });

  it('keeps the exit code of process.exit(3), the trace complete', async () => {
    const run = await tstraceRun(['-o', 'exit.out', 'node', app, 'exit']);
    expect(run.code).toBe(3);
    const trace = await traceAt(join(run.cwd, 'exit.out'));
    expect(trace.status.complete).toBe(true);
    expect(trace).toMatchObject({ steps: 10_000, logs: 10_000, ended: 1 });
  });

  it('traces a program that dies of an uncaught exception (exit 1, its error printed)', async () => {
    const run = await tstraceRun(['node', app, 'throw']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('uncaught on purpose');
    const trace = await traceAt(join(run.cwd, 'trace.out'));
    expect(trace.status.complete).toBe(true);
    expect(trace).toMatchObject({ steps: 10_000, ended: 1 });
  });

  it('completes the trace of a program killed by SIGTERM, and dies of SIGTERM itself', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tstrace-run-'));
    const child = spawn(process.execPath, [cli, 'run', '--', 'node', app, 'wait'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The program is ready (its events recorded) when it says so: then SIGTERM `tstrace run`, which passes it on.
    await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    expect([code, signal]).toEqual([null, 'SIGTERM']);
    const trace = await traceAt(join(cwd, 'trace.out'));
    expect(trace.status.complete).toBe(true);
    expect(trace).toMatchObject({ steps: 10_000, logs: 10_000, tasks: ['job', 'waiting'], ended: 1 });
    expect(stderr).toContain('tstrace run: wrote trace.out');
  });

  it('--quiet prints nothing of its own; start() options are flags', async () => {
    const run = await tstraceRun(['--quiet', '--no-gc', '--no-heap', '--no-event-loop', '--', 'node', app, 'normal', '100']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const { events } = await loadTrace(join(run.cwd, 'trace.out'));
    expect(events.filter((e) => e.kind === 'gc' || e.kind === 'heap' || e.kind === 'eventLoop')).toEqual([]);
    expect(events.filter((e) => e.kind === 'log')).toHaveLength(100);
  });

  it('--scheduling records when each flow ran (Run events)', async () => {
    const run = await tstraceRun(['--quiet', '--scheduling', '--', 'node', app, 'normal', '10']);
    expect(run.code).toBe(0);
    const { events, status } = await loadTrace(join(run.cwd, 'trace.out'));
    expect(status.problem).toBeNull();
    expect(events.filter((e) => e.kind === 'run').length).toBeGreaterThan(0);
  });

  it('exits 127 when the command does not exist, 2 without a command', async () => {
    expect((await tstraceRun(['--', 'no-such-command-tstrace'])).code).toBe(127);
    const usage = await tstraceRun([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('run: missing COMMAND');
  });
});

describe('tstrace run with several Node.js processes', () => {
  it('-- npm run script: traces the script\'s node process, not npm', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tstrace-run-'));
    const script = `node ${JSON.stringify(app)} exit 100`;
    writeFileSync(join(cwd, 'package.json'), JSON.stringify({ name: 'traced', version: '1.0.0', private: true, scripts: { something: script } }));
    const run = await tstraceRun(['--', 'npm', 'run', 'something'], cwd);
    expect(run.code).toBe(3); // npm exits with its script's code
    expect(readdirSync(cwd).filter((name) => name.startsWith('trace.out'))).toEqual(['trace.out']);
    const trace = await traceAt(join(cwd, 'trace.out'));
    expect(trace.status.header?.command).toMatch(/run-app\.mjs exit 100$/);
    expect(trace).toMatchObject({ steps: 100, tasks: ['job'] });
  });

  it('the first traced process writes OUT, each other one OUT.PID', async () => {
    const run = await tstraceRun(['--', 'node', '-e', `require('node:child_process').execFileSync(process.execPath, [${JSON.stringify(app)}, 'normal', '7'], { stdio: 'inherit' })`]);
    expect(run.code, run.stderr).toBe(0);
    const files = readdirSync(run.cwd).sort();
    expect(files).toEqual(['trace.out', expect.stringMatching(/^trace\.out\.\d+$/)]);
    expect((await traceAt(join(run.cwd, 'trace.out'))).tasks).toEqual([]); // node -e: no tasks of its own
    expect(await traceAt(join(run.cwd, files[1]!))).toMatchObject({ steps: 7, tasks: ['job'] });
    expect(run.stderr.match(/^tstrace run: wrote /gm)).toHaveLength(2);
  });
});

describe('tstrace run arguments', () => {
  it('takes its options up to -- or the command; the command\'s arguments are untouched', () => {
    expect(parseRunArguments(['-o', 'x.out', '--sample-interval', '20', 'node', 'app.js', '-o', 'y', '--quiet'])).toEqual({
      output: 'x.out',
      quiet: false,
      startOptions: { sampleInterval: 20 },
      command: 'node',
      args: ['app.js', '-o', 'y', '--quiet'],
    });
    expect(parseRunArguments(['--capture-locations', '--', '--weird-command'])).toMatchObject({ command: '--weird-command', startOptions: { captureLocations: true } });
    expect(parseRunArguments(['--frobnicate', 'node'])).toMatch(/unknown option "--frobnicate"/);
    expect(parseRunArguments(['--sample-interval', 'soon', 'node'])).toMatch(/positive integer/);
  });

  it('recognises npm\'s and npx\'s own scripts (not traced), and nothing else', () => {
    expect(isPackageManagerScript('/usr/lib/node_modules/npm/bin/npm-cli.js')).toBe(true);
    expect(isPackageManagerScript('/usr/lib/node_modules/npm/bin/npx-cli.js')).toBe(true);
    expect(isPackageManagerScript('/usr/local/bin/npm')).toBe(true);
    expect(isPackageManagerScript('/app/node_modules/vitest/vitest.mjs')).toBe(false);
    expect(isPackageManagerScript('/app/npm-tools.js')).toBe(false);
    expect(isPackageManagerScript(undefined)).toBe(false);
  });
});
