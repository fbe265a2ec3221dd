import {
  createJsonLogger as createTelemetryJsonLogger,
  type LogLevelName,
  type StructuredLogger,
} from '@supwalsh/telemetry';

/**
 * Where the worker writes what it does. `fields` carry ids (run, generation, rank) for structured logs. Fits
 * `@supwalsh/engine`'s `EngineLogger` and `@supwalsh/datasets`' `DatasetLogger`.
 */
export type WorkerLogger = StructuredLogger;

/** A logger that drops every message (tests). */
export const silentWorkerLogger: WorkerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * A logger that writes one JSON object per line (`time`, `level`, `msg`, `service`, the `base` fields, the line's
 * fields, and `trace_id` / `span_id` of the active span) to `write` (stderr by default), dropping messages below
 * `level` — @supwalsh/telemetry's `createJsonLogger`.
 */
export function createJsonLogger(
  options: {
    level?: LogLevelName;
    /** @default 'supwalsh-worker' */
    service?: string;
    base?: Record<string, unknown>;
    write?: (line: string) => void;
  } = {}
): WorkerLogger {
  return createTelemetryJsonLogger({ service: 'supwalsh-worker', ...options });
}
