import {
  createJsonLogger,
  isLogLevelName as isTelemetryLogLevelName,
  type LogLevelName as TelemetryLogLevelName,
  type StructuredLogger,
} from '@supwalsh/telemetry';

/** Severity of a coordinator log line. */
export type LogLevelName = TelemetryLogLevelName;

/** Where the coordinator logs (injected; never `console.log` in library code). */
export type CoordinatorLogger = StructuredLogger;

/** A logger that drops everything (tests). */
export const silentLogger: CoordinatorLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Options of {@link createConsoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LogLevelName;
  /** Where the lines go. @default process.stderr */
  write?: (line: string) => void;
  /** `service` field of every line. @default 'supwalsh-coordinator' */
  service?: string;
}

/**
 * A logger writing one JSON object per line — `time`, `level`, `msg`, `service`, the fields, then `trace_id` and
 * `span_id` of the active span (an RPC's, a run's) — for `main.ts`: @supwalsh/telemetry's `createJsonLogger`.
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): CoordinatorLogger {
  return createJsonLogger({ service: 'supwalsh-coordinator', ...options });
}

/** True for a valid {@link LogLevelName}. */
export function isLogLevelName(value: string): value is LogLevelName {
  return isTelemetryLogLevelName(value);
}
