import type { DatasetName, ExperimentResult, RunResult, RunStatus } from '@supwalsh/method';
import { mean, pairedTTest, sampleStd, type PairedTTest } from './statistics.js';

/** Initializer of the "Without" arm (the original's baseline: PyTorch's default initialization). */
export const WITHOUT_INITIALIZER = 'pytorch-default';
/** Initializer of the "With" arm. */
export const WITH_INITIALIZER = 'sup-walsh';

/** The four figures of the original's table. */
export type FigureKey = 'trainFirst' | 'trainLast' | 'testFirst' | 'testLast';

/** The figures in table order. */
export const FIGURE_KEYS: readonly FigureKey[] = ['trainFirst', 'trainLast', 'testFirst', 'testLast'];

/** The figures worth a column: all four, or only the first epoch's two when it is also the last. */
export function figureKeysOf(singleEpoch: boolean): FigureKey[] {
  return singleEpoch ? ['trainFirst', 'testFirst'] : [...FIGURE_KEYS];
}

/** A figure's label, given the group's first and last epoch. */
export function figureLabel(key: FigureKey, firstEpoch: number, lastEpoch: number): string {
  switch (key) {
    case 'trainFirst':
      return `train acc. epoch ${firstEpoch}`;
    case 'trainLast':
      return `train acc. epoch ${lastEpoch}`;
    case 'testFirst':
      return `test acc. epoch ${firstEpoch}`;
    case 'testLast':
      return `test acc. epoch ${lastEpoch}`;
  }
}

/** Mean and spread of one figure over seeds; values in percent. */
export interface SeedStatistic {
  readonly mean: number;
  /** Sample standard deviation (n − 1); NaN with one seed. */
  readonly std: number;
  /** Seeds that have the figure. */
  readonly n: number;
}

/** One seed's figures (percent); a test figure is absent when that epoch was not evaluated. */
export interface SeedFigures {
  readonly seed: number;
  readonly runId: string;
  readonly figures: Partial<Record<FigureKey, number>>;
}

/** Mean over seeds at one epoch (percent). Epoch 0 is the initialization alone. */
export interface EpochStatistic extends SeedStatistic {
  readonly epoch: number;
}

/** One arm of a (dataset, model) group, over its succeeded runs. */
export interface ArmSummary {
  readonly arm: string;
  readonly initializer: string;
  /** Succeeded seeds, ascending. */
  readonly seeds: readonly number[];
  readonly perSeed: readonly SeedFigures[];
  /** Absent when no seed has the figure. */
  readonly figures: Partial<Record<FigureKey, SeedStatistic>>;
  /** Test accuracy per epoch (percent), ascending; epoch 0 when every seed recorded its initial accuracy. */
  readonly testAccuracyByEpoch: readonly EpochStatistic[];
}

/** An arm against the group's baseline ("without") arm for one figure, paired by seed. */
export interface PairedComparison {
  readonly arm: string;
  readonly figure: FigureKey;
  /** Seeds both arms have the figure for. */
  readonly seeds: readonly number[];
  /** Mean of (arm − baseline) in percentage points; NaN without a common seed. */
  readonly meanDifference: number;
  /** The paired t-test (differences in points); absent with fewer than 2 paired seeds. */
  readonly test?: PairedTTest;
}

/** All arms of one (dataset, model) pair. */
export interface GroupSummary {
  readonly dataset: DatasetName;
  readonly model: string;
  /** Epochs whose figures the tables show: the first and last epoch every succeeded run of the group reached. */
  readonly firstEpoch: number;
  readonly lastEpoch: number;
  /** Arms in report order: without, sup-walsh, then the others as they first appear. */
  readonly arms: readonly ArmSummary[];
  /** The arm with initializer `pytorch-default`, if any. */
  readonly without?: string;
  /** The arm with initializer `sup-walsh`, if any. */
  readonly with?: string;
  /** Every other arm against `without` (empty without a baseline). */
  readonly comparisons: readonly PairedComparison[];
}

