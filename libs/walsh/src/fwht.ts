import { WalshArgumentError } from './errors.js';
import { isPowerOfTwo } from './power-of-two.js';

export interface FwhtOptions {
  /** Scale by 1/√n so that the transform is orthonormal (and its own inverse). @default false */
  orthonormal?: boolean;
}

/**
 * Fast Walsh–Hadamard transform in place, natural (Sylvester) order: x ← H·x, O(n log n), no allocation.
 * Without scaling, applying it twice multiplies x by n; with `orthonormal` it is its own inverse.
 * @returns x itself, transformed.
 * @throws WalshArgumentError when x.length is not a power of two.
 */
export function fwht<T extends Float32Array | Float64Array>(x: T, options: FwhtOptions = {}): T {
  const n = x.length;
  if (!isPowerOfTwo(n)) {
    throw new WalshArgumentError('fwht', 'x.length', `must be a power of two, got ${n}`);
  }
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j] as number;
        const b = x[j + h] as number;
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  if (options.orthonormal) {
    const s = 1 / Math.sqrt(n);
    for (let i = 0; i < n; i++) x[i] = (x[i] as number) * s;
  }
  return x;
}
