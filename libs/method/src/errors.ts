/** Thrown when an experiment spec has a bad field: `field` is its path (`training.optimizer.learningRate`). */
export class MethodSpecError extends Error {
  override readonly name = 'MethodSpecError';
  constructor(
    readonly field: string,
    readonly allowed: string,
    readonly got: unknown
  ) {
    super(`${field} ${allowed}${got === undefined ? '' : `, got ${describe(got)}`}`);
  }
}

/** Thrown when a method function gets a bad argument: names the function, the argument and what is allowed. */
export class MethodArgumentError extends Error {
  override readonly name = 'MethodArgumentError';
  constructor(
    readonly fn: string,
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}

/** Thrown when a loss or gradient becomes NaN or infinite and the run's limits say to stop. */
export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(
    readonly phase: 'pretraining' | 'training',
    readonly step: number,
    readonly loss: number
  ) {
    super(`${phase} loss is ${loss} at step ${step}; stopping (limits.stopOnNonFinite)`);
  }
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
