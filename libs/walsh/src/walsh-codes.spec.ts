import { describe, expect, it } from 'vitest';
import { WalshArgumentError } from './errors.js';
import { sequency } from './hadamard.js';
import { walshCodes } from './walsh-codes.js';

/** The original script's hard-coded table (class per row), copied literally. */
const ORIGINAL_TABLE = [
  [1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1],
  [1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1],
  [1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1],
  [1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1],
  [1, -1, 1, -1, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, -1, 1],
  [1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1, 1, 1],
  [1, -1, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, -1, 1, 1, -1],
  [1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1],
  [1, -1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1, -1, 1, -1, 1],
  [1, 1, -1, -1, 1, 1, -1, -1, -1, -1, 1, 1, -1, -1, 1, 1],
];

describe('walshCodes', () => {
  it('reproduces the original 10 × 16 table by default', () => {
    expect(walshCodes(10).map((c) => Array.from(c))).toEqual(ORIGINAL_TABLE);
  });

  it('gives distinct, non-constant, mutually orthogonal codes for every class count from 2 to 1023', () => {
    for (const ordering of ['seed', 'natural', 'sequency'] as const) {
      for (let k = 2; k <= 1023; k += k < 40 ? 1 : 97) {
        const codes = walshCodes(k, { ordering });
        expect(codes).toHaveLength(k);
        const n = codes[0]!.length;
        expect(n > k && n / 2 <= k).toBe(true);
        for (let a = 0; a < k; a++) {
          let sum = 0;
          for (const v of codes[a]!) sum += v;
          expect(sum).toBe(0); // orthogonal to the unused all-ones row
          for (let b = a + 1; b < Math.min(k, a + 4); b++) {
            let dot = 0;
            for (let j = 0; j < n; j++) dot += codes[a]![j]! * codes[b]![j]!;
            expect(dot).toBe(0);
          }
        }
      }
    }
    expect(walshCodes(1023)).toHaveLength(1023);
  });

  it('orders rows by sign changes for sequency ordering', () => {
    const codes = walshCodes(15, { ordering: 'sequency' });
    expect(codes.map(sequency)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it('honours an explicit length', () => {
    const codes = walshCodes(3, { length: 64 });
    expect(codes.every((c) => c.length === 64)).toBe(true);
  });

  it.each([
    [1, {}, /numClasses must be an integer from 2 to 1023/],
    [1024, {}, /numClasses/],
    [2.5, {}, /numClasses/],
    [10, { length: 8 }, /length must be a power of two greater than numClasses \(10\), i\.e\. at least 16; got 8/],
    [10, { length: 24 }, /length/],
    [15, { length: 15 }, /length/],
    [10, { ordering: 'gray' }, /ordering must be one of seed, natural, sequency/],
  ])('rejects numClasses %s with %o', (k, options, message) => {
    expect(() => walshCodes(k, options as never)).toThrow(WalshArgumentError);
    expect(() => walshCodes(k, options as never)).toThrow(message);
  });
});
