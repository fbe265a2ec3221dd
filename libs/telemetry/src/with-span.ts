import { SpanStatusCode, type Attributes, type Span, type SpanKind, type Tracer } from '@opentelemetry/api';
import { ATTR } from './names.js';

/** Options of {@link withSpan} beyond its attributes. */
export interface WithSpanOptions {
  /** Start a new trace instead of a child of the active span (work a timer or another call only triggered). */
  root?: boolean;
  /** @default SpanKind.INTERNAL */
  kind?: SpanKind;
}

/**
 * Runs `fn` inside a new active span: on success the span ends OK, on a throw (or rejection) it records the
 * exception, sets status ERROR and `error.type`, and rethrows. The span always ends (`finally`).
 */
export async function withSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  options: WithSpanOptions = {}
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes, ...options }, async (span) => {
    try {
      return await fn(span);
    } catch (error: unknown) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** {@link withSpan} for synchronous work (a t-SNE embedding): the span is active while `fn` runs. */
export function withSpanSync<T>(tracer: Tracer, name: string, attributes: Attributes, fn: (span: Span) => T): T {
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    try {
      return fn(span);
    } catch (error: unknown) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

function recordError(span: Span, error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  span.recordException(e);
  span.setAttribute(ATTR.errorType, e.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}
