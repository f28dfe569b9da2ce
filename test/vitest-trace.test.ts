// `go test -trace` for Vitest: the fixture project (test/fixtures/vitest-project) has tstrace's plugin in
// its vitest.config; running Vitest there with TSTRACE_TRACE set writes one trace of the run. Needs
// `npm run build` first (npm test does it).
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../analysis/analysis.js';
import type { RegionInfo, TaskInfo, TraceAnalysis } from '../analysis/analysis-types.js';
import { cleanEnv, type ExecResult } from './helpers/exec.js';
import { tempTracePath } from './helpers/trace.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const project = join(root, 'test', 'fixtures', 'vitest-project');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');

/** The logs of `task` in `category`, in order. */
const logs = (task: TaskInfo, category: string): string[] =>
  task.events.flatMap((e) => (e.kind === 'log' && e.category === category ? [e.message] : []));

/** Each region of `task` as "type < parent type", in start order. */
function regionTree(analysis: TraceAnalysis, task: TaskInfo): string[] {
  const byId = (id: number): RegionInfo => analysis.regions.at(id - 1)!;
  return task.regions.map((id) => {
    const region = byId(id);
    return region.parent === null ? region.type : `${region.type} < ${byId(region.parent).type}`;
  });
}

const expectedOutcomes: Record<string, string> = {
  'cafe.test.ts › cafe › brews': 'passed',
  'cafe.test.ts › cafe › spills on purpose': 'failed',
  'cafe.test.ts › cafe › is skipped': 'skipped',
  'menu.test.ts › menu › drinks › espresso': 'passed',
  'menu.test.ts › menu › drinks › skips itself': 'skipped',
  'menu.test.ts › menu › decaf': 'todo',
  'retry.test.ts › passes on its second try': 'passed',
  'retry.test.ts › always fails': 'failed',
};

