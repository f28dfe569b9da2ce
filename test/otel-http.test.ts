/**
 * OpenTelemetry's HTTP instrumentation on a real node:http server (in a child process: the
 * instrumentation patches node:http as it is loaded): a request that arrives with a `traceparent` gets a
 * server span in that trace; the tstrace task its handler creates records that trace id and the server
 * span as its parent (tstrace/otel's enableOtelContext), and with the bridge the task's spans appear
 * under the server span in the in-memory exporter, regions under the task.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { analyzeTrace } from '../analysis/analysis.js';
import { exec } from './helpers/exec.js';
import { tempTracePath } from './helpers/trace.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = join(root, 'test/fixtures/otel-http.mjs');

interface ExportedSpan {
  name: string;
  kind: number;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  events: string[];
}

test('a request with a traceparent: its task carries the trace id, and its spans sit under the server span', async () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const callerSpan = 'b7ad6b7169203331';
  const trace = tempTracePath('otel-http.out');
  const result = await exec(process.execPath, [fixture, trace, `00-${traceId}-${callerSpan}-01`], root);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const { spans } = JSON.parse(result.stdout) as { spans: ExportedSpan[] };
  const named = new Map(spans.map((s) => [s.name, s]));
  const server = spans.find((s) => s.scope === '@opentelemetry/instrumentation-http')!;
  expect(server).toMatchObject({ kind: 1, traceId, parentSpanId: callerSpan }); // SpanKind.SERVER
  expect(named.get('request')).toMatchObject({ scope: 'tstrace', traceId, parentSpanId: server.spanId });
  expect(named.get('handle')).toMatchObject({ traceId, parentSpanId: named.get('request')!.spanId, events: ['status'] });
  expect(named.get('db')).toMatchObject({ traceId, parentSpanId: named.get('handle')!.spanId });
  expect(spans.length).toBe(4);

  const [task] = (await analyzeTrace(trace)).tasks.toArray();
  expect(task).toMatchObject({ type: 'request', traceId, parentSpanId: server.spanId, complete: true });
}, 60_000);
