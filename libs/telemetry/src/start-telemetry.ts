import { randomUUID } from 'node:crypto';
import os from 'node:os';
import {
  context,
  diag,
  DiagLogLevel,
  metrics,
  propagation,
  ROOT_CONTEXT,
  trace,
  type Attributes,
  type DiagLogger,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  parseKeyPairsIntoRecord,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { TelemetryConfigError } from './errors.js';
import type { StructuredLogger } from './json-logger.js';

/** Port of the Prometheus endpoint unless `SUPWALSH_METRICS_PORT` says otherwise (Prometheus' registered port). */
export const DEFAULT_METRICS_PORT = 9464;
/** Host the Prometheus endpoint binds unless `SUPWALSH_METRICS_HOST` says otherwise. */
export const DEFAULT_METRICS_HOST = '0.0.0.0';
/** Path of the Prometheus endpoint. */
export const METRICS_PATH = '/metrics';
/** Longest `shutdown` waits for the exporters to flush, in ms. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

/** Options of {@link startTelemetry}. */
export interface StartTelemetryOptions {
  /** `service.name` unless `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) sets one. */
  serviceName: string;
  /** `service.version`. */
  serviceVersion?: string;
  /** `service.instance.id`. @default a random UUID per process */
  instanceId?: string;
  /** The environment read (`OTEL_*`, `SUPWALSH_METRICS_*`). @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where start-up lines and the SDK's own warnings (failed exports, a busy port) go. @default nowhere */
  logger?: Pick<StructuredLogger, 'info' | 'warn'>;
  /** Test hook: every span goes to this exporter as it ends (a `SimpleSpanProcessor`), instead of OTLP. */
  spanExporter?: SpanExporter;
  /** Test hook: metrics are read by this reader, instead of OTLP or Prometheus. */
  metricReader?: IMetricReader;
}

/** What {@link startTelemetry} set up. */
export interface Telemetry {
  /** False when `OTEL_SDK_DISABLED=true`: nothing was registered, every span and metric stays a no-op. */
  readonly enabled: boolean;
  /** Where spans go: `otlp`, `custom` (the test hook) or `none` (spans still get ids, for logs and propagation). */
  readonly traces: 'otlp' | 'custom' | 'none';
  /** Where metrics go: `otlp`, `prometheus`, `custom` (the test hook) or `none`. */
  readonly metrics: 'otlp' | 'prometheus' | 'custom' | 'none';
  /** `http://host:port/metrics` while the Prometheus endpoint is served, else undefined. */
  readonly metricsUrl: string | undefined;
  /** Exports what is buffered now (spans, metrics). */
  forceFlush(): Promise<void>;
  /** Flushes (at most 5 s), stops the exporters and the endpoint, and unregisters the global providers. Idempotent. */
  shutdown(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Starts OpenTelemetry for a service process (its `main.ts`, before anything else): registers the global tracer and
 * meter providers, the AsyncLocalStorage context manager and the W3C trace-context and baggage propagators, so the
 * libraries' `@opentelemetry/api` calls record for real.
 *
 * The providers are built from their parts (span processors, metric readers, the resource), not by
 * `@opentelemetry/sdk-node`'s `NodeSDK`: that one loads every exporter it could configure from the environment
 * (≈ 1 s of CPU at each service start) and, left to its defaults, exports traces and logs to `localhost`. The OTLP and
 * Prometheus exporters are loaded only when chosen. Nothing leaves the process unless an endpoint (or
 * `OTEL_*_EXPORTER=otlp`) says where.
 *
 * - Resource: `service.name` (`OTEL_SERVICE_NAME` wins over `serviceName`), `service.instance.id`, `service.version`,
 *   `service.namespace` `supwalsh`, `host.name`, `process.pid`, and `OTEL_RESOURCE_ATTRIBUTES`.
 * - Traces: OTLP/gRPC to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` (batched) when one is
 *   set and `OTEL_TRACES_EXPORTER` is not `none`; otherwise spans are created (trace ids for logs and for the calls
 *   to other services) but not exported.
 * - Metrics: OTLP/gRPC to `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` every
 *   `OTEL_METRIC_EXPORT_INTERVAL` ms (default 60 000) when one is set; otherwise a Prometheus endpoint at
 *   `http://SUPWALSH_METRICS_HOST:SUPWALSH_METRICS_PORT/metrics` (default `0.0.0.0:9464`; port `0` serves none).
 *   `OTEL_METRICS_EXPORTER` `prometheus`, `otlp` or `none` chooses explicitly. A port already in use is logged and
 *   the service goes on without the endpoint.
 * - `OTEL_SDK_DISABLED=true` registers nothing.
 *
 * @throws TelemetryConfigError for an invalid `SUPWALSH_METRICS_PORT`, `OTEL_METRIC_EXPORT_INTERVAL`,
 *   `OTEL_TRACES_EXPORTER` or `OTEL_METRICS_EXPORTER`.
 */
export async function startTelemetry(options: StartTelemetryOptions): Promise<Telemetry> {
  const env: Env = options.env ?? process.env;
  const logger = options.logger;
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') {
    logger?.info('OpenTelemetry is disabled (OTEL_SDK_DISABLED=true)');
    return {
      enabled: false,
      traces: 'none',
      metrics: 'none',
      metricsUrl: undefined,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  const tracesChoice = choice(env, 'OTEL_TRACES_EXPORTER', ['otlp', 'none']);
  const metricsChoice = choice(env, 'OTEL_METRICS_EXPORTER', ['otlp', 'prometheus', 'none']);
  const tracesEndpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const metricsEndpoint = env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const metricsPort = integer(env, 'SUPWALSH_METRICS_PORT', DEFAULT_METRICS_PORT, 0, 65_535);
  const metricsHost = env['SUPWALSH_METRICS_HOST'] || DEFAULT_METRICS_HOST;
  const exportIntervalMs = integer(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000, 100, 86_400_000);

  const resourceAttributes = parseResourceAttributes(env);
  const serviceName = env['OTEL_SERVICE_NAME'] || resourceAttributes['service.name'] || options.serviceName;
  const attributes: Attributes = {
    'service.namespace': 'supwalsh',
    'host.name': os.hostname(),
    'process.pid': process.pid,
    ...resourceAttributes,
    'service.name': serviceName,
    'service.instance.id': options.instanceId ?? resourceAttributes['service.instance.id'] ?? randomUUID(),
    ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
  };
  const resource = defaultResource().merge(resourceFromAttributes(attributes));

  // Traces.
  const spanProcessors: SpanProcessor[] = [];
  let traces: Telemetry['traces'] = 'none';
  if (options.spanExporter) {
    spanProcessors.push(new SimpleSpanProcessor({ exporter: options.spanExporter }));
    traces = 'custom';
  } else if (tracesChoice !== 'none' && (tracesEndpoint || tracesChoice === 'otlp')) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
    spanProcessors.push(
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter(tracesEndpoint ? { url: tracesEndpoint } : {}) })
    );
    traces = 'otlp';
  }

  // Metrics.
  const readers: IMetricReader[] = [];
  let metricsKind: Telemetry['metrics'] = 'none';
  let metricsUrl: string | undefined;
  let prometheus: PrometheusExporter | undefined;
  if (options.metricReader) {
    readers.push(options.metricReader);
    metricsKind = 'custom';
  } else if (metricsChoice === 'otlp' || (metricsChoice === undefined && metricsEndpoint)) {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc');
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(metricsEndpoint ? { url: metricsEndpoint } : {}),
        exportIntervalMillis: exportIntervalMs,
        exportTimeoutMillis: Math.min(30_000, exportIntervalMs),
      })
    );
    metricsKind = 'otlp';
  } else if (metricsChoice !== 'none' && metricsPort > 0) {
    const started = await servePrometheus(metricsHost, metricsPort);
    if (started.error) {
      logger?.warn('the Prometheus metrics endpoint is not served; the service goes on without it', {
        host: metricsHost,
        port: metricsPort,
        error: started.error.message,
        hint: 'set SUPWALSH_METRICS_PORT to a free port, or 0 for none',
      });
      await started.exporter.shutdown().catch(() => undefined);
    } else {
      prometheus = started.exporter;
      readers.push(prometheus);
      metricsKind = 'prometheus';
      metricsUrl = `http://${urlHost(metricsHost)}:${metricsPort}${METRICS_PATH}`;
    }
  }

  // Spans get ids (for logs and for the calls to other services) even when none are exported: a processor that
  // drops them.
  if (spanProcessors.length === 0) spanProcessors.push(new NoopSpanProcessor());
  if (logger) diag.setLogger(diagLogger(logger), DiagLogLevel.WARN);
  // Already-registered globals make the registrations below fail (the API keeps the first): look before, to say so.
  const alreadyRegistered = isRegistered();
  const tracerProvider = new TracerProvider({ resource, spanProcessors });
  const meterProvider = new MeterProvider({ resource, readers });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] })
  );
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  if (alreadyRegistered) {
    logger?.warn('another OpenTelemetry SDK was registered first in this process; this one may not see everything');
  }
  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    traces,
    metrics: metricsKind,
    get metricsUrl() {
      return stopping ? undefined : metricsUrl;
    },
    async forceFlush() {
      await Promise.all([...spanProcessors.map((p) => p.forceFlush()), ...readers.map((r) => r.forceFlush())]);
    },
    shutdown() {
      stopping ??= (async () => {
        const flushed = Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]).catch(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS);
          timer.unref();
        });
        await Promise.race([flushed, timeout]);
        clearTimeout(timer);
        trace.disable();
        metrics.disable();
        propagation.disable();
        context.disable();
        if (logger) diag.disable();
      })();
      return stopping;
    },
  };
}

