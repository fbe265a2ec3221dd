/**
 * The multi-threaded SIMD build of `@tensorflow/tfjs-backend-wasm` in Node — the ONE file of the engine that relies
 * on the package's internals (its `wasm-out/` Emscripten factory, the pthread worker script's text, the `module.tfjs`
 * bridge `init()` builds, Emscripten's `PThread` pool and the C++ side's core check). Everything here is pinned to
 * {@link WASM_THREADS_PINNED_VERSION}; `wasm-threads.spec.ts` checks each internal and fails loudly when an upgrade
 * moves one. Any other version, or any failure here, makes `initEngine` fall back to the stock one-thread SIMD build
 * and log why.
 *
 * Why not the package's own path: its `init()` hands Emscripten Blob URLs for the worker and main scripts, which
 * Node's `worker_threads` cannot load, and `WASM_HAS_MULTITHREAD_SUPPORT` is false in Node on purpose.
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { findBackendFactory, registerBackend, removeBackend, type KernelBackend } from '@tensorflow/tfjs-core';

/** The `@tensorflow/tfjs-backend-wasm` version whose internals this file was written against. */
export const WASM_THREADS_PINNED_VERSION = '4.22.0';

/** The C++ side (`init_with_threads_count`) never makes a pool larger than this. */
export const WASM_MAX_THREADS = 8;

/** The package files this file reads (relative to the package root). */
export const WASM_THREADED_FILES = {
  factory: 'wasm-out/tfjs-backend-wasm-threaded-simd.js',
  workerText: 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
  binary: 'wasm-out/tfjs-backend-wasm-threaded-simd.wasm',
} as const;

/** The exports of the C++ backend that `init()` wraps into `module.tfjs` (the same six, same signatures). */
const BRIDGE = [
  ['init', null, []],
  ['initWithThreadsCount', null, ['number'], 'init_with_threads_count'],
  ['getThreadsCount', 'number', [], 'get_threads_count'],
  ['registerTensor', null, ['number', 'number', 'number'], 'register_tensor'],
  ['disposeData', null, ['number'], 'dispose_data'],
  ['dispose', null, [], 'dispose'],
] as const;

/** The Emscripten module as far as this file uses it. */
interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: readonly string[]): (...args: number[]) => unknown;
  PThread?: { unusedWorkers?: unknown[]; runningWorkers?: unknown[] };
  tfjs?: Record<string, unknown>;
}

type Factory = (config: Record<string, unknown>) => Promise<ThreadedModule>;

/** What the wasm package's main entry exports and this file needs. */
interface WasmPackage {
  // The module is typed loosely here: ours is built the way the package's own init() builds it.
  BackendWasm: new (module: never) => KernelBackend;
  setThreadsCount(threads: number): void;
  getThreadsCount(): number;
  version_wasm: string;
}

const require = createRequire(import.meta.url);

