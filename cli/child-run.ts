/**
 * Running a child process in this process's place: its standard streams are this one's, and the
 * signals that stop a program, sent to this process, are passed on to it (`tstrace run`, and `tstrace
 * view` started again with its Node flags).
 */
import { spawn, type SpawnOptions } from 'node:child_process';

/** How the child ended. */
export interface CommandEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const PASSED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Runs `command` with `args` (`options`: its folder, environment, whether it has a process group of its
 * own), with this process's standard streams; resolves when it has exited. Rejects when it cannot be started.
 */
export function runInPlace(command: string, args: readonly string[], options: Pick<SpawnOptions, 'cwd' | 'env' | 'detached'>): Promise<CommandEnd> {
  const child = spawn(command, [...args], { ...options, stdio: 'inherit' });
  const pass = (signal: NodeJS.Signals): void => void child.kill(signal);
  for (const signal of PASSED_SIGNALS) process.on(signal, pass);
  const stopPassing = (): void => PASSED_SIGNALS.forEach((signal) => process.off(signal, pass));
  return new Promise<CommandEnd>((resolve, reject) => {
    child.once('error', (error) => {
      stopPassing();
      reject(error);
    });
    child.once('exit', (code, signal) => {
      stopPassing();
      resolve({ code, signal });
    });
  });
}