/** A run that did not succeed; its numbers are left out of every table. */
export interface ExcludedRun {
  readonly runId: string;
  readonly status: RunStatus;
  readonly error?: string;
}

/** The Sup-Walsh pretraining of one run. */
export interface PretrainingSummary {
  readonly runId: string;
  readonly dataset: DatasetName;
  readonly model: string;
  readonly arm: string;
  readonly seed: number;
  readonly steps: number;
  readonly selectedStep: number;
  readonly selectedLoss: number;
  readonly seconds: number;
  /** Fraction of `seconds` spent in t-SNE (0 … 1). */
  readonly tsneShare: number;
  readonly incompleteGroups: number;
}

/** The numbers behind every table of the report. */
export interface ResultSummary {
  readonly name: string;
  /** (dataset, model) groups in the order they first appear among the runs. */
  readonly groups: readonly GroupSummary[];
  readonly excluded: readonly ExcludedRun[];
  readonly pretraining: readonly PretrainingSummary[];
}

function statistic(values: readonly number[]): SeedStatistic | undefined {
  return values.length === 0 ? undefined : { mean: mean(values), std: sampleStd(values), n: values.length };
}

function percent(fraction: number | undefined): number | undefined {
  return fraction === undefined ? undefined : fraction * 100;
}

/** Epoch numbers every run reached (sorted ascending). */
function commonEpochs(runs: readonly RunResult[]): number[] {
  let common: Set<number> | undefined;
  for (const run of runs) {
    const epochs = new Set(run.epochs.map((e) => e.epoch));
    common = common === undefined ? epochs : new Set([...common].filter((e) => epochs.has(e)));
  }
  return [...(common ?? [])].sort((x, y) => x - y);
}

function seedFigures(run: RunResult, firstEpoch: number, lastEpoch: number): SeedFigures {
  const first = run.epochs.find((e) => e.epoch === firstEpoch);
  const last = run.epochs.find((e) => e.epoch === lastEpoch);
  const figures: Partial<Record<FigureKey, number>> = {};
  const set = (key: FigureKey, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) figures[key] = value;
  };
  set('trainFirst', percent(first?.trainAccuracy));
  set('trainLast', percent(last?.trainAccuracy));
  set('testFirst', percent(first?.testAccuracy));
  set('testLast', percent(last?.testAccuracy));
  return { seed: run.seed, runId: run.runId, figures };
}

function testAccuracyByEpoch(runs: readonly RunResult[]): EpochStatistic[] {
  const byEpoch = new Map<number, number[]>();
  const add = (epoch: number, value: number) => {
    const list = byEpoch.get(epoch) ?? [];
    list.push(value * 100);
    byEpoch.set(epoch, list);
  };
  if (runs.every((r) => r.initial !== undefined)) for (const run of runs) add(0, run.initial!.testAccuracy);
  for (const run of runs) for (const e of run.epochs) if (e.testAccuracy !== undefined) add(e.epoch, e.testAccuracy);
  return [...byEpoch.entries()].sort(([x], [y]) => x - y).map(([epoch, values]) => ({ epoch, ...statistic(values)! }));
}

function summarizeArm(runs: readonly RunResult[], firstEpoch: number, lastEpoch: number): ArmSummary {
  const sorted = [...runs].sort((x, y) => x.seed - y.seed);
  const perSeed = sorted.map((run) => seedFigures(run, firstEpoch, lastEpoch));
  const figures: Partial<Record<FigureKey, SeedStatistic>> = {};
  for (const key of FIGURE_KEYS) {
    const s = statistic(perSeed.flatMap((p) => (p.figures[key] === undefined ? [] : [p.figures[key]])));
    if (s) figures[key] = s;
  }
  return {
    arm: sorted[0]!.arm,
    initializer: sorted[0]!.initializer,
    seeds: sorted.map((r) => r.seed),
    perSeed,
    figures,
    testAccuracyByEpoch: testAccuracyByEpoch(sorted),
  };
}

