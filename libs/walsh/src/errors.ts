/** Thrown when a Walsh/Hadamard function gets an argument outside its valid range. */
export class WalshArgumentError extends Error {
  override readonly name = 'WalshArgumentError';
  constructor(
    /** The function that rejected the call, e.g. `hadamard`. */
    readonly fn: string,
    /** The argument that was out of range. */
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}