/**
 * Whether a tracer provider is registered globally already (by another SDK): the no-op provider's spans have an
 * invalid context. The probe span is never ended, so it is never exported.
 */
function isRegistered(): boolean {
  return trace.isSpanContextValid(trace.getTracer('supwalsh-probe').startSpan('probe', {}, ROOT_CONTEXT).spanContext());
}

/** A Prometheus exporter whose HTTP server listens (or failed to). */
async function servePrometheus(
  host: string,
  port: number
): Promise<{ exporter: PrometheusExporter; error: Error | undefined }> {
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  let exporter: PrometheusExporter | undefined;
  const error = await new Promise<Error | undefined>((resolve) => {
    exporter = new PrometheusExporter({ host, port, endpoint: METRICS_PATH }, (e: Error | void) =>
      resolve(e ?? undefined)
    );
  });
  return { exporter: exporter!, error };
}

/** `host` as it goes into a URL (IPv6 in brackets; the wildcard as loopback, where a local client reaches it). */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function choice<T extends string>(env: Env, name: string, allowed: readonly T[]): T | undefined {
  const value = env[name]?.trim().toLowerCase();
  if (!value) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new TelemetryConfigError(name, `must be one of ${allowed.join(', ')}; got ${JSON.stringify(env[name])}`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new TelemetryConfigError(name, `must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** `OTEL_RESOURCE_ATTRIBUTES`: `key=value,key=value` with percent-encoded values. */
function parseResourceAttributes(env: Env): Record<string, string> {
  const raw = env['OTEL_RESOURCE_ATTRIBUTES'];
  if (!raw) return {};
  try {
    return parseKeyPairsIntoRecord(raw);
  } catch (error: unknown) {
    throw new TelemetryConfigError('OTEL_RESOURCE_ATTRIBUTES', 'must be key=value pairs separated by commas', {
      cause: error,
    });
  }
}

/** The SDK's own warnings and errors (a failed export, a callback that threw) as warnings of the service's log. */
function diagLogger(logger: Pick<StructuredLogger, 'warn'>): DiagLogger {
  const warn = (message: string, ...args: unknown[]) =>
    logger.warn(`OpenTelemetry: ${message}`, args.length ? { details: args.map(String).join(' ') } : undefined);
  const ignore = () => undefined;
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}
