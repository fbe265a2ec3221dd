import * as tf from '@tensorflow/tfjs-core';
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { EngineArgumentError, KernelConfigError } from '../errors.js';
import { isWasmMemory, type WasmMemory } from '../wasm-module.js';
import { adamProgram, runProgramAsOps, sgdProgram, type UpdateProgram } from './update-program.js';
import { compileUpdate, type UpdateFunction } from './wasm-update-module.js';

/** The fused Adam update's kernel name (wasm backend). */
export const ADAM_UPDATE_KERNEL = 'SupwalshAdamUpdate';
/** The fused SGD update's kernel name (wasm backend). */
export const SGD_UPDATE_KERNEL = 'SupwalshSgdUpdate';

/** One Adam step's constants; the step-dependent bias corrections are the caller's (it counts the steps). */
export interface AdamUpdateConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** learning rate / (1 − β₁ᵗ) */
  readonly lrOverBc1: number;
  /** √(1 − β₂ᵗ) */
  readonly sqrtBc2: number;
  /** L2 decay added to the gradient (`torch.optim.Adam`'s `weight_decay`); default 0. */
  readonly weightDecay?: number;
  /** The gradient is multiplied by this first (e.g. 1 / samples for a summed loss); default 1. */
  readonly gradScale?: number;
}

/** One SGD step's constants (`torch.optim.SGD`, dampening 0). */
export interface SgdUpdateConfig {
  readonly learningRate: number;
  readonly weightDecay?: number;
  readonly gradScale?: number;
  /** Momentum factor; > 0 needs a buffer. Default 0. */
  readonly momentum?: number;
  readonly nesterov?: boolean;
  /** The buffer's first step: it becomes the gradient (PyTorch), the buffer passed in is not read. */
  readonly firstStep?: boolean;
}

/**
 * One `torch.optim.Adam` step for one variable: returns the new `p`, `m` and `v` (the caller assigns them). On wasm
 * it is one fused SIMD pass (`SupwalshAdamUpdate`); elsewhere the same operations as TF.js ops. Both give the bits
 * of the op sequence m·β₁ + g·(1 − β₁), v·β₂ + g²·(1 − β₂), p − (m / (√v / √bc₂ + ε))·(lr / bc₁), after
 * g ← g·gradScale (if ≠ 1) and g ← g + p·weightDecay (if ≠ 0).
 */
export function adamUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  config: AdamUpdateConfig
): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  const fn = 'adamUpdate';
  for (const key of ['beta1', 'beta2', 'epsilon', 'lrOverBc1', 'sqrtBc2', 'weightDecay', 'gradScale'] as const) {
    checkFinite(fn, key, config[key]);
  }
  checkTensors(fn, p, { g, m, v });
  const weightDecay = config.weightDecay ?? 0;
  const gradScale = config.gradScale ?? 1;
  const variant = { scaled: gradScale !== 1, decayed: weightDecay !== 0 };
  const program = adamProgram(variant);
  const scalarValues: Record<string, number> = {
    gradScale,
    weightDecay,
    beta1: config.beta1,
    oneMinusBeta1: 1 - config.beta1,
    beta2: config.beta2,
    oneMinusBeta2: 1 - config.beta2,
    sqrtBc2: config.sqrtBc2,
    epsilon: config.epsilon,
    lrOverBc1: config.lrOverBc1,
  };
  const [pOut, mOut, vOut] = run(ADAM_UPDATE_KERNEL, program, variant, { p, g, m, v }, scalarValues);
  return { p: pOut as tf.Tensor, m: mOut as tf.Tensor, v: vOut as tf.Tensor };
}

/**
 * One `torch.optim.SGD` step for one variable: returns the new `p` and, with momentum, the new buffer. On wasm one
 * fused SIMD pass (`SupwalshSgdUpdate`), elsewhere TF.js ops; the same bits as the op sequence g ← g·gradScale,
 * g ← g + p·weightDecay, buf ← buf·μ + g (the gradient itself on the first step), d ← nesterov ? g + buf·μ : buf,
 * p − d·lr.
 */
export function sgdUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  buf: tf.Tensor | null,
  config: SgdUpdateConfig
): { p: tf.Tensor; buf: tf.Tensor | null } {
  const fn = 'sgdUpdate';
  for (const key of ['learningRate', 'weightDecay', 'gradScale', 'momentum'] as const)
    checkFinite(fn, key, config[key]);
  const momentum = config.momentum ?? 0;
  if (momentum < 0) throw new EngineArgumentError(fn, 'config.momentum', `must be ≥ 0, got ${momentum}`);
  const first = config.firstStep ?? false;
  if (momentum > 0 && !first && buf === null) {
    throw new EngineArgumentError(fn, 'buf', 'is required with momentum > 0 after the first step');
  }
  checkTensors(fn, p, momentum > 0 && !first ? { g, buf: buf as tf.Tensor } : { g });
  const weightDecay = config.weightDecay ?? 0;
  const gradScale = config.gradScale ?? 1;
  const variant = {
    scaled: gradScale !== 1,
    decayed: weightDecay !== 0,
    momentum: momentum === 0 ? 'none' : first ? 'first' : 'running',
    nesterov: momentum > 0 && (config.nesterov ?? false),
  } as const;
  const program = sgdProgram(variant);
  const inputs: Record<string, tf.Tensor> = { p, g };
  if (variant.momentum === 'running') inputs['buf'] = buf as tf.Tensor;
  const outputs = run(SGD_UPDATE_KERNEL, program, variant, inputs, {
    gradScale,
    weightDecay,
    momentum,
    learningRate: config.learningRate,
  });
  return { p: outputs[0] as tf.Tensor, buf: momentum > 0 ? (outputs[1] as tf.Tensor) : null };
}

