// `tstrace fetch URL` and `tstrace view URL` (docs/cli.md), run as users run them — the built CLI as a
// separate process — against a service in this process that serves the trace endpoint of tstrace/http.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { background, FlightRecorder, isEnabled, newTask, startRegion, start, stop } from 'tstrace';
import { listen, type TraceServer } from 'tstrace/http';
import { loadTrace } from 'tstrace/reader';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exec } from './helpers/exec.js';
import { eventually, requireBuild, serve } from './helpers/http.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/esm/cli/cli.js');
let dir: string;
let server: TraceServer;
let ticks: NodeJS.Timeout;

const tstrace = (...args: string[]) => exec(process.execPath, [cli, ...args], dir, 60_000);

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'tstrace-fetch-'));
  server = await listen({ port: 0 });
  // The program at work: a task every 10 ms, with a region across a timer.
  ticks = setInterval(() => {
    const [ctx, task] = newTask(background, 'tick');
    const region = startRegion(ctx, 'wait');
    setTimeout(() => {
      region.end();
      task.end();
    }, 2);
  }, 10);
});

afterAll(async () => {
  clearInterval(ticks);
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await stop();
});

afterEach(async () => {
  await stop().catch(() => {});
});

describe('tstrace fetch URL', () => {
  it('downloads N seconds into -o OUT and says what it wrote, where, and how big', async () => {
    const result = await tstrace('fetch', server.url, '-o', 'live.out', '--seconds', '0.5');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^tstrace fetch: wrote live\.out: 5\d\dms of trace, \d+ events, \d+(\.\d)? (bytes|KiB)\n$/);
    const { events, status } = await loadTrace(join(dir, 'live.out'));
    expect(status.complete).toBe(true);
    expect(status.header?.pid).toBe(process.pid);
    expect(events.filter((e) => e.kind === 'taskCreate' && e.type === 'tick').length).toBeGreaterThan(10);
    expect(readdirSync(dir).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it("names the file as the server suggests (pid and time) without -o, and finds the endpoint's path from the bare address", async () => {
    const before = new Set(readdirSync(dir));
    const result = await tstrace('fetch', `http://127.0.0.1:${server.port}`, '--seconds', '0.2');
    expect(result.code).toBe(0);
    const written = readdirSync(dir).filter((name) => !before.has(name));
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(new RegExp(`^tstrace-${process.pid}-\\d{8}T\\d{6}Z\\.out$`));
    expect(result.stdout).toContain(`tstrace fetch: wrote ${written[0]}: `);
    expect((await loadTrace(join(dir, written[0]!))).status.complete).toBe(true);
  });

  it('prints the reason of a 409 and exits 1 while the program traces; writes nothing', async () => {
    const before = readdirSync(dir).length;
    start(join(dir, 'own.trace'));
    const result = await tstrace('fetch', server.url, '-o', 'refused.out');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `tstrace: error: ${server.url}: the server answered 409 Conflict: a trace is already running: the program is tracing (start() was called, stop() not yet; tstrace records one trace at a time); try again once it has stopped\n`,
    );
    await stop();
    expect(existsSync(join(dir, 'refused.out'))).toBe(false);
    expect(readdirSync(dir).length).toBe(before + 1); // own.trace only
  });

  it("prints the server's reason for a 400 (above its maxSeconds)", async () => {
    const result = await tstrace('fetch', server.url, '--seconds', '600');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`tstrace: error: ${server.url}?seconds=600: the server answered 400 Bad Request: seconds must be at most 60 (this endpoint's maxSeconds), not "600"\n`);
  });

  it('says when nothing listens there, or when the answer is not a trace', async () => {
    const closed = await serve(() => {});
    const base = closed.base;
    await closed.close();
    const refused = await tstrace('fetch', `${base}/debug/tstrace/trace`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `tstrace: error: ${base}/debug/tstrace/trace: cannot connect to ${base.slice('http://'.length)}: connection refused (is the program running, with the trace endpoint listening there?)\n`,
    );

    const page = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<h1>hello</h1>'));
    try {
      const notTrace = await tstrace('fetch', `${page.base}/debug/tstrace/trace`, '-o', 'page.out');
      expect(notTrace.code).toBe(1);
      expect(notTrace.stderr).toContain('the server answered 200 with text/html, not a trace: is this the trace endpoint');
      expect(existsSync(join(dir, 'page.out'))).toBe(false);
    } finally {
      await page.close();
    }
  });

  it('keeps what arrived when the download breaks off (the program closes the endpoint), and exits 1', async () => {
    const short = await listen({ port: 0 });
    const fetching = tstrace('fetch', short.url, '-o', 'cut.out', '--seconds', '20');
    expect(await eventually(isEnabled, 10_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await short.close();
    const result = await fetching;
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout, result.stderr).toMatch(/^tstrace fetch: wrote cut\.out: \d+(\.\d+)?ms of trace, \d+ events, /);
    expect(result.stderr).toMatch(
      /^tstrace: error: .*: the download broke off \(the connection closed before the server ended the trace\); cut\.out holds the \d+ bytes up to its last complete frame, and reads as a cut-off trace\n$/,
    );
    const { events, status } = await loadTrace(join(dir, 'cut.out'));
    expect(status.header?.pid).toBe(process.pid);
    expect(status.complete).toBe(false);
    expect(events.some((e) => e.kind === 'taskCreate' && e.type === 'tick')).toBe(true);
  });

  it('is a usage error (exit 2) without a URL, with a non-http URL, or with a bad --seconds', async () => {
    expect(await tstrace('fetch')).toMatchObject({ code: 2, stderr: expect.stringContaining('fetch: missing URL (usage: tstrace fetch URL [-o OUT] [--seconds N] [--quiet])') });
    expect(await tstrace('fetch', 'ftp://example.com/trace')).toMatchObject({ code: 2, stderr: expect.stringContaining('"ftp://example.com/trace" is not an http:// or https:// URL') });
    expect(await tstrace('fetch', server.url, '--seconds', '0')).toMatchObject({ code: 2, stderr: expect.stringContaining('--seconds must be a positive number of seconds (1, 2.5), not "0"') });
    expect(await tstrace('fetch', server.url, '--format', 'chrome')).toMatchObject({ code: 2, stderr: expect.stringContaining('--format does not apply to fetch') });
  });
});

describe('tstrace fetch …/flight', () => {
  const flightUrl = () => server.url.replace(/\/trace$/, '/flight');

  it("downloads the running flight recorder's window at once: the last minAge, complete, with the program's tasks", async () => {
    const flight = new FlightRecorder({ minAge: 300, maxBytes: 1 << 20, gc: false, heap: false, eventLoop: false });
    flight.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 600));
      const began = performance.now();
      const result = await tstrace('fetch', flightUrl(), '-o', 'flight.out');
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(performance.now() - began, 'sent at once, not after --seconds').toBeLessThan(5000);
      expect(result.stdout).toMatch(/^tstrace fetch: wrote flight\.out: \d+ms of trace, \d+ events, /);
      const { events, status } = await loadTrace(join(dir, 'flight.out'));
      expect(status.complete).toBe(true);
      expect(events.filter((e) => e.kind === 'taskCreate' && e.type === 'tick').length).toBeGreaterThan(10);
      // From its first event to its end (the snapshot's time: the last event may come a little before it).
      const first = Math.min(...events.map((e) => e.ts));
      expect(status.footer!.endTs - first, 'covers at least minAge').toBeGreaterThanOrEqual(300e6);
    } finally {
      await flight.stop();
    }
  });

  it('prints the 409 reason and exits 1 when no flight recorder runs; writes nothing', async () => {
    const result = await tstrace('fetch', flightUrl(), '-o', 'no-flight.out');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the server answered 409 Conflict: no flight recorder is running');
    expect(existsSync(join(dir, 'no-flight.out'))).toBe(false);
  });
});

