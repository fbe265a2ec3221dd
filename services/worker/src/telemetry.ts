import { startTelemetry as startOpenTelemetry, type Telemetry } from '@supwalsh/telemetry/node';
import type { WorkerLogger } from './logger.js';
import { WORKER_VERSION } from './server.js';

/** `service.name` of worker processes unless `OTEL_SERVICE_NAME` says otherwise. */
export const WORKER_SERVICE_NAME = 'supwalsh-worker';

/**
 * Starts OpenTelemetry for a worker process (`main.ts`, before the server): @supwalsh/telemetry's `startTelemetry`
 * with the worker's service name and version — OTLP/gRPC export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else a
 * Prometheus endpoint on `SUPWALSH_METRICS_PORT` (default 9464; 0: none); `OTEL_SDK_DISABLED=true` turns it off.
 */
export function startTelemetry(
  logger: WorkerLogger,
  env: Readonly<Record<string, string | undefined>> = process.env
): Promise<Telemetry> {
  return startOpenTelemetry({ serviceName: WORKER_SERVICE_NAME, serviceVersion: WORKER_VERSION, env, logger });
}
