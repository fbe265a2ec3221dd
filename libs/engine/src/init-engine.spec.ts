import { getBackend } from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, EngineArgumentError } from './errors.js';
import { engineInfo, initEngine, resetEngineForTests, type NativePackage } from './init-engine.js';
import type { EngineLogger } from './logger.js';

function recordingLogger(): EngineLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`) };
}

const missingNative = (name: NativePackage) => Promise.reject(new Error(`Cannot find package '${name}'`));

afterEach(() => resetEngineForTests());

describe('initEngine', () => {
  it('falls back from the native packages to wasm on auto, logging why', async () => {
    const logger = recordingLogger();
    // One thread: the stock SIMD build (more threads are tested in fresh processes, wasm-threads.spec.ts).
    const info = await initEngine({ backend: 'auto', logger, env: {}, threads: 1 });
    expect(info).toMatchObject({
      backend: 'wasm',
      gpu: false,
      threads: 1,
      threadsRequested: 1,
      simd: true,
      package: '@tensorflow/tfjs-backend-wasm',
      version: '4.22.0',
      tfjsCore: '4.22.0',
      requested: 'auto',
    });
    expect(info.kernels).toEqual(
      expect.arrayContaining(['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'])
    );
    expect(info.skipped).toHaveLength(1);
    expect(info.skipped[0]).toMatch(/^tensorflow: .*@tensorflow\/tfjs-node-gpu.*@tensorflow\/tfjs-node/);
    expect(logger.lines[0]).toMatch(/^warn initEngine: skipping tensorflow/);
    expect(logger.lines.at(-1)).toBe(
      "info initEngine: backend 'wasm' (@tensorflow/tfjs-backend-wasm 4.22.0; CPU, 1 thread, SIMD)"
    );
    expect(getBackend()).toBe('wasm');
    expect(engineInfo()).toBe(info);
  });

  it('returns the same info for the same choice and switches on a different one', async () => {
    const first = await initEngine({ backend: 'wasm' });
    const [again, concurrent] = await Promise.all([initEngine({ backend: 'wasm' }), initEngine({ backend: 'wasm' })]);
    expect(again).toBe(first);
    expect(concurrent).toBe(first);
    const cpu = await initEngine({ backend: 'cpu' });
    expect(cpu).toMatchObject({ backend: 'cpu', gpu: false, threads: 1, package: '@tensorflow/tfjs-backend-cpu' });
    expect(getBackend()).toBe('cpu');
    const back = await initEngine({ backend: 'wasm' });
    expect(back.backend).toBe('wasm');
    expect(getBackend()).toBe('wasm');
  });

  it('says how to install the native backend when tensorflow is asked for and missing', async () => {
    const attempt = initEngine({ backend: 'tensorflow', importNative: missingNative });
    await expect(attempt).rejects.toThrow(BackendUnavailableError);
    await expect(initEngine({ backend: 'tensorflow', importNative: missingNative })).rejects.toThrow(
      /npm install @tensorflow\/tfjs-node-gpu@4\.22\.0 --allow-scripts=@tensorflow\/tfjs-node-gpu.*CUDA 11\.2 and cuDNN 8\.1/s
    );
  });

  it('reads SUPWALSH_BACKEND when no backend is named, and an explicit choice wins over it', async () => {
    expect((await initEngine({ env: { SUPWALSH_BACKEND: 'cpu' } })).backend).toBe('cpu');
    expect((await initEngine({ env: { SUPWALSH_BACKEND: 'cpu' } })).requested).toBe('cpu');
    expect((await initEngine({ backend: 'wasm', env: { SUPWALSH_BACKEND: 'cpu' } })).backend).toBe('wasm');
    expect((await initEngine({ env: { SUPWALSH_BACKEND: ' ' } })).requested).toBe('auto');
  });

  it('keeps the thread count of the first wasm start in this process, saying so', async () => {
    const logger = recordingLogger();
    const info = await initEngine({ backend: 'wasm', env: { SUPWALSH_THREADS: '3' }, logger });
    expect(info).toMatchObject({ backend: 'wasm', threads: 1, threadsRequested: 3 });
    expect(logger.lines).toContain(
      'warn initEngine: the wasm backend already runs 1 thread(s) in this process; 3 asked for now is ignored (the ' +
        'thread count is fixed per process)'
    );
    expect(logger.lines.at(-1)).toMatch(/CPU, 1 thread, 3 asked for, SIMD\)$/);
  });

  it('rejects a bad thread count, naming the setting and the range, before starting anything', async () => {
    for (const bad of ['0', '2.5', 'many', '257', '-1']) {
      await expect(initEngine({ backend: 'cpu', env: { SUPWALSH_THREADS: bad } })).rejects.toThrow(
        new EngineArgumentError('initEngine', 'SUPWALSH_THREADS', `must be an integer from 1 to 256, got "${bad}"`)
      );
    }
    await expect(initEngine({ backend: 'cpu', threads: 0 })).rejects.toThrow(
      new EngineArgumentError('initEngine', 'options.threads', 'must be an integer from 1 to 256, got 0')
    );
    // The option wins over the variable.
    expect((await initEngine({ backend: 'cpu', threads: 2, env: { SUPWALSH_THREADS: 'bad' } })).backend).toBe('cpu');
  });

  it('rejects unknown backend names, naming the setting and the allowed values', async () => {
    await expect(initEngine({ env: { SUPWALSH_BACKEND: 'gpu' } })).rejects.toThrow(
      new EngineArgumentError('initEngine', 'SUPWALSH_BACKEND', "must be one of auto, tensorflow, wasm, cpu, got 'gpu'")
    );
    await expect(initEngine({ backend: 'webgl' as never })).rejects.toThrow(EngineArgumentError);
  });
});
