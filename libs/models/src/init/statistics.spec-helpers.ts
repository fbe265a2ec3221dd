import { expect } from 'vitest';

/** Sample mean and (population) variance in float64. */
export function sampleMoments(values: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i]! - mean) ** 2;
  return { mean, variance: sq / values.length, min, max };
}

/**
 * Asserts i.i.d. zero-mean draws of the promised variance: the sample mean within `z` standard errors of 0 and the
 * sample variance within `z` standard errors of `variance` (Var(x²) = 2σ⁴ for a normal, 4b⁴/45 for U(±b)).
 */
export function expectZeroMeanVariance(
  values: ArrayLike<number>,
  variance: number,
  shape: 'normal' | 'uniform',
  z = 5
) {
  const n = values.length;
  const m = sampleMoments(values);
  expect(Math.abs(m.mean)).toBeLessThan(z * Math.sqrt(variance / n));
  const fourth = shape === 'normal' ? 3 * variance ** 2 : (9 / 5) * variance ** 2;
  expect(Math.abs(m.variance - variance)).toBeLessThan(z * Math.sqrt((fourth - variance ** 2) / n));
  return m;
}

/** Asserts U(±bound): every value inside, and the extremes within 1% of the bound when there are enough draws. */
export function expectFillsInterval(values: ArrayLike<number>, bound: number) {
  const m = sampleMoments(values);
  expect(m.min).toBeGreaterThanOrEqual(-bound);
  expect(m.max).toBeLessThanOrEqual(bound);
  // P(no draw within 1% of an end) = 0.995ⁿ: negligible from n = 5000 on.
  if (values.length >= 5000) {
    expect(m.min).toBeLessThan(-0.99 * bound);
    expect(m.max).toBeGreaterThan(0.99 * bound);
  }
}
