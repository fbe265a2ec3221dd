import os from 'node:os';
import type * as WasmBackendPackage from '@tensorflow/tfjs-backend-wasm';
import { env as tfEnv, findBackend, getBackend, ready, setBackend, version_core } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The Node build of tfjs-core ships without its gradient functions; tfjs-layers' Node build registers them all.
import '@tensorflow/tfjs-layers';
import { availableCores } from './cores.js';
import { BackendUnavailableError, EngineArgumentError, errorMessage } from './errors.js';
import { registerEngineGradients } from './gradients/tile-grad.js';
import { registerWasmTrainingKernels } from './kernels/register-all.js';
import { silentLogger, type EngineLogger } from './logger.js';
import { registerThreadedWasmBackend, WASM_MAX_THREADS, type ThreadedWasmHandle } from './wasm-threads.js';

/** What `initEngine` may be asked for: a backend by name, or `'auto'` for the fastest one that starts. */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** The TF.js backends the engine runs on, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** The allowed values of `SUPWALSH_BACKEND` and `EngineOptions.backend`. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** The native packages that provide the `'tensorflow'` backend, tried in this order. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
export type NativePackage = (typeof NATIVE_PACKAGES)[number];

/** The CUDA stack `@tensorflow/tfjs-node-gpu` 4.22 is built against (libtensorflow 2.9.1). */
export const NATIVE_GPU_REQUIREMENTS = { libtensorflow: '2.9.1', cuda: '11.2', cudnn: '8.1' } as const;

/** What the engine chose; it goes into every run's record. */
export interface EngineInfo {
  /** The active TF.js backend. */
  readonly backend: BackendName;
  /** Whether kernels run on a GPU (only `tfjs-node-gpu` with a visible CUDA device). */
  readonly gpu: boolean;
  /**
   * Threads one process computes with: the wasm backend's pthread pool (the threaded SIMD build when more than one),
   * 1 for cpu, and the machine's logical cores for libtensorflow (its default intra-op pool).
   */
  readonly threads: number;
  /** The thread count asked for (option, `SUPWALSH_THREADS`, or the cores this process may use). */
  readonly threadsRequested: number;
  /** wasm only: why fewer threads run than were asked for (the threaded build failed, or the cap of 8). */
  readonly threadsNote?: string;
  /** The npm package that provides the backend. */
  readonly package: string;
  /** That package's version. */
  readonly version: string;
  /** The `@tensorflow/tfjs-core` version every library shares. */
  readonly tfjsCore: string;
  /** wasm only: whether the SIMD build runs. */
  readonly simd?: boolean;
  /** What was asked for, after `SUPWALSH_BACKEND` was applied. */
  readonly requested: BackendChoice;
  /** Why faster backends were skipped (`'auto'` only), one line each. */
  readonly skipped: readonly string[];
  /** Kernels the engine registered for this backend (wasm: the training kernels). */
  readonly kernels: readonly string[];
}

export interface EngineOptions {
  /**
   * The backend to run on. Omitted or `'auto'`: `SUPWALSH_BACKEND` when set, else the fastest that starts —
   * tfjs-node-gpu, tfjs-node, wasm, cpu. A named backend that cannot start throws `BackendUnavailableError`.
   * @default 'auto'
   */
  backend?: BackendChoice;
  /**
   * Compute threads for the wasm backend (1–256; the wasm pool holds at most 8). Omitted: `SUPWALSH_THREADS` when
   * set, else the cores this process may use (`availableCores()`: `os.availableParallelism()` bounded by the cgroup
   * CPU quota). More than one runs the multi-threaded SIMD build; if it cannot start, one thread runs and the reason
   * is logged and kept in `threadsNote`. Fixed per process at the first wasm start.
   */
  threads?: number;
  /** Receives the choice and every fallback. @default silentLogger */
  logger?: EngineLogger;
  /** Environment to read `SUPWALSH_BACKEND` and `SUPWALSH_THREADS` from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Loads a native package (tests inject failures or fakes). @default dynamic `import()` */
  importNative?: (name: NativePackage) => Promise<unknown>;
}

interface NativeModule {
  readonly name: NativePackage;
  readonly version: string;
}

let current: { requested: BackendChoice; threads: number; info: EngineInfo } | null = null;
let pending: { requested: BackendChoice; threads: number; promise: Promise<EngineInfo> } | null = null;
/** The wasm start of this process: its thread count is fixed from then on (one wasm module per process). */
type WasmModule = typeof WasmBackendPackage;
let wasmStart: { threads: number; handle: ThreadedWasmHandle | null; note?: string } | null = null;
let native: NativeModule | null = null;
let nativeFailures: string[] | null = null;

/** The engine's current choice, or `null` before `initEngine` has finished. */
export function engineInfo(): EngineInfo | null {
  return current?.info ?? null;
}

