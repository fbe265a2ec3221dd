/** Thrown when a telemetry setting (an environment variable or an option of `startTelemetry`) is invalid. */
export class TelemetryConfigError extends Error {
  override readonly name = 'TelemetryConfigError';

  constructor(
    /** The setting: an environment variable name or `startTelemetry`'s option. */
    readonly setting: string,
    message: string,
    options?: ErrorOptions
  ) {
    super(`startTelemetry: ${setting} ${message}`, options);
  }
}
