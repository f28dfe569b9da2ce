// The OpenTelemetry variant of bench/http.mjs: preloaded (`node --import bench/http-otel.mjs main.js`)
// into the uninstrumented build of samples/http-service, it sets up what a service traced with
// OpenTelemetry runs — the Node SDK's tracer provider (AsyncLocalStorage context), the HTTP
// instrumentation (a server span per request), a BatchSpanProcessor, and an exporter that drops the
// spans — and wraps the methods that tstrace's sample marks `@traced` in `tracer.startActiveSpan`, so
// that both trace the same work: `handleRequest`, `DrinkService.parse`, `Database.findDrink` (with the
// name looked up as an attribute, where tstrace logs it) and `DrinkService.render`.
//
// The service's file is given by TSTRACE_BENCH_SERVICE (the compiled service.js that main.js imports, so
// that both get the same module). When the process is about to exit (its server closed), it flushes the
// processor and prints `OpenTelemetry: N spans exported`.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

let exported = 0;
/** Counts the spans and drops them (result code 0 is ExportResultCode.SUCCESS). */
const droppingExporter = {
  export(spans, resultCallback) {
    exported += spans.length;
    resultCallback({ code: 0 });
  },
  shutdown: async () => {},
  forceFlush: async () => {},
};

const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] });
provider.register();
// Enabled as it is made; node:http is patched when it is next required (ES module imports of built-in
// modules do not go through require, so require it here: its Server.prototype is the one main.js uses).
new HttpInstrumentation();
createRequire(import.meta.url)('node:http');

const tracer = trace.getTracer('tstrace-bench-http');

/** Wraps `proto[method]` in a span `name`; an async method's span ends when its promise settles. */
function wrapInSpan(proto, method, name, attributes = () => undefined) {
  const original = proto[method];
  proto[method] = function (...args) {
    return tracer.startActiveSpan(name, { attributes: attributes(...args) }, (span) => {
      const failed = (error) => {
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw error;
      };
      let result;
      try {
        result = original.apply(this, args);
      } catch (error) {
        failed(error);
      }
      if (typeof result?.then !== 'function') {
        span.end();
        return result;
      }
      return result.then((value) => {
        span.end();
        return value;
      }, failed);
    });
  };
}

const { Database, DrinkService } = await import(pathToFileURL(process.env.TSTRACE_BENCH_SERVICE).href);
wrapInSpan(DrinkService.prototype, 'handleRequest', 'handleRequest');
wrapInSpan(DrinkService.prototype, 'parse', 'DrinkService.parse');
wrapInSpan(Database.prototype, 'findDrink', 'Database.findDrink', (name) => ({ name }));
wrapInSpan(DrinkService.prototype, 'render', 'DrinkService.render');

process.once('beforeExit', async () => {
  await provider.shutdown();
  console.log(`OpenTelemetry: ${exported} spans exported`);
});