/**
 * Picks and starts the TF.js backend. Idempotent: a second call that asks for the same thing returns the same
 * `EngineInfo` object; a call that asks for a different backend switches to it (tensors move lazily).
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const requested = resolveChoice(options);
  const threads = resolveThreads(options);
  if (current?.requested === requested && current.threads === threads && getBackend() === current.info.backend) {
    return current.info;
  }
  if (pending?.requested === requested && pending.threads === threads) return pending.promise;
  const promise = start(requested, threads, options);
  pending = { requested, threads, promise };
  try {
    const info = await promise;
    current = { requested, threads, info };
    return info;
  } finally {
    if (pending?.promise === promise) pending = null;
  }
}

function resolveChoice(options: EngineOptions): BackendChoice {
  const explicit = options.backend ?? 'auto';
  if (!BACKEND_CHOICES.includes(explicit)) {
    throw new EngineArgumentError(
      'initEngine',
      'options.backend',
      `must be one of ${BACKEND_CHOICES.join(', ')}, got '${String(explicit)}'`
    );
  }
  if (explicit !== 'auto') return explicit;
  const fromEnv = (options.env ?? process.env)['SUPWALSH_BACKEND']?.trim();
  if (!fromEnv) return 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(fromEnv)) {
    throw new EngineArgumentError(
      'initEngine',
      'SUPWALSH_BACKEND',
      `must be one of ${BACKEND_CHOICES.join(', ')}, got '${fromEnv}'`
    );
  }
  return fromEnv as BackendChoice;
}

/** The allowed range of `EngineOptions.threads` and `SUPWALSH_THREADS`. */
export const MAX_THREADS_OPTION = 256;

function resolveThreads(options: EngineOptions): number {
  if (options.threads !== undefined) return checkThreads('options.threads', options.threads);
  const fromEnv = (options.env ?? process.env)['SUPWALSH_THREADS']?.trim();
  if (fromEnv) return checkThreads('SUPWALSH_THREADS', /^\d+$/.test(fromEnv) ? Number(fromEnv) : Number.NaN, fromEnv);
  return availableCores();
}

function checkThreads(argument: string, value: number, raw: unknown = value): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_THREADS_OPTION) {
    throw new EngineArgumentError(
      'initEngine',
      argument,
      `must be an integer from 1 to ${MAX_THREADS_OPTION}, got ${JSON.stringify(raw)}`
    );
  }
  return value;
}

async function start(requested: BackendChoice, threads: number, options: EngineOptions): Promise<EngineInfo> {
  const logger = options.logger ?? silentLogger;
  // Gradients are shared by every backend (tfjs-layers registered its own on import, above).
  registerEngineGradients();
  const skipped: string[] = [];
  const order: BackendName[] = requested === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [requested];
  for (const backend of order) {
    try {
      const info = await activate(backend, requested, threads, skipped, options);
      logger.info(describe(info));
      return info;
    } catch (error: unknown) {
      if (requested !== 'auto') throw error;
      const reason = `${backend}: ${errorMessage(error)}`;
      skipped.push(reason);
      logger.warn(`initEngine: skipping ${reason.split('\n')[0] ?? reason}`);
    }
  }
  throw new BackendUnavailableError('auto', `initEngine: no TF.js backend could start:\n  ${skipped.join('\n  ')}`);
}

async function activate(
  backend: BackendName,
  requested: BackendChoice,
  threadsRequested: number,
  skipped: readonly string[],
  options: EngineOptions
): Promise<EngineInfo> {
  const base = { requested, threadsRequested, skipped: [...skipped], tfjsCore: version_core };
  switch (backend) {
    case 'tensorflow': {
      const loaded = await loadNative(options.importNative ?? ((name) => import(name)));
      if (!(await setBackend('tensorflow'))) {
        throw new BackendUnavailableError(
          'tensorflow',
          `initEngine: ${loaded.name} loaded but the 'tensorflow' backend did not start`
        );
      }
      const gpu = Boolean((tfBackendFlags() as { isUsingGpuDevice?: unknown }).isUsingGpuDevice);
      return Object.freeze({
        ...base,
        backend,
        gpu,
        threads: os.availableParallelism(),
        package: loaded.name,
        version: loaded.version,
        kernels: [],
      });
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const logger = options.logger ?? silentLogger;
      const note = await startWasm(wasm, threadsRequested, logger);
      await ready();
      const kernels = registerWasmTrainingKernels();
      const simd = Boolean(await tfEnv().getAsync('WASM_HAS_SIMD_SUPPORT'));
      return Object.freeze({
        ...base,
        backend,
        gpu: false,
        threads: wasm.getThreadsCount(),
        ...(note ? { threadsNote: note } : {}),
        package: '@tensorflow/tfjs-backend-wasm',
        version: wasm.version_wasm,
        simd,
        kernels,
      });
    }
    case 'cpu': {
      if (!(await setBackend('cpu')))
        throw new BackendUnavailableError('cpu', 'initEngine: the cpu backend did not start');
      const cpu = await import('@tensorflow/tfjs-backend-cpu');
      return Object.freeze({
        ...base,
        backend,
        gpu: false,
        threads: 1,
        package: '@tensorflow/tfjs-backend-cpu',
        version: cpu.version_cpu,
        kernels: [],
      });
    }
  }
}

