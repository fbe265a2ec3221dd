import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { saveTfjsModel } from '@supwalsh/engine';
import type * as tfl from '@tensorflow/tfjs-layers';

/** A model in TF.js format, as the bytes of its two files. */
export interface TfjsModelFiles {
  /** `model.json`: topology and weights manifest (naming `weights.bin`). */
  readonly modelJson: Uint8Array;
  /** `weights.bin`: every weight, in the manifest's order. */
  readonly weights: Uint8Array;
}

/**
 * Serializes `model` through @supwalsh/engine's `saveTfjsModel` (so the files are exactly what `loadTfjsModel`
 * and `tfjsFileHandler` read back) into a temporary directory under `tmpDir`, and returns their bytes.
 */
export async function tfjsModelFiles(model: tfl.LayersModel, tmpDir: string = os.tmpdir()): Promise<TfjsModelFiles> {
  const dir = await mkdtemp(path.join(tmpDir, 'supwalsh-model-'));
  try {
    const files = await saveTfjsModel(model, dir);
    const [modelJson, weights] = await Promise.all([readFile(files.modelJson), readFile(files.weights)]);
    return { modelJson, weights };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
