// The HTTP trace endpoint (`tstrace/http`, docs/design.md "The HTTP endpoint"), as a service uses it:
// the handler mounted in a real node:http server (and in Express, Fastify and Koa), a trace downloaded
// while requests run, then read by `tstrace stats`; every refusal with its reason; a client that hangs
// up; a response that cannot be written; the standalone listener. Imports the built package (dist/),
// as users do.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { isEnabled, start, stop } from 'tstrace';
import { listen, traceHandler, type TraceHandlerOptions, type TraceRequestHandler } from 'tstrace/http';
import { loadTrace, type TraceEvent } from 'tstrace/reader';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exec } from './helpers/exec.js';
import { eventually, fetchAnswer, handleOrder, hangUpAfter, requireBuild, serve } from './helpers/http.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/esm/cli/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tstrace-endpoint-'));
let files = 0;

beforeAll(requireBuild);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Whatever the endpoint does, nothing may reach the application as an unhandled error.
const escaped: unknown[] = [];
const onEscape = (error: unknown): void => void escaped.push(error);
beforeEach(() => {
  escaped.length = 0;
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
});
afterEach(async () => {
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
  expect(escaped).toEqual([]);
  // A test that failed half-way must not leave the next one a running trace.
  await stop().catch(() => {});
});

/** A service on node:http with the endpoint mounted under /debug/tstrace/ and `handleOrder` everywhere else. */
function service(options?: TraceHandlerOptions, mount: (trace: TraceRequestHandler) => TraceRequestHandler = (trace) => trace) {
  const trace = mount(traceHandler(options));
  return serve((req, res) => (req.url?.startsWith('/debug/tstrace/') ? trace(req, res) : handleOrder(req, res)));
}

/** Makes the endpoint see `address` as the peer of each request (what a request from another machine looks like). */
const fromPeer =
  (address: string) =>
  (trace: TraceRequestHandler): TraceRequestHandler =>
  (req, res) => {
    Object.defineProperty(req.socket, 'remoteAddress', { value: address, configurable: true });
    return trace(req, res);
  };

/** The user annotations of a trace read back, and its status. */
async function readBack(bytes: Uint8Array) {
  const { events, status } = await loadTrace(bytes);
  return { status, types: (kind: TraceEvent['kind']) => events.flatMap((e) => (e.kind === kind && 'type' in e ? [e.type] : [])) };
}

function saved(bytes: Uint8Array): string {
  const path = join(dir, `${++files}.out`);
  writeFileSync(path, bytes);
  return path;
}

describe('a trace download from a node:http service', () => {
  it('streams the next second (the default) while requests run; `tstrace stats` sees each request as a task', async () => {
    const app = await service();
    try {
      const download = fetchAnswer(`${app.base}/debug/tstrace/trace`);
      expect(await eventually(isEnabled)).toBe(true);
      // 24 requests, 4 at a time, each a task with a region across an await.
      for (let round = 0; round < 6; round++) {
        const answers = await Promise.all([0, 1, 2, 3].map((i) => fetchAnswer(`${app.base}/order/${round * 4 + i}`)));
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      }
      expect(isEnabled(), 'the requests were all answered while the trace ran').toBe(true);
      const answer = await download;

      expect(answer.status).toBe(200);
      expect(answer.whole).toBe(true);
      expect(answer.ms).toBeGreaterThanOrEqual(990);
      expect(answer.headers['content-type']).toBe('application/octet-stream');
      expect(answer.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="tstrace-${process.pid}-\\d{8}T\\d{6}Z\\.out"$`));
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['x-content-type-options']).toBe('nosniff');

      const stats = await exec(process.execPath, [cli, 'stats', saved(answer.body), '--json'], dir);
      expect(stats.stderr).toBe('');
      expect(stats.code).toBe(0);
      const report = JSON.parse(stats.stdout) as {
        status: { complete: boolean };
        summary: { duration: number; dropped: number };
        taskTypes: { type: string; count: number; complete: number }[];
        regionGroups: { type: string; count: number; complete: number }[];
      };
      expect(report.status.complete).toBe(true);
      expect(report.summary.dropped).toBe(0);
      expect(report.summary.duration).toBeGreaterThanOrEqual(0.99e9);
      expect(report.summary.duration).toBeLessThan(1.5e9);
      expect(report.taskTypes.find((t) => t.type === 'order')).toMatchObject({ count: 24, complete: 24 });
      for (const type of ['lookup', 'render']) expect(report.regionGroups.find((g) => g.type === type)).toMatchObject({ count: 24, complete: 24 });
    } finally {
      await app.close();
    }
  });

  it('takes fractions of a second', async () => {
    const app = await service();
    try {
      const answer = await fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=0.25`);
      expect(answer.status).toBe(200);
      expect(answer.ms).toBeGreaterThanOrEqual(240);
      const { status } = await readBack(answer.body);
      expect(status.complete).toBe(true);
      // Stopped by its own timer: a quarter of a second, not the default second.
      expect(status.footer!.endTs).toBeGreaterThanOrEqual(0.24e9);
      expect(status.footer!.endTs).toBeLessThan(0.95e9);
    } finally {
      await app.close();
    }
  });
});

