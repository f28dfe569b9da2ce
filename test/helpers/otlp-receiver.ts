/**
 * An OTLP/HTTP receiver for tests: `POST /v1/traces` with a JSON `ExportTraceServiceRequest`, decoded
 * with OpenTelemetry's own definitions — the protobuf code generated from opentelemetry-proto that
 * `@opentelemetry/otlp-transformer` shipped up to 0.216.0 (pinned in devDependencies for that reason;
 * later versions have serializers only). A request is accepted only if all it says survives OTel's
 * codec: JSON → message → protobuf wire bytes → message → JSON gives back the same document, so a
 * misnamed field, a wrong type or a number where a string belongs is a 400 naming the place.
 */
import { createRequire } from 'node:module';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---- the OTLP/JSON document, as the tests read it ------------------------------------------------

export interface OtlpValue {
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
  doubleValue?: number;
}
export interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  events?: { timeUnixNano: string; name: string; attributes: OtlpKeyValue[] }[];
  status: { code?: number; message?: string };
}
export interface OtlpRequest {
  resourceSpans: { resource: { attributes: OtlpKeyValue[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[];
}

export const spansOf = (document: OtlpRequest): OtlpSpan[] => document.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
export const attribute = (attributes: OtlpKeyValue[], key: string): OtlpValue | undefined => attributes.find((a) => a.key === key)?.value;

// ---- OpenTelemetry's generated codec --------------------------------------------------------------

interface MessageCodec {
  fromObject(object: unknown): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: { longs: StringConstructor; enums: NumberConstructor; bytes: StringConstructor }): unknown;
}
// The generated module's .d.ts declares only `$protobuf.Root`; this is the one message it is used for.
const generated = createRequire(import.meta.url)('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: MessageCodec } } } } };
};
const ExportTraceServiceRequest = generated.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/** OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping would write base64. */
const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The JSON document with its ids turned into bytes (what OTLP/JSON says) and base64 (what protobufjs takes). */
function idsToBase64(value: Json, key = ''): Json {
  if (ID_FIELDS.has(key) && typeof value === 'string') {
    if (!/^(?:[0-9a-f]{2})*$/i.test(value)) throw new Error(`${key} ${JSON.stringify(value)} is not hex`);
    return Buffer.from(value, 'hex').toString('base64');
  }
  if (Array.isArray(value)) return value.map((v) => idsToBase64(v));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, idsToBase64(v, k)]));
  return value;
}

function idsToHex(value: Json, key = ''): Json {
  if (ID_FIELDS.has(key) && typeof value === 'string') return Buffer.from(value, 'base64').toString('hex');
  if (Array.isArray(value)) return value.map((v) => idsToHex(v));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, idsToHex(v, k)]));
  return value;
}

/** Proto3 sends no default value (0, "", false, an empty list) outside a oneof: such a field may not come back. */
const isDefault = (value: Json | undefined): boolean =>
  value === undefined || value === 0 || value === '0' || value === '' || value === false || (Array.isArray(value) && value.length === 0);

/** The first place where `sent` and `back` differ, as a path (`$.resourceSpans[0].scopeSpans[0]…`), or null. */
function firstDifference(sent: Json, back: Json, path = '$'): string | null {
  if (Array.isArray(sent) || Array.isArray(back)) {
    if (!Array.isArray(sent) || !Array.isArray(back) || sent.length !== back.length) return `${path}: ${JSON.stringify(sent)?.slice(0, 80)} came back as ${JSON.stringify(back)?.slice(0, 80)}`;
    for (let i = 0; i < sent.length; i++) {
      const difference = firstDifference(sent[i], back[i], `${path}[${i}]`);
      if (difference !== null) return difference;
    }
    return null;
  }
  if (sent !== null && typeof sent === 'object' && back !== null && typeof back === 'object') {
    for (const key of new Set([...Object.keys(sent), ...Object.keys(back)])) {
      if (!(key in back)) {
        if (isDefault(sent[key])) continue;
        return `${path}.${key}: not a field of OpenTelemetry's message, or not of this type (${JSON.stringify(sent[key])?.slice(0, 80)} was dropped)`;
      }
      if (!(key in sent) && isDefault(back[key])) continue;
      const difference = firstDifference(sent[key] ?? null, back[key], `${path}.${key}`);
      if (difference !== null) return difference;
    }
    return null;
  }
  if (sent === back) return null;
  // An int64/fixed64 comes back as a decimal string; OTLP/JSON takes a number there too.
  if (typeof sent === 'number' && typeof back === 'string' && String(sent) === back) return null;
  return `${path}: ${JSON.stringify(sent)} came back as ${JSON.stringify(back)}`;
}

/** Decodes an OTLP/JSON trace request with OpenTelemetry's definitions; throws saying where it is not one. */
export function decodeOtlpJson(text: string): OtlpRequest {
  const sent = JSON.parse(text) as Json;
  const message = ExportTraceServiceRequest.fromObject(idsToBase64(sent));
  const wire = ExportTraceServiceRequest.encode(message).finish();
  const back = idsToHex(ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(wire), { longs: String, enums: Number, bytes: String }) as Json);
  const difference = firstDifference(sent, back);
  if (difference !== null) throw new Error(`not an OTLP ExportTraceServiceRequest: ${difference}`);
  return back as unknown as OtlpRequest;
}

/** Why a decoded span is not valid (ids of the right length and not zero; times in order; kind an enum). */
function spanProblem(span: OtlpSpan): string | null {
  if (!/^[0-9a-f]{32}$/.test(span.traceId) || /^0+$/.test(span.traceId)) return `bad traceId ${span.traceId}`;
  if (!/^[0-9a-f]{16}$/.test(span.spanId) || /^0+$/.test(span.spanId)) return `bad spanId ${span.spanId}`;
  if (span.parentSpanId !== undefined && !/^[0-9a-f]{16}$/.test(span.parentSpanId)) return `bad parentSpanId ${span.parentSpanId}`;
  if (BigInt(span.endTimeUnixNano ?? 0) < BigInt(span.startTimeUnixNano ?? 0)) return 'ends before it starts';
  if (span.kind !== undefined && (!Number.isInteger(span.kind) || span.kind < 0 || span.kind > 5)) return `bad kind ${span.kind}`;
  if (typeof span.name !== 'string' || span.name === '') return 'no name';
  return null;
}

/** An OTLP/HTTP receiver, answering as the spec says: 415 for other content types, 400 for what does not decode. */
export class OtlpReceiver {
  /** The decoded requests, ids in hex and 64-bit numbers as strings (as OTLP/JSON writes them). */
  readonly requests: OtlpRequest[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
        if (req.headers['content-type'] !== 'application/json') return void res.writeHead(415).end();
        let body: OtlpRequest;
        try {
          body = decodeOtlpJson(Buffer.concat(chunks).toString('utf8'));
        } catch (error) {
          return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 3, message: (error as Error).message }));
        }
        const problems = spansOf(body).map(spanProblem).filter((p) => p !== null);
        this.requests.push(body);
        const partialSuccess = problems.length > 0 ? { rejectedSpans: String(problems.length), errorMessage: problems.join('; ') } : undefined;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(partialSuccess ? { partialSuccess } : {}));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** POSTs `body` as JSON to `url`; resolves to the status and the parsed answer. */
export function postJson(url: string, body: Buffer | string): Promise<{ status: number; answer: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, answer: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
