import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { io } from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { WeightsFormatError } from './errors.js';

/** File names `saveTfjsModel` writes (the layout `tfjs-node`'s `file://` handler and `tensorflowjs_converter` use). */
export const TFJS_MODEL_FILES = { modelJson: 'model.json', weights: 'weights.bin' } as const;

export interface SaveTfjsModelOptions {
  /**
   * Also store the compile settings (`trainingConfig`) and the optimizer's slot weights, so the loaded model is
   * compiled and resumes training where it stopped.
   * @default false
   */
  includeOptimizer?: boolean;
}

/**
 * Writes `model` as TF.js's own format — `dir/model.json` (topology, training config, weights manifest) and
 * `dir/weights.bin` — loadable with `tf.loadLayersModel` (through `tfjsFileHandler(dir)` or `loadTfjsModel`, or with
 * `file://dir/model.json` under tfjs-node). Works on every backend; files are replaced atomically.
 */
export async function saveTfjsModel(
  model: LayersModel,
  dir: string,
  options: SaveTfjsModelOptions = {}
): Promise<{ modelJson: string; weights: string }> {
  await mkdir(dir, { recursive: true });
  const modelJson = path.join(dir, TFJS_MODEL_FILES.modelJson);
  const weights = path.join(dir, TFJS_MODEL_FILES.weights);
  await model.save(
    io.withSaveHandler(async (artifacts) => {
      const weightData =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : io.CompositeArrayBuffer.join(artifacts.weightData);
      const json: io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [TFJS_MODEL_FILES.weights], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeAtomically(weights, new Uint8Array(weightData));
      await writeAtomically(modelJson, JSON.stringify(json));
      return { modelArtifactsInfo: io.getModelArtifactsInfoForJSON(artifacts) };
    }),
    { includeOptimizer: options.includeOptimizer ?? false }
  );
  return { modelJson, weights };
}

/**
 * An `IOHandler` that loads `dir/model.json` and the weight files its manifest names (paths must stay inside
 * `dir`), for `tf.loadLayersModel` without tfjs-node's `file://` scheme.
 */
export function tfjsFileHandler(dir: string): io.IOHandler {
  const root = path.resolve(dir);
  return {
    async load(): Promise<io.ModelArtifacts> {
      const modelJson = JSON.parse(await readFile(path.join(root, TFJS_MODEL_FILES.modelJson), 'utf8')) as io.ModelJSON;
      return io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const relative of group.paths) {
            const file = path.resolve(root, relative);
            if (path.relative(root, file).startsWith('..') || path.isAbsolute(relative)) {
              throw new WeightsFormatError(`tfjsFileHandler: weights path '${relative}' leaves ${root}`);
            }
            const bytes = await readFile(file);
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
          specs.push(...group.weights);
        }
        return [specs, io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/** `tf.loadLayersModel` over `tfjsFileHandler(dir)`. */
export function loadTfjsModel(dir: string, options?: io.LoadOptions): Promise<LayersModel> {
  return loadLayersModel(tfjsFileHandler(dir), options);
}

async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, file);
}
