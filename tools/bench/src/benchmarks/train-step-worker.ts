/**
 * One (backend, model) cell of the train-step benchmark, in its own process so that its peak memory is its own (the
 * wasm heap and the process RSS never shrink) and a model that exhausts a backend's memory fails only its own row.
 * Started by train-step.ts with `fork`; receives a `TrainStepJob` as argv[2] (JSON) and sends one `TrainStepResult`.
 */
import { initEngine, type BackendName } from '@supwalsh/engine';
import { buildModel, countParameters, type ModelName } from '@supwalsh/models';
import * as tf from '@tensorflow/tfjs-core';
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
}

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
      /** Highest total bytes of live tensors during the steps (all of TF.js's tensors: weights, gradients, activations). */
      peakTensorBytes: number;
      /** The process's resident-set high-water mark (includes the wasm heap, the JS heap and Node itself). */
      maxRssBytes: number;
      loss: number;
    }
  | { ok: false; message: string };

function createOptimizer(name: OptimizerName): tf.Optimizer {
  switch (name) {
    case 'sgd':
      return tf.train.sgd(0.01);
    case 'momentum':
      return tf.train.momentum(0.01, 0.9);
    case 'adam':
      return tf.train.adam(1e-3);
  }
}

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
  const peak = trackPeakTensorBytes();
  const model = buildModel(job.model, { inputShape: job.inputShape, numClasses: job.numClasses });
  const optimizer = createOptimizer(job.optimizer);
  const { x, y } = tf.tidy(() => ({
    x: tf.randomUniform([job.batch, ...job.inputShape], 0, 1, 'float32', 1),
    y: tf.cast(
      tf.oneHot(
        tf.tensor1d(
          Array.from({ length: job.batch }, (_, i) => i % job.numClasses),
          'int32'
        ),
        job.numClasses
      ),
      'float32'
    ),
  }));
  let loss = Number.NaN;
  const step = () => {
    const value = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      true
    ) as tf.Scalar;
    loss = value.dataSync()[0] ?? Number.NaN;
    value.dispose();
  };
  const started = performance.now();
  step();
  const firstSeconds = (performance.now() - started) / 1000;
  const timing = job.singleStep
    ? { median: firstSeconds, runs: 1 }
    : await time(step, { warmup: 0, minRuns: 2, minSeconds: job.minSeconds, maxRuns: 20 });
  return {
    ok: true,
    engine: `${info.package} ${info.version}, ${info.threads} thread${info.threads === 1 ? '' : 's'}${info.gpu ? ', GPU' : ''}`,
    threads: info.threads,
    params: countParameters(model).trainable,
    firstSeconds,
    medianSeconds: timing.median,
    runs: timing.runs,
    peakTensorBytes: peak(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    loss,
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
