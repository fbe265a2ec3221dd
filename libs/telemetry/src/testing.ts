/**
 * `@supwalsh/telemetry/testing` — an in-memory tracer and meter for tests: they record what instrumented code
 * emits so a test can assert on span names, attributes, status and metric values without an OpenTelemetry SDK.
 * @module
 */
import {
  context as otelContext,
  createNoopMeter,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Counter,
  type Exception,
  type Gauge,
  type Histogram,
  type Link,
  type Meter,
  type MetricAttributes,
  type Span,
  type SpanAttributeValue,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type UpDownCounter,
} from '@opentelemetry/api';

/** A span as recorded by the in-memory tracer. */
export interface RecordedSpan {
  name: string;
  attributes: Attributes;
  status: SpanStatus;
  events: { name: string; attributes?: Attributes }[];
  exceptions: Exception[];
  ended: boolean;
}

/** One value recorded on a synchronous instrument. */
export interface RecordedMeasurement {
  name: string;
  kind: 'counter' | 'histogram' | 'up_down_counter' | 'gauge';
  unit?: string;
  value: number;
  attributes: MetricAttributes;
}

export interface InMemoryTelemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Spans in the order they started. */
  readonly spans: RecordedSpan[];
  /** Measurements in the order they were recorded. */
  readonly measurements: RecordedMeasurement[];
  /** Sum of the values recorded under a metric name (optionally only where `attributes` match). */
  sum(metric: string, attributes?: MetricAttributes): number;
  /** Forgets everything recorded so far. */
  reset(): void;
}

let nextId = 1;
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

class RecordingSpan implements Span {
  private readonly context: SpanContext;
  constructor(readonly record: RecordedSpan) {
    const id = nextId++;
    this.context = { traceId: hex(id, 32), spanId: hex(id, 16), traceFlags: TraceFlags.SAMPLED };
  }
  spanContext(): SpanContext {
    return this.context;
  }
  setAttribute(key: string, value: SpanAttributeValue): this {
    this.record.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.record.attributes, attributes);
    return this;
  }
  addEvent(name: string, attributes?: unknown): this {
    const event: RecordedSpan['events'][number] = { name };
    if (attributes && typeof attributes === 'object' && !Array.isArray(attributes) && !(attributes instanceof Date)) {
      event.attributes = attributes as Attributes;
    }
    this.record.events.push(event);
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.record.status = status;
    return this;
  }
  updateName(name: string): this {
    this.record.name = name;
    return this;
  }
  end(): void {
    this.record.ended = true;
  }
  isRecording(): boolean {
    return !this.record.ended;
  }
  recordException(exception: Exception): void {
    this.record.exceptions.push(exception);
  }
}

/** Creates a tracer and meter that keep everything in arrays (no SDK, no export, no global registration). */
export function createInMemoryTelemetry(): InMemoryTelemetry {
  const spans: RecordedSpan[] = [];
  const measurements: RecordedMeasurement[] = [];

  const startSpan = (name: string, options: SpanOptions = {}): Span => {
    const record: RecordedSpan = {
      name,
      attributes: { ...options.attributes },
      status: { code: SpanStatusCode.UNSET },
      events: [],
      exceptions: [],
      ended: false,
    };
    spans.push(record);
    return new RecordingSpan(record);
  };

  const tracer: Tracer = {
    startSpan,
    startActiveSpan(name: string, ...rest: unknown[]): never {
      const fn = rest.pop() as (span: Span) => unknown;
      const [options, ctx] = rest as [SpanOptions | undefined, Context | undefined];
      const parentContext = ctx ?? otelContext.active();
      const span = startSpan(name, options);
      return otelContext.with(trace.setSpan(parentContext, span), fn, undefined, span) as never;
    },
  };

  const noop = createNoopMeter();
  const recorder =
    (name: string, kind: RecordedMeasurement['kind'], unit: string | undefined) =>
    (value: number, attributes: MetricAttributes = {}) => {
      measurements.push({ name, kind, value, attributes: { ...attributes }, ...(unit ? { unit } : {}) });
    };
  const meter: Meter = {
    createCounter: (name, options) => ({ add: recorder(name, 'counter', options?.unit) }) as Counter,
    createUpDownCounter: (name, options) =>
      ({ add: recorder(name, 'up_down_counter', options?.unit) }) as UpDownCounter,
    createHistogram: (name, options) => ({ record: recorder(name, 'histogram', options?.unit) }) as Histogram,
    createGauge: (name, options) => ({ record: recorder(name, 'gauge', options?.unit) }) as Gauge,
    createObservableGauge: (name, options) => noop.createObservableGauge(name, options),
    createObservableCounter: (name, options) => noop.createObservableCounter(name, options),
    createObservableUpDownCounter: (name, options) => noop.createObservableUpDownCounter(name, options),
    addBatchObservableCallback: () => undefined,
    removeBatchObservableCallback: () => undefined,
  };

  return {
    tracer,
    meter,
    spans,
    measurements,
    sum(metric, attributes = {}) {
      return measurements
        .filter((m) => m.name === metric && Object.entries(attributes).every(([k, v]) => m.attributes[k] === v))
        .reduce((total, m) => total + m.value, 0);
    },
    reset() {
      spans.length = 0;
      measurements.length = 0;
    },
  };
}
