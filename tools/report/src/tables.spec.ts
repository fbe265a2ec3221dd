import { describe, expect, it } from 'vitest';
import { formatMeanStd, formatP, formatPoints, formatStatistic } from './format.js';
import { summarizeRuns } from './summary.js';
import { markdownTable, textTable } from './table.js';
import { epochTable, formatResultsTable, NEEDS_TWO_SEEDS, originalTable, pairedTable, seedTable } from './tables.js';
import { experimentFixture, TWO_SEED_RUNS } from './test-fixtures.js';

describe('the tables', () => {
  it("lay out the original's table with without, with and the change at the first and last epoch", () => {
    const table = originalTable(summarizeRuns(experimentFixture(TWO_SEED_RUNS)), 'train');
    expect(table.header).toEqual([
      'Dataset',
      'Model',
      'epoch 1: without',
      'epoch 1: with',
      'Δ (pp)',
      'epoch 3: without',
      'epoch 3: with',
      'Δ (pp)',
    ]);
    expect(table.rows).toEqual([['mnist', 'base', '79.00', '84.50', '+5.50', '94.00', '96.50', '+2.50']]);
    const test = originalTable(summarizeRuns(experimentFixture(TWO_SEED_RUNS)), 'test');
    expect(test.rows).toEqual([['mnist', 'base', '81.00', '85.50', '+4.50', '95.00', '96.50', '+1.50']]);
  });

  it('name the epochs per row when the groups ran different numbers of epochs', () => {
    const summary = summarizeRuns(
      experimentFixture([
        { arm: 'without', train: [0.5, 0.6] },
        { arm: 'without', dataset: 'cifar10', train: [0.3, 0.4, 0.5] },
      ])
    );
    const table = originalTable(summary, 'train');
    expect(table.header.slice(0, 4)).toEqual(['Dataset', 'Model', 'Epochs', 'first epoch: without']);
    expect(table.rows.map((r) => r.slice(0, 3))).toEqual([
      ['mnist', 'base', '1, 2'],
      ['cifar10', 'base', '1, 3'],
    ]);
    expect(table.rows[1]![4]).toBe('–');
  });

  it('show one column and one paired row per figure when the first epoch is also the last', () => {
    const summary = summarizeRuns(
      experimentFixture([
        { arm: 'without', seed: 0, train: [0.5], test: [0.6] },
        { arm: 'without', seed: 1, train: [0.55], test: [0.62] },
        { arm: 'sup-walsh', initializer: 'sup-walsh', seed: 0, train: [0.6], test: [0.64] },
        { arm: 'sup-walsh', initializer: 'sup-walsh', seed: 1, train: [0.62], test: [0.66] },
      ])
    );
    const original = originalTable(summary, 'train');
    expect(original.header).toEqual(['Dataset', 'Model', 'epoch 1: without', 'epoch 1: with', 'Δ (pp)']);
    expect(original.rows).toEqual([['mnist', 'base', '52.50', '61.00', '+8.50']]);
    expect(seedTable(summary).header).toEqual(['Dataset', 'Model', 'Arm', 'n', 'train epoch 1', 'test epoch 1']);
    expect(pairedTable(summary).rows.map((r) => r[3])).toEqual(['train acc. epoch 1', 'test acc. epoch 1']);
  });

  it('show mean ± sd across seeds and the paired tests, or why a test is missing', () => {
    const summary = summarizeRuns(
      experimentFixture([...TWO_SEED_RUNS, { arm: 'he', seed: 0, train: [0.7, 0.8, 0.9], test: [0.7, 0.8, 0.9] }])
    );
    expect(seedTable(summary).rows[0]).toEqual([
      'mnist',
      'base',
      'without',
      '2',
      '79.00 ± 1.41',
      '94.00 ± 1.41',
      '81.00 ± 1.41',
      '95.00 ± 1.41',
    ]);
    expect(seedTable(summary).rows[2]![4]).toBe('70.00');
    const paired = pairedTable(summary).rows;
    expect(paired[0]).toEqual([
      'mnist',
      'base',
      'sup-walsh',
      'train acc. epoch 1',
      '2',
      '+5.50',
      '0.707',
      '11.000',
      '1',
      '0.058',
    ]);
    expect(paired[4]).toEqual([
      'mnist',
      'base',
      'he',
      'train acc. epoch 1',
      '1',
      '−10.00',
      '–',
      NEEDS_TWO_SEEDS,
      '–',
      '–',
    ]);
  });

  it('put every arm side by side per epoch', () => {
    const summary = summarizeRuns(experimentFixture(TWO_SEED_RUNS));
    const table = epochTable(summary.groups[0]!);
    expect(table.header).toEqual(['Epoch', 'without (n=2)', 'sup-walsh (n=2)']);
    expect(table.rows[2]).toEqual(['3', '95.00', '96.50']);
  });

  it('render as Markdown and as aligned text for terminals', () => {
    const table = { header: ['a', 'bb'], rows: [['x|y', '1.5']], align: ['left', 'right'] as const };
    expect(markdownTable(table)).toBe('| a | bb |\n|:---|---:|\n| x\\|y | 1.5 |');
    expect(textTable(table)).toBe('a     bb\n───  ───\nx|y  1.5');
    const text = formatResultsTable(
      summarizeRuns(experimentFixture([...TWO_SEED_RUNS, { arm: 'zero', status: 'failed', error: 'boom' }]))
    );
    expect(text).toContain('fixture: training accuracy (%)');
    expect(text).toContain('mnist    base              79.00          84.50   +5.50');
    expect(text).toContain('left out (did not succeed): mnist/base/zero/seed-0 (failed)');
  });

  it('format numbers with signs, spreads and small p-values readably', () => {
    expect(formatPoints(1.234)).toBe('+1.23');
    expect(formatPoints(-0.5)).toBe('−0.50');
    expect(formatPoints(-0.001)).toBe('0.00');
    expect(formatMeanStd(90, NaN)).toBe('90.00');
    expect(formatStatistic(-Infinity)).toBe('−∞');
    expect(formatStatistic(123456)).toBe('1.23e+5');
    expect(formatP(0.0004)).toBe('< 0.001');
    expect(formatP(undefined)).toBe('–');
  });
});
