/**
 * `tstrace/http`: download a live trace of a running program over HTTP, as Go's `net/http/pprof` does
 * with `/debug/pprof/trace?seconds=N`. Mount {@link traceHandler} in your server (node:http, Express,
 * Fastify, Koa), or start {@link listen} for a loopback listener of its own. Nothing is served until
 * you mount or listen: importing this module starts nothing.
 */
export { DEFAULT_MAX_SECONDS, traceHandler, type TraceHandlerOptions, type TraceRequestHandler } from './trace-endpoint.js';
export { listen, TRACE_PATH, type TraceListenOptions, type TraceServer } from './trace-listener.js';
export { DEFAULT_SECONDS } from './trace-request.js';
