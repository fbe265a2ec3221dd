/**
 * One (backend, model) cell of the train-step benchmark, in its own process so that its peak memory is its own (the
 * wasm heap and the process RSS never shrink) and a model that exhausts a backend's memory fails only its own row.
 * Started by train-step.ts with `fork`; receives a `TrainStepJob` as argv[2] (JSON) and sends one `TrainStepResult`.
 */
import {
  ADAM_UPDATE_KERNEL,
  initEngine,
  nativeWasmKernel,
  SGD_UPDATE_KERNEL,
  type BackendName,
} from '@supwalsh/engine';
import { createOptimizer, LOCAL_REDUCER, ShardedStep, sumCrossEntropy, type ResolvedOptimizer } from '@supwalsh/method';
import { buildModel, countParameters, type ModelName } from '@supwalsh/models';
import * as tf from '@tensorflow/tfjs-core';
import { installKernelProfiler, type KernelProfileEntry } from '../kernel-profile.js';
import { time } from '../timing.js';

export type OptimizerName = 'sgd' | 'momentum' | 'adam';

export interface TrainStepJob {
  backend: BackendName;
  model: ModelName;
  inputShape: [number, number, number];
  numClasses: number;
  batch: number;
  optimizer: OptimizerName;
  /** Time only the first step (cpu on big models); otherwise one warm-up step, then `time()`. */
  singleStep: boolean;
  minSeconds: number;
  /** wasm compute threads (`initEngine({ threads })`); unset: the engine's default. */
  threads?: number;
  /**
   * `fused`: the optimizer's per-variable update is the engine's one fused kernel (wasm); `ops`: the fused kernels
   * are unregistered, so the same update runs as its TF.js op sequence — the step as it was before the fusion.
   */
  updates: UpdatesName;
  /** Engine kernels to put back to the wasm backend's own before the model is built (`--native-kernels`). */
  nativeKernels?: string[];
  /** After the timed steps, run one more step with every kernel of the backend timed (`--profile`). */
  profile?: boolean;
}

/** One step broken down by kernel (see `installKernelProfiler`). */
export interface StepProfile {
  /** Wall ms of the profiled step (the timers add a little). */
  stepMs: number;
  /** CPU ms of the process (all threads) during the profiled step. */
  stepCpuMs: number;
  entries: KernelProfileEntry[];
}

export type UpdatesName = 'fused' | 'ops';

export type TrainStepResult =
  | {
      ok: true;
      /** The package that provided the backend, e.g. `@tensorflow/tfjs-backend-wasm 4.22.0, 1 thread`. */
      engine: string;
      /** Threads the engine computed with. */
      threads: number;
      params: number;
      /** Seconds of each step: the first (with optimizer set-up) and the timed median. */
      firstSeconds: number;
      medianSeconds: number;
      runs: number;
      /** Mean CPU seconds of this process (all threads) per timed step: steadier than the wall on a shared machine. */
      cpuSecondsPerStep: number;
      /** Highest total bytes of live tensors during the steps (all of TF.js's tensors: weights, gradients, activations). */
      peakTensorBytes: number;
      /** The process's resident-set high-water mark (includes the wasm heap, the JS heap and Node itself). */
      maxRssBytes: number;
      loss: number;
      profile?: StepProfile;
    }
  | { ok: false; message: string };

const SGD: ResolvedOptimizer = {
  kind: 'sgd',
  learningRate: 0.01,
  // The original's training optimizer decays weights by 3e-6 (PyTorch's side runs the same).
  weightDecay: 3e-6,
  momentum: 0,
  nesterov: false,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
};

/** The method's optimizer specs the benchmark can run. */
export const OPTIMIZERS: Record<OptimizerName, ResolvedOptimizer> = {
  sgd: SGD,
  momentum: { ...SGD, momentum: 0.9 },
  adam: { ...SGD, kind: 'adam', learningRate: 1e-3, weightDecay: 0 },
};

/**
 * Tracks the engine's live-tensor byte count's maximum. `tf.profile` would give it too, but it spreads one entry per
 * kernel call into `Math.max(...)`, which overflows the stack on MiT-b0's tens of thousands of kernel calls.
 */
