import net from 'node:net';
import { metrics, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createJsonLogger, getMeter, getTracer, METRIC_NAMES, SPAN_NAMES, withSpan } from './index.js';
// eslint-disable-next-line import-x/order -- the secondary entry point reads better after the main one
import { createTelemetryCapture, startTelemetry, TelemetryConfigError, type Telemetry } from './node.js';

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function recordingLogger() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> | undefined }[] = [];
  return {
    lines,
    info: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'info', msg, fields }),
    warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ level: 'warn', msg, fields }),
  };
}

describe('startTelemetry', () => {
  let telemetry: Telemetry | undefined;
  afterEach(async () => {
    await telemetry?.shutdown();
    telemetry = undefined;
  });

  it('serves the supwalsh metrics in the Prometheus text format on SUPWALSH_METRICS_PORT', async () => {
    const port = await freePort();
    telemetry = await startTelemetry({
      serviceName: 'supwalsh-test',
      env: { SUPWALSH_METRICS_PORT: String(port), SUPWALSH_METRICS_HOST: '127.0.0.1' },
    });
    expect(telemetry).toMatchObject({ enabled: true, traces: 'none', metrics: 'prometheus' });
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    getMeter().createHistogram(METRIC_NAMES.stepDuration, { unit: 's' }).record(0.25, { 'supwalsh.phase': 'training' });
    getMeter().createCounter(METRIC_NAMES.trainImages).add(32, { 'supwalsh.phase': 'training' });
    const response = await fetch(telemetry.metricsUrl!);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('supwalsh_step_duration_count{supwalsh_phase="training"');
    expect(text).toContain('supwalsh_train_images_total{supwalsh_phase="training"');
    expect(text).toMatch(/target_info\{[^}]*service_name="supwalsh-test"/);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  it('serves no endpoint with SUPWALSH_METRICS_PORT=0, yet gives spans ids (for logs and propagation)', async () => {
    telemetry = await startTelemetry({ serviceName: 'supwalsh-test', env: { SUPWALSH_METRICS_PORT: '0' } });
    expect(telemetry).toMatchObject({ enabled: true, traces: 'none', metrics: 'none', metricsUrl: undefined });
    const span = getTracer().startSpan('x');
    expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
    span.end();
  });

  it('logs a warning and goes on when the metrics port is in use', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as net.AddressInfo;
    const logger = recordingLogger();
    try {
      telemetry = await startTelemetry({
        serviceName: 'supwalsh-test',
        env: { SUPWALSH_METRICS_PORT: String(port), SUPWALSH_METRICS_HOST: '127.0.0.1' },
        logger,
      });
      expect(telemetry).toMatchObject({ enabled: true, metrics: 'none', metricsUrl: undefined });
      const warning = logger.lines.find((l) => l.level === 'warn');
      expect(warning?.msg).toMatch(/Prometheus metrics endpoint is not served/);
      expect(warning?.fields).toMatchObject({ port, error: expect.stringMatching(/EADDRINUSE/) });
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('chooses OTLP for traces and metrics when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    const port = await freePort(); // nothing listens: exports fail, quietly, and shutdown stays bounded
    telemetry = await startTelemetry({
      serviceName: 'supwalsh-test',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: 'renamed' },
    });
    expect(telemetry).toMatchObject({ enabled: true, traces: 'otlp', metrics: 'otlp', metricsUrl: undefined });
  });

  it('sends nothing anywhere when no endpoint is set, whatever NodeSDK would read from process.env', async () => {
    // A listener where NodeSDK's own defaults would send traces and logs if it configured itself from process.env.
    const connections: net.Socket[] = [];
    const listener = net.createServer((socket) => connections.push(socket));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    const saved = { ...process.env };
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    try {
      telemetry = await startTelemetry({ serviceName: 'supwalsh-test', env: { SUPWALSH_METRICS_PORT: '0' } });
      expect(telemetry).toMatchObject({ traces: 'none', metrics: 'none' });
      const span = getTracer().startSpan('x');
      expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
      span.end();
      getMeter().createCounter(METRIC_NAMES.trainImages).add(1);
      await telemetry.forceFlush();
      await telemetry.shutdown();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(connections).toHaveLength(0);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  it('registers nothing when OTEL_SDK_DISABLED=true', async () => {
    telemetry = await startTelemetry({ serviceName: 'supwalsh-test', env: { OTEL_SDK_DISABLED: 'true' } });
    expect(telemetry.enabled).toBe(false);
    expect(getTracer().startSpan('x').isRecording()).toBe(false);
  });

  it('refuses an invalid setting, naming it', async () => {
    await expect(
      startTelemetry({ serviceName: 'supwalsh-test', env: { SUPWALSH_METRICS_PORT: '70000' } })
    ).rejects.toThrow(
      new TelemetryConfigError('SUPWALSH_METRICS_PORT', 'must be an integer from 0 to 65535; got "70000"')
    );
    await expect(
      startTelemetry({ serviceName: 'supwalsh-test', env: { OTEL_METRICS_EXPORTER: 'statsd' } })
    ).rejects.toThrow(/OTEL_METRICS_EXPORTER must be one of otlp, prometheus, none/);
  });

  it('hands spans, with their resource, and metrics to the test hooks', async () => {
    const capture = createTelemetryCapture();
    telemetry = await startTelemetry({
      serviceName: 'supwalsh-test',
      instanceId: 'instance-1',
      env: { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test' },
      spanExporter: capture.spanExporter,
      metricReader: capture.metricReader,
    });
    expect(telemetry).toMatchObject({ traces: 'custom', metrics: 'custom' });
    await withSpan(getTracer(), SPAN_NAMES.run, {}, () =>
      withSpan(getTracer(), SPAN_NAMES.trainStep, {}, () => Promise.resolve())
    );
    getMeter().createCounter(METRIC_NAMES.trainImages).add(1);
    const [step, run] = capture.spans();
    expect(step?.name).toBe(SPAN_NAMES.trainStep);
    expect(step?.parentSpanContext?.spanId).toBe(run?.spanContext().spanId);
    expect(run?.resource.attributes).toMatchObject({
      'service.name': 'supwalsh-test',
      'service.instance.id': 'instance-1',
      'deployment.environment.name': 'test',
    });
    expect(await capture.metricNames()).toEqual([METRIC_NAMES.trainImages]);
  });

  it('starts a new trace for withSpan with `root`, whatever span is active', async () => {
    const capture = createTelemetryCapture();
    telemetry = await startTelemetry({
      serviceName: 'supwalsh-test',
      env: { SUPWALSH_METRICS_PORT: '0' },
      spanExporter: capture.spanExporter,
    });
    await withSpan(getTracer(), 'rpc', {}, () =>
      withSpan(getTracer(), SPAN_NAMES.coordinatorStartRing, {}, () => Promise.resolve(), { root: true })
    );
    const [ring, rpc] = capture.spans();
    expect(ring?.parentSpanContext).toBeUndefined();
    expect(ring?.spanContext().traceId).not.toBe(rpc?.spanContext().traceId);
  });

  it('unregisters everything on shutdown, so another start can register again', async () => {
    telemetry = await startTelemetry({ serviceName: 'supwalsh-test', env: { SUPWALSH_METRICS_PORT: '0' } });
    await telemetry.shutdown();
    expect(getTracer().startSpan('x').isRecording()).toBe(false);
    expect(metrics.getMeterProvider()).not.toBeUndefined();
    telemetry = await startTelemetry({ serviceName: 'supwalsh-test', env: { SUPWALSH_METRICS_PORT: '0' } });
    expect(getTracer().startSpan('x').isRecording()).toBe(true);
  });
});

describe('createJsonLogger', () => {
  it('writes one JSON object per line, with the trace and span ids of the active span', async () => {
    const capture = createTelemetryCapture();
    const telemetry = await startTelemetry({
      serviceName: 'supwalsh-test',
      env: { SUPWALSH_METRICS_PORT: '0' },
      spanExporter: capture.spanExporter,
    });
    try {
      const lines: string[] = [];
      const logger = createJsonLogger({
        service: 'supwalsh-worker',
        base: { pid: 7 },
        level: 'info',
        write: (line) => lines.push(line),
        clock: () => new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
      });
      logger.debug('dropped');
      logger.info('outside', { runId: 'r1', error: new RangeError('bad'), big: 5n });
      await withSpan(getTracer(), SPAN_NAMES.run, {}, async (span) => {
        await Promise.resolve();
        logger.warn('inside');
        return span;
      });
      expect(lines).toHaveLength(2);
      expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
      const [outside, inside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(outside).toEqual({
        time: '2025-01-02T03:04:05.000Z',
        level: 'info',
        msg: 'outside',
        service: 'supwalsh-worker',
        pid: 7,
        runId: 'r1',
        error: { name: 'RangeError', message: 'bad' },
        big: '5',
      });
      const run = capture.spans()[0]!;
      expect(inside).toMatchObject({
        level: 'warn',
        msg: 'inside',
        trace_id: run.spanContext().traceId,
        span_id: run.spanContext().spanId,
      });
    } finally {
      await telemetry.shutdown();
    }
  });
});
