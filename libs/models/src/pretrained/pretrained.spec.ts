import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../build-model.js';
import { ModelArgumentError, PretrainedWeightsError } from '../errors.js';
import { applyPretrainedWeights, loadPretrainedWeights } from './load-pretrained.js';
import { buildTinyMit, encodeSafetensors, FIXTURES } from './pretrained.spec-helpers.js';
import { decodeTensor, parseSafetensors, type SafetensorsFile } from './safetensors.js';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const TINY_DIR = join(FIXTURES, 'mit-tiny');
const tinyConfig = () => JSON.parse(readFileSync(join(TINY_DIR, 'config.json'), 'utf-8')) as Record<string, unknown>;
const tinyBytes = () => new Uint8Array(readFileSync(join(TINY_DIR, 'model.safetensors')));

/** Every tensor of a parsed file, decoded. */
function tensorsOf(file: SafetensorsFile): Record<string, { shape: number[]; data: Float32Array }> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const e of file.entries.values()) out[e.name] = { shape: [...e.shape], data: decodeTensor(file, e) };
  return out;
}

function weightOf(model: tfl.LayersModel, layer: string, weight: string): Float32Array {
  const w = model.getLayer(layer).weights.find((v) => v.originalName === `${layer}/${weight}`);
  if (!w) throw new Error(`no ${layer}/${weight}`);
  return w.read().dataSync() as Float32Array;
}

