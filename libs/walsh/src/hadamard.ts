import { WalshArgumentError } from './errors.js';
import { isPowerOfTwo } from './power-of-two.js';

/** Largest order `hadamard` builds: 2^14 rows of 2^14 bytes is already 256 MiB. */
export const MAX_HADAMARD_ORDER = 1 << 14;

/** Number of set bits of a 32-bit integer. */
export function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Entry (i, j) of the Sylvester Hadamard matrix of any order: (-1)^popcount(i & j).
 * Sylvester's recursion H(2n) = [[H, H], [H, -H]] unrolls to exactly this bit rule.
 */
export function sylvesterEntry(i: number, j: number): 1 | -1 {
  return popcount(i & j) & 1 ? -1 : 1;
}

/**
 * The Sylvester Hadamard matrix of order n (rows in natural order), one `Int8Array` of ±1 per row.
 * @throws WalshArgumentError when n is not a power of two between 1 and {@link MAX_HADAMARD_ORDER}.
 */
export function hadamard(n: number): Int8Array[] {
  if (!isPowerOfTwo(n) || n > MAX_HADAMARD_ORDER) {
    throw new WalshArgumentError('hadamard', 'n', `must be a power of two from 1 to ${MAX_HADAMARD_ORDER}, got ${n}`);
  }
  return Array.from({ length: n }, (_, i) => sylvesterRow(i, n));
}

/** Row i of the Sylvester Hadamard matrix of order n. */
export function sylvesterRow(i: number, n: number): Int8Array {
  const row = new Int8Array(n);
  for (let j = 0; j < n; j++) row[j] = sylvesterEntry(i, j);
  return row;
}

/** Number of sign changes along a ±1 row (its sequency). */
export function sequency(row: ArrayLike<number>): number {
  let changes = 0;
  for (let j = 1; j < row.length; j++) if (row[j] !== row[j - 1]) changes++;
  return changes;
}