/** The package's root directory (found through its `package.json`, which it does not hide behind an exports map). */
export function wasmPackageRoot(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

/**
 * Writes Emscripten's pthread worker script to a `.cjs` file (once per content, atomically) and returns its path.
 * The package exports the script only as text (`wasmWorkerContents`); `init()` puts it in a Blob after escaping
 * `\n` — the text holds raw newlines inside string literals — and so do we.
 */
function writeWorkerScript(root: string, dir: string): string {
  const { wasmWorkerContents } = require(path.join(root, WASM_THREADED_FILES.workerText)) as {
    wasmWorkerContents?: unknown;
  };
  if (typeof wasmWorkerContents !== 'string' || !wasmWorkerContents.includes('WasmBackendModuleThreadedSimd')) {
    throw new Error(`${WASM_THREADED_FILES.workerText} no longer exports the worker script as wasmWorkerContents`);
  }
  const text = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const file = path.join(dir, `supwalsh-tfjs-wasm-${hash}.worker.cjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, text);
    renameSync(partial, file);
  }
  return file;
}

export interface ThreadedWasmOptions {
  /** Threads wanted, 2–8. */
  threads: number;
  /** Directory for the pthread worker script. @default os.tmpdir() */
  scriptDir?: string;
}

/** What `registerThreadedWasmBackend` set up; `threads` is known only after the backend has started. */
export interface ThreadedWasmHandle {
  /** The pool size the C++ side reports once the backend has started (0 before). */
  threads(): number;
  /** Puts the package's own (one-thread) factory back, for a fallback after the threaded start failed. */
  restoreStock(): void;
}

/** How long the threaded module may take to start its pthread pool before the start counts as failed. */
export const WASM_THREADS_START_TIMEOUT_MS = 60_000;

/**
 * Replaces the `'wasm'` backend's factory with one that starts the threaded SIMD build with `threads` threads. Call
 * before the `'wasm'` backend is first initialised in this process (the stock and the threaded module cannot both
 * live in one process: the kernels cache their `cwrap`s in module-level variables). Throws (nothing changed) when
 * the package is not the pinned version or its files are not where this file expects them.
 */
export function registerThreadedWasmBackend(wasm: WasmPackage, options: ThreadedWasmOptions): ThreadedWasmHandle {
  if (wasm.version_wasm !== WASM_THREADS_PINNED_VERSION) {
    throw new Error(
      `@tensorflow/tfjs-backend-wasm is ${wasm.version_wasm}; the threaded loader (libs/engine/src/wasm-threads.ts) ` +
        `is written for ${WASM_THREADS_PINNED_VERSION}`
    );
  }
  const root = wasmPackageRoot();
  const mainScript = path.join(root, WASM_THREADED_FILES.factory);
  const binary = path.join(root, WASM_THREADED_FILES.binary);
  if (!existsSync(binary)) throw new Error(`${WASM_THREADED_FILES.binary} is missing`);
  const factory = require(mainScript) as Factory;
  if (typeof factory !== 'function') throw new Error(`${WASM_THREADED_FILES.factory} no longer exports a factory`);
  const workerScript = writeWorkerScript(root, options.scriptDir ?? os.tmpdir());
  let started = 0;

  const stock = findBackendFactory('wasm');
  const create = async (): Promise<KernelBackend> => {
    // The C++ side caps the pool at max(1, cores / 2), with cores from os.cpus() read once by a static constructor
    // while the module starts: on a 2-vCPU container that is one thread whatever is asked. Report enough cores for
    // the pool asked for from the module's start until the backend exists, then restore the real function.
    const cpus = os.cpus;
    const needed = 2 * options.threads;
    os.cpus = () => {
      const real = cpus.call(os);
      if (real.length >= needed || real.length === 0) return real;
      return Array.from({ length: needed }, (_, i) => real[i % real.length]!);
    };
    let backend: KernelBackend;
    let module: ThreadedModule;
    try {
      module = await withTimeout(
        factory({
          locateFile: (file: string) => {
            if (file.endsWith('.worker.js')) return workerScript;
            if (file.endsWith('.wasm')) return binary;
            return path.join(root, 'wasm-out', file);
          },
          mainScriptUrlOrBlob: mainScript,
        })
      );
      const bridge: Record<string, unknown> = {};
      for (const [key, returnType, argTypes, cName] of BRIDGE) {
        bridge[key] = module.cwrap(cName ?? key, returnType, argTypes);
      }
      module.tfjs = bridge;
      wasm.setThreadsCount(options.threads);
      backend = new wasm.BackendWasm(module as never);
    } finally {
      os.cpus = cpus;
    }
    started = wasm.getThreadsCount();
    unrefPthreads(module);
    return backend;
  };
  removeBackend('wasm');
  // Priority 2, as the package registers it.
  registerBackend('wasm', create, 2);
  return {
    threads: () => started,
    restoreStock: () => {
      removeBackend('wasm');
      if (stock) registerBackend('wasm', stock, 2);
    },
  };
}

/** A pthread worker that cannot load leaves Emscripten's start promise pending forever: bound it. */
async function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the threaded module did not start within ${WASM_THREADS_START_TIMEOUT_MS} ms`)),
      WASM_THREADS_START_TIMEOUT_MS
    );
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Emscripten keeps its pthread workers referenced, so a process that has started the threaded build would never
 * exit on its own. The pool is fixed once the backend has started (≤ 8 threads, all pre-spawned).
 */
function unrefPthreads(module: ThreadedModule): void {
  const pool = module.PThread;
  if (!pool) throw new Error("the threaded module no longer exposes Emscripten's PThread pool");
  for (const worker of [...(pool.unusedWorkers ?? []), ...(pool.runningWorkers ?? [])]) {
    (worker as { unref?: () => void }).unref?.();
  }
}
