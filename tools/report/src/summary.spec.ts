import { describe, expect, it } from 'vitest';
import { summarizeRuns, type ArmSummary, type GroupSummary } from './summary.js';
import { experimentFixture, TWO_SEED_RUNS } from './test-fixtures.js';

function arm(group: GroupSummary | undefined, name: string): ArmSummary {
  const found = group?.arms.find((a) => a.arm === name);
  if (!found) throw new Error(`no arm ${name}`);
  return found;
}

describe('summarizeRuns', () => {
  it('gives the hand-computed means, sample standard deviations and changes of a 2-seed, 2-arm experiment', () => {
    const summary = summarizeRuns(experimentFixture(TWO_SEED_RUNS));
    expect(summary.groups).toHaveLength(1);
    const group = summary.groups[0]!;
    expect(group).toMatchObject({ dataset: 'mnist', model: 'base', firstEpoch: 1, lastEpoch: 3 });
    expect(group.without).toBe('without');
    expect(group.with).toBe('sup-walsh');
    expect(group.arms.map((a) => a.arm)).toEqual(['without', 'sup-walsh']);

    const without = arm(group, 'without');
    const withSw = arm(group, 'sup-walsh');
    expect(without.seeds).toEqual([0, 1]);
    // Training accuracy, epoch 1: without 80, 78; with 85, 84.
    expect(without.figures.trainFirst!.mean).toBeCloseTo(79, 10);
    expect(without.figures.trainFirst!.std).toBeCloseTo(Math.SQRT2, 10);
    expect(withSw.figures.trainFirst!.mean).toBeCloseTo(84.5, 10);
    expect(withSw.figures.trainFirst!.std).toBeCloseTo(Math.SQRT1_2, 10);
    // Last epoch (3): without 95, 93; with 96, 97.
    expect(without.figures.trainLast!.mean).toBeCloseTo(94, 10);
    expect(withSw.figures.trainLast!.mean).toBeCloseTo(96.5, 10);
    // Test accuracy: epoch 1 without 82, 80 / with 86, 85; epoch 3 without 96, 94 / with 97, 96.
    expect(without.figures.testFirst!.mean).toBeCloseTo(81, 10);
    expect(withSw.figures.testFirst!.mean).toBeCloseTo(85.5, 10);
    expect(without.figures.testLast!.mean).toBeCloseTo(95, 10);
    expect(withSw.figures.testLast!.mean).toBeCloseTo(96.5, 10);
    expect(withSw.figures.testLast!.n).toBe(2);

    // Paired by seed: train epoch 1 differences 5 and 6 → mean 5.5, sd √½, t = 5.5 / (√½ / √2) = 11, df 1.
    const trainFirst = group.comparisons.find((c) => c.arm === 'sup-walsh' && c.figure === 'trainFirst')!;
    expect(trainFirst.seeds).toEqual([0, 1]);
    expect(trainFirst.meanDifference).toBeCloseTo(5.5, 10);
    expect(trainFirst.test!.stdDifference).toBeCloseTo(Math.SQRT1_2, 10);
    expect(trainFirst.test!.t).toBeCloseTo(11, 8);
    expect(trainFirst.test!.df).toBe(1);
    expect(trainFirst.test!.p).toBeCloseTo((2 / Math.PI) * Math.atan(1 / 11), 8);
    // Test epoch 3 differences 1 and 2 → t = 3.
    const testLast = group.comparisons.find((c) => c.figure === 'testLast')!;
    expect(testLast.meanDifference).toBeCloseTo(1.5, 10);
    expect(testLast.test!.t).toBeCloseTo(3, 8);
    expect(group.comparisons).toHaveLength(4);
  });

  it('compares at the first and last epoch every succeeded run of the group reached, whatever their order', () => {
    const summary = summarizeRuns(
      experimentFixture([
        { arm: 'without', train: [0.5, 0.6, 0.7], test: [0.55, 0.65, 0.75] },
        // Epochs listed out of order: epoch 3 first.
        { arm: 'sup-walsh', train: [0.8, 0.6, 0.7], test: [0.85, 0.65, 0.75], epochNumbers: [3, 1, 2] },
        // Ran five epochs: its epoch 3 is used, not epoch 5.
        { arm: 'he', train: [0.1, 0.2, 0.3, 0.4, 0.5], test: [0.11, 0.21, 0.31, 0.41, 0.51] },
        { arm: 'without', dataset: 'fashion-mnist', train: [0.4, 0.5, 0.6, 0.65], test: [0.4, 0.5, 0.6, 0.66] },
      ])
    );
    const [mnist, fashion] = summary.groups;
    expect(mnist).toMatchObject({ firstEpoch: 1, lastEpoch: 3 });
    expect(arm(mnist, 'sup-walsh').figures.trainFirst!.mean).toBeCloseTo(60, 10);
    expect(arm(mnist, 'sup-walsh').figures.trainLast!.mean).toBeCloseTo(80, 10);
    expect(arm(mnist, 'he').figures.trainLast!.mean).toBeCloseTo(30, 10);
    expect(arm(mnist, 'he').figures.testLast!.mean).toBeCloseTo(31, 10);
    // The per-epoch table still shows all five epochs of `he`.
    expect(arm(mnist, 'he').testAccuracyByEpoch.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(fashion).toMatchObject({ dataset: 'fashion-mnist', firstEpoch: 1, lastEpoch: 4 });
    expect(arm(fashion, 'without').figures.testLast!.mean).toBeCloseTo(66, 10);
  });

  it('leaves failed and cancelled runs out of every number and lists them', () => {
    const summary = summarizeRuns(
      experimentFixture([
        ...TWO_SEED_RUNS,
        { arm: 'sup-walsh', seed: 2, status: 'failed', error: 'worker 1 lost', train: [0.1], test: [0.1] },
        { arm: 'zero', seed: 0, status: 'cancelled' },
      ])
    );
    expect(summary.excluded).toEqual([
      { runId: 'mnist/base/sup-walsh/seed-2', status: 'failed', error: 'worker 1 lost' },
      { runId: 'mnist/base/zero/seed-0', status: 'cancelled' },
    ]);
    const group = summary.groups[0]!;
    expect(group.lastEpoch).toBe(3);
    expect(group.arms.map((a) => a.arm)).toEqual(['without', 'sup-walsh']);
    expect(arm(group, 'sup-walsh').seeds).toEqual([0, 1]);
    expect(arm(group, 'sup-walsh').figures.trainFirst!.mean).toBeCloseTo(84.5, 10);
    expect(summary.pretraining.map((p) => p.runId)).toEqual([
      'mnist/base/sup-walsh/seed-0',
      'mnist/base/sup-walsh/seed-1',
    ]);
  });

  it('pairs only seeds both arms have and skips the t-test below two pairs', () => {
    const summary = summarizeRuns(
      experimentFixture([
        { arm: 'without', seed: 0, train: [0.5], test: [0.5] },
        { arm: 'without', seed: 1, train: [0.6], test: [0.6] },
        { arm: 'xavier', seed: 1, train: [0.7], test: [0.65] },
        { arm: 'xavier', seed: 5, train: [0.9], test: [0.9] },
      ])
    );
    const comparison = summary.groups[0]!.comparisons.find((c) => c.figure === 'trainFirst')!;
    expect(comparison.seeds).toEqual([1]);
    expect(comparison.meanDifference).toBeCloseTo(10, 10);
    expect(comparison.test).toBeUndefined();
    expect(arm(summary.groups[0], 'xavier').figures.trainFirst!.std).toBeCloseTo(Math.SQRT2 * 10, 10);
  });

  it('orders arms without, sup-walsh, then as they first appear, and adds epoch 0 when every seed has it', () => {
    const initial = { testLoss: 2.3, testAccuracy: 0.1 };
    const summary = summarizeRuns(
      experimentFixture([
        { arm: 'zero', train: [0.1], test: [0.1], initial },
        { arm: 'sup-walsh', train: [0.9], test: [0.9], initial: { testLoss: 1, testAccuracy: 0.6 } },
        { arm: 'without', train: [0.8], test: [0.8], initial },
        { arm: 'he', train: [0.85], test: [0.85] },
      ])
    );
    const group = summary.groups[0]!;
    expect(group.arms.map((a) => a.arm)).toEqual(['without', 'sup-walsh', 'zero', 'he']);
    expect(arm(group, 'sup-walsh').testAccuracyByEpoch).toEqual([
      { epoch: 0, mean: 60, std: NaN, n: 1 },
      { epoch: 1, mean: 90, std: NaN, n: 1 },
    ]);
    expect(arm(group, 'he').testAccuracyByEpoch.map((e) => e.epoch)).toEqual([1]);
    expect(summary.pretraining[0]).toMatchObject({ steps: 50, selectedStep: 47, tsneShare: 0.75, incompleteGroups: 0 });
  });

  it('leaves test figures out when the epoch was not evaluated', () => {
    const summary = summarizeRuns(experimentFixture([{ arm: 'without', train: [0.5, 0.6], test: [undefined, 0.7] }]));
    const without = arm(summary.groups[0], 'without');
    expect(without.figures.testFirst).toBeUndefined();
    expect(without.figures.testLast!.mean).toBeCloseTo(70, 10);
    expect(summary.groups[0]!.comparisons).toEqual([]);
  });
});
