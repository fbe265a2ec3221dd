import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ModelArgumentError, PretrainedWeightsError } from '../errors.js';
import { REPLACED_LAYERS } from '../init/policies.js';
import {
  hfShapes,
  mitHyperParameters,
  mitWeightSources,
  SEGFORMER_CONFIG_DEFAULTS,
  toOurLayout,
  weightName,
  type MitHyperParameters,
} from './mit-weight-map.js';
import { decodeTensor, parseSafetensors, SAFETENSORS_DTYPES, type SafetensorsFile } from './safetensors.js';

export interface LoadPretrainedOptions {
  /**
   * Our layers that keep their current (fresh) weights; their checkpoint tensors are ignored whatever their shape.
   * @default REPLACED_LAYERS['mit-b0'] (`patch_embed1.proj`, `head`: the layers the original replaces)
   */
  keepFresh?: readonly string[];
}

/** What `loadPretrainedWeights` did. */
export interface PretrainedLoadReport {
  /** The checkpoint directory (or the label passed to `applyPretrainedWeights`). */
  source: string;
  /** Each of our layers that was overwritten, with the checkpoint tensors (full names) it was built from. */
  loaded: { layer: string; from: string[] }[];
  /** Our layers left at their initialization (`keepFresh`). */
  keptFresh: string[];
  /** Checkpoint tensors that were not used: those of the `keepFresh` layers. */
  ignored: string[];
  /** The checkpoint's element types, with tensor counts. */
  dtypes: Record<string, number>;
  /** The hyper-parameters config.json and the model agree on. */
  hyperParameters: MitHyperParameters;
}

/** The checkpoint's config.json fields compared with the model's, as `from_pretrained` reads them (HF defaults). */
function configProblems(config: unknown, ours: MitHyperParameters): string[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    return ['config.json is not a JSON object'];
  }
  const c = config as Record<string, unknown>;
  const problems: string[] = [];
  const field = (key: keyof typeof SEGFORMER_CONFIG_DEFAULTS): unknown => c[key] ?? SEGFORMER_CONFIG_DEFAULTS[key];
  if (c['model_type'] !== 'segformer') {
    problems.push(`config.json model_type is ${JSON.stringify(c['model_type'])}, expected "segformer"`);
  }
  for (const key of Object.keys(ours) as (keyof MitHyperParameters)[]) {
    const theirs = field(key);
    const mine = ours[key];
    const same =
      key === 'drop_path_rate'
        ? typeof theirs === 'number' && Math.abs(theirs - (mine as number)) <= 1e-6
        : JSON.stringify(theirs) === JSON.stringify(mine);
    if (!same) problems.push(`config.json ${key} is ${JSON.stringify(theirs)}, the model has ${JSON.stringify(mine)}`);
  }
  if (field('hidden_act') !== 'gelu') {
    problems.push(`config.json hidden_act is ${JSON.stringify(field('hidden_act'))}, the model uses exact "gelu"`);
  }
  for (const key of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const) {
    if (field(key) !== 0) problems.push(`config.json ${key} is ${JSON.stringify(field(key))}, the model has none (0)`);
  }
  return problems;
}

/**
 * Loads Hugging Face SegFormer/MiT weights (a parsed config.json and the bytes of model.safetensors) into a Mix
 * Transformer built by `buildModel('mit-b0')`; see `loadPretrainedWeights`. `source` names the checkpoint in errors.
 */
