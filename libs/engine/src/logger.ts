/** Where the engine reports what it chose and why it fell back; inject your own (the default says nothing). */
export interface EngineLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** A logger that drops every message. */
export const silentLogger: EngineLogger = {
  info: () => undefined,
  warn: () => undefined,
};
