import { EngineArgumentError } from './errors.js';
import { hash128 } from './hash.js';

/** A run's seed: an integer or a string (an experiment id, say). */
export type Seed = number | string;

/**
 * A seeded pseudo-random stream (xoshiro128**, pure JS, 32-bit integer arithmetic): the same seed gives the same
 * numbers on every process, platform and backend.
 */
export interface Rng {
  /** The seed path this stream was made from, e.g. `42/data/epoch:3`. */
  readonly key: string;
  /** A uniform float in [0, 1) with 32 bits of resolution. */
  next(): number;
  /** A uniform unsigned 32-bit integer. */
  uint32(): number;
  /** A uniform integer in [0, n), unbiased, for 1 ≤ n ≤ 2³². */
  int(n: number): number;
  /** A standard normal draw (Box–Muller; two uniforms per draw, no cached spare, so forks stay simple). */
  normal(): number;
  /** Fisher–Yates shuffle in place; returns `array`. */
  shuffle<T>(array: T[]): T[];
  /**
   * A child stream named `label`. It depends on this stream's key and the label only — not on how many numbers this
   * stream has drawn — so `rng.fork('dropout')` is the same wherever in the run it is called.
   */
  fork(label: Seed): Rng;
}

const TWO_POW_32 = 2 ** 32;

/** Creates the stream for `seed` (see `Rng`). */
export function createRng(seed: Seed): Rng {
  return rngForKey(seedKey('createRng', seed));
}

/**
 * A uint32 seed derived from `seed` and `labels` (e.g. `deriveSeed(runSeed, 'init', layerIndex)`), for TF.js's own
 * seeded initializers and `tf.randomUniform`/`dropout` calls. Same inputs, same number, on every process.
 */
export function deriveSeed(seed: Seed, ...labels: Seed[]): number {
  let key = seedKey('deriveSeed', seed);
  for (const label of labels) key = `${key}/${labelKey('deriveSeed', label)}`;
  return hash128(`seed:${key}`)[0];
}

function seedKey(fn: string, seed: Seed): string {
  if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed))
      throw new EngineArgumentError(fn, 'seed', `must be a safe integer or a string, got ${seed}`);
    return String(seed);
  }
  if (typeof seed !== 'string')
    throw new EngineArgumentError(fn, 'seed', `must be a safe integer or a string, got ${typeof seed}`);
  return JSON.stringify(seed);
}

function labelKey(fn: string, label: Seed): string {
  return seedKey(fn, label);
}

function rngForKey(key: string): Rng {
  const state = hash128(`rng:${key}`);
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  const uint32 = xoshiro128ss(state);
  const next = (): number => uint32() / TWO_POW_32;
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new EngineArgumentError('Rng.int', 'n', `must be an integer in [1, 2^32], got ${n}`);
    }
    // Rejection sampling: draws at or above the largest multiple of n are redrawn, so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = uint32();
      if (u < limit) return u % n;
    }
  };
  return {
    key,
    next,
    uint32,
    int,
    normal(): number {
      const u1 = 1 - next(); // (0, 1]: log is finite
      const u2 = next();
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
    shuffle<T>(array: T[]): T[] {
      for (let i = array.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = array[i] as T;
        array[i] = array[j] as T;
        array[j] = tmp;
      }
      return array;
    },
    fork(label: Seed): Rng {
      return rngForKey(`${key}/${labelKey('Rng.fork', label)}`);
    },
  };
}

/** The xoshiro128** generator (Blackman & Vigna) over a 4-word state; returns the uint32 stream. */
export function xoshiro128ss(state: readonly [number, number, number, number]): () => number {
  let [s0, s1, s2, s3] = state;
  return () => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
