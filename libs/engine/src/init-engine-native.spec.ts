import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { getBackend, registerBackend } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initEngine, type NativePackage } from './init-engine.js';
import type { EngineLogger } from './logger.js';

/** Stands in for tfjs-node-gpu: registers a 'tensorflow' backend that reports a GPU device, as the real one does. */
async function fakeNativeGpu(name: NativePackage): Promise<unknown> {
  if (name !== '@tensorflow/tfjs-node-gpu') throw new Error('only the GPU package is installed');
  registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { isUsingGpuDevice: true }), 3);
  return { version: { 'tfjs-core': '4.22.0', 'tfjs-node': '4.22.0' } };
}

describe('initEngine with a native package installed', () => {
  it('prefers tfjs-node-gpu on auto and reports the GPU', async () => {
    const lines: string[] = [];
    const logger: EngineLogger = { info: (m) => lines.push(m), warn: (m) => lines.push(m) };
    const info = await initEngine({ logger, env: {}, importNative: fakeNativeGpu });
    expect(info).toMatchObject({
      backend: 'tensorflow',
      gpu: true,
      package: '@tensorflow/tfjs-node-gpu',
      version: '4.22.0',
      skipped: [],
      kernels: [],
    });
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(getBackend()).toBe('tensorflow');
    expect(lines).toEqual([
      expect.stringMatching(/^initEngine: backend 'tensorflow' \(@tensorflow\/tfjs-node-gpu 4\.22\.0; GPU/),
    ]);
    // The native module is loaded once per process; asking again by name reuses it.
    expect(
      await initEngine({ backend: 'tensorflow', importNative: () => Promise.reject(new Error('not again')) })
    ).toMatchObject({
      backend: 'tensorflow',
      gpu: true,
    });
  });
});