export function applyPretrainedWeights(
  model: tfl.LayersModel,
  checkpoint: { config: unknown; safetensors: Uint8Array },
  options: LoadPretrainedOptions = {},
  source = 'checkpoint'
): PretrainedLoadReport {
  const fn = 'loadPretrainedWeights';
  const keepFresh = options.keepFresh ?? REPLACED_LAYERS['mit-b0'];
  const ours = mitHyperParameters(model);
  if (!ours) throw new ModelArgumentError(fn, 'model', `is not a Mix Transformer (no layer patch_embed1.proj)`);
  for (const name of keepFresh) {
    if (!model.layers.some((l) => l.name === name && l.weights.length > 0)) {
      throw new ModelArgumentError(fn, 'options.keepFresh', `names ${name}, which is not a layer with weights`);
    }
  }
  const { sources, unmapped } = mitWeightSources(model);
  if (unmapped.length > 0) {
    throw new ModelArgumentError(fn, 'model', `has weights without a SegFormer counterpart: ${unmapped.join(', ')}`);
  }
  const file: SafetensorsFile = parseSafetensors(checkpoint.safetensors, source);
  const names = [...file.entries.keys()];
  // SegformerForImageClassification's tensors start with `segformer.` (the head is `classifier.*`); SegformerModel's don't.
  const prefixed = names.some((n) => n.startsWith('segformer.'));
  const full = (hfName: string) =>
    prefixed && hfName !== 'classifier.weight' && hfName !== 'classifier.bias' ? `segformer.${hfName}` : hfName;

  const problems = configProblems(checkpoint.config, ours);
  const claimed = new Set<string>();
  const ignored: string[] = [];
  const plan: { source: (typeof sources)[number]; tensors: string[] }[] = [];
  for (const s of sources) {
    const tensors = s.from.map(full);
    tensors.forEach((t) => claimed.add(t));
    if (keepFresh.includes(s.layer)) {
      ignored.push(...tensors.filter((t) => file.entries.has(t)));
      continue;
    }
    const expected = hfShapes(s);
    for (const [i, t] of tensors.entries()) {
      const entry = file.entries.get(t);
      const want = expected[i] ?? [];
      if (!entry) {
        problems.push(`missing tensor ${t} [${want.join(', ')}] (for ${s.layer}/${s.weight})`);
      } else if (entry.shape.join() !== want.join()) {
        problems.push(
          `tensor ${t} has shape [${entry.shape.join(', ')}], ${s.layer}/${s.weight} needs [${want.join(', ')}]`
        );
      } else if (!(SAFETENSORS_DTYPES as readonly string[]).includes(entry.dtype)) {
        problems.push(`tensor ${t} has dtype ${entry.dtype}; supported: ${SAFETENSORS_DTYPES.join(', ')}`);
      }
    }
    plan.push({ source: s, tensors });
  }
  for (const name of names) if (!claimed.has(name)) problems.push(`unexpected tensor ${name} (no layer of the model)`);
  if (problems.length > 0) throw new PretrainedWeightsError(source, problems);

  // Everything checked: now overwrite, layer by layer, in each layer's own weight order.
  const byLayer = new Map<string, Map<string, Float32Array>>();
  const from = new Map<string, string[]>();
  for (const { source: s, tensors } of plan) {
    const values = tensors.map((t) => decodeTensor(file, file.entries.get(t)!));
    if (!byLayer.has(s.layer)) byLayer.set(s.layer, new Map());
    byLayer.get(s.layer)!.set(s.weight, toOurLayout(s, values));
    from.set(s.layer, [...(from.get(s.layer) ?? []), ...tensors]);
  }
  for (const [name, weights] of byLayer) {
    const layer = model.getLayer(name);
    const values = layer.weights.map((w) => tf.tensor(weights.get(weightName(w))!, w.shape as number[], 'float32'));
    layer.setWeights(values);
    tf.dispose(values);
  }
  const dtypes: Record<string, number> = {};
  for (const e of file.entries.values()) dtypes[e.dtype] = (dtypes[e.dtype] ?? 0) + 1;
  return {
    source,
    loaded: [...from].map(([layer, tensors]) => ({ layer, from: tensors })),
    keptFresh: [...keepFresh],
    ignored,
    dtypes,
    hyperParameters: ours,
  };
}

/**
 * Starts a Mix Transformer from Hugging Face weights, as the original's "nvidia" model starts from
 * `SegformerForImageClassification.from_pretrained("nvidia/mit-b0")`: reads `dir/config.json` and
 * `dir/model.safetensors` (F32, F16 or BF16), checks that config.json describes the model's hyper-parameters, maps
 * every tensor onto our layers (kernels transposed to TF.js layout; `key` and `value` fused into `kv`) with shape
 * checks, and overwrites those layers. The `keepFresh` layers (by default the first patch embedding and the head,
 * which the original replaces by fresh modules) keep their initialization. Any problem — missing, unexpected or
 * misshapen tensors, config fields — throws one `PretrainedWeightsError` listing them all, and changes nothing.
 */
export async function loadPretrainedWeights(
  model: tfl.LayersModel,
  dir: string,
  options: LoadPretrainedOptions = {}
): Promise<PretrainedLoadReport> {
  const read = async (file: string) => {
    try {
      return await readFile(join(dir, file));
    } catch (error: unknown) {
      const hint =
        file === 'model.safetensors' && (await stat(join(dir, 'pytorch_model.bin')).catch(() => null))
          ? ' (the directory has pytorch_model.bin: convert it to model.safetensors, see @supwalsh/models README)'
          : '';
      throw new PretrainedWeightsError(dir, [`cannot read ${file}: ${String(error)}${hint}`], { cause: error });
    }
  };
  const [configText, safetensors] = await Promise.all([read('config.json'), read('model.safetensors')]);
  let config: unknown;
  try {
    config = JSON.parse(configText.toString('utf-8'));
  } catch (error: unknown) {
    throw new PretrainedWeightsError(dir, [`config.json is not valid JSON: ${String(error)}`], { cause: error });
  }
  const bytes = new Uint8Array(safetensors.buffer, safetensors.byteOffset, safetensors.byteLength);
  return applyPretrainedWeights(model, { config, safetensors: bytes }, options, dir);
}
