// Running npm and other commands from tests the way a user's shell would.
import { execFile } from 'node:child_process';

// npm passes its configuration to scripts as npm_* variables (under `npm test`): a consumer project's
// npm must not inherit them. Nor the test run's TSTRACE_CACHE=off (vitest.config.ts): a consumer project
// keeps its results where a user's does.
export const cleanEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'TSTRACE_CACHE'));

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command args` in `cwd` with {@link cleanEnv}; never rejects: the exit code is in the result. */
export function exec(command: string, args: string[], cwd: string, timeout = 0): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv, encoding: 'utf8', maxBuffer: 64 << 20, timeout }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
