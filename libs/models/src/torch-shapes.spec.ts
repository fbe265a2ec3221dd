import { describe, expect, it } from 'vitest';
import { adaptiveBins, convOutputSize, poolOutputSize, torchPadding } from './torch-shapes.js';

describe('torch output sizes', () => {
  it('match the sizes PyTorch reports for the zoo at 64 × 64', () => {
    expect(convOutputSize(64, 5, 4, 2)).toBe(16); // AlexNet features.0
    expect(poolOutputSize(16, 3, 2)).toBe(7);
    expect(poolOutputSize(3, 3, 2)).toBe(1);
    expect(convOutputSize(64, 7, 2, 3)).toBe(32); // ResNet / GoogLeNet conv1
    expect(poolOutputSize(32, 3, 2, 1)).toBe(16); // ResNet maxpool
    expect(poolOutputSize(32, 3, 2, 0, true)).toBe(16); // GoogLeNet maxpool1 (ceil)
    expect(poolOutputSize(4, 2, 2, 0, true)).toBe(2); // GoogLeNet maxpool4
    expect(convOutputSize(64, 7, 2)).toBe(29); // SqueezeNet features.0
    expect(poolOutputSize(29, 3, 2, 0, true)).toBe(14);
    expect(poolOutputSize(14, 3, 2, 0, true)).toBe(7);
    expect(poolOutputSize(7, 3, 2, 0, true)).toBe(3);
    expect(convOutputSize(64, 7, 4, 3)).toBe(16); // MiT patch_embed1
  });

  it('applies ceil_mode only when the last window starts inside the input or left padding', () => {
    expect(poolOutputSize(5, 2, 2, 0, false)).toBe(2);
    expect(poolOutputSize(5, 2, 2, 0, true)).toBe(3);
    expect(poolOutputSize(4, 3, 2, 1, true)).toBe(3); // the third window starts on the last input row
    expect(poolOutputSize(3, 2, 2, 1, true)).toBe(2); // a third window would start in the right padding
    expect(poolOutputSize(2, 3, 2, 0, true)).toBe(1); // smaller than the kernel, still one window
    expect(poolOutputSize(2, 3, 2, 0, false)).toBe(0);
    expect(convOutputSize(4, 7, 2)).toBeLessThan(1);
  });

  it('pads after just enough for a valid window op to give the PyTorch size', () => {
    for (const [size, k, s, p, ceil] of [
      [29, 3, 2, 0, true],
      [16, 3, 2, 0, false],
      [8, 3, 1, 1, true],
      [5, 2, 2, 0, true],
      [17, 3, 2, 1, false],
    ] as const) {
      const out = poolOutputSize(size, k, s, p, ceil);
      const [before, after] = torchPadding(size, k, s, p, out);
      expect(before).toBe(p);
      expect(Math.floor((size + before + after - k) / s) + 1).toBe(out);
    }
  });

  it('bins like AdaptiveAvgPool2d, replicating small inputs and overlapping uneven ones', () => {
    expect(adaptiveBins(1, 6)).toEqual(Array(6).fill([0, 1]));
    expect(adaptiveBins(2, 7)).toEqual([
      [0, 1],
      [0, 1],
      [0, 1],
      [0, 2],
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    expect(adaptiveBins(5, 3)).toEqual([
      [0, 2],
      [1, 4],
      [3, 5],
    ]);
    expect(adaptiveBins(12, 6)).toEqual(Array.from({ length: 6 }, (_, i) => [2 * i, 2 * i + 2]));
  });
});
