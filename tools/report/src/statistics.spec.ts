import { describe, expect, it } from 'vitest';
import { ReportArgumentError } from './errors.js';
import {
  logGamma,
  mean,
  pairedTTest,
  regularizedIncompleteBeta,
  sampleStd,
  studentTCdf,
  studentTTwoSidedP,
} from './statistics.js';

describe('the Student t distribution', () => {
  it('gives the textbook two-sided p-values', () => {
    expect(studentTTwoSidedP(2.0, 5)).toBeCloseTo(0.1019394788, 9);
    expect(studentTTwoSidedP(2.262, 9)).toBeCloseTo(0.0500128455, 9);
    expect(studentTTwoSidedP(1.0, 1)).toBeCloseTo(0.5, 14);
    expect(studentTTwoSidedP(0, 7)).toBe(1);
    expect(studentTTwoSidedP(-2.0, 5)).toBeCloseTo(0.1019394788, 9);
  });

  it('matches the closed forms for one, two and three degrees of freedom', () => {
    for (const t of [-30, -4.2, -1, -0.3, 0, 0.01, 0.5, 1.7, 3, 12, 250]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 13);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 13);
      const u = t / Math.sqrt(3);
      expect(studentTCdf(t, 3)).toBeCloseTo(0.5 + (u / (1 + u * u) + Math.atan(u)) / Math.PI, 13);
    }
  });

  it('is symmetric about zero and approaches the normal distribution for many degrees of freedom', () => {
    expect(studentTCdf(0, 4)).toBe(0.5);
    expect(studentTCdf(-1.5, 30)).toBeCloseTo(0.072032964564323, 12);
    expect(studentTCdf(1.5, 30) + studentTCdf(-1.5, 30)).toBeCloseTo(1, 14);
    expect(studentTCdf(1.959963985, 1e7)).toBeCloseTo(0.975, 6);
    expect(studentTCdf(Infinity, 3)).toBe(1);
    expect(studentTCdf(-Infinity, 3)).toBe(0);
    expect(studentTTwoSidedP(Infinity, 3)).toBe(0);
    expect(studentTCdf(NaN, 3)).toBeNaN();
  });

  it('rejects degrees of freedom that are not positive, naming the function and argument', () => {
    expect(() => studentTCdf(1, 0)).toThrow(ReportArgumentError);
    expect(() => studentTCdf(1, NaN)).toThrow('studentTCdf: df must be > 0; got NaN');
  });
});

describe('the regularized incomplete beta function', () => {
  it('equals the polynomial closed forms for integer parameters', () => {
    for (const x of [0, 0.001, 0.2, 0.5, 0.77, 0.999, 1]) {
      expect(regularizedIncompleteBeta(x, 1, 1)).toBeCloseTo(x, 14);
      expect(regularizedIncompleteBeta(x, 3, 1)).toBeCloseTo(x ** 3, 14);
      // I_x(2, 3) = 6x² − 8x³ + 3x⁴
      expect(regularizedIncompleteBeta(x, 2, 3)).toBeCloseTo(6 * x ** 2 - 8 * x ** 3 + 3 * x ** 4, 13);
    }
  });

  it('satisfies the symmetry I_x(a, b) = 1 − I_{1−x}(b, a)', () => {
    for (const [x, a, b] of [
      [0.3, 2.5, 0.5],
      [0.9, 15, 0.5],
      [0.05, 0.5, 40],
    ] as const) {
      expect(regularizedIncompleteBeta(x, a, b) + regularizedIncompleteBeta(1 - x, b, a)).toBeCloseTo(1, 13);
    }
  });

  it('rejects x outside [0, 1] and non-positive shapes', () => {
    expect(() => regularizedIncompleteBeta(1.5, 1, 1)).toThrow('x must be in [0, 1]');
    expect(() => regularizedIncompleteBeta(0.5, 0, 1)).toThrow(ReportArgumentError);
  });

  it('builds on a log-gamma that reproduces factorials and Γ(1/2) = √π', () => {
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(6)).toBeCloseTo(Math.log(120), 13);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 13);
    expect(logGamma(101)).toBeCloseTo(363.73937555556347, 10);
  });
});

describe('the sample statistics', () => {
  it('use the n − 1 divisor and are undefined for too few values', () => {
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(sampleStd([1, 2, 3, 6])).toBeCloseTo(Math.sqrt(14 / 3), 14);
    expect(mean([])).toBeNaN();
    expect(sampleStd([5])).toBeNaN();
  });
});

describe('the paired t-test', () => {
  it('agrees with a hand calculation', () => {
    // Differences 1, 2, 2, 3: mean 2, sd √(2/3), t = 2 / (√(2/3) / 2) = √24, df 3.
    const test = pairedTTest([1, 2, 3, 4], [0, 0, 1, 1]);
    expect(test.n).toBe(4);
    expect(test.df).toBe(3);
    expect(test.meanDifference).toBe(2);
    expect(test.stdDifference).toBeCloseTo(Math.sqrt(2 / 3), 14);
    expect(test.t).toBeCloseTo(Math.sqrt(24), 13);
    expect(test.p).toBeCloseTo(0.016276603459428555, 12);
  });

  it('gives an infinite t and p = 0 when every difference is the same non-zero value', () => {
    const test = pairedTTest([2, 3, 4], [1, 2, 3]);
    expect(test.t).toBe(Infinity);
    expect(test.p).toBe(0);
    expect(pairedTTest([1, 2], [1, 2]).p).toBeNaN();
  });

  it('treats differences that agree to rounding noise as one exact shift', () => {
    // 0.85 × 100 − 0.80 × 100 and 0.83 × 100 − 0.78 × 100 differ in the 15th digit.
    const a = [0.85, 0.83, 0.9].map((v) => v * 100);
    const b = [0.8, 0.78, 0.85].map((v) => v * 100);
    const test = pairedTTest(a, b);
    expect(test.stdDifference).toBe(0);
    expect(test.t).toBe(Infinity);
    expect(test.p).toBe(0);
  });

  it('needs two pairs of equal length', () => {
    expect(() => pairedTTest([1], [2])).toThrow('pairedTTest: a needs at least 2 pairs; got 1');
    expect(() => pairedTTest([1, 2], [1])).toThrow('pairedTTest: b must have as many values as a (2); got 1');
  });
});
