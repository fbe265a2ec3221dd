import type {
  DatasetName,
  EmbeddedGroup,
  EpochMetrics,
  ExperimentResult,
  PretrainingResult,
  RunResult,
  RunStatus,
} from '@supwalsh/method';

/** What a test says about one synthetic run; everything else gets a plain default. */
export interface RunFixture {
  readonly arm: string;
  readonly seed?: number;
  readonly dataset?: DatasetName;
  readonly model?: string;
  /** @default `pytorch-default` for arm `without`, else the arm's name */
  readonly initializer?: string;
  readonly status?: RunStatus;
  readonly error?: string;
  /** Training accuracy (fraction) of epochs 1, 2, … */
  readonly train?: readonly number[];
  /** Test accuracy (fraction) of epochs 1, 2, …; undefined entries leave that epoch unevaluated. */
  readonly test?: readonly (number | undefined)[];
  /** Explicit epoch numbers for `train`/`test` (e.g. out of order). @default 1, 2, … */
  readonly epochNumbers?: readonly number[];
  readonly initial?: { readonly testLoss: number; readonly testAccuracy: number };
  /** Add a Sup-Walsh pretraining record. @default true for initializer `sup-walsh` */
  readonly pretraining?: boolean | Partial<PretrainingResult>;
  readonly trainLossPerStep?: readonly number[];
}

/** A decaying, slightly noisy loss curve (deterministic). */
export function lossCurve(steps: number, start: number, end: number, wobble = 0.05): number[] {
  return Array.from({ length: steps }, (_, i) => {
    const t = i / Math.max(1, steps - 1);
    return end + (start - end) * Math.exp(-4 * t) + wobble * Math.sin(i * 1.7) * (1 - t / 2);
  });
}

/** Embedded class groups: `groups` groups of `classes` points with their Walsh codes of `codeLength`. */
export function embeddings(groups: number, classes = 10, codeLength = 16): EmbeddedGroup[] {
  return Array.from({ length: groups }, (_, g) => ({
    epoch: 1,
    index: g,
    classes: Array.from({ length: classes }, (_, c) => c),
    points: Array.from({ length: classes }, (_, c): [number, number] => [
      30 * Math.cos((2 * Math.PI * c) / classes + g) + c,
      20 * Math.sin((2 * Math.PI * c) / classes + g) - c,
    ]),
    codes: Array.from({ length: classes }, (_, c) =>
      Array.from({ length: codeLength }, (_, j) => ((((c + 1) & j).toString(2).split('1').length - 1) % 2 ? -1 : 1))
    ),
  }));
}

/** A synthetic run result. */
export function runFixture(f: RunFixture): RunResult {
  const dataset = f.dataset ?? 'mnist';
  const model = f.model ?? 'base';
  const seed = f.seed ?? 0;
  const initializer = f.initializer ?? (f.arm === 'without' ? 'pytorch-default' : f.arm);
  const train = f.train ?? [];
  const epochs: EpochMetrics[] = train.map((accuracy, i) => {
    const testAccuracy = f.test?.[i];
    return {
      epoch: f.epochNumbers?.[i] ?? i + 1,
      trainLoss: 1 - accuracy,
      trainAccuracy: accuracy,
      ...(testAccuracy !== undefined ? { testLoss: 1.1 - testAccuracy, testAccuracy } : {}),
      steps: 10,
      seconds: 2.5,
      evalSeconds: testAccuracy !== undefined ? 0.5 : 0,
    };
  });
  const withPretraining = f.pretraining ?? initializer === 'sup-walsh';
  const pretraining: PretrainingResult | undefined = withPretraining
    ? {
        epochs: 1,
        steps: 50,
        lossPerStep: lossCurve(50, 2.3, 0.2 + seed * 0.05),
        selectedStep: 47,
        selectedLoss: 0.21,
        incompleteGroups: 0,
        seconds: 4,
        tsneSeconds: 3,
        embeddings: embeddings(2),
        ...(typeof withPretraining === 'object' ? withPretraining : {}),
      }
    : undefined;
  return {
    runId: `${dataset}/${model}/${f.arm}/seed-${seed}`,
    dataset,
    model,
    arm: f.arm,
    initializer,
    seed,
    status: f.status ?? 'succeeded',
    ...(f.error !== undefined ? { error: f.error } : {}),
    parameters: 1234,
    ...(pretraining ? { pretraining } : {}),
    ...(f.initial ? { initial: f.initial } : {}),
    epochs,
    trainLossPerStep: f.trainLossPerStep ?? [],
    seconds: 2.5 * epochs.length + (pretraining?.seconds ?? 0),
  };
}

/** A synthetic experiment result holding `runs`. */
export function experimentFixture(
  runs: readonly RunFixture[],
  overrides: Partial<ExperimentResult> = {}
): ExperimentResult {
  return {
    name: 'fixture',
    description: 'A synthetic experiment for tests.',
    preset: 'seed',
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:10:00.000Z',
    engine: { backend: 'wasm', package: '@tensorflow/tfjs-backend-wasm', version: '4.22.0', threads: 1 },
    spec: { name: 'fixture' },
    deviations: [],
    runs: runs.map(runFixture),
    ...overrides,
  };
}

/** The 2-seed, 2-arm fixture whose numbers the specs compute by hand (3 epochs). */
export const TWO_SEED_RUNS: readonly RunFixture[] = [
  { arm: 'without', seed: 0, train: [0.8, 0.9, 0.95], test: [0.82, 0.91, 0.96] },
  { arm: 'without', seed: 1, train: [0.78, 0.88, 0.93], test: [0.8, 0.9, 0.94] },
  { arm: 'sup-walsh', seed: 0, train: [0.85, 0.92, 0.96], test: [0.86, 0.93, 0.97] },
  { arm: 'sup-walsh', seed: 1, train: [0.84, 0.91, 0.97], test: [0.85, 0.92, 0.96] },
];
