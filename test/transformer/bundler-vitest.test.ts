// Vitest with `plugins: [tstrace(), traceVitest()]` (test/fixtures/vitest-instrumented): the code under
// test is instrumented by tstrace/vite as Vitest transforms it, and its regions nest under each test's
// task in the trace of the run. Needs `npm run build` first (npm test does it).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../analysis/analysis.js';
import type { RegionInfo, TaskInfo } from '../../analysis/analysis-types.js';
import { cleanEnv } from '../helpers/exec.js';
import { tempTracePath } from '../helpers/trace.js';
import { repoRoot } from './harness.js';

const project = join(repoRoot, 'test', 'fixtures', 'vitest-instrumented');
const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');

describe('TSTRACE_TRACE=trace.out vitest run, with tstrace/vite and tstrace/vitest in vitest.config', () => {
  it('passes, and each test task holds the instrumented functions it called, nested as they ran', async () => {
    const trace = tempTracePath('vitest-instrumented.out');
    const env = Object.fromEntries(Object.entries(cleanEnv).filter(([name]) => !/^(VITEST|TSTRACE_)/.test(name)));
    env.TSTRACE_TRACE = trace;
    const run = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(process.execPath, [vitest, 'run'], { cwd: project, env, encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, output: stdout + stderr }),
      ),
    );
    expect(run.code, run.output).toBe(0);
    const analysis = await analyzeTrace(trace);
    expect(analysis.status.complete).toBe(true);
    expect(analysis.problems).toEqual([]);
    const byId = (id: number): RegionInfo => analysis.regions.find((r) => r.id === id)!;
    const tree = (task: TaskInfo): string[] =>
      task.regions.map((id) => {
        const region = byId(id);
        return region.parent === null ? region.type : `${region.type} < ${byId(region.parent).type}`;
      });
    const task = (type: string): TaskInfo => analysis.tasks.find((t) => t.type === type)!;
    expect(tree(task('kitchen.test.ts › kitchen › bakes'))).toEqual(['test', 'Kitchen.bake < test', 'weigh < Kitchen.bake', 'Kitchen.proof < Kitchen.bake']);
    expect(tree(task('kitchen.test.ts › kitchen › slices'))).toEqual(['test', 'slice < test']);
    // Compiled-in locations: the .ts lines (relative to the folder of the repository's tsconfig.json).
    const source = readFileSync(join(project, 'kitchen.ts'), 'utf8').split('\n');
    const weigh = analysis.regions.find((r) => r.type === 'weigh')!;
    expect(weigh.location?.file).toBe('test/fixtures/vitest-instrumented/kitchen.ts');
    expect(source[weigh.location!.line - 1]).toContain('function weigh');
  }, 120_000);
});