describe('what the endpoint refuses, and why', () => {
  it('answers 400 with the reason when seconds is not a positive number or is above the maximum', async () => {
    const app = await service();
    const capped = await service({ maxSeconds: 5 });
    try {
      const reasons: Record<string, string> = {};
      for (const seconds of ['0', '-1', 'abc', '', 'Infinity', '0x10', '61']) {
        const answer = await fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=${seconds}`);
        expect(answer.status, `seconds=${seconds}`).toBe(400);
        expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
        reasons[seconds] = answer.body.toString();
      }
      expect(reasons).toEqual({
        '0': 'seconds must be more than 0, not "0"\n',
        '-1': 'seconds must be more than 0, not "-1"\n',
        abc: 'seconds must be a number of seconds, such as 1 or 2.5, not "abc"\n',
        '': 'seconds must be a number of seconds, such as 1 or 2.5, not ""\n',
        Infinity: 'seconds must be a number of seconds, such as 1 or 2.5, not "Infinity"\n',
        '0x10': 'seconds must be a number of seconds, such as 1 or 2.5, not "0x10"\n',
        '61': 'seconds must be at most 60 (this endpoint\'s maxSeconds), not "61"\n',
      });
      const twice = await fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=1&seconds=2`);
      expect([twice.status, twice.body.toString()]).toEqual([400, 'seconds is given 2 times; give it once\n']);
      const overCap = await fetchAnswer(`${capped.base}/debug/tstrace/trace?seconds=6`);
      expect([overCap.status, overCap.body.toString()]).toEqual([400, 'seconds must be at most 5 (this endpoint\'s maxSeconds), not "6"\n']);
      expect(isEnabled(), 'no refused request started a trace').toBe(false);
    } finally {
      await Promise.all([app.close(), capped.close()]);
    }
  });

  it('answers 409 while another download runs (saying when it ends), and while the program traces with start()', async () => {
    const app = await service();
    try {
      const first = fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=2`);
      expect(await eventually(isEnabled)).toBe(true);
      const second = await fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=0.5`);
      expect(second.status).toBe(409);
      expect(second.body.toString()).toMatch(/^a trace is already running: another download, which ends in [012]\.\d s \(tstrace records one trace at a time\); try again then\n$/);
      expect(second.headers['retry-after']).toMatch(/^[12]$/);
      const answer = await first;
      expect(answer.status).toBe(200);
      expect((await readBack(answer.body)).status.complete).toBe(true);

      const own = join(dir, `${++files}-own.out`);
      start(own);
      const refused = await fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=0.1`);
      expect(refused.status).toBe(409);
      expect(refused.body.toString()).toContain('a trace is already running: the program is tracing (start() was called, stop() not yet;');
      expect(isEnabled(), "the program's trace goes on").toBe(true);
      await stop();
      expect((await loadTrace(own)).status.complete).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('answers 405 to other methods than GET, and 404 to other paths under the mount', async () => {
    const app = await service();
    try {
      for (const method of ['POST', 'HEAD', 'DELETE']) {
        const answer = await fetchAnswer(`${app.base}/debug/tstrace/trace`, { method });
        expect(answer.status, method).toBe(405);
        expect(answer.headers.allow).toBe('GET');
        if (method !== 'HEAD') expect(answer.body.toString()).toBe(`…/trace answers GET only, not ${method}\n`);
      }
      const unknown = await fetchAnswer(`${app.base}/debug/tstrace/profile`);
      expect([unknown.status, unknown.body.toString()]).toEqual([404, 'no such path: the trace endpoint serves GET …/trace?seconds=N and GET …/flight\n']);
      expect(isEnabled()).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('answers 403 to a request from another machine, through a proxy, or addressed to another name — unless allowRemote', async () => {
    const remote = await service({}, fromPeer('203.0.113.7'));
    const local = await service();
    const allowed = await service({ allowRemote: true }, fromPeer('203.0.113.7'));
    try {
      const fromElsewhere = await fetchAnswer(`${remote.base}/debug/tstrace/trace?seconds=0.1`);
      expect(fromElsewhere.status).toBe(403);
      expect(fromElsewhere.body.toString()).toBe(
        'this request came from 203.0.113.7, not from this machine (the endpoint answers only requests from this machine unless it is given allowRemote: true)\n',
      );
      const proxied = await fetchAnswer(`${local.base}/debug/tstrace/trace?seconds=0.1`, { headers: { 'X-Forwarded-For': '198.51.100.4' } });
      expect(proxied.status).toBe(403);
      expect(proxied.body.toString()).toContain('this request came through a proxy (it has a x-forwarded-for header)');
      // DNS rebinding: a web page that made its own name resolve to 127.0.0.1 sends that name as Host.
      const rebound = await fetchAnswer(`${local.base}/debug/tstrace/trace?seconds=0.1`, { headers: { Host: 'attacker.example:8080' } });
      expect(rebound.status).toBe(403);
      expect(rebound.body.toString()).toContain('this request is addressed to "attacker.example:8080", not to a name of this machine');
      const byName = await fetchAnswer(`${local.base.replace('127.0.0.1', 'localhost')}/debug/tstrace/trace?seconds=0.1`);
      expect(byName.status, 'localhost is this machine').toBe(200);
      expect(isEnabled()).toBe(false);

      const answer = await fetchAnswer(`${allowed.base}/debug/tstrace/trace?seconds=0.1`);
      expect(answer.status).toBe(200);
      expect((await readBack(answer.body)).status.complete).toBe(true);
    } finally {
      await Promise.all([remote.close(), local.close(), allowed.close()]);
    }
  });

  it('answers 403 over a Unix socket (no peer address; a proxy usually sits in front) — unless allowRemote', async () => {
    const over = async (options: TraceHandlerOptions): Promise<{ status: number; body: string }> => {
      const path = join(dir, `endpoint-${++files}.sock`);
      const trace = traceHandler(options);
      const server = createServer((req, res) => void trace(req, res));
      server.listen(path);
      await once(server, 'listening');
      try {
        return await new Promise((resolve, reject) => {
          httpGet({ socketPath: path, path: '/debug/tstrace/trace?seconds=0.1', headers: { host: 'localhost' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
          }).on('error', reject);
        });
      } finally {
        server.close();
      }
    };
    const refused = await over({});
    expect(refused.status).toBe(403);
    expect(refused.body).toBe(
      "this request came over a Unix socket or pipe, which has no peer address to check: a proxy in front of it may forward other machines' requests (the endpoint answers only requests from this machine unless it is given allowRemote: true; the socket file's permissions then decide who may connect)\n",
    );
    const allowed = await over({ allowRemote: true });
    expect(allowed.status).toBe(200);
    expect((await readBack(Buffer.from(allowed.body, 'latin1'))).status.complete).toBe(true);
  });

  it('asks the authorize hook (sync or async): false → 403, true → the trace, a throw → 500', async () => {
    const token = 's3cret';
    const sync = await service({ authorize: (req) => req.headers.authorization === `Bearer ${token}` });
    const async = await service({ allowRemote: true, authorize: async (req) => (await Promise.resolve(req.headers['x-token'])) === token }, fromPeer('203.0.113.7'));
    const throwing = await service({
      authorize: () => {
        throw new Error('the token store is down');
      },
    });
    try {
      const without = await fetchAnswer(`${sync.base}/debug/tstrace/trace?seconds=0.1`);
      expect([without.status, without.body.toString()]).toEqual([403, "this request is not authorized (the trace endpoint's authorize hook refused it)\n"]);
      const wrong = await fetchAnswer(`${sync.base}/debug/tstrace/trace?seconds=0.1`, { headers: { Authorization: 'Bearer guess' } });
      expect(wrong.status).toBe(403);
      const right = await fetchAnswer(`${sync.base}/debug/tstrace/trace?seconds=0.1`, { headers: { Authorization: `Bearer ${token}` } });
      expect(right.status).toBe(200);
      expect((await fetchAnswer(`${async.base}/debug/tstrace/trace?seconds=0.1`)).status).toBe(403);
      expect((await fetchAnswer(`${async.base}/debug/tstrace/trace?seconds=0.1`, { headers: { 'X-Token': token } })).status).toBe(200);
      const failed = await fetchAnswer(`${throwing.base}/debug/tstrace/trace?seconds=0.1`);
      expect([failed.status, failed.body.toString()]).toEqual([500, 'the authorize hook of the trace endpoint failed\n']);
      expect((await fetchAnswer(`${throwing.base}/order/1`)).status, 'the service goes on').toBe(200);
    } finally {
      await Promise.all([sync.close(), async.close(), throwing.close()]);
    }
  });

  it('refuses a bad maxSeconds when the handler is made', () => {
    expect(() => traceHandler({ maxSeconds: 0 })).toThrow('maxSeconds must be a positive number of seconds up to 2000000, not 0');
    expect(() => traceHandler({ maxSeconds: Number.NaN })).toThrow(RangeError);
  });
});

describe('a download that breaks off', () => {
  it('stops the trace when the client hangs up; the service goes on, what arrived reads to its last frame, and the next download works', async () => {
    const app = await service();
    const load = setInterval(() => void fetchAnswer(`${app.base}/order/load`).catch(() => {}), 5);
    try {
      // The header frame and at least one batch of events (written every 100 ms).
      const arrived = await hangUpAfter(`${app.base}/debug/tstrace/trace?seconds=30`, 400);
      expect(await eventually(() => !isEnabled()), 'the trace stopped soon after the client left').toBe(true);
      const cut = await readBack(arrived);
      expect(cut.status.header?.pid).toBe(process.pid);
      expect(cut.status.complete).toBe(false);
      expect(['truncated', 'unfinished']).toContain(cut.status.problem?.kind);
      expect(cut.types('taskCreate')).toContain('order');

      expect((await fetchAnswer(`${app.base}/order/after`)).status).toBe(200);
      const next = await fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=0.2`);
      expect(next.status).toBe(200);
      const read = await readBack(next.body);
      expect(read.status.complete).toBe(true);
      expect(read.types('taskCreate')).toContain('order');
    } finally {
      clearInterval(load);
      await app.close();
    }
  });

  it('stops the trace when the response cannot be written; the client sees the download break off, the application nothing', async () => {
    // A response whose writes fail after the first (a broken socket, a failing compression layer).
    const failingWrites = (trace: TraceRequestHandler): TraceRequestHandler => (req, res) => {
      const write = res.write.bind(res) as (chunk: Uint8Array) => boolean;
      let writes = 0;
      res.write = ((chunk: Uint8Array) => {
        if (++writes > 1) throw new Error('write failed');
        return write(chunk);
      }) as ServerResponse['write'];
      return trace(req, res);
    };
    const app = await service({}, failingWrites);
    const load = setInterval(() => void fetchAnswer(`${app.base}/order/load`).catch(() => {}), 5);
    try {
      const answer = await fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=30`);
      expect(answer.status).toBe(200);
      expect(answer.whole).toBe(false);
      expect(answer.ms).toBeLessThan(5000);
      expect(await eventually(() => !isEnabled())).toBe(true);
      expect((await readBack(answer.body)).status.header?.pid).toBe(process.pid);
      expect((await fetchAnswer(`${app.base}/order/after`)).status).toBe(200);
    } finally {
      clearInterval(load);
      await app.close();
    }
    const healthy = await service();
    try {
      expect((await fetchAnswer(`${healthy.base}/debug/tstrace/trace?seconds=0.1`)).status, 'a new trace can start').toBe(200);
    } finally {
      await healthy.close();
    }
  });

  it("ends the download when the program calls stop() itself: the client gets the program's complete trace", async () => {
    const app = await service();
    try {
      const download = fetchAnswer(`${app.base}/debug/tstrace/trace?seconds=30`);
      expect(await eventually(isEnabled)).toBe(true);
      await fetchAnswer(`${app.base}/order/1`);
      await stop();
      const answer = await download;
      expect(answer.status).toBe(200);
      expect(answer.whole).toBe(true);
      expect(answer.ms).toBeLessThan(5000);
      const read = await readBack(answer.body);
      expect(read.status.complete).toBe(true);
      expect(read.types('taskCreate')).toEqual(['order']);
    } finally {
      await app.close();
    }
  });
});

describe('listen(): the endpoint on a listener of its own', () => {
  it('listens on 127.0.0.1, serves /debug/tstrace/trace, and hangs up on downloads when closed', async () => {
    const server = await listen({ port: 0 });
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/debug/tstrace/trace`);
    const answer = await fetchAnswer(`${server.url}?seconds=0.1`);
    expect(answer.status).toBe(200);
    expect((await readBack(answer.body)).status.complete).toBe(true);

    const cutOff = fetchAnswer(`${server.url}?seconds=30`);
    expect(await eventually(isEnabled)).toBe(true);
    await server.close();
    expect(isEnabled(), 'close() resolves once the download has stopped its trace').toBe(false);
    expect((await cutOff).whole).toBe(false);
    await expect(fetchAnswer(server.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('refuses an address other machines can reach unless allowRemote, and then warns', async () => {
    await expect(listen({ port: 0, host: '0.0.0.0' })).rejects.toThrow(
      'tstrace listen: 0.0.0.0 is reachable from other machines, and a trace holds this program\'s names, log messages and values; listen on 127.0.0.1 (the default), or pass allowRemote: true (and an authorize hook) to listen there anyway',
    );
    await expect(listen({ port: 0, host: '::' })).rejects.toThrow('tstrace listen: :: is reachable from other machines');

    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const server = await listen({ port: 0, host: '0.0.0.0', allowRemote: true });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => [(w as Error & { code?: string }).code, w.message])).toEqual([
        [
          'TSTRACE_REMOTE_ENDPOINT',
          `tstrace: the trace endpoint listens on 0.0.0.0 port ${server.port}, reachable from other machines: a trace holds this program's names, log messages and values, and there is no authorize hook`,
        ],
      ]);
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/debug/tstrace/trace`);
      expect((await fetchAnswer(`${server.url}?seconds=0.1`)).status).toBe(200);
      await server.close();
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('rejects a port in use', async () => {
    const server = await listen({ port: 0 });
    try {
      await expect(listen({ port: server.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await server.close();
    }
  });
});

describe('mounted in web frameworks, as docs/design.md shows', () => {
  /** Downloads 0.2 s from `base` + the mount and checks the trace; and that other paths under the mount get the endpoint's 404. */
  async function downloadsThrough(base: string): Promise<void> {
    const answer = await fetchAnswer(`${base}/debug/tstrace/trace?seconds=0.2`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/octet-stream');
    expect((await readBack(answer.body)).status.complete).toBe(true);
    const unknown = await fetchAnswer(`${base}/debug/tstrace/heap`);
    expect([unknown.status, unknown.body.toString()]).toEqual([404, 'no such path: the trace endpoint serves GET …/trace?seconds=N and GET …/flight\n']);
    const posted = await fetchAnswer(`${base}/debug/tstrace/trace`, { method: 'POST' });
    expect(posted.status).toBe(405);
  }

  it('Express 5: app.use(mount, trace)', async () => {
    const trace = traceHandler();
    const app = express();
    app.use('/debug/tstrace', trace);
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await downloadsThrough(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Fastify 5: a hijacked route with the raw request and response', async () => {
    const trace = traceHandler();
    const app = Fastify();
    app.all('/debug/tstrace/*', (request, reply) => {
      reply.hijack();
      return trace(request.raw, reply.raw);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await downloadsThrough(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
    } finally {
      await app.close();
    }
  });

  it('Koa 3: ctx.respond = false, then ctx.req and ctx.res', async () => {
    const trace = traceHandler();
    const app = new Koa();
    app.use((ctx, next) => (ctx.path.startsWith('/debug/tstrace/') ? ((ctx.respond = false), trace(ctx.req, ctx.res)) : next()));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      await downloadsThrough(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

// Typed as users type it: the handler fits node:http's listener signature.
const _fits: (req: IncomingMessage, res: ServerResponse) => unknown = traceHandler();
void _fits;