/** Attributes of the fused kernels: the variant (which program) and the scalars in the program's order. */
interface FusedAttrs {
  variant: string;
  scalars: number[];
}

function run(
  kernel: string,
  program: UpdateProgram,
  variant: object,
  inputs: Record<string, tf.Tensor>,
  scalarValues: Record<string, number>
): tf.Tensor[] {
  const scalars = program.scalars.map((s) => scalarValues[s] as number);
  if (fusedAvailable(kernel)) {
    const attrs: FusedAttrs = { variant: JSON.stringify(variant), scalars };
    const named = Object.fromEntries(program.inputs.map((name) => [name, inputs[name] as tf.Tensor]));
    return tf.engine().runKernel(kernel, named, attrs as unknown as NamedAttrMap) as tf.Tensor[];
  }
  return tf.tidy(() =>
    runProgramAsOps(
      program,
      program.inputs.map((name) => inputs[name] as tf.Tensor),
      scalars
    )
  );
}

/** The fused kernel runs where the backend is wasm, the kernel is registered and its heap can be imported. */
function fusedAvailable(kernel: string): boolean {
  if (tf.getBackend() !== 'wasm' || getKernel(kernel, 'wasm') === undefined) return false;
  return heapMemory(tf.backend() as unknown as WasmBackend) !== null;
}

function checkFinite(fn: string, key: string, value: number | undefined): void {
  if (value !== undefined && !Number.isFinite(value)) {
    throw new EngineArgumentError(fn, `config.${key}`, `must be a finite number, got ${value}`);
  }
}

function checkTensors(fn: string, p: tf.Tensor, others: Record<string, tf.Tensor>): void {
  if (p.dtype !== 'float32') throw new EngineArgumentError(fn, 'p', `must be float32, got ${p.dtype}`);
  for (const [name, t] of Object.entries(others)) {
    if (t.dtype !== 'float32') throw new EngineArgumentError(fn, name, `must be float32, got ${t.dtype}`);
    if (!tf.util.arraysEqual(t.shape, p.shape)) {
      throw new EngineArgumentError(fn, name, `has shape [${t.shape}], expected p's [${p.shape}]`);
    }
  }
}

/** What the fused kernels need from tfjs-backend-wasm's `BackendWasm` and its Emscripten module. */
export interface WasmBackend {
  wasm: { wasmMemory?: unknown; asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * The backend's heap as a `WebAssembly.Memory`: the threaded build creates it and keeps it as `Module.wasmMemory`;
 * the single-threaded build exports it (`Module.asm.memory`). Null where neither holds one (another build).
 */
export function heapMemory(backend: WasmBackend): WasmMemory | null {
  const module = backend.wasm;
  const candidate = module.wasmMemory ?? module.asm?.memory;
  return isWasmMemory(candidate) ? candidate : null;
}

/** Compiled update functions per heap, per program (a variant compiles once, in well under a millisecond). */
const compiled = new WeakMap<WasmMemory, Map<string, UpdateFunction>>();

function createFusedKernel(kernelName: string, programFor: (variant: never) => UpdateProgram): KernelConfig {
  const kernelFunc = (({ inputs, attrs, backend }) => {
    const wasm = backend as unknown as WasmBackend;
    const { variant, scalars } = attrs as unknown as FusedAttrs;
    const memory = heapMemory(wasm);
    if (memory === null) throw new KernelConfigError(kernelName, 'the wasm heap is not reachable in this build');
    const program = programFor(JSON.parse(variant) as never);
    let byProgram = compiled.get(memory);
    if (byProgram === undefined) compiled.set(memory, (byProgram = new Map()));
    const key = `${kernelName}:${variant}`;
    let update = byProgram.get(key);
    if (update === undefined) byProgram.set(key, (update = compileUpdate(program, memory)));

    const tensors = program.inputs.map((name) => {
      const info = inputs[name];
      if (info === undefined) throw new KernelConfigError(kernelName, `input '${name}' is missing`);
      return info;
    });
    const shape = [...(tensors[0] as TensorInfo).shape];
    const size = tf.util.sizeFromShape(shape);
    const outputs = program.outputs.map(() => wasm.makeOutput(shape, 'float32'));
    const address = (info: TensorInfo): number =>
      (wasm.dataIdMap.get(info.dataId) as { memoryOffset: number }).memoryOffset;
    // Byte counts reach 2³² in a 4 GB heap: wasm reads the i32 parameters as unsigned addresses.
    const vectorEnd = Math.floor(size / 4) * 16;
    update(...tensors.map(address), ...outputs.map(address), vectorEnd, size * 4, ...scalars);
    return outputs;
  }) as KernelFunc;
  return { kernelName, backendName: 'wasm', kernelFunc };
}

/** The fused Adam update for the wasm backend. */
export const adamUpdateConfig: KernelConfig = createFusedKernel(ADAM_UPDATE_KERNEL, adamProgram);
/** The fused SGD update for the wasm backend. */
export const sgdUpdateConfig: KernelConfig = createFusedKernel(SGD_UPDATE_KERNEL, sgdProgram);
