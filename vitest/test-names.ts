/** What a test is called in the trace, and how its outcome is written: pure functions over Vitest's tasks. */
import type { RunnerTestCase, RunnerTestSuite } from 'vitest';

/** Separates the levels of a test's task type: `file › describe › test`. */
export const LEVEL_SEPARATOR = ' › ';

/** The task type of a test: its file (relative to the root, as Vitest names it), describes and name. */
export function testTaskType(test: RunnerTestCase): string {
  const names = [test.name];
  for (let suite: RunnerTestSuite | undefined = test.suite; suite !== undefined && suite !== test.file; suite = suite.suite) names.unshift(suite.name);
  names.unshift(test.file.name);
  return names.join(LEVEL_SEPARATOR);
}

/** The outcome logged for a test or a file: passed, failed, skipped or todo. */
export function outcomeOf(state: string | undefined, mode: string): string {
  if (state === 'pass') return 'passed';
  if (state === 'fail') return 'failed';
  if (state === 'todo' || mode === 'todo') return 'todo';
  return 'skipped';
}

/** The first line of an error's message, at most 500 characters: enough to recognise it in a log. */
export function errorLine(error: { message?: unknown } | undefined): string {
  const message = typeof error?.message === 'string' ? error.message : String(error?.message ?? 'unknown error');
  const line = message.split('\n', 1)[0]!;
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}
