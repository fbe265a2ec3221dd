/** Thrown when an engine function gets an argument outside its valid range. */
export class EngineArgumentError extends Error {
  override readonly name = 'EngineArgumentError';
  constructor(
    /** The function that rejected the call, e.g. `createBucketLayout`. */
    readonly fn: string,
    /** The argument (or environment variable) that was out of range. */
    readonly argument: string,
    message: string
  ) {
    super(`${fn}: ${argument} ${message}`);
  }
}

/**
 * Thrown when `initEngine` is asked for a backend that cannot start on this machine, e.g. `'tensorflow'` where
 * neither `@tensorflow/tfjs-node-gpu` nor `@tensorflow/tfjs-node` (with its libtensorflow) is installed.
 */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
  constructor(
    /** The backend that was asked for. */
    readonly backend: string,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
  }
}

/**
 * Thrown when bytes handed to `weightsFromBytes` (or a `model.json` handed to `loadTfjsModel`) do not match the
 * model: wrong magic or version, a bad checksum, or weights whose names, shapes or dtypes differ.
 */
export class WeightsFormatError extends Error {
  override readonly name = 'WeightsFormatError';
  constructor(
    message: string,
    /** The weight whose entry did not match, when one did not. */
    readonly weight?: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
  }
}

/** Thrown when a wasm training kernel is called with a configuration it does not implement (e.g. NCHW data). */
export class KernelConfigError extends Error {
  override readonly name = 'KernelConfigError';
  constructor(
    /** The TF.js kernel name, e.g. `Conv2DBackpropFilter`. */
    readonly kernel: string,
    message: string
  ) {
    super(`${kernel} (wasm, @supwalsh/engine): ${message}`);
  }
}

/** Normalises anything caught into a message a person can read. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
