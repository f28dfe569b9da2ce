/**
 * `tstrace/vitest/runner`: Vitest's test runner, extended to trace (the `runner` the plugin sets). Each
 * test file is a task (type: the file), each test a subtask of it (type: `file › describe › test`) with
 * its outcome logged; `beforeAll`/`afterAll` are regions of the file's task, `beforeEach`/`afterEach`
 * and the test's body regions of the test's. The body runs through the runner's `runTask` (Vitest
 * calls it instead of the test function), inside the test's context: everything it calls — `current()`,
 * `startRegion(current(), …)`, instrumented code — is in the test's task.
 */
import { isMainThread, threadId } from 'node:worker_threads';
// Vitest 4.1 moved the runner to its main entry; `vitest/runners` prints a deprecation warning in every worker.
import { TestRunner as VitestTestRunner, type RunnerTestCase, type RunnerTestFile, type RunnerTestSuite } from 'vitest';
import { background, log, newTask, withRegion, type Context, type Task } from '../runtime/api.js';
import { errorLine, outcomeOf, testTaskType } from './test-names.js';
import { startWorkerTrace, stopWorkerTrace } from './worker-trace.js';

interface Traced {
  readonly ctx: Context;
  readonly task: Task;
}

type Hook = (...args: unknown[]) => unknown;
type HookName = 'beforeAll' | 'afterAll' | 'beforeEach' | 'afterEach';
const HOOK_NAMES: readonly HookName[] = ['beforeAll', 'afterAll', 'beforeEach', 'afterEach'];

const isFile = (suite: RunnerTestSuite): suite is RunnerTestFile => 'filepath' in suite;

/** Vitest's runner, recording a task per test file and per test, and regions for hooks and test bodies. */
export class TracingRunner extends VitestTestRunner {
  /** The open task of each file and test. */
  private readonly traced = new WeakMap<RunnerTestSuite | RunnerTestCase, Traced>();
  /** Hooks already wrapped in regions (a suite's hooks are wrapped once). */
  private readonly wrapped = new WeakSet<Function>();

  onBeforeCollect(): void {
    startWorkerTrace();
  }

  override async onBeforeRunSuite(suite: RunnerTestSuite): Promise<void> {
    await super.onBeforeRunSuite(suite);
    if (isFile(suite)) {
      const [ctx, task] = newTask(background, suite.name);
      log(ctx, 'worker', `pid ${process.pid}${isMainThread ? '' : `, thread ${threadId}`}, pool ${this.pool}`);
      this.traced.set(suite, { ctx, task });
      // A file that failed while it was collected (an import threw) is not run: Vitest calls no onAfterRunSuite.
      if (suite.result?.state === 'fail') return this.finishFile(suite);
    }
    this.wrapHooks(suite);
  }

  override async onAfterRunSuite(suite: RunnerTestSuite): Promise<void> {
    await super.onAfterRunSuite(suite);
    if (isFile(suite)) this.finishFile(suite);
  }

  /** Logs the file's outcome (and errors) and ends its task, once. */
  private finishFile(suite: RunnerTestFile): void {
    const traced = this.traced.get(suite);
    if (!traced) return;
    this.traced.delete(suite);
    log(traced.ctx, 'outcome', outcomeOf(suite.result?.state, suite.mode));
    for (const error of suite.result?.errors ?? []) log(traced.ctx, 'error', errorLine(error));
    traced.task.end();
  }

  override async onBeforeRunTask(test: RunnerTestCase): Promise<void> {
    await super.onBeforeRunTask(test);
    const parent = this.traced.get(test.file)?.ctx ?? background;
    const [ctx, task] = newTask(parent, testTaskType(test));
    this.traced.set(test, { ctx, task });
    // Vitest runs no more of a test that is not to run (it.skip, it.todo, a cancelled run).
    if (test.mode !== 'run' && test.mode !== 'queued') this.finish(test);
  }

  override onBeforeTryTask(test: RunnerTestCase, options?: { retry: number; repeats: number }): void {
    super.onBeforeTryTask(test);
    const traced = this.traced.get(test);
    if (traced && options && options.retry > 0) log(traced.ctx, 'retry', String(options.retry));
  }

  /** The test's body, in its task's context: a region `test` of its task. */
  async runTask(test: RunnerTestCase): Promise<void> {
    const fn = VitestTestRunner.getTestFn(test) as (() => unknown) | undefined;
    if (!fn) throw new Error('Test function is not found. Did you add it using `setFn`?');
    const traced = this.traced.get(test);
    await (traced ? withRegion(traced.ctx, 'test', fn) : fn());
  }

  onAfterRetryTask(test: RunnerTestCase): void {
    // A test that skipped itself (context.skip()) ends here: Vitest calls no onAfterRunTask for it.
    if (test.result?.state === 'skip') this.finish(test);
  }

  override onAfterRunTask(test: RunnerTestCase): void {
    super.onAfterRunTask(test);
    this.finish(test);
  }

  override async onAfterRunFiles(): Promise<void> {
    super.onAfterRunFiles();
    await stopWorkerTrace();
  }

  /** Logs the test's outcome (and retries, and errors) and ends its task, once. */
  private finish(test: RunnerTestCase): void {
    const traced = this.traced.get(test);
    if (!traced) return;
    this.traced.delete(test);
    const { ctx, task } = traced;
    const result = test.result;
    if (result?.retryCount) log(ctx, 'retries', String(result.retryCount));
    log(ctx, 'outcome', outcomeOf(result?.state, test.mode));
    if (result?.state === 'fail') for (const error of result.errors ?? []) log(ctx, 'error', errorLine(error));
    task.end();
  }

  /**
   * Makes each hook of `suite` run in a region of the task it belongs to: `beforeEach`/`afterEach` of
   * the test they run for, `beforeAll`/`afterAll` of the file. The wrapper keeps the hook's own
   * properties (Vitest keeps a hook's timeout and stack on it) and returns what the hook returns.
   */
  private wrapHooks(suite: RunnerTestSuite): void {
    // A file that failed to import has no hooks at all.
    const hooks = VitestTestRunner.getSuiteHooks(suite) as unknown as Record<HookName, Hook[]> | undefined;
    if (!hooks) return;
    for (const name of HOOK_NAMES) {
      const list = hooks[name];
      if (!Array.isArray(list)) continue;
      for (let i = 0; i < list.length; i++) {
        const hook = list[i]!;
        if (this.wrapped.has(hook)) continue;
        const forEach = name === 'beforeEach' || name === 'afterEach';
        const owner = (args: unknown[]): Traced | undefined =>
          forEach ? this.traced.get((args[0] as { task: RunnerTestCase }).task) : this.traced.get((args[0] as RunnerTestSuite).file);
        const inRegion: Hook = (...args) => {
          const traced = owner(args);
          return traced ? withRegion(traced.ctx, name, () => hook(...args)) : hook(...args);
        };
        Object.defineProperties(inRegion, Object.getOwnPropertyDescriptors(hook));
        this.wrapped.add(inRegion);
        list[i] = inRegion;
      }
    }
  }
}

export default TracingRunner;
