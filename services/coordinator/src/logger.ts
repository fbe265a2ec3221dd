/** Severity of a coordinator log line. */
export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

/** Where the coordinator logs (injected; never `console.log` in library code). */
export interface CoordinatorLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const LEVELS: Record<LogLevelName, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
}

/** A logger writing one JSON object per line (`time`, `level`, `msg`, then the fields), for `main.ts`. */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): CoordinatorLogger {
  const min = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const log = (level: LogLevelName) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields }) + '\n');
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** True for a valid {@link LogLevelName}. */
export function isLogLevelName(value: string): value is LogLevelName {
  return value in LEVELS;
}
