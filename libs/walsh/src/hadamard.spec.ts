import { describe, expect, it } from 'vitest';
import { WalshArgumentError } from './errors.js';
import { hadamard, popcount, sequency } from './hadamard.js';

/** Sylvester's recursion H(2n) = [[H, H], [H, -H]], built independently of the bit rule. */
function sylvesterByRecursion(n: number): number[][] {
  let h = [[1]];
  while (h.length < n) h = [...h.map((r) => [...r, ...r]), ...h.map((r) => [...r, ...r.map((v) => -v)])];
  return h;
}

describe('hadamard', () => {
  it('matches Sylvester’s recursive construction for every order up to 256', () => {
    for (let n = 1; n <= 256; n *= 2) {
      expect(hadamard(n).map((r) => Array.from(r))).toEqual(sylvesterByRecursion(n));
    }
  });

  it('is orthogonal, H·Hᵀ = nI, for every order up to 1024', () => {
    for (let n = 1; n <= 1024; n *= 2) {
      const h = hadamard(n);
      for (let i = 0; i < n; i++) {
        for (let k = i; k < n; k++) {
          let dot = 0;
          const a = h[i]!;
          const b = h[k]!;
          for (let j = 0; j < n; j++) dot += a[j]! * b[j]!;
          if (dot !== (i === k ? n : 0)) throw new Error(`n=${n}: row ${i}·row ${k} = ${dot}`);
        }
      }
    }
  });

  it.each([0, 3, 6, 12, -4, 2.5, Number.NaN, 1 << 15])('rejects order %s with an error naming the argument', (n) => {
    expect(() => hadamard(n)).toThrow(WalshArgumentError);
    expect(() => hadamard(n)).toThrow(/hadamard: n must be a power of two/);
  });

  it('counts bits and sign changes', () => {
    expect([0, 1, 3, 0xff, 0x7fffffff].map(popcount)).toEqual([0, 1, 2, 8, 31]);
    expect(sequency([1, 1, -1, -1, 1])).toBe(2);
  });
});
