/**
 * @supwalsh/telemetry — the OpenTelemetry names (spans, metrics, attribute keys) every supwalsh project emits,
 * and the tracer/meter getters libraries record through. Libraries depend on `@opentelemetry/api` only; a
 * service registers the SDK in its `main.ts`, until then everything here is a cheap no-op. In-memory recorders
 * for tests live in the `@supwalsh/telemetry/testing` entry point.
 * @module
 */
export { ATTR, INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION, METRIC_NAMES, SPAN_NAMES } from './names.js';
export { getMeter, getTracer } from './providers.js';
export { withSpan } from './with-span.js';
