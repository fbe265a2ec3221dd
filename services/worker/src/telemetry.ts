import type { WorkerLogger } from './logger.js';

/** The OpenTelemetry SDK package a deployment adds to export traces and metrics (not a dependency). */
export const OTEL_SDK_PACKAGE = '@opentelemetry/sdk-node';

/**
 * Starts the OpenTelemetry Node SDK when the standard `OTEL_*` exporter variables ask for it and the SDK is
 * installed (it is not a dependency: images that export telemetry add it). It configures itself from the
 * environment (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, …). Otherwise the libraries' spans and metrics
 * stay no-ops of `@opentelemetry/api`.
 */
export async function startTelemetry(
  logger: WorkerLogger,
  env: Readonly<Record<string, string | undefined>> = process.env
): Promise<{ shutdown(): Promise<void> }> {
  const none = { shutdown: () => Promise.resolve() };
  const wanted = env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_TRACES_EXPORTER'] || env['OTEL_METRICS_EXPORTER'];
  if (!wanted || env['OTEL_SDK_DISABLED'] === 'true') return none;
  try {
    const specifier: string = OTEL_SDK_PACKAGE; // not resolved at build time: optional at run time
    const sdk = (await import(specifier)) as {
      NodeSDK: new (config?: object) => { start(): void; shutdown(): Promise<void> };
    };
    const instance = new sdk.NodeSDK({ serviceName: env['OTEL_SERVICE_NAME'] ?? 'supwalsh-worker' });
    instance.start();
    logger.info('OpenTelemetry SDK started');
    return { shutdown: () => instance.shutdown() };
  } catch (error: unknown) {
    logger.warn(`OTEL_* is set but ${OTEL_SDK_PACKAGE} cannot be loaded; telemetry stays off`, {
      error: String(error),
    });
    return none;
  }
}
