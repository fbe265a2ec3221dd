import { describe, expect, it } from 'vitest';
import { createRandom } from './random.js';

describe('createRandom', () => {
  it('gives the same stream for the same seed and unrelated streams for nearby seeds', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const c = createRandom(43);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    const ys = Array.from({ length: 100 }, () => c.next());
    expect(ys.filter((v, i) => v === xs[i])).toHaveLength(0);
  });

  it('uses the high bits of large seeds', () => {
    expect(createRandom(2 ** 40 + 5).next()).not.toBe(createRandom(5).next());
  });

  it('draws uniforms in [0, 1) and standard normals with the right moments', () => {
    const r = createRandom(7);
    let min = 1;
    let max = 0;
    let sum = 0;
    let sum2 = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      min = Math.min(min, u);
      max = Math.max(max, u);
      const g = r.normal();
      sum += g;
      sum2 += g * g;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(sum2 / n - 1)).toBeLessThan(0.02);
  });

  it('draws integers in range', () => {
    const r = createRandom(1);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 5000; i++) counts[r.int(5)]!++;
    expect(counts.every((c) => c > 900 && c < 1100)).toBe(true);
  });
});
