import { initEngine } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installKernelProfiler, summarizeProfile } from './kernel-profile.js';

const OUTER = 'SupwalshProfileTestOuter';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  // A composite kernel like the engine's: it runs other kernels (two Adds) through the engine.
  tf.registerKernel({
    kernelName: OUTER,
    backendName: 'cpu',
    kernelFunc: ({ inputs }) => tf.tidy(() => tf.add(tf.add(inputs['x'] as tf.Tensor, 1), 2)),
  });
});

afterAll(() => {
  if (tf.getKernel(OUTER, 'cpu')) tf.unregisterKernel(OUTER, 'cpu');
});

describe('installKernelProfiler', () => {
  it('counts calls per (caller, kernel), subtracts nested kernels from self time, and uninstalls cleanly', () => {
    const add = tf.getKernel('Add', 'cpu');
    const profiler = installKernelProfiler('cpu');
    expect(tf.getKernel('Add', 'cpu')).not.toBe(add);
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.engine().runKernel(OUTER, { x }, {}) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([4, 5, 6]); // the wrapped kernels still compute
    tf.add(x, x).dispose();
    const entries = profiler.entries();
    const find = (kernel: string, parent: string | null) =>
      entries.find((e) => e.kernel === kernel && e.parent === parent);
    expect(find(OUTER, null)?.calls).toBe(1);
    expect(find('Add', OUTER)?.calls).toBe(2);
    expect(find('Add', null)?.calls).toBe(1);
    for (const e of entries) {
      expect(e.selfMs).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(e.selfCpuMs)).toBe(true);
    }
    const summary = summarizeProfile(entries, 1000, 10);
    const addRow = summary.find((r) => r.kernel === 'Add');
    expect(addRow?.calls).toBe(3);
    expect(addRow?.callers).toMatch(new RegExp(`${OUTER} \\d+, top \\d+|top \\d+, ${OUTER} \\d+`));
    profiler.reset();
    expect(profiler.entries()).toEqual([]);
    profiler.uninstall();
    expect(tf.getKernel('Add', 'cpu')).toBe(add);
    tf.dispose([x, y]);
  });

  it('keeps only the top N kernels, highest self time first', () => {
    const rows = summarizeProfile(
      [
        { kernel: 'A', parent: null, calls: 1, selfMs: 1, selfCpuMs: 1 },
        { kernel: 'B', parent: null, calls: 2, selfMs: 5, selfCpuMs: 9 },
        { kernel: 'B', parent: 'A', calls: 1, selfMs: 2, selfCpuMs: 2 },
        { kernel: 'C', parent: null, calls: 1, selfMs: 3, selfCpuMs: 3 },
      ],
      20,
      2
    );
    expect(rows.map((r) => [r.kernel, r.selfMs, r.selfCpuMs, r.calls])).toEqual([
      ['B', 7, 11, 3],
      ['C', 3, 3, 1],
    ]);
    expect(rows[0]?.share).toBeCloseTo(0.35);
    expect(rows[0]?.callers).toBe('top 5, A 2');
  });
});
