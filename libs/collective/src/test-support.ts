/** Helpers shared by this project's specs and the e2e worker fixture (not exported from the package). */

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function randomFloats(length: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Element-wise sum in float64, ranks in order 0 … n−1: the independent reference. */
export function float64Sum(inputs: readonly Float32Array[]): Float64Array {
  const out = new Float64Array(inputs[0]?.length ?? 0);
  for (const input of inputs) for (let i = 0; i < out.length; i++) out[i] = out[i]! + input[i]!;
  return out;
}

/** Element-wise Σ|x| in float64: the scale of the rounding error bounds. */
export function float64AbsSum(inputs: readonly Float32Array[]): Float64Array {
  const out = new Float64Array(inputs[0]?.length ?? 0);
  for (const input of inputs) for (let i = 0; i < out.length; i++) out[i] = out[i]! + Math.abs(input[i]!);
  return out;
}

/**
 * Largest |result − exact| allowed for a float32 ring sum of n terms: n−1 float32 additions, each off by at most
 * 2^-24 of a partial sum bounded by Σ|x| (plus slack for the partial sums' own growth).
 */
export function float32SumBound(worldSize: number, absSum: number): number {
  return 1.01 * Math.max(1, worldSize - 1) * 2 ** -24 * absSum;
}

/** The first index where two arrays differ bit for bit, or -1. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}
