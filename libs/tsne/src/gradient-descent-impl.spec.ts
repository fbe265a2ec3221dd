import { describe, expect, it } from 'vitest';
import { type DescentSettings, GradientDescent, type Objective } from './gradient-descent-impl.js';

const base: DescentSettings = {
  maxIter: 1000,
  explorationIter: 250,
  earlyExaggeration: 12,
  learningRate: 100,
  iterWithoutProgress: 300,
  minGradNorm: 1e-7,
};

function descent(objective: Objective, settings: Partial<DescentSettings>, len = 4) {
  const y = new Float64Array(len);
  const buffers = [new Float64Array(len), new Float64Array(len), new Float64Array(len)] as const;
  const checks: [number, string, number, number][] = [];
  const d = new GradientDescent(objective, y, ...buffers, {
    ...base,
    ...settings,
    onCheck: (...args) => checks.push(args),
  });
  d.advance(Infinity);
  return { d, y, checks, buffers };
}

describe('GradientDescent', () => {
  it('exaggerates for 250 iterations, then not, computing the error every 50 and at each phase end', () => {
    const calls: [number, boolean][] = [];
    let t = 0;
    const { d, checks } = descent(
      (_y, grad, exaggeration, computeError) => {
        calls.push([exaggeration, computeError]);
        grad.fill(1e-3);
        return computeError ? 100 - t++ : Number.NaN;
      },
      { maxIter: 400 }
    );
    expect(calls).toHaveLength(400);
    expect(calls.slice(0, 250).every(([e]) => e === 12)).toBe(true);
    expect(calls.slice(250).every(([e]) => e === 1)).toBe(true);
    expect(calls.flatMap(([, c], i) => (c ? [i + 1] : []))).toEqual([50, 100, 150, 200, 250, 300, 350, 400]);
    expect(checks.map(([i, phase]) => `${i}:${phase}`)).toEqual([
      '50:exaggeration',
      '100:exaggeration',
      '150:exaggeration',
      '200:exaggeration',
      '250:exaggeration',
      '300:final',
      '350:final',
      '400:final',
    ]);
    expect(d.performed).toBe(400);
    expect(d.error).toBe(93);
    expect(d.lastExaggeration).toBe(1);
  });

  it('applies momentum and gains as scikit-learn (first steps by hand)', () => {
    const { y } = descent(
      (_y, grad) => {
        grad.fill(1);
        return Number.NaN;
      },
      { maxIter: 2, learningRate: 10 },
      1
    );
    // Step 1: gain 1 → 0.8 (no sign change), update = −10·0.8 = −8. Step 2: update·grad < 0 → gain 1.0,
    // update = 0.5·(−8) − 10·1.0 = −14. y = −22.
    expect(y[0]).toBeCloseTo(-22, 12);
  });

  it('restarts gains and update at the final phase', () => {
    const { y } = descent(
      (_y, grad) => {
        grad.fill(1);
        return Number.NaN;
      },
      { maxIter: 3, explorationIter: 2, learningRate: 1 },
      1
    );
    // Exploration: −0.8, then −(0.5·0.8 + 1.0) = −1.4 → −2.2. Final phase starts afresh: gain 0.8, update −0.8.
    expect(y[0]).toBeCloseTo(-3.0, 12);
  });

  it('shrinks gains by 0.8 while update and gradient agree in sign, never below 0.01', () => {
    let t = 0;
    const { buffers } = descent(
      (_y, grad) => {
        grad.fill(t++ % 2 === 0 ? 1 : -1);
        return Number.NaN;
      },
      { maxIter: 40, explorationIter: 40 },
      1
    );
    expect(buffers[2][0]).toBe(Math.fround(0.01)); // float32, as scikit-learn's gains
  });

  it('stops a phase when the gradient norm falls to minGradNorm, at a check', () => {
    const { d, checks } = descent((_y, grad) => {
      grad.fill(0);
      return 1;
    }, {});
    // Exploration stops at its first check (50); the final phase, starting at 51, stops at its first (100).
    expect(checks.map(([i, phase]) => `${i}:${phase}`)).toEqual(['50:exaggeration', '100:final']);
    expect(d.performed).toBe(100);
  });

  it('stops the final phase after more than iterWithoutProgress iterations without a better error', () => {
    const { d } = descent((_y, grad) => {
      grad.fill(1);
      return 5;
    }, {});
    // Best error at iteration index 299 (the final phase's first check); 649 − 299 = 350 > 300.
    expect(d.performed).toBe(650);
  });

  it('reports an exaggerated last phase when maxIter ≤ explorationIter', () => {
    const { d } = descent(
      (_y, grad) => {
        grad.fill(1);
        return 1;
      },
      { maxIter: 120 }
    );
    expect(d.performed).toBe(120);
    expect(d.lastExaggeration).toBe(12);
  });

  it('can be advanced in slices with the same result', () => {
    const objective: Objective = (y, grad) => {
      for (let k = 0; k < y.length; k++) grad[k] = Math.sin(y[k]! + k) + 0.1 * y[k]!;
      return y.reduce((a, b) => a + b * b, 0);
    };
    const whole = descent(objective, { maxIter: 300 }).y;
    const y = new Float64Array(4);
    const sliced = new GradientDescent(objective, y, new Float64Array(4), new Float64Array(4), new Float64Array(4), {
      ...base,
      maxIter: 300,
    });
    let slices = 0;
    while (!sliced.advance(7)) slices++;
    expect(slices).toBeGreaterThan(40);
    expect(Array.from(y)).toEqual(Array.from(whole));
  });
});
