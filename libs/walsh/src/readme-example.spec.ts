import { describe, expect, it } from 'vitest';
import { fwht, hadamard, walshCodes } from './index.js';

/** The values README.md shows, so the README cannot drift from the code. */
describe('the README example', () => {
  it('gives the values the README shows', () => {
    expect(hadamard(4).map((r) => Array.from(r))).toEqual([
      [1, 1, 1, 1],
      [1, -1, 1, -1],
      [1, 1, -1, -1],
      [1, -1, -1, 1],
    ]);
    const codes = walshCodes(10);
    expect(codes).toHaveLength(10);
    expect(Array.from(codes[0]!.slice(0, 4))).toEqual([1, -1, 1, -1]);
    expect(Array.from(codes[7]!)).toEqual([...Array(8).fill(1), ...Array(8).fill(-1)]);
    expect(walshCodes(3, { length: 64 })[0]).toHaveLength(64);
    expect(Array.from(fwht(new Float64Array([1, 2, 3, 4])))).toEqual([10, -2, -4, 0]);
  });
});
