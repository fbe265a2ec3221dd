import os from 'node:os';
import { env as tfEnv, findBackend, getBackend, ready, setBackend, version_core } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The Node build of tfjs-core ships without its gradient functions; tfjs-layers' Node build registers them all.
import '@tensorflow/tfjs-layers';
import { BackendUnavailableError, EngineArgumentError, errorMessage } from './errors.js';
import { registerWasmTrainingKernels } from './kernels/register-all.js';
import { silentLogger, type EngineLogger } from './logger.js';

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
   * Threads one process computes with: the wasm backend's pool (1 in Node), 1 for cpu, and the machine's logical
   * cores for libtensorflow (its default intra-op pool).
   */
  readonly threads: number;
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
  /** Receives the choice and every fallback. @default silentLogger */
  logger?: EngineLogger;
  /** Environment to read `SUPWALSH_BACKEND` from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Loads a native package (tests inject failures or fakes). @default dynamic `import()` */
  importNative?: (name: NativePackage) => Promise<unknown>;
}

interface NativeModule {
  readonly name: NativePackage;
  readonly version: string;
}

let current: { requested: BackendChoice; info: EngineInfo } | null = null;
let pending: { requested: BackendChoice; promise: Promise<EngineInfo> } | null = null;
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
  if (current?.requested === requested && getBackend() === current.info.backend) return current.info;
  if (pending?.requested === requested) return pending.promise;
  const promise = start(requested, options);
  pending = { requested, promise };
  try {
    const info = await promise;
    current = { requested, info };
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

async function start(requested: BackendChoice, options: EngineOptions): Promise<EngineInfo> {
  const logger = options.logger ?? silentLogger;
  const skipped: string[] = [];
  const order: BackendName[] = requested === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [requested];
  for (const backend of order) {
    try {
      const info = await activate(backend, requested, skipped, options);
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
  skipped: readonly string[],
  options: EngineOptions
): Promise<EngineInfo> {
  const base = { requested, skipped: [...skipped], tfjsCore: version_core };
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
      // Start the backend before replacing kernels: its own kernels' set-up runs at start, so the replaced ones stay
      // callable for comparison (`nativeWasmKernel`). In Node the .wasm binaries load from the package's dist/
      // folder without `setWasmPaths`.
      if (!(await setBackend('wasm'))) {
        throw new BackendUnavailableError(
          'wasm',
          'initEngine: @tensorflow/tfjs-backend-wasm did not start (it reads its .wasm binaries from its dist/ folder)'
        );
      }
      await ready();
      const kernels = registerWasmTrainingKernels();
      const simd = Boolean(await tfEnv().getAsync('WASM_HAS_SIMD_SUPPORT'));
      return Object.freeze({
        ...base,
        backend,
        gpu: false,
        threads: wasm.getThreadsCount(),
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
  if (info.simd !== undefined) extras.push(info.simd ? 'SIMD' : 'no SIMD');
  return `initEngine: backend '${info.backend}' (${info.package} ${info.version}; ${extras.join(', ')})`;
}

/** Forgets the cached choice and native-load failures (tests only; the backend itself stays as it is). */
export function resetEngineForTests(): void {
  current = null;
  pending = null;
  nativeFailures = null;
}
