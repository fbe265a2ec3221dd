import { initEngine } from '@supwalsh/engine';
import { walshCodes } from '@supwalsh/walsh';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuxiliaryNetwork } from './aux-net.js';

/** x · K + b for one row, in float64. */
function dense(x: number[], kernel: Float32Array, bias: Float32Array): number[] {
  const out = Array.from(bias, Number);
  for (let i = 0; i < x.length; i++) {
    for (let j = 0; j < out.length; j++)
      out[j] = (out[j] as number) + (x[i] as number) * (kernel[i * out.length + j] as number);
  }
  return out;
}

describe('createAuxiliaryNetwork', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
  });

  it("has the original's layers: Linear 2→4→8→16, the code product, Linear 16→H·W·C", () => {
    const aux = createAuxiliaryNetwork({ imageShape: [8, 8, 1], numClasses: 10, seed: 1 });
    const shapes = aux.model.trainableWeights.map((w) => w.shape);
    expect(shapes).toEqual([[2, 4], [4], [4, 8], [8], [8, 16], [16], [16, 64], [64]]);
    expect(aux.codes).toEqual(walshCodes(10, { ordering: 'seed', length: 16 }));
    aux.model.dispose();
  });

  it('maps a point through its class code to an image, as the matrix products say', () => {
    const aux = createAuxiliaryNetwork({ imageShape: [4, 4, 2], numClasses: 10, seed: 7 });
    const weights = aux.model.getWeights().map((w) => w.dataSync() as Float32Array);
    const point = [0.7, -1.3];
    const cls = 3;
    let h = point;
    for (let layer = 0; layer < 3; layer++)
      h = dense(h, weights[2 * layer] as Float32Array, weights[2 * layer + 1] as Float32Array);
    const code = aux.codes[cls] as Int8Array;
    const want = dense(
      h.map((v, i) => v * (code[i] as number)),
      weights[6] as Float32Array,
      weights[7] as Float32Array
    );
    const codes = aux.codeTensor([cls]);
    const points = tf.tensor2d([point]);
    const image = aux.model.predict([points, codes]) as tf.Tensor;
    expect(image.shape).toEqual([1, 4, 4, 2]);
    Array.from(image.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i] as number, 5));
    tf.dispose([codes, points, image]);
    aux.model.dispose();
  });

  it('gives every class a distinct ±1 code tensor row', () => {
    const aux = createAuxiliaryNetwork({ imageShape: [8, 8, 1], numClasses: 10, seed: 0, walshOrdering: 'sequency' });
    const t = aux.codeTensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const rows = (t.arraySync() as number[][]).map((r) => r.join(','));
    expect(new Set(rows).size).toBe(10);
    expect(rows.every((r) => r.split(',').every((v) => v === '1' || v === '-1'))).toBe(true);
    t.dispose();
    aux.model.dispose();
  });

  it('places activations and normalization after each hidden layer when asked', () => {
    const aux = createAuxiliaryNetwork({
      imageShape: [8, 8, 1],
      numClasses: 10,
      seed: 0,
      widths: [4, 16],
      activation: 'tanh',
      normalization: 'layer',
    });
    const names = aux.model.layers.map((l) => l.name).filter((n) => n.startsWith('aux_'));
    expect(names).toEqual([
      'aux_linear_1',
      'aux_norm_1',
      'aux_act_1',
      'aux_linear_2',
      'aux_norm_2',
      'aux_act_2',
      'aux_walsh_product',
      'aux_to_image',
      'aux_image',
    ]);
    aux.model.dispose();
  });
});
