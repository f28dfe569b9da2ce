/**
 * `tstrace view FILE [--port N] [--host ADDR] [--open]`: starts the viewer, prints its URL, optionally
 * opens a browser, and serves until SIGINT or SIGTERM (then exits 0).
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { isLoopback } from '../viewer/host-check.js';
import { startViewer } from '../viewer/server.js';
import { fileChunks, progressBar, type ProgressIo } from './progress.js';

export interface ViewIo extends ProgressIo {
  readonly stdout: (text: string) => void;
  readonly cwd: string;
}

/** Runs the viewer until the process is interrupted; resolves to the exit code (1: the trace, the address or the port cannot be used). */
export async function viewCommand(file: string, options: { port: number; host?: string; open: boolean; quiet?: boolean }, io: ViewIo): Promise<number> {
  const path = resolve(io.cwd, file);
  const host = options.host ?? '127.0.0.1';
  let viewer;
  try {
    if ((await stat(path)).isDirectory()) throw Object.assign(new Error('is a directory, not a trace file'), { code: 'EISDIR' });
    const bar = progressBar(`reading ${basename(file)}`, options.quiet === true, io);
    viewer = await startViewer({ file: path, source: bar ? fileChunks(path, bar) : path, port: options.port, host, cwd: io.cwd });
  } catch (error) {
    const { about, text } = startFailure(error, file, options.port, host);
    io.stderr(`tstrace: error: ${about}: ${text}\n`);
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
  if (!isLoopback(host)) io.stderr(`tstrace: warning: serving on ${host}, not only to this machine: whoever can reach it can read the trace\n`);
  // Listening before the URL is out: whoever reads it may stop the viewer at once. Signals after the first
  // are ignored until the process exits (the listeners keep nothing alive): a second Ctrl-C while closing.
  let stop = (): void => {};
  const stopped = new Promise<void>((done) => (stop = done));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  io.stdout(`tstrace view: ${file} at ${viewer.url}  (Ctrl-C to stop)\n`);
  if (options.open) openBrowser(viewer.url, io);
  await stopped;
  await viewer.close();
  return 0;
}

/** Why the viewer did not start, for people, and what the message names (the trace, or `view` itself). */
function startFailure(error: unknown, file: string, port: number, host: string): { about: string; text: string } {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'ENOENT':
      return { about: file, text: 'no such file' };
    case 'EISDIR':
      return { about: file, text: 'is a directory, not a trace file' };
    case 'EADDRINUSE':
      return { about: 'view', text: `port ${port} is in use` };
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { about: 'view', text: `cannot listen on ${host} (not an address of this machine)` };
  }
  return { about: file, text: error instanceof Error ? error.message : String(error) };
}

/** Opens `url` with the platform's opener (xdg-open, open, start); says so when there is none. */
function openBrowser(url: string, io: ViewIo): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', () => io.stderr(`tstrace: warning: cannot open a browser (${command} not found); open ${url} yourself\n`));
  child.unref();
}
