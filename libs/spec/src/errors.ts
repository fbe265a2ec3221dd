/**
 * Thrown when an experiment spec is invalid: `field` is its proto field path (`training.optimizer.learning_rate`,
 * `datasets[0].root`), and the message starts with it — what the coordinator returns as INVALID_ARGUMENT.
 */
export class SpecValidationError extends Error {
  override readonly name = 'SpecValidationError';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause: unknown }
  ) {
    super(message.startsWith(field) ? message : `${field} ${message}`, options);
  }
}
