/** A seeded pseudo-random source: uniform doubles and standard normals, fully determined by the seed. */
export interface Random {
  /** Uniform in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Standard normal N(0, 1) by the Box–Muller transform. */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * xoshiro128** seeded through splitmix32, so that nearby seeds give unrelated streams. Any safe integer is a
 * valid seed (its high and low 32 bits are both used).
 */
export function createRandom(seed: number): Random {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  let m = splitmix32(lo ^ splitmix32(hi));
  let s0 = (m = splitmix32(m));
  let s1 = (m = splitmix32(m));
  let s2 = (m = splitmix32(m));
  let s3 = splitmix32(m);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  let spare = 0;
  let hasSpare = false;

  const nextUint32 = (): number => {
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
  const next = (): number => nextUint32() / 4294967296;
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      if (hasSpare) {
        hasSpare = false;
        return spare;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      hasSpare = true;
      return r * Math.cos(2 * Math.PI * v);
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
