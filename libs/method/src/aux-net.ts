import { initializeModel } from '@supwalsh/models';
import { walshCodes } from '@supwalsh/walsh';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MethodArgumentError } from './errors.js';
import type { AuxActivation, AuxNormalization, WalshOrderingName } from './spec.js';

export interface AuxiliaryNetworkOptions {
  /** Hidden widths; the last is the Walsh code length. @default [4, 8, 16] (the original) */
  widths?: readonly number[];
  /** After each hidden layer. @default 'none' (the original) */
  activation?: AuxActivation;
  /** After each hidden layer. @default 'none' (the original declares BatchNorm layers but never applies them) */
  normalization?: AuxNormalization;
  /** The classifier's input `[height, width, channels]` the network produces. */
  imageShape: readonly [number, number, number];
  numClasses: number;
  /** @default 'seed' (the original's table) */
  walshOrdering?: WalshOrderingName;
  /** Seed of the PyTorch-default initialization of its Linear layers. */
  seed: number;
}

/** The auxiliary network and the Walsh code of every class. */
export interface AuxiliaryNetwork {
  /** Inputs `[points [k, 2], codes [k, L]]`, output images `[k, height, width, channels]`. */
  readonly model: tfl.LayersModel;
  /** `codes[c]` is class c's ±1 code (length L). */
  readonly codes: readonly Int8Array[];
  /** The codes of `classes` as a `[classes.length, L]` float tensor (caller disposes). */
  codeTensor(classes: ArrayLike<number>): tf.Tensor2D;
}

/**
 * The original's auxiliary network: Linear 2 → 4 → 8 → 16 on a t-SNE point, an element-wise product with the
 * point's class code, then Linear 16 → H·W·C reshaped to an image the classifier takes. Activations and
 * normalization between the hidden layers are options (none by default, as the original).
 */
export function createAuxiliaryNetwork(options: AuxiliaryNetworkOptions): AuxiliaryNetwork {
  const fn = 'createAuxiliaryNetwork';
  const widths = options.widths ?? [4, 8, 16];
  if (widths.length === 0 || !widths.every((w) => Number.isInteger(w) && w >= 1)) {
    throw new MethodArgumentError(fn, 'options.widths', `must be positive integers, got [${widths.join(', ')}]`);
  }
  const codeLength = widths[widths.length - 1] as number;
  const codes = walshCodes(options.numClasses, { ordering: options.walshOrdering ?? 'seed', length: codeLength });
  const [h, w, c] = options.imageShape;

  const points = tfl.input({ shape: [2], name: 'points' });
  const code = tfl.input({ shape: [codeLength], name: 'walsh_code' });
  let x: tfl.SymbolicTensor = points;
  widths.forEach((width, i) => {
    x = tfl.layers.dense({ units: width, name: `aux_linear_${i + 1}` }).apply(x) as tfl.SymbolicTensor;
    if (options.normalization === 'layer') {
      x = tfl.layers.layerNormalization({ name: `aux_norm_${i + 1}` }).apply(x) as tfl.SymbolicTensor;
    } else if (options.normalization === 'batch') {
      x = tfl.layers.batchNormalization({ name: `aux_norm_${i + 1}` }).apply(x) as tfl.SymbolicTensor;
    }
    if (options.activation !== undefined && options.activation !== 'none') {
      x = tfl.layers
        .activation({ activation: options.activation, name: `aux_act_${i + 1}` })
        .apply(x) as tfl.SymbolicTensor;
    }
  });
  x = tfl.layers.multiply({ name: 'aux_walsh_product' }).apply([x, code]) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: h * w * c, name: 'aux_to_image' }).apply(x) as tfl.SymbolicTensor;
  const image = tfl.layers.reshape({ targetShape: [h, w, c], name: 'aux_image' }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: [points, code], outputs: image, name: 'sup_walsh_aux' });
  initializeModel(model, 'pytorch-default', { seed: options.seed });

  return {
    model,
    codes,
    codeTensor(classes) {
      const out = new Float32Array(classes.length * codeLength);
      for (let i = 0; i < classes.length; i++) out.set(codes[classes[i] as number] as Int8Array, i * codeLength);
      return tf.tensor2d(out, [classes.length, codeLength]);
    },
  };
}
