import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { WASM_THREADED_FILES, WASM_THREADS_PINNED_VERSION, wasmPackageRoot } from './wasm-threads.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const engineDir = path.resolve(import.meta.dirname, '..');

/** Runs a short ES module in a fresh process (one wasm module per process), from the engine's folder. */
async function node(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: engineDir,
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return stdout;
}

// These checks fail loudly when a tfjs upgrade moves an internal that src/wasm-threads.ts relies on: update that one
// file (and WASM_THREADS_PINNED_VERSION) together with the tfjs version in package.json.
describe('the tfjs-backend-wasm internals the threaded loader relies on', () => {
  it('is the pinned version', () => {
    expect(version_wasm).toBe(WASM_THREADS_PINNED_VERSION);
  });

  it('ships the threaded factory, its binary and the pthread worker text', () => {
    const root = wasmPackageRoot();
    for (const file of Object.values(WASM_THREADED_FILES)) expect(existsSync(path.join(root, file)), file).toBe(true);
    expect(typeof require(path.join(root, WASM_THREADED_FILES.factory))).toBe('function');
    const { wasmWorkerContents } = require(path.join(root, WASM_THREADED_FILES.workerText)) as Record<string, unknown>;
    expect(wasmWorkerContents).toEqual(expect.stringContaining('WasmBackendModuleThreadedSimd(Module)'));
  });

  it('reads the core count through os.cpus() and the bridge names init() wraps', () => {
    const root = wasmPackageRoot();
    const factory = readFileSync(path.join(root, WASM_THREADED_FILES.factory), 'utf8');
    expect(factory).toContain(
      'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length'
    );
    expect(factory).toMatch(/PThread=\{unusedWorkers:\[\],runningWorkers:\[\]/);
    const backend = readFileSync(path.join(root, 'dist/tf-backend-wasm.node.js'), 'utf8');
    for (const name of ['init_with_threads_count', 'get_threads_count', 'register_tensor', 'dispose_data']) {
      expect(backend).toContain(`module.cwrap('${name}'`);
    }
    expect(backend).toContain('this.wasm.tfjs.initWithThreadsCount(threadsCount)');
  });

  it('starts 2 and 4 threads on any machine, computes, and lets the process exit by itself', async () => {
    const script = `
      import { initEngine } from '@supwalsh/engine';
      import * as tf from '@tensorflow/tfjs-core';
      const out = [];
      const info = await initEngine({ backend: 'wasm' });
      const a = tf.tensor2d([[1, 2], [3, 4]]);
      out.push(info.threads, info.threadsRequested, info.threadsNote ?? '', Array.from(tf.matMul(a, a).dataSync()).join(','));
      console.log(JSON.stringify(out));`;
    for (const threads of ['2', '4']) {
      // No process.exit: the child ends only if the pthreads are unref'd.
      const stdout = await node(script, { SUPWALSH_THREADS: threads });
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual([
        Number(threads),
        Number(threads),
        '',
        '7,10,15,22',
      ]);
    }
  });

  it('falls back to one thread with the reason when the worker script cannot be written', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'supwalsh-ro-'));
    const blocker = path.join(dir, 'not-a-dir');
    try {
      // TMPDIR pointing below a regular file: mkdir fails, the stock one-thread build runs.
      await run('touch', [blocker]);
      const stdout = await node(
        `import { initEngine } from '@supwalsh/engine';
         const warns = [];
         const info = await initEngine({ backend: 'wasm', threads: 2, logger: { info() {}, warn: (m) => warns.push(m) } });
         console.log(JSON.stringify({ threads: info.threads, note: info.threadsNote, warns }));`,
        { TMPDIR: path.join(blocker, 'sub') }
      );
      const result = JSON.parse(stdout.trim()) as { threads: number; note: string; warns: string[] };
      expect(result.threads).toBe(1);
      expect(result.note).toMatch(/^multi-threaded wasm unavailable, running 1 thread: .*ENOTDIR/);
      expect(result.warns).toEqual([`initEngine: ${result.note}`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
