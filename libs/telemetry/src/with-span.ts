import { SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { ATTR } from './names.js';

/**
 * Runs `fn` inside a new active span: on success the span ends OK, on a throw (or rejection) it records the
 * exception, sets status ERROR and `error.type`, and rethrows. The span always ends (`finally`).
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error: unknown) {
      const e = error instanceof Error ? error : new Error(String(error));
      span.recordException(e);
      span.setAttribute(ATTR.errorType, e.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      throw error;
    } finally {
      span.end();
    }
  });
}
