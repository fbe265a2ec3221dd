import { describe, expect, it } from 'vitest';
import { EngineArgumentError } from './errors.js';
import { createRng, deriveSeed, xoshiro128ss } from './rng.js';

function draws(n: number, f: () => number): number[] {
  return Array.from({ length: n }, f);
}

/** Upper 0.1% point of the chi-square distribution with `df` degrees of freedom (Wilson–Hilferty). */
function chiSquareCritical(df: number): number {
  const z = 3.090232;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

describe('xoshiro128ss', () => {
  it('matches the reference implementation from state {1, 2, 3, 4}', () => {
    const next = xoshiro128ss([1, 2, 3, 4]);
    expect(draws(4, next)).toEqual([11520, 0, 5927040, 70819200]);
  });
});

describe('createRng', () => {
  it('repeats the same stream for the same seed, pinned across versions and platforms', () => {
    const a = createRng(42);
    const b = createRng(42);
    const seqA = draws(1000, () => a.uint32());
    expect(draws(1000, () => b.uint32())).toEqual(seqA);
    // A fixed reference: any change to the generator or its seeding changes every run's data order and weights.
    expect(seqA.slice(0, 4)).toEqual(PINNED_42);
    expect(createRng('42').uint32()).not.toBe(seqA[0]);
    expect(createRng(43).uint32()).not.toBe(seqA[0]);
  });

  it('draws uniform floats in [0, 1) and uniform integers below n (chi-square)', () => {
    const rng = createRng('uniform');
    const bins = 64;
    const counts = new Array<number>(bins).fill(0);
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      expect(u >= 0 && u < 1).toBe(true);
      counts[Math.floor(u * bins)]!++;
    }
    const chi = counts.reduce((s, c) => s + (c - n / bins) ** 2 / (n / bins), 0);
    expect(chi).toBeLessThan(chiSquareCritical(bins - 1));

    for (const k of [1, 3, 10, 1000]) {
      const hist = new Array<number>(k).fill(0);
      const m = 50 * Math.max(k, 10);
      for (let i = 0; i < m; i++) hist[rng.int(k)]!++;
      if (k > 1) {
        const chiK = hist.reduce((s, c) => s + (c - m / k) ** 2 / (m / k), 0);
        expect(chiK).toBeLessThan(chiSquareCritical(k - 1));
      } else expect(hist).toEqual([m]);
    }
    expect(rng.int(2 ** 32)).toBeLessThan(2 ** 32);
  });

  it('draws standard normals with the right moments', () => {
    const rng = createRng(7);
    const n = 200_000;
    const x = draws(n, () => rng.normal());
    const mean = x.reduce((a, b) => a + b, 0) / n;
    const m2 = x.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const m3 = x.reduce((a, b) => a + (b - mean) ** 3, 0) / n;
    const m4 = x.reduce((a, b) => a + (b - mean) ** 4, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(m2 - 1)).toBeLessThan(0.02);
    expect(Math.abs(m3 / m2 ** 1.5)).toBeLessThan(0.03);
    expect(Math.abs(m4 / m2 ** 2 - 3)).toBeLessThan(0.08);
    expect(x.every(Number.isFinite)).toBe(true);
  });

  it('shuffles in place into a permutation, every position equally likely', () => {
    const rng = createRng('shuffle');
    const arr = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    expect(rng.shuffle(arr)).toBe(arr);
    expect([...arr].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const n = 5;
    const trials = 20_000;
    const where = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let t = 0; t < trials; t++) {
      rng.shuffle([0, 1, 2, 3, 4]).forEach((v, pos) => where[v]![pos]!++);
    }
    const chi = where.flat().reduce((s, c) => s + (c - trials / n) ** 2 / (trials / n), 0);
    expect(chi).toBeLessThan(chiSquareCritical((n - 1) * (n - 1)));
    expect(rng.shuffle([])).toEqual([]);
  });

  it('forks streams that depend on the label, not on how much the parent drew', () => {
    const parent = createRng(1);
    const early = parent.fork('dropout');
    draws(100, () => parent.next());
    const late = parent.fork('dropout');
    expect(draws(10, () => late.uint32())).toEqual(draws(10, () => early.uint32()));
    expect(parent.fork('data').key).toBe('1/"data"');
    expect(parent.fork('data').fork(3).key).toBe('1/"data"/3');
    const a = createRng(1).fork('a');
    const b = createRng(1).fork('b');
    const xa = draws(10_000, () => a.next() - 0.5);
    const xb = draws(10_000, () => b.next() - 0.5);
    const corr =
      xa.reduce((s, v, i) => s + v * xb[i]!, 0) /
      Math.sqrt(xa.reduce((s, v) => s + v * v, 0) * xb.reduce((s, v) => s + v * v, 0));
    expect(Math.abs(corr)).toBeLessThan(0.04);
  });

  it('rejects seeds and bounds it cannot honour', () => {
    expect(() => createRng(1.5)).toThrow(EngineArgumentError);
    expect(() => createRng(Number.NaN)).toThrow('createRng: seed must be a safe integer or a string, got NaN');
    expect(() => createRng(0).int(0)).toThrow('Rng.int: n must be an integer in [1, 2^32], got 0');
    expect(() => createRng(0).int(2 ** 32 + 1)).toThrow(EngineArgumentError);
  });
});

describe('deriveSeed', () => {
  it('gives stable, label-sensitive uint32 seeds for TF.js initializers and dropout', () => {
    const s = deriveSeed(42, 'init', 3);
    expect(s).toBe(deriveSeed(42, 'init', 3));
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    expect(deriveSeed(42, 'init', 4)).not.toBe(s);
    expect(deriveSeed(42, 'init', '3')).not.toBe(s);
    expect(deriveSeed(43, 'init', 3)).not.toBe(s);
    expect(new Set(Array.from({ length: 1000 }, (_, i) => deriveSeed(1, 'layer', i))).size).toBe(1000);
  });
});

const PINNED_42 = [3402292299, 1399547220, 3403367216, 1013586282];
