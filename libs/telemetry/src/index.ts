/**
 * @supwalsh/telemetry — the OpenTelemetry names (spans, metrics, attribute keys) every supwalsh project emits,
 * the tracer/meter getters libraries record through, and the JSON-lines logger of the services (with the active
 * trace id). Libraries depend on `@opentelemetry/api` only; a service starts the SDK in its `main.ts` with
 * `@supwalsh/telemetry/node`'s `startTelemetry`, until then everything here is a cheap no-op. gRPC tracing
 * interceptors live in `@supwalsh/telemetry/grpc`, in-memory recorders for tests in `@supwalsh/telemetry/testing`.
 * @module
 */
export { TelemetryConfigError } from './errors.js';
export {
  createJsonLogger,
  isLogLevelName,
  LOG_LEVELS,
  type JsonLoggerOptions,
  type LogLevelName,
  type StructuredLogger,
} from './json-logger.js';
export {
  ATTR,
  INSTRUMENTATION_SCOPE,
  INSTRUMENTATION_VERSION,
  LOG_FIELDS,
  METRIC_NAMES,
  RPC_ATTR,
  SPAN_NAMES,
} from './names.js';
export { getMeter, getTracer } from './providers.js';
export { withSpan, withSpanSync, type WithSpanOptions } from './with-span.js';
