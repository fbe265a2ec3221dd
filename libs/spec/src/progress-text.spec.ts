import { describe, expect, it } from 'vitest';
import { duration, epochText, percent, progressBar, stepText } from './progress-text.js';

describe('progress text', () => {
  it('formats durations as m:ss and h:mm:ss', () => {
    expect([duration(0), duration(59.6), duration(61), duration(3725)]).toEqual(['0:00', '1:00', '1:01', '1:02:05']);
  });

  it('draws a 20-wide bar, clamped to [0, 1], and percentages with two decimals', () => {
    expect(progressBar(0.25)).toBe(`[${'#'.repeat(5)}${'.'.repeat(15)}]`);
    expect([progressBar(-1), progressBar(2)]).toEqual([`[${'.'.repeat(20)}]`, `[${'#'.repeat(20)}]`]);
    expect(percent(0.81234)).toBe('81.23%');
  });

  it('writes the step line and the epoch line both printers show', () => {
    const step = { phase: 'training', epoch: 1, epochsTotal: 3, stepInEpoch: 10, stepsPerEpoch: 40 };
    expect(stepText({ ...step, loss: 0.51234, epochLoss: 0.6, imagesPerSecond: 849.6, etaSeconds: 42 })).toBe(
      `  training    epoch 1/3  [${'#'.repeat(5)}${'.'.repeat(15)}] 10/40  loss 0.5123 (epoch 0.6000)  850 img/s  ETA 0:42`
    );
    const metrics = { epoch: 2, trainLoss: 0.5, trainAccuracy: 0.8, seconds: 12.34 };
    expect(epochText(metrics)).toBe('  epoch 2: train loss 0.5000 acc 80.00%  (12.3 s)');
    expect(epochText({ ...metrics, testLoss: 0.4, testAccuracy: 0.841 })).toBe(
      '  epoch 2: train loss 0.5000 acc 80.00%  test loss 0.4000 acc 84.10%  (12.3 s)'
    );
  });
});