for (const pool of ['threads', 'forks'] as const) {
  describe(`TSTRACE_TRACE=trace.out vitest run --pool ${pool}`, () => {
    let run: ExecResult;
    let trace: string;
    let analysis: TraceAnalysis;
    const task = (type: string): TaskInfo => {
      const found = analysis.tasks.filter((t) => t.type === type);
      expect(found, type).toHaveLength(1);
      return found[0]!;
    };

    beforeAll(async () => {
      trace = tempTracePath(`vitest-${pool}.out`);
      run = await runVitest(['--pool', pool], trace);
      analysis = await analyzeTrace(trace);
    }, 120_000);

    it('runs the suite as Vitest does (two tests fail: exit 1) and writes one complete trace', () => {
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toMatch(/Tests\s.*2 failed.*3 passed/);
      expect(run.stderr).toContain(`tstrace: wrote ${trace}`);
      // Nothing of ours in Vitest's output but that line: no deprecation warning from a worker.
      expect(run.stdout + run.stderr).not.toMatch(/deprecated|warning/i);
      expect(analysis.status.complete).toBe(true);
      expect(analysis.problems).toEqual([]);
      // The workers' parts were merged and removed.
      expect(readdirSync(dirname(trace)).filter((name) => name.startsWith(`.${basename(trace)}.parts-`))).toEqual([]);
    });

    it('has a task per test file, each with the worker that ran it (every worker\'s events are there)', () => {
      const files = analysis.tasks.filter((t) => t.parent === 0);
      expect(files.map((t) => t.type).sort()).toEqual(['cafe.test.ts', 'menu.test.ts', 'retry.test.ts']);
      const workers = files.map((file) => logs(file, 'worker'));
      for (const worker of workers) expect(worker).toEqual([expect.stringMatching(new RegExp(`^pid \\d+.*, pool ${pool}$`))]);
      // Vitest isolates each file in a worker of its own.
      expect(new Set(workers.flat()).size).toBe(3);
      expect(logs(task('cafe.test.ts'), 'outcome')).toEqual(['failed']);
      expect(logs(task('menu.test.ts'), 'outcome')).toEqual(['passed']);
    });

    it('shows each worker as a thread of its own, named after it, holding its file\'s tasks and regions', () => {
      const threads = analysis.status.threads ?? [];
      // One thread per worker part (Vitest isolates each file in a worker of its own); none is the main thread.
      expect(threads).toHaveLength(3);
      for (const thread of threads) expect(thread.name).toMatch(pool === 'threads' ? /^vitest worker pid \d+ thread \d+$/ : /^vitest worker pid \d+$/);
      const files = analysis.tasks.filter((t) => t.parent === 0);
      expect(new Set(files.map((file) => file.threads.join()))).toEqual(new Set(threads.map((t) => String(t.id))));
      for (const file of files) {
        // The worker log names the same pid (and thread) as the lane the file's task is on.
        const lane = threads.find((t) => t.id === file.threads[0])!.name;
        const [, pid, thread] = /^pid (\d+)(?:, thread (\d+))?/.exec(logs(file, 'worker')[0])!;
        expect(lane).toBe(`vitest worker pid ${pid}${pool === 'threads' ? ` thread ${thread}` : ''}`);
        for (const test of analysis.tasks.filter((t) => t.parent === file.id)) expect(test.threads).toEqual(file.threads);
      }
    });

    it('has one task per test, named file › describe › test, a subtask of its file, with its outcome', () => {
      const tests = analysis.tasks.filter((t) => t.parent !== 0);
      expect(tests.map((t) => t.type).sort()).toEqual(Object.keys(expectedOutcomes).sort());
      for (const test of tests) {
        expect(logs(test, 'outcome'), test.type).toEqual([expectedOutcomes[test.type]]);
        expect(test.complete).toBe(true);
        expect(analysis.tasks.find((t) => t.id === test.parent)!.type).toBe(test.type.split(' › ')[0]);
      }
      expect(logs(task('cafe.test.ts › cafe › spills on purpose'), 'error')).toEqual(['expected 2 to be 3 // Object.is equality']);
      expect(logs(task('retry.test.ts › always fails'), 'error')).toEqual(['broken on purpose']);
    });

    it('logs a retried test\'s retries, with a test region per try', () => {
      const retried = task('retry.test.ts › passes on its second try');
      expect(logs(retried, 'retry')).toEqual(['1']);
      expect(logs(retried, 'retries')).toEqual(['1']);
      expect(regionTree(analysis, retried)).toEqual(['test', 'test']);
    });

    it('nests hooks, the test body and what it calls (startRegion, withRegion across awaits) in the test\'s task', () => {
      expect(regionTree(analysis, task('cafe.test.ts › cafe › brews'))).toEqual([
        'beforeEach',
        'warmUp < beforeEach',
        'test',
        'grind < test',
        'extract < test',
        'pour < extract',
        'afterEach',
      ]);
      expect(regionTree(analysis, task('menu.test.ts › menu › drinks › espresso'))).toEqual(['test', 'grind < test', 'extract < test', 'pour < extract']);
      expect(regionTree(analysis, task('cafe.test.ts'))).toEqual(['beforeAll']);
      // A skipped test ran nothing.
      expect(task('cafe.test.ts › cafe › is skipped').regions).toEqual([]);
    });

    it('lists the slowest tests (tstrace tasks --type \'* › *\' --sort latency --limit 3), and one file\'s tests', () => {
      const tasks = (...args: string[]): TaskInfo[] =>
        (JSON.parse(execFileSync(process.execPath, [join(root, 'dist/esm/cli/cli.js'), 'tasks', trace, '--json', ...args], { encoding: 'utf8' })) as { tasks: TaskInfo[] }).tasks;
      const tests = analysis.tasks.filter((t) => t.parent !== 0);
      const slowest = tasks('--type', '* › *', '--sort', 'latency', '--limit', '3');
      expect(slowest.map((t) => t.latency)).toEqual(tests.map((t) => t.latency).sort((a, b) => b - a).slice(0, 3));
      expect(slowest.every((t) => t.type.includes(' › '))).toBe(true);
      expect(tasks('--type', 'menu.test.ts › *').map((t) => t.type).sort()).toEqual(Object.keys(expectedOutcomes).filter((type) => type.startsWith('menu.test.ts › ')).sort());
    });
  });
}

describe('TSTRACE_TRACE=trace.out vitest run, a test file that fails to import', () => {
  it('reports the import error as Vitest does, and the file\'s task failed with that error', async () => {
    const trace = tempTracePath('vitest-broken.out');
    const run = await runVitest(['--dir', 'broken'], trace);
    const output = run.stdout + run.stderr;
    expect(run.code, output).toBe(1);
    expect(output).toContain('the menu could not be loaded');
    expect(output).not.toContain('Unhandled');
    const [file, ...others] = (await analyzeTrace(trace)).tasks;
    expect(others).toEqual([]);
    expect(file!.type).toBe('broken/broken.test.ts');
    expect(file!.complete).toBe(true);
    expect(logs(file!, 'outcome')).toEqual(['failed']);
    expect(logs(file!, 'error')).toEqual(['the menu could not be loaded']);
  }, 120_000);
});

describe('vitest run without TSTRACE_TRACE', () => {
  it('traces nothing: the plugin is off', async () => {
    const result = await runVitest(['menu.test.ts']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('tstrace');
    expect(readdirSync(project).filter((name) => name.includes('.out'))).toEqual([]);
  }, 120_000);
});

/**
 * Runs Vitest in the fixture project (with TSTRACE_TRACE=`trace` if given), in an environment without
 * npm's variables nor those of the Vitest running this test.
 */
function runVitest(args: string[], trace?: string): Promise<ExecResult> {
  const env = Object.fromEntries(Object.entries(cleanEnv).filter(([name]) => !/^(VITEST|TSTRACE_)/.test(name)));
  if (trace !== undefined) env.TSTRACE_TRACE = trace;
  return new Promise((resolve) => {
    execFile(process.execPath, [vitest, 'run', ...args], { cwd: project, env, encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
