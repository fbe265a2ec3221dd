import { describe, expect, it } from 'vitest';
import { WalshArgumentError } from './errors.js';
import { fwht } from './fwht.js';
import { hadamard } from './hadamard.js';

function seededValues(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function matVec(h: Int8Array[], x: Float64Array): Float64Array {
  return Float64Array.from(h, (row) => row.reduce((acc, v, j) => acc + v * x[j]!, 0));
}

describe('fwht', () => {
  it('equals the Hadamard matrix product for every size up to 1024 (float64 and float32)', () => {
    for (let n = 1; n <= 1024; n *= 2) {
      const x = seededValues(n, n);
      const expected = matVec(hadamard(n), x);
      const got64 = fwht(Float64Array.from(x));
      const got32 = fwht(Float32Array.from(x));
      for (let i = 0; i < n; i++) {
        expect(got64[i]).toBeCloseTo(expected[i]!, 10);
        expect(Math.abs(got32[i]! - expected[i]!)).toBeLessThan(1e-5 * Math.sqrt(n) * 8);
      }
    }
  });

  it('is its own inverse up to n, and exactly its own inverse when orthonormal', () => {
    const n = 1024;
    const x = seededValues(n, 7);
    const twice = fwht(fwht(Float64Array.from(x)));
    const ortho = fwht(fwht(Float64Array.from(x), { orthonormal: true }), { orthonormal: true });
    for (let i = 0; i < n; i++) {
      expect(twice[i]! / n).toBeCloseTo(x[i]!, 12);
      expect(ortho[i]).toBeCloseTo(x[i]!, 12);
    }
  });

  it('preserves the norm when orthonormal (Parseval)', () => {
    const x = seededValues(4096, 3);
    const norm = (v: Float64Array) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    expect(norm(fwht(Float64Array.from(x), { orthonormal: true }))).toBeCloseTo(norm(x), 10);
  });

  it('works in place, returns its argument and propagates NaN', () => {
    const x = new Float32Array([1, 0, 0, Number.NaN]);
    expect(fwht(x)).toBe(x);
    expect(Array.from(x).every(Number.isNaN)).toBe(true);
  });

  it.each([0, 3, 12, 1000])('rejects length %s', (n) => {
    expect(() => fwht(new Float64Array(n))).toThrow(WalshArgumentError);
    expect(() => fwht(new Float64Array(n))).toThrow(`fwht: x.length must be a power of two, got ${n}`);
  });
});
