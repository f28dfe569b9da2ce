// A small HTTP client for the endpoint tests: whole answers, cut-off ones, and a service to trace.
import { existsSync } from 'node:fs';
import { createServer, get, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { background, newTask, startRegion } from 'tstrace';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Fails with a clear message when dist/ (what `tstrace` and `tstrace/http` resolve to) is not built. */
export function requireBuild(): void {
  if (!existsSync(join(root, 'dist', 'esm', 'runtime', 'http.js')) || !existsSync(join(root, 'dist', 'esm', 'cli', 'cli.js'))) {
    throw new Error('dist/ is not built: run `npm run build` (npm test does) before this test');
  }
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The answer arrived whole (false: the connection closed before its end). */
  readonly whole: boolean;
  /** Milliseconds from the request to the end of the answer. */
  readonly ms: number;
}

/**
 * Sends one request on a connection of its own (a simulated peer address must not stay on a pooled
 * socket) and collects the whole answer, or what arrived before the connection closed.
 */
export function fetchAnswer(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const began = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let whole = false;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => (whole = true));
      res.on('error', () => {});
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), whole: whole && res.complete, ms: performance.now() - began }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Starts a download and hangs up once `bytes` have arrived; resolves with what arrived. */
export function hangUpAfter(url: string, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        if (received >= bytes) {
          req.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
  });
}

/**
 * The service the tests trace, as users write one: each request is a task, with a region that spans
 * an await (a lookup) and one after it (render).
 */
export async function handleOrder(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [ctx, task] = newTask(background, 'order');
  const lookup = startRegion(ctx, 'lookup');
  await new Promise((resolve) => setTimeout(resolve, 2));
  lookup.end();
  const render = startRegion(ctx, 'render');
  const body = `order ${req.url}\n`;
  render.end();
  task.end();
  res.end(body);
}

/** A node:http server on 127.0.0.1 with a free port; resolves with its base URL and a close function. */
export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => unknown): Promise<{ base: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `condition` every 5 ms for up to `ms`; resolves with whether it became true. */
export async function eventually(condition: () => boolean, ms = 3000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