function snapshot(model: tfl.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

function errorOf(f: () => unknown): PretrainedWeightsError {
  try {
    f();
  } catch (e: unknown) {
    if (e instanceof PretrainedWeightsError) return e;
    throw e;
  }
  throw new Error('expected a PretrainedWeightsError');
}

describe('loadPretrainedWeights on a Hugging Face-layout checkpoint written by PyTorch', () => {
  it('reproduces the PyTorch model’s logits when every layer is loaded (transposes and fused kv included)', async () => {
    const model = buildTinyMit();
    const report = await loadPretrainedWeights(model, TINY_DIR, { keepFresh: [] });
    expect(report.keptFresh).toEqual([]);
    expect(report.ignored).toEqual([]);
    expect(report.dtypes).toEqual({ F32: 132 });
    const reference = parseSafetensors(new Uint8Array(readFileSync(join(TINY_DIR, 'reference.safetensors'))), 'ref');
    const { input, logits } = tensorsOf(reference);
    const x = tf.transpose(tf.tensor(input!.data, input!.shape), [0, 2, 3, 1]); // NCHW → NHWC
    const y = model.predict(x) as tf.Tensor;
    expect(y.shape).toEqual(logits!.shape);
    const got = y.dataSync();
    const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - logits!.data[i]!)));
    expect(worst).toBeLessThan(1e-4 * Math.max(1, ...Array.from(logits!.data, Math.abs)));
    tf.dispose([x, y]);
    model.dispose();
  });

  it('keeps patch_embed1.proj and head fresh by default and puts every other tensor in its layer', () => {
    const model = buildTinyMit();
    const fresh = { proj: weightOf(model, 'patch_embed1.proj', 'kernel'), head: weightOf(model, 'head', 'kernel') };
    const report = applyPretrainedWeights(model, { config: tinyConfig(), safetensors: tinyBytes() });
    expect(report.keptFresh).toEqual(['patch_embed1.proj', 'head']);
    expect(report.ignored.sort()).toEqual([
      'classifier.bias',
      'classifier.weight',
      'segformer.encoder.patch_embeddings.0.proj.bias',
      'segformer.encoder.patch_embeddings.0.proj.weight',
    ]);
    expect(Array.from(weightOf(model, 'patch_embed1.proj', 'kernel'))).toEqual(Array.from(fresh.proj));
    expect(Array.from(weightOf(model, 'head', 'kernel'))).toEqual(Array.from(fresh.head));
    const loadedLayers = report.loaded.map((l) => l.layer);
    expect(loadedLayers).not.toContain('patch_embed1.proj');
    expect(loadedLayers).toContain('block2.1.attn.kv');
    expect(report.loaded.reduce((n, l) => n + l.from.length, 0)).toBe(132 - 4);

    const hf = tensorsOf(parseSafetensors(tinyBytes(), 'tiny'));
    const P = 'segformer.encoder.';
    // Fused kv of block2.1 (8 channels): kernel[i][j] = key[j][i] for j < 8, value[j − 8][i] after.
    const kv = weightOf(model, 'block2.1.attn.kv', 'kernel');
    const key = hf[`${P}block.1.1.attention.self.key.weight`]!.data;
    const value = hf[`${P}block.1.1.attention.self.value.weight`]!.data;
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 16; j++) expect(kv[i * 16 + j]).toBe(j < 8 ? key[j * 8 + i] : value[(j - 8) * 8 + i]);
    const kvBias = weightOf(model, 'block2.1.attn.kv', 'bias');
    expect(Array.from(kvBias)).toEqual([
      ...hf[`${P}block.1.1.attention.self.key.bias`]!.data,
      ...hf[`${P}block.1.1.attention.self.value.bias`]!.data,
    ]);
    // Conv [out, in, kh, kw] → [kh, kw, in, out]: patch_embed2.proj is 3 × 3, 4 → 8.
    const conv = weightOf(model, 'patch_embed2.proj', 'kernel');
    const torchConv = hf[`${P}patch_embeddings.1.proj.weight`]!.data;
    for (let o = 0; o < 8; o++)
      for (let c = 0; c < 4; c++)
        for (let r = 0; r < 3; r++)
          for (let s = 0; s < 3; s++)
            expect(conv[((r * 3 + s) * 4 + c) * 8 + o]).toBe(torchConv[((o * 4 + c) * 3 + r) * 3 + s]);
    // Depthwise [c, 1, kh, kw] → [kh, kw, c, 1]: block3.0's Mix-FFN has 24 channels.
    const dw = weightOf(model, 'block3.0.mlp.dwconv.dwconv', 'depthwise_kernel');
    const torchDw = hf[`${P}block.2.0.mlp.dwconv.dwconv.weight`]!.data;
    for (let c = 0; c < 24; c++)
      for (let r = 0; r < 3; r++)
        for (let s = 0; s < 3; s++) expect(dw[(r * 3 + s) * 24 + c]).toBe(torchDw[c * 9 + r * 3 + s]);
    // Linear [out, in] → [in, out], LayerNorm weight/bias as stored.
    const fc2 = weightOf(model, 'block4.0.mlp.fc2', 'kernel');
    const torchFc2 = hf[`${P}block.3.0.mlp.dense2.weight`]!.data; // [16, 32]
    for (let o = 0; o < 16; o++) for (let i = 0; i < 32; i++) expect(fc2[i * 16 + o]).toBe(torchFc2[o * 32 + i]);
    expect(Array.from(weightOf(model, 'norm3', 'gamma'))).toEqual(Array.from(hf[`${P}layer_norm.2.weight`]!.data));
    expect(Array.from(weightOf(model, 'block1.0.attn.norm', 'beta'))).toEqual(
      Array.from(hf[`${P}block.0.0.attention.self.layer_norm.bias`]!.data)
    );
    model.dispose();
  });

  it('loads a checkpoint with nvidia/mit-b0’s exact tensor names and shapes into buildModel("mit-b0")', () => {
    const layout = JSON.parse(readFileSync(join(FIXTURES, 'mit-b0-layout.json'), 'utf-8')) as {
      config: Record<string, unknown>;
      tensors: [string, number[]][];
    };
    expect(layout.tensors).toHaveLength(194);
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, [name, shape]] of layout.tensors.entries()) {
      const size = shape.reduce((a, b) => a * b, 1);
      tensors[name] = { shape, data: Float32Array.from({ length: size }, (_, i) => k + i / size) };
    }
    const model = buildModel('mit-b0', { seed: 3 });
    const head = weightOf(model, 'head', 'kernel');
    const report = applyPretrainedWeights(model, { config: layout.config, safetensors: encodeSafetensors(tensors) });
    expect(report.loaded).toHaveLength(87);
    expect(report.loaded.reduce((n, l) => n + l.from.length, 0)).toBe(190);
    expect(report.ignored).toHaveLength(4); // patch_embeddings.0.proj [32, 3, 7, 7] and classifier [1000, 256]
    expect(report.hyperParameters.hidden_sizes).toEqual([32, 64, 160, 256]);
    expect(Array.from(weightOf(model, 'head', 'kernel'))).toEqual(Array.from(head));
    const kvBias = weightOf(model, 'block4.1.attn.kv', 'bias');
    expect(Array.from(kvBias)).toEqual([
      ...tensors['segformer.encoder.block.3.1.attention.self.key.bias']!.data,
      ...tensors['segformer.encoder.block.3.1.attention.self.value.bias']!.data,
    ]);
    model.dispose();
  });
});

