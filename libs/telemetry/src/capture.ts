import { MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';

/** A metric reader that reads only when asked (`collect()`), for tests. */
class OnDemandMetricReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** What {@link createTelemetryCapture} returns: pass `spanExporter` and `metricReader` to `startTelemetry`. */
export interface TelemetryCapture {
  readonly spanExporter: InMemorySpanExporter;
  readonly metricReader: MetricReader;
  /** Every span ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** Reads every instrument now; the metrics with at least one data point. */
  metrics(): Promise<MetricData[]>;
  /** The names of {@link metrics}, sorted and unique. */
  metricNames(): Promise<string[]>;
}

/**
 * In-memory span and metric capture for tests of a whole process's telemetry (with the real SDK, unlike
 * `@supwalsh/telemetry/testing`'s recorder): `startTelemetry({ serviceName, spanExporter, metricReader })`.
 */
export function createTelemetryCapture(): TelemetryCapture {
  const spanExporter = new InMemorySpanExporter();
  const metricReader = new OnDemandMetricReader();
  const read = async (): Promise<MetricData[]> => {
    const { resourceMetrics } = await metricReader.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.dataPoints.length > 0);
  };
  return {
    spanExporter,
    metricReader,
    spans: () => spanExporter.getFinishedSpans(),
    metrics: read,
    metricNames: async () => [...new Set((await read()).map((m) => m.descriptor.name))].sort(),
  };
}
