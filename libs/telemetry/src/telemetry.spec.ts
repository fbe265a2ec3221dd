import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ATTR, getMeter, getTracer, METRIC_NAMES, SPAN_NAMES, withSpan } from './index.js';
// eslint-disable-next-line import-x/order -- the secondary entry point reads better after the main one
import { createInMemoryTelemetry } from './testing.js';

describe('telemetry names', () => {
  it('are unique, prefixed and OpenTelemetry-style (dotted lower snake case)', () => {
    const names = [...Object.values(SPAN_NAMES), ...Object.values(METRIC_NAMES)];
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^supwalsh(\.[a-z][a-z0-9_]*)+$/);
    for (const key of Object.values(ATTR)) expect(key).toMatch(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/);
  });

  it('gives working no-op tracers and meters before any SDK is registered', () => {
    const span = getTracer().startSpan('x');
    expect(span.isRecording()).toBe(false);
    span.end();
    getMeter().createCounter(METRIC_NAMES.collectiveBytes).add(1);
  });
});

describe('withSpan with the in-memory recorder', () => {
  it('ends every span with its attributes on success', async () => {
    const t = createInMemoryTelemetry();
    const result = await withSpan(t.tracer, 'outer', { [ATTR.rank]: 1 }, async () =>
      withSpan(t.tracer, 'inner', {}, async (span) => {
        span.setAttribute(ATTR.worldSize, 4);
        return 42;
      })
    );
    expect(result).toBe(42);
    expect(t.spans.map((s) => [s.name, s.ended])).toEqual([
      ['outer', true],
      ['inner', true],
    ]);
    expect(t.spans[1]?.attributes).toEqual({ [ATTR.worldSize]: 4 });
  });

  it('records the exception, error status and error.type when the function throws, then rethrows', async () => {
    const t = createInMemoryTelemetry();
    class BoomError extends Error {
      override readonly name = 'BoomError';
    }
    await expect(
      withSpan(t.tracer, 'failing', {}, async () => {
        throw new BoomError('boom');
      })
    ).rejects.toThrow('boom');
    const [span] = t.spans;
    expect(span).toMatchObject({ ended: true, status: { code: SpanStatusCode.ERROR, message: 'boom' } });
    expect(span?.attributes[ATTR.errorType]).toBe('BoomError');
    expect(span?.exceptions).toHaveLength(1);
  });

  it('records counter and histogram values and sums them by attributes', () => {
    const t = createInMemoryTelemetry();
    const counter = t.meter.createCounter(METRIC_NAMES.collectiveBytes, { unit: 'By' });
    counter.add(10, { [ATTR.collectiveOperation]: 'all_reduce' });
    counter.add(5, { [ATTR.collectiveOperation]: 'broadcast' });
    t.meter.createHistogram(METRIC_NAMES.collectiveDuration, { unit: 's' }).record(0.5);
    expect(t.sum(METRIC_NAMES.collectiveBytes)).toBe(15);
    expect(t.sum(METRIC_NAMES.collectiveBytes, { [ATTR.collectiveOperation]: 'broadcast' })).toBe(5);
    expect(t.measurements[2]).toMatchObject({ kind: 'histogram', unit: 's', value: 0.5 });
    t.reset();
    expect(t.measurements).toEqual([]);
  });
});