describe('loadPretrainedWeights rejections', () => {
  it('names every missing, unexpected and misshapen tensor, and changes nothing', () => {
    const model = buildTinyMit();
    const before = snapshot(model);
    const hf = tensorsOf(parseSafetensors(tinyBytes(), 'tiny'));
    delete hf['segformer.encoder.block.1.0.attention.self.key.weight'];
    hf['segformer.encoder.block.9.0.extra.weight'] = { shape: [2], data: new Float32Array(2) };
    hf['segformer.encoder.layer_norm.3.bias'] = { shape: [15], data: new Float32Array(15) };
    const error = errorOf(() =>
      applyPretrainedWeights(model, { config: tinyConfig(), safetensors: encodeSafetensors(hf) })
    );
    expect([...error.problems].sort()).toEqual([
      'missing tensor segformer.encoder.block.1.0.attention.self.key.weight [8, 8] (for block2.0.attn.kv/kernel)',
      'tensor segformer.encoder.layer_norm.3.bias has shape [15], norm4/beta needs [16]',
      'unexpected tensor segformer.encoder.block.9.0.extra.weight (no layer of the model)',
    ]);
    expect(error.message).toMatch(/^loadPretrainedWeights: checkpoint: 3 problems:\n {2}- /);
    expect(snapshot(model)).toEqual(before);
    model.dispose();
  });

  it('rejects a config.json that does not describe the model, field by field', () => {
    const model = buildTinyMit();
    const config = {
      ...tinyConfig(),
      depths: [2, 2, 2, 2],
      sr_ratios: undefined,
      hidden_act: 'relu',
      drop_path_rate: 0,
    };
    const error = errorOf(() => applyPretrainedWeights(model, { config, safetensors: tinyBytes() }));
    expect(error.problems).toEqual(
      expect.arrayContaining([
        'config.json depths is [2,2,2,2], the model has [1,2,1,1]',
        // An absent field takes SegformerConfig's default (MiT-b0's), as from_pretrained does.
        'config.json sr_ratios is [8,4,2,1], the model has [4,2,2,1]',
        'config.json drop_path_rate is 0, the model has 0.10000000149011612',
        'config.json hidden_act is "relu", the model uses exact "gelu"',
      ])
    );
    // The tiny checkpoint is also short of the tensors a depth-2 stage would need only if config were right: the
    // config problems come with the tensor comparison, which here agrees with the model.
    expect(error.problems).toHaveLength(4);
    model.dispose();
  });

  it('rejects models that are not Mix Transformers and unknown keepFresh layers', () => {
    const base = buildModel('base', { init: 'zero' });
    expect(() => applyPretrainedWeights(base, { config: tinyConfig(), safetensors: tinyBytes() })).toThrow(
      new ModelArgumentError('loadPretrainedWeights', 'model', 'is not a Mix Transformer (no layer patch_embed1.proj)')
    );
    base.dispose();
    const model = buildTinyMit();
    expect(() =>
      applyPretrainedWeights(model, { config: tinyConfig(), safetensors: tinyBytes() }, { keepFresh: ['classifier'] })
    ).toThrow(/options.keepFresh names classifier, which is not a layer with weights/);
    model.dispose();
  });

  it('names an unreadable directory and malformed safetensors', async () => {
    const model = buildTinyMit();
    await expect(loadPretrainedWeights(model, join(FIXTURES, 'absent'))).rejects.toThrow(
      /absent: 1 problem:\n {2}- cannot read config.json/
    );
    const bytes = tinyBytes();
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    expect(errorOf(() => parseSafetensors(bytes, 'x')).problems).toEqual([
      `header length ${bytes.length} exceeds the ${bytes.length - 8} bytes after it`,
    ]);
    const short = encodeSafetensors({ a: { shape: [2, 3], data: new Float32Array(6) } });
    const text = new TextDecoder().decode(short).replace('"shape":[2,3]', '"shape":[2,4]');
    expect(errorOf(() => parseSafetensors(new TextEncoder().encode(text), 'x')).problems).toEqual([
      'tensor a: 24 bytes for 8 F32 values of shape [2, 4]',
    ]);
    model.dispose();
  });
});

describe('safetensors element types', () => {
  it('widens F16 and BF16 to float32 exactly as torch does', () => {
    const file = parseSafetensors(new Uint8Array(readFileSync(join(FIXTURES, 'dtypes.safetensors'))), 'dtypes');
    const t = tensorsOf(file);
    expect(file.entries.get('f16')!.dtype).toBe('F16');
    expect(file.entries.get('bf16')!.dtype).toBe('BF16');
    expect(file.metadata).toEqual({ format: 'pt' });
    for (const [narrow, wide] of [
      ['f16', 'f16_as_f32'],
      ['bf16', 'bf16_as_f32'],
    ] as const) {
      const got = Array.from(t[narrow]!.data);
      const want = Array.from(t[wide]!.data);
      expect(got.map((v, i) => Object.is(v, want[i]))).toEqual(want.map(() => true));
    }
    // Sanity: the narrow types really round (0.1 is not exact in either) and F16 overflows 1e30 to ∞.
    expect(t['f16']!.data[4]).not.toBe(t['f32']!.data[4]);
    expect(t['f16']!.data[9]).toBe(Infinity);
    expect(t['bf16']!.data[9]).toBeCloseTo(1e30, -27);
  });
});