function compare(arm: ArmSummary, baseline: ArmSummary, figure: FigureKey): PairedComparison {
  const base = new Map(baseline.perSeed.map((p) => [p.seed, p.figures[figure]]));
  const seeds: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (const p of arm.perSeed) {
    const x = p.figures[figure];
    const y = base.get(p.seed);
    if (x === undefined || y === undefined) continue;
    seeds.push(p.seed);
    a.push(x);
    b.push(y);
  }
  const meanDifference = mean(a.map((v, i) => v - b[i]!));
  return { arm: arm.arm, figure, seeds, meanDifference, ...(seeds.length >= 2 ? { test: pairedTTest(a, b) } : {}) };
}

function armOrder(arm: ArmSummary): number {
  if (arm.initializer === WITHOUT_INITIALIZER) return arm.arm === 'without' ? 0 : 1;
  if (arm.initializer === WITH_INITIALIZER) return arm.arm === 'sup-walsh' ? 2 : 3;
  return 4;
}

function summarizeGroup(runs: readonly RunResult[]): GroupSummary {
  const epochs = commonEpochs(runs);
  const firstEpoch = epochs[0] ?? NaN;
  const lastEpoch = epochs[epochs.length - 1] ?? NaN;
  const byArm = new Map<string, RunResult[]>();
  for (const run of runs) byArm.set(run.arm, [...(byArm.get(run.arm) ?? []), run]);
  const arms = [...byArm.values()]
    .map((armRuns) => summarizeArm(armRuns, firstEpoch, lastEpoch))
    .map((arm, index) => ({ arm, index }))
    .sort((x, y) => armOrder(x.arm) - armOrder(y.arm) || x.index - y.index)
    .map(({ arm }) => arm);
  const without = arms.find((a) => a.initializer === WITHOUT_INITIALIZER);
  const withArm = arms.find((a) => a.initializer === WITH_INITIALIZER);
  const comparisons = without
    ? arms.filter((a) => a !== without).flatMap((a) => FIGURE_KEYS.map((key) => compare(a, without, key)))
    : [];
  return {
    dataset: runs[0]!.dataset,
    model: runs[0]!.model,
    firstEpoch,
    lastEpoch,
    arms,
    ...(without ? { without: without.arm } : {}),
    ...(withArm ? { with: withArm.arm } : {}),
    comparisons,
  };
}

/**
 * The numbers behind the report's tables: per (dataset, model) group and arm, the original's four figures
 * (train/test accuracy at the first and last epoch, in percent) per seed and over seeds, every arm against the
 * `pytorch-default` arm paired by seed, test accuracy per epoch, and the Sup-Walsh pretraining of each run. Runs
 * that did not succeed are left out and listed in `excluded`.
 */
export function summarizeRuns(result: ExperimentResult): ResultSummary {
  const succeeded = result.runs.filter((r) => r.status === 'succeeded');
  const groups = new Map<string, RunResult[]>();
  for (const run of succeeded) {
    const key = `${run.dataset}\u0000${run.model}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return {
    name: result.name,
    groups: [...groups.values()].map(summarizeGroup),
    excluded: result.runs
      .filter((r) => r.status !== 'succeeded')
      .map((r) => ({ runId: r.runId, status: r.status, ...(r.error !== undefined ? { error: r.error } : {}) })),
    pretraining: succeeded.flatMap((r) =>
      r.pretraining
        ? [
            {
              runId: r.runId,
              dataset: r.dataset,
              model: r.model,
              arm: r.arm,
              seed: r.seed,
              steps: r.pretraining.steps,
              selectedStep: r.pretraining.selectedStep,
              selectedLoss: r.pretraining.selectedLoss,
              seconds: r.pretraining.seconds,
              tsneShare: r.pretraining.seconds > 0 ? r.pretraining.tsneSeconds / r.pretraining.seconds : 0,
              incompleteGroups: r.pretraining.incompleteGroups,
            },
          ]
        : []
    ),
  };
}
