import { fileURLToPath } from 'node:url';
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildMit, type MitConfig } from '../architectures/mit-b0.js';
import { initializeModel } from '../init/initialize-model.js';
import { ModelGraph } from '../model-graph.js';

/** libs/models/fixtures (written by generate_mit_fixtures.py). */
export const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** The tiny Mix Transformer of fixtures/mit-tiny/config.json, in our terms. */
export const TINY_MIT: MitConfig = {
  stages: [
    { dim: 4, depth: 1, heads: 1, reduction: 4, kernel: 7, stride: 4, mlpRatio: 2 },
    { dim: 8, depth: 2, heads: 2, reduction: 2, kernel: 3, stride: 2, mlpRatio: 2 },
    { dim: 12, depth: 1, heads: 3, reduction: 2, kernel: 3, stride: 2, mlpRatio: 2 },
    { dim: 16, depth: 1, heads: 4, reduction: 1, kernel: 3, stride: 2, mlpRatio: 2 },
  ],
  dropPathRate: 0.1,
};

/** A Mix Transformer with `config`, initialized as MiT-b0's "without" arm (fresh patch_embed1 and head). */
export function buildTinyMit(
  config: MitConfig = TINY_MIT,
  inputShape: [number, number, number] = [32, 32, 1],
  numClasses = 3,
  seed = 1
): tfl.LayersModel {
  const g = new ModelGraph('mit-tiny', false, seed);
  const model = g.finish(buildMit(g, g.input(inputShape), numClasses, config));
  if (!model) throw new Error('buildTinyMit: no model');
  initializeModel(model, 'pytorch-default', { architecture: 'mit-b0', seed });
  return model;
}

/** A safetensors file (F32 tensors), written independently of the reader: header padded to 8 bytes like the library. */
export function encodeSafetensors(
  tensors: Record<string, { shape: readonly number[]; data: Float32Array }>
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  let at = 8 + text.length;
  for (const t of Object.values(tensors)) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i]!, true);
    at += 4 * t.data.length;
  }
  return out;
}