/**
 * Starts the wasm backend once per process: the threaded SIMD build for more than one thread (falling back to the
 * stock one-thread SIMD build with a logged reason), the stock build for one. Later calls reuse that start (a
 * different thread count is logged and ignored: one wasm module per process). Returns why fewer threads run.
 */
async function startWasm(wasm: WasmModule, requested: number, logger: EngineLogger): Promise<string | undefined> {
  const stockFailed = () =>
    new BackendUnavailableError(
      'wasm',
      'initEngine: @tensorflow/tfjs-backend-wasm did not start (it reads its .wasm binaries from its dist/ folder)'
    );
  if (wasmStart) {
    if (wasmStart.threads !== requested) {
      logger.warn(
        `initEngine: the wasm backend already runs ${wasm.getThreadsCount()} thread(s) in this process; ` +
          `${requested} asked for now is ignored (the thread count is fixed per process)`
      );
    }
    if (!(await setBackend('wasm'))) throw stockFailed();
    return wasmStart.note;
  }
  const threads = Math.min(requested, WASM_MAX_THREADS);
  let note = requested > threads ? `the wasm pool holds at most ${WASM_MAX_THREADS} threads` : undefined;
  let handle: ThreadedWasmHandle | null = null;
  if (threads > 1) {
    try {
      handle = registerThreadedWasmBackend(wasm, { threads });
    } catch (error: unknown) {
      note = `multi-threaded wasm unavailable, running 1 thread: ${errorMessage(error)}`;
    }
  }
  // Start the backend before replacing kernels: its own kernels' set-up runs at start, so the replaced ones stay
  // callable for comparison (`nativeWasmKernel`). In Node the .wasm binaries load from the package's dist/
  // folder without `setWasmPaths`.
  let ok = await setBackend('wasm');
  if (!ok && handle) {
    note = 'multi-threaded wasm did not start (see the warning TF.js logged above), running 1 thread';
    handle.restoreStock();
    handle = null;
    ok = await setBackend('wasm');
  }
  if (!ok) throw stockFailed();
  if (handle && handle.threads() < threads) {
    note = `the threaded wasm pool started with ${handle.threads()} of ${threads} threads`;
  }
  if (note && (threads > 1 || requested > WASM_MAX_THREADS)) logger.warn(`initEngine: ${note}`);
  wasmStart = { threads: requested, handle, ...(note ? { note } : {}) };
  return note;
}

function tfBackendFlags(): object {
  return findBackend('tensorflow') ?? {};
}

/** Imports the first native package that loads (once per process: the two cannot both register 'tensorflow'). */
async function loadNative(importNative: (name: NativePackage) => Promise<unknown>): Promise<NativeModule> {
  if (native) return native;
  if (nativeFailures) throw nativeUnavailable(nativeFailures);
  const failures: string[] = [];
  for (const name of NATIVE_PACKAGES) {
    try {
      const module = (await importNative(name)) as { version?: Record<string, string> } | null;
      const version = module?.version?.['tfjs-node'] ?? 'unknown';
      native = { name, version };
      return native;
    } catch (error: unknown) {
      failures.push(`${name}: ${errorMessage(error).split('\n')[0] ?? ''}`);
    }
  }
  nativeFailures = failures;
  throw nativeUnavailable(failures);
}

function nativeUnavailable(failures: readonly string[]): BackendUnavailableError {
  const { cuda, cudnn, libtensorflow } = NATIVE_GPU_REQUIREMENTS;
  return new BackendUnavailableError(
    'tensorflow',
    `initEngine: backend 'tensorflow' needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, and neither loads ` +
      `(${failures.join('; ')}). On a GPU node run \`npm install @tensorflow/tfjs-node-gpu@4.22.0 ` +
      `--allow-scripts=@tensorflow/tfjs-node-gpu\` (or \`npm rebuild @tensorflow/tfjs-node-gpu\` when it is installed ` +
      `but its install script was skipped); it downloads libtensorflow ${libtensorflow} and needs an NVIDIA driver, ` +
      `CUDA ${cuda} and cuDNN ${cudnn}. CPU-only: the same with @tensorflow/tfjs-node. See libs/engine/README.md.`
  );
}

function describe(info: EngineInfo): string {
  const extras = [info.gpu ? 'GPU' : 'CPU', `${info.threads} thread${info.threads === 1 ? '' : 's'}`];
  if (info.threads !== info.threadsRequested) extras.push(`${info.threadsRequested} asked for`);
  if (info.simd !== undefined) extras.push(info.simd ? 'SIMD' : 'no SIMD');
  return `initEngine: backend '${info.backend}' (${info.package} ${info.version}; ${extras.join(', ')})`;
}

/** Forgets the cached choice and native-load failures (tests only; the backend itself stays as it is). */
export function resetEngineForTests(): void {
  current = null;
  pending = null;
  nativeFailures = null;
}
