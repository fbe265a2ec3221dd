import { describe, expect, it } from 'vitest';
import { createProgressPrinter } from './progress-printer.js';

const step = {
  type: 'step',
  runId: 'mnist/base/without/seed-0',
  phase: 'training',
  epoch: 1,
  epochsTotal: 3,
  stepInEpoch: 5,
  stepsPerEpoch: 10,
  step: 5,
  stepsTotal: 30,
  loss: 1.23456,
  epochLoss: 1.5,
  imagesPerSecond: 640.4,
  etaSeconds: 75,
  learningRate: 3e-5,
  worldSize: 1,
} as const;

describe('createProgressPrinter', () => {
  it('writes one plain line per progress event when the output is not a terminal', () => {
    const out: string[] = [];
    const print = createProgressPrinter({ write: (s: string) => out.push(s) });
    print(step);
    print({ ...step, stepInEpoch: 10, step: 10 });
    expect(out).toEqual([
      '  training    epoch 1/3  [##########..........] 5/10  loss 1.2346 (epoch 1.5000)  640 img/s  ETA 1:15\n',
      '  training    epoch 1/3  [####################] 10/10  loss 1.2346 (epoch 1.5000)  640 img/s  ETA 1:15\n',
    ]);
  });

  it('rewrites one live line on a terminal and ends it before the next message', () => {
    const out: string[] = [];
    const print = createProgressPrinter({ isTTY: true, columns: 200, write: (s: string) => out.push(s) });
    print(step);
    print({ type: 'run-state', runId: 'x', state: 'running', message: '' });
    expect(out[0]?.startsWith('\r\u001b[K  training')).toBe(true);
    expect(out[0]?.endsWith('\n')).toBe(false);
    expect(out[1]).toBe('\r\u001b[K▶ x\n');
  });
});
