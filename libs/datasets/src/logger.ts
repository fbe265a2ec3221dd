/**
 * Where loading reports what it read, cached and downloaded. `@supwalsh/engine`'s `EngineLogger` fits (it ignores
 * the fields); the default says nothing.
 */
export interface DatasetLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops every message. */
export const silentDatasetLogger: DatasetLogger = {
  info: () => undefined,
  warn: () => undefined,
};
