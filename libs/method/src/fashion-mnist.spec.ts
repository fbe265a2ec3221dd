import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deriveSeed } from '@supwalsh/engine';
import { buildModel } from '@supwalsh/models';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { runExperiment, type ExperimentResult, type MethodEvent, type RunResult } from './index.js';

/** Debian's dataset-fashion-mnist package (installed by .ci/run). */
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-method-'));

describe.skipIf(lacks('fashion-mnist'))('the whole method on real Fashion-MNIST (a CI-sized subset)', () => {
  afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  let result: ExperimentResult;
  const events: MethodEvent[] = [];
  const initial = new Map<string, Float32Array[]>();

  it('runs both arms of the Base model with preset seed and streams their progress', { timeout: 300_000 }, async () => {
    const run = runExperiment(
      {
        name: 'ci-fashion-base',
        preset: 'seed',
        datasets: [{ kind: 'fashion-mnist', trainSubset: 2000, testSubset: 500 }],
        models: [{ kind: 'base' }],
        arms: [{ initializer: 'pytorch-default' }, { initializer: 'sup-walsh' }],
        pretraining: { epochs: 1 },
        training: { epochs: 2 },
        backend: 'wasm',
        outputs: { progressEverySteps: 20 },
      },
      {
        cacheDir,
        onModel: (model, stage, runId) => {
          if (stage === 'initial')
            initial.set(
              runId,
              model.getWeights().map((w) => Float32Array.from(w.dataSync()))
            );
        },
      }
    );
    for await (const event of run.events) events.push(event);
    result = await run.result;
    expect(result.runs.map((r) => [r.runId, r.status, r.error])).toEqual([
      ['fashion-mnist/base/without/seed-0', 'succeeded', undefined],
      ['fashion-mnist/base/sup-walsh/seed-0', 'succeeded', undefined],
    ]);
    expect(events[0]?.type).toBe('experiment-started');
    expect(events.at(-1)?.type).toBe('experiment-finished');
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(4);
    expect(events.some((e) => e.type === 'step' && e.phase === 'pretraining')).toBe(true);
  });

  it('records finite, falling losses and accuracies above chance for both arms', () => {
    for (const run of result.runs) {
      const [first, last] = [run.epochs[0], run.epochs[1]] as [RunResult['epochs'][0], RunResult['epochs'][0]];
      expect(run.trainLossPerStep.every(Number.isFinite)).toBe(true);
      expect(run.trainLossPerStep).toHaveLength(2 * Math.ceil(2000 / 32));
      expect(last.trainLoss).toBeLessThan(first.trainLoss);
      for (const e of run.epochs) {
        expect(e.trainAccuracy).toBeGreaterThan(0.2); // chance is 0.1
        expect(e.testAccuracy).toBeGreaterThan(0.2);
        expect(Number.isFinite(e.testLoss)).toBe(true);
      }
    }
    const pre = result.runs[1]?.pretraining;
    expect(pre?.steps).toBe(10); // 2000 samples / 200 per class group
    expect(pre?.lossPerStep.every(Number.isFinite)).toBe(true);
    expect(pre?.selectedLoss).toBe(Math.min(...(pre?.lossPerStep ?? [])));
    expect(pre?.embeddings[0]?.points).toHaveLength(10);
    expect(pre?.tsneSeconds).toBeGreaterThan(0);
  });

  it('changes only the classifier the pretraining trained, by no more than Adam can move it', () => {
    const fresh = buildModel('base', { inputShape: [64, 64, 1], seed: deriveSeed(0, 'classifier') });
    const freshWeights = fresh.getWeights().map((w) => Float32Array.from(w.dataSync()));
    fresh.dispose();
    const without = initial.get('fashion-mnist/base/without/seed-0') as Float32Array[];
    const withWalsh = initial.get('fashion-mnist/base/sup-walsh/seed-0') as Float32Array[];
    // The arms start from the same base weights: "without" is exactly the fresh initialization.
    expect(without).toEqual(freshWeights);
    expect(withWalsh.map((w) => w.length)).toEqual(freshWeights.map((w) => w.length));
    const pre = result.runs[1]?.pretraining;
    const bound = 3.2 * 3e-5 * ((pre?.selectedStep ?? 0) + 1); // |Adam step| ≤ lr·(1-β1)/√(1-β2) per step
    withWalsh.forEach((w, i) => {
      const f = freshWeights[i] as Float32Array;
      let changed = 0;
      let maxDelta = 0;
      w.forEach((v, j) => {
        const d = Math.abs(v - (f[j] as number));
        if (d > 0) changed++;
        maxDelta = Math.max(maxDelta, d);
      });
      expect(changed, `tensor ${i}`).toBeGreaterThan(0);
      expect(maxDelta, `tensor ${i}`).toBeLessThanOrEqual(bound);
    });
    expect(tf.memory().numTensors).toBeLessThan(50);
  });
});