function trackPeakTensorBytes(): () => number {
  const state = (tf.engine() as unknown as { state: { numBytes: number } }).state;
  let current = state.numBytes;
  let peak = current;
  Object.defineProperty(state, 'numBytes', {
    configurable: true,
    get: () => current,
    set: (v: number) => {
      current = v;
      if (v > peak) peak = v;
    },
  });
  return () => peak;
}

async function run(job: TrainStepJob): Promise<TrainStepResult> {
  const info = await initEngine({
    backend: job.backend,
    ...(job.threads === undefined ? {} : { threads: job.threads }),
  });
  if (job.updates === 'ops') {
    tf.unregisterKernel(ADAM_UPDATE_KERNEL, 'wasm');
    tf.unregisterKernel(SGD_UPDATE_KERNEL, 'wasm');
  }
  for (const kernel of job.nativeKernels ?? []) {
    const native = nativeWasmKernel(kernel);
    if (native === undefined) {
      throw new Error(`--native-kernels: the engine replaced no wasm kernel named ${kernel} (it has none to put back)`);
    }
    tf.unregisterKernel(kernel, 'wasm');
    tf.registerKernel(native);
  }
  const peak = trackPeakTensorBytes();
  const model = buildModel(job.model, { inputShape: job.inputShape, numClasses: job.numClasses });
  // The service's training step: the summed loss differentiated by ShardedStep (one rank), the method's optimizer.
  const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const optimizer = createOptimizer(OPTIMIZERS[job.optimizer], variables);
  const sharded = new ShardedStep(variables, LOCAL_REDUCER);
  const x = tf.randomUniform([job.batch, ...job.inputShape], 0, 1, 'float32', 1);
  const y = tf.tensor1d(
    Array.from({ length: job.batch }, (_, i) => i % job.numClasses),
    'int32'
  );
  let loss = Number.NaN;
  const step = async () => {
    const reduced = await sharded.run(
      () => sumCrossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y),
      job.batch
    );
    optimizer.apply(reduced.gradSums, reduced.gradScale);
    reduced.gradSums.forEach((g) => g.dispose());
    loss = reduced.loss;
  };
  const started = performance.now();
  await step();
  const firstSeconds = (performance.now() - started) / 1000;
  const cpuStarted = process.cpuUsage();
  const timing = job.singleStep
    ? { median: firstSeconds, runs: 1 }
    : await time(step, { warmup: 0, minRuns: 2, minSeconds: job.minSeconds, maxRuns: 20 });
  const cpu = process.cpuUsage(cpuStarted);
  let profile: StepProfile | undefined;
  if (job.profile) {
    // Its own step after the timed ones, so the timers never touch the timing.
    const profiler = installKernelProfiler(tf.getBackend());
    const profiledStarted = performance.now();
    const profiledCpu = process.cpuUsage();
    await step();
    const stepMs = performance.now() - profiledStarted;
    const cpuUsed = process.cpuUsage(profiledCpu);
    profile = { stepMs, stepCpuMs: (cpuUsed.user + cpuUsed.system) / 1000, entries: profiler.entries() };
    profiler.uninstall();
  }
  return {
    ok: true,
    cpuSecondsPerStep: job.singleStep ? Number.NaN : (cpu.user + cpu.system) / 1e6 / timing.runs,
    engine: `${info.package} ${info.version}, ${info.threads} thread${info.threads === 1 ? '' : 's'}${info.gpu ? ', GPU' : ''}`,
    threads: info.threads,
    params: countParameters(model).trainable,
    firstSeconds,
    medianSeconds: timing.median,
    runs: timing.runs,
    peakTensorBytes: peak(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    loss,
    ...(profile ? { profile } : {}),
  };
}

const job = JSON.parse(process.argv[2] ?? '{}') as TrainStepJob;
run(job).then(
  (result) => process.send!(result, () => process.exit(0)),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.send!({ ok: false, message } satisfies TrainStepResult, () => process.exit(1));
  }
);
