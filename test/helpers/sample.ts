import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const samplesDir = fileURLToPath(new URL('../../samples', import.meta.url));

/** A path in the sample `name` (a folder of samples/). */
export const samplePath = (name: string, ...parts: string[]): string => join(samplesDir, name, ...parts);

/** How a sample's run.mjs ended, and where it ran. */
export interface SampleRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The temporary folder it ran in (its current directory): remove it with {@link removeSampleRun}. */
  readonly cwd: string;
  /** The trace.out it wrote in `cwd`. */
  readonly trace: string;
}

/**
 * Runs the sample `name`'s run.mjs to completion (with this Node, as its npm script does) in a new temporary
 * folder. Throws, with its exit code and output, when it wrote no trace.out.
 */
export async function runSample(name: string): Promise<SampleRun> {
  const cwd = mkdtempSync(join(tmpdir(), `tstrace-sample-${name}-`));
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [samplePath(name, 'run.mjs')], { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
  const trace = join(cwd, 'trace.out');
  if (!existsSync(trace)) {
    rmSync(cwd, { recursive: true, force: true });
    throw new Error(`the sample wrote no trace.out (exit code ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  return { ...run, cwd, trace };
}

/** Removes the folder a sample ran in. */
export function removeSampleRun(run: SampleRun | undefined): void {
  if (run) rmSync(run.cwd, { recursive: true, force: true });
}
