/**
 * `@supwalsh/telemetry/grpc` — tracing of gRPC calls: a server interceptor that starts a span per RPC (as the
 * child of the caller's W3C `traceparent` metadata) and a client interceptor that injects the current context,
 * so coordinator → worker and worker → worker calls share one trace. Every server and client of the services
 * is created with these.
 *
 * Why our own interceptors and not `@opentelemetry/instrumentation-grpc`: that package patches `@grpc/grpc-js`
 * through `require` hooks, which do not reliably see the ESM imports of these services (they need
 * `--experimental-loader` / `register` hooks set up before the first import). Interceptors are grpc-js's public
 * extension point, work for ESM and CommonJS alike, and make the tracing visible where each server and client is
 * created.
 * @module
 */
import {
  InterceptingCall,
  ServerInterceptingCall,
  status as GrpcStatus,
  type Interceptor,
  type Metadata,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { ATTR, INSTRUMENTATION_VERSION, RPC_ATTR } from './names.js';

/** Instrumentation scope of the RPC spans. */
export const GRPC_INSTRUMENTATION_SCOPE = '@supwalsh/telemetry/grpc';

/** Options of the tracing interceptors. */
export interface TracingInterceptorOptions {
  /** @default the global tracer provider's tracer of scope `@supwalsh/telemetry/grpc` (read per call) */
  tracer?: Tracer;
  /**
   * Paths (`/package.Service/Method`) not traced.
   * @default health checks and server reflection (probes every few seconds would bury the real calls)
   */
  ignore?: (path: string) => boolean;
}

/** The default `ignore`: `grpc.health.v1` and server reflection. */
export function isInfrastructureRpc(path: string): boolean {
  return path.startsWith('/grpc.health.v1.') || path.startsWith('/grpc.reflection.');
}

/** Reads W3C trace context from gRPC metadata (first value of a key). */
const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key);
    if (values.length === 0) return undefined;
    return values.map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
  },
};

/** Writes W3C trace context into gRPC metadata. */
const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** Status codes that make a SERVER span an error (semantic conventions, gRPC); every non-OK code does on a client. */
const SERVER_ERRORS = new Set<number>([
  GrpcStatus.UNKNOWN,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.UNIMPLEMENTED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
]);

/** `OK`, `UNAVAILABLE`, … for a numeric gRPC status code. */
function statusName(code: number): string {
  return (GrpcStatus as unknown as Record<number, string | undefined>)[code] ?? String(code);
}

/** Span name and attributes of an RPC path `/package.Service/Method` (semantic conventions: `package.Service/Method`). */
function describeRpc(path: string): { name: string; attributes: Record<string, string> } {
  const name = path.startsWith('/') ? path.slice(1) : path;
  const slash = name.lastIndexOf('/');
  const service = slash > 0 ? name.slice(0, slash) : name;
  return {
    name,
    attributes: {
      [RPC_ATTR.systemName]: 'grpc',
      [RPC_ATTR.system]: 'grpc',
      [RPC_ATTR.service]: service,
      [RPC_ATTR.method]: name,
    },
  };
}

/** Ends `span` with a gRPC status: its code and name as attributes, ERROR when `isError(code)`. */
function endWithStatus(span: Span, code: number, details: string | undefined, isError: (code: number) => boolean) {
  const name = statusName(code);
  span.setAttribute(RPC_ATTR.statusCode, name);
  span.setAttribute(RPC_ATTR.grpcStatusCode, code);
  if (isError(code)) {
    span.setAttribute(ATTR.errorType, name);
    span.setStatus({ code: SpanStatusCode.ERROR, ...(details ? { message: details } : {}) });
  }
  span.end();
}

const tracerOf = (options: TracingInterceptorOptions): Tracer =>
  options.tracer ?? trace.getTracer(GRPC_INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION);

/**
 * Server side: one span per RPC, kind SERVER, named `package.Service/Method`, parented on the W3C `traceparent` /
 * `tracestate` of the call's metadata (a new trace without them). The span's context is active while grpc-js runs
 * the handler (the unary and server-streaming handler at half-close, the streaming ones at metadata) and while it
 * delivers each request message, so spans the handler starts — synchronously or after an `await` — are its
 * children. The span ends with the status the server sends (ERROR for UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
 * INTERNAL, UNAVAILABLE, DATA_LOSS) or CANCELLED when the client goes away first. Health checks and reflection
 * are not traced (`ignore`).
 */
export function createTracingServerInterceptor(options: TracingInterceptorOptions = {}): ServerInterceptor {
  const ignore = options.ignore ?? isInfrastructureRpc;
  return (methodDescriptor, call) => {
    if (ignore(methodDescriptor.path)) return new ServerInterceptingCall(call);
    const rpc = describeRpc(methodDescriptor.path);
    let span: Span | undefined;
    let active: Context = ROOT_CONTEXT;
    let ended = false;
    const end = (code: number, details: string | undefined) => {
      if (ended || !span) return;
      ended = true;
      endWithStatus(span, code, details, (c) => SERVER_ERRORS.has(c));
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
            span = tracerOf(options).startSpan(rpc.name, { kind: SpanKind.SERVER, attributes: rpc.attributes }, parent);
            active = trace.setSpan(parent, span);
            context.with(active, () => nextMetadata(metadata));
          },
          onReceiveMessage: (message: unknown, nextMessage) => context.with(active, () => nextMessage(message)),
          onReceiveHalfClose: (nextHalfClose) => context.with(active, nextHalfClose),
          onCancel: () => end(GrpcStatus.CANCELLED, 'cancelled by the client'),
        }),
      sendStatus: (statusObject, next) => {
        end(statusObject.code, statusObject.details);
        next(statusObject);
      },
    });
  };
}

/**
 * Client side: one span per call, kind CLIENT, named `package.Service/Method`, the child of the context active
 * where the call is made; its context goes to the server as W3C `traceparent` / `tracestate` metadata. The span
 * ends with the call's status (every non-OK code is an ERROR).
 */
export function createTracingClientInterceptor(options: TracingInterceptorOptions = {}): Interceptor {
  const ignore = options.ignore ?? isInfrastructureRpc;
  return (callOptions, nextCall) => {
    if (ignore(callOptions.method_definition.path)) return new InterceptingCall(nextCall(callOptions));
    const rpc = describeRpc(callOptions.method_definition.path);
    const parent = context.active();
    const span = tracerOf(options).startSpan(rpc.name, { kind: SpanKind.CLIENT, attributes: rpc.attributes }, parent);
    const active = trace.setSpan(parent, span);
    let ended = false;
    return new InterceptingCall(nextCall(callOptions), {
      start: (metadata, listener, next) => {
        propagation.inject(active, metadata, metadataSetter);
        next(metadata, {
          onReceiveStatus: (statusObject, nextStatus) => {
            if (!ended) {
              ended = true;
              endWithStatus(span, statusObject.code, statusObject.details, (c) => c !== GrpcStatus.OK);
            }
            nextStatus(statusObject);
          },
        });
      },
    });
  };
}
