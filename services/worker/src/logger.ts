/**
 * Where the worker writes what it does. `fields` carry ids (run, generation, rank) for structured logs. Fits
 * `@supwalsh/engine`'s `EngineLogger` and `@supwalsh/datasets`' `DatasetLogger`.
 */
export interface WorkerLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops every message (tests). */
export const silentWorkerLogger: WorkerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Severity order of {@link createJsonLogger}'s `level`. */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/**
 * A logger that writes one JSON object per line (`time`, `level`, `msg`, the fields, and `base`) to `write`
 * (stderr by default), dropping messages below `level`.
 */
export function createJsonLogger(
  options: {
    level?: keyof typeof LEVELS;
    base?: Record<string, unknown>;
    write?: (line: string) => void;
  } = {}
): WorkerLogger {
  const min = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const log =
    (level: keyof typeof LEVELS) =>
    (message: string, fields: Record<string, unknown> = {}): void => {
      if (LEVELS[level] < min) return;
      write(
        `${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...options.base, ...fields }, replacer)}\n`
      );
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}
