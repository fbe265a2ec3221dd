/** Thrown when a t-SNE function gets an argument outside its valid range (bad data, options or buffers). */
export class TsneArgumentError extends Error {
  override readonly name = 'TsneArgumentError';
  constructor(
    /** The function that rejected the call, e.g. `tsne`. */
    readonly fn: string,
    /** The argument (or option) that was out of range, e.g. `options.perplexity`. */
    readonly argument: string,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(`${fn}: ${argument} ${message}`, options);
  }
}

/**
 * Thrown when a `TsneRunner` is called while another run on it owns its buffers: a `runAsync` not yet settled, or
 * a call made from inside one of its own callbacks.
 */
export class TsneRunnerBusyError extends Error {
  override readonly name = 'TsneRunnerBusyError';
  constructor(
    /** The method that was called, e.g. `TsneRunner.run`. */
    readonly fn: string
  ) {
    super(`${fn}: the runner is busy with another run (an unsettled runAsync or a callback); use another runner`);
  }
}
