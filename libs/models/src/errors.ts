/**
 * Thrown when a function of `@supwalsh/models` gets an argument outside its valid range: an unknown model or
 * initializer name, a malformed input shape, a class count below 1, a missing LSUV data batch.
 */
export class ModelArgumentError extends Error {
  override readonly name: string = 'ModelArgumentError';
  constructor(
    /** The function that rejected the call, e.g. `buildModel`. */
    readonly fn: string,
    /** The argument that was out of range, e.g. `options.inputShape`. */
    readonly argument: string,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(`${fn}: ${argument} ${message}`, options);
  }
}

/**
 * Thrown when an input is too small for a model's downsampling: some layer would produce an empty feature map.
 * Carries the layer that failed and the smallest height/width the model accepts.
 */
export class InputTooSmallError extends ModelArgumentError {
  override readonly name: string = 'InputTooSmallError';
  constructor(
    fn: string,
    /** The model that was being built. */
    readonly model: string,
    /** The requested `[height, width, channels]`. */
    readonly inputShape: readonly number[],
    /** The layer (torchvision module path) whose output would be empty. */
    readonly layer: string,
    /** The output `[height, width]` that layer would have produced. */
    readonly layerOutput: readonly number[],
    /** The smallest height and width the model accepts (each dimension independently), or null when none ≤ 4096 does. */
    readonly minimumSize: number | null
  ) {
    super(
      fn,
      'options.inputShape',
      `[${inputShape.join(', ')}] is too small for ${model}: layer ${layer} would output a ` +
        `${layerOutput.join(' × ')} map; ${model} needs height and width of at least ${minimumSize ?? '(none ≤ 4096)'}`
    );
  }
}

/**
 * Thrown by `loadPretrainedWeights` when a checkpoint cannot be loaded into a model: an unreadable or malformed
 * `config.json` / `model.safetensors`, hyper-parameters that do not describe the model, or tensors that do not match
 * its layers. `problems` lists every one found (missing, unexpected, wrong shape or dtype, config field); the model is
 * left unchanged.
 */
export class PretrainedWeightsError extends Error {
  override readonly name: string = 'PretrainedWeightsError';
  constructor(
    /** The checkpoint directory or file that was being read. */
    readonly source: string,
    /** Each problem, one sentence naming the tensor, layer or config field. */
    readonly problems: readonly string[],
    options?: { cause?: unknown }
  ) {
    super(
      `loadPretrainedWeights: ${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
      options
    );
  }
}
