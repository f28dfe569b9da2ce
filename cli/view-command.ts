/**
 * `tstrace view FILE [--port N] [--open]`: starts the viewer, prints its URL, optionally opens a browser,
 * and serves until SIGINT or SIGTERM (then exits 0).
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { startViewer } from '../viewer/server.js';
import { fileChunks, progressBar, type ProgressIo } from './progress.js';

export interface ViewIo extends ProgressIo {
  readonly stdout: (text: string) => void;
  readonly cwd: string;
}

/** Runs the viewer until the process is interrupted; resolves to the exit code (1: the trace or the port cannot be used). */
export async function viewCommand(file: string, options: { port: number; open: boolean; quiet?: boolean }, io: ViewIo): Promise<number> {
  const path = resolve(io.cwd, file);
  let viewer;
  try {
    if ((await stat(path)).isDirectory()) throw Object.assign(new Error('is a directory, not a trace file'), { code: 'EISDIR' });
    const bar = progressBar(`reading ${basename(file)}`, options.quiet === true, io);
    viewer = await startViewer({ file: path, source: bar ? fileChunks(path, bar) : path, port: options.port, cwd: io.cwd });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    const text =
      code === 'ENOENT' ? 'no such file' : code === 'EADDRINUSE' ? `port ${options.port} is in use` : code === 'EISDIR' ? 'is a directory, not a trace file' : error instanceof Error ? error.message : String(error);
    io.stderr(`tstrace: error: ${code === 'EADDRINUSE' ? 'view' : file}: ${text}\n`);
    return 1;
  }
  const { status } = viewer.model.stats;
  if (!status.header) {
    await viewer.close();
    const reason = status.problem ? `${status.problem.reason} (at offset ${status.problem.offset})` : 'it has no header';
    io.stderr(`tstrace: error: ${file}: no trace to view: ${reason}\n`);
    return 1;
  }
  if (status.problem) io.stderr(`tstrace: warning: ${file} is ${status.problem.kind} at offset ${status.problem.offset}: ${status.problem.reason}; the viewer shows what comes before it\n`);
  io.stdout(`tstrace view: ${file} at ${viewer.url}  (Ctrl-C to stop)\n`);
  if (options.open) openBrowser(viewer.url, io);
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await viewer.close();
  return 0;
}

/** Opens `url` with the platform's opener (xdg-open, open, start); says so when there is none. */
function openBrowser(url: string, io: ViewIo): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', () => io.stderr(`tstrace: warning: cannot open a browser (${command} not found); open ${url} yourself\n`));
  child.unref();
}
