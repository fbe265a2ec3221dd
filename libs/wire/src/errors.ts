// SpecValidationError belongs to @supwalsh/spec (spec text and enum names, light enough for clients); re-exported
// here so that the coordinator and the workers keep one import for every spec error.
export { SpecValidationError } from '@supwalsh/spec';

/** Thrown when a message from the wire cannot be turned into the method's types (a worker bug, not user input). */
export class WireConversionError extends Error {
  override readonly name = 'WireConversionError';
  constructor(
    readonly fn: string,
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}
