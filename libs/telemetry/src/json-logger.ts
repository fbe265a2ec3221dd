import { trace } from '@opentelemetry/api';
import { LOG_FIELDS } from './names.js';

/** Severity of a log line, lowest first. */
export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

/** The logger interface of the services (and of the libraries' injected loggers): a message and flat fields. */
export interface StructuredLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Severity order of the levels. */
export const LOG_LEVELS: Readonly<Record<LogLevelName, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** True for a valid {@link LogLevelName}. */
export function isLogLevelName(value: string): value is LogLevelName {
  return Object.hasOwn(LOG_LEVELS, value);
}

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LogLevelName;
  /** `service` field of every line (e.g. `supwalsh-worker`); omitted when unset. */
  service?: string;
  /** Fields of every line (after `service`, before the line's own fields). */
  base?: Record<string, unknown>;
  /** Where each line (ending in `\n`) goes. @default process.stderr */
  write?: (line: string) => void;
  /** The time of a line. @default () => new Date() */
  clock?: () => Date;
}

/**
 * A logger writing one JSON object per line: `time` (ISO 8601), `level`, `msg`, `service`, the `base` fields, the
 * line's fields, then `trace_id` and `span_id` of the active span when there is a valid one (so a log line leads to
 * its trace). Errors are written as `{ name, message }`, bigints as strings. Lines below `level` are dropped.
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): StructuredLogger {
  const min = LOG_LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const clock = options.clock ?? (() => new Date());
  const head = options.service === undefined ? {} : { service: options.service };
  const log =
    (level: LogLevelName) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (LOG_LEVELS[level] < min) return;
      const line: Record<string, unknown> = {
        time: clock().toISOString(),
        level,
        msg: message,
        ...head,
        ...options.base,
        ...fields,
      };
      const span = trace.getActiveSpan()?.spanContext();
      if (span && trace.isSpanContextValid(span)) {
        line[LOG_FIELDS.traceId] = span.traceId;
        line[LOG_FIELDS.spanId] = span.spanId;
      }
      write(`${JSON.stringify(line, replacer)}\n`);
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}