describe('tstrace view URL', () => {
  it('downloads the trace, then serves the viewer on it', async () => {
    const child = spawn(process.execPath, [cli, 'view', server.url, '--seconds', '0.3'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      expect(await eventually(() => /at (http:\/\/127\.0\.0\.1:\d+\/)/.test(stdout), 20_000), `view printed: ${stdout} ${stderr}`).toBe(true);
      const viewer = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)![1]!;
      const [fetched, serving] = stdout.trimEnd().split('\n');
      const file = /^tstrace view: wrote (\S+): /.exec(fetched!)?.[1];
      expect(file, fetched).toMatch(new RegExp(`tstrace-view-[^/]+/tstrace-${process.pid}-\\d{8}T\\d{6}Z\\.out$`));
      expect(serving).toBe(`tstrace view: ${file} at ${viewer}  (Ctrl-C to stop)`);
      const types = (await (await fetch(`${viewer}api/task-types`)).json()) as unknown;
      expect(JSON.stringify(types)).toContain('"tick"');
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
      rmSync(join(file!, '..'), { recursive: true, force: true });
    } finally {
      child.kill();
    }
  });

  it('exits 1 with the reason when the server refuses', async () => {
    start(join(dir, 'busy.trace'));
    const result = await tstrace('view', server.url, '--seconds', '0.1');
    await stop();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the server answered 409 Conflict: a trace is already running');
  });
});
