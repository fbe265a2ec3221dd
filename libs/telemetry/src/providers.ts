import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION } from './names.js';

/**
 * The tracer libraries record spans with. Until a service registers an SDK (in its `main.ts`) this is the
 * no-op tracer of `@opentelemetry/api`, so instrumented code costs next to nothing in tests and tools.
 */
export function getTracer(scope: string = INSTRUMENTATION_SCOPE): Tracer {
  return trace.getTracer(scope, INSTRUMENTATION_VERSION);
}

/** The meter libraries record metrics with; no-op until a service registers an SDK. */
export function getMeter(scope: string = INSTRUMENTATION_SCOPE): Meter {
  return metrics.getMeter(scope, INSTRUMENTATION_VERSION);
}
