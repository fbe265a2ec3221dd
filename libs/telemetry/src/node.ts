/**
 * `@supwalsh/telemetry/node` — the OpenTelemetry SDK for a service process (Node only): `startTelemetry` in each
 * service's `main.ts` registers the tracer and meter providers, context manager and W3C propagators, and exports
 * over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else serves Prometheus' `/metrics`.
 * `createTelemetryCapture` gives tests an in-memory span exporter and metric reader to pass to it. Libraries never
 * import this entry point: they record through `@opentelemetry/api` (the root entry point's getters).
 * @module
 */
export { createTelemetryCapture, type TelemetryCapture } from './capture.js';
export { TelemetryConfigError } from './errors.js';
export {
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  METRICS_PATH,
  startTelemetry,
  type StartTelemetryOptions,
  type Telemetry,
} from './start-telemetry.js';
