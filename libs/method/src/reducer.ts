import { createBucketLayout, flattenGradients, unflattenGradients, type BucketLayout } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { addStepTime, countStep } from './step-profile.js';

/**
 * How the ranks of a run combine their partial sums. The service passes one backed by @supwalsh/collective's ring
 * all-reduce; in one process it is `LOCAL_REDUCER`. The method never imports the network itself.
 */
export interface GradientReducer {
  readonly rank: number;
  readonly worldSize: number;
  /** Sums every buffer element-wise over the ranks, in place; every rank ends with identical bits. */
  sum(buffers: Float32Array[]): Promise<void>;
  /** Copies `root`'s buffers into every rank's, in place (a run's initial weights). Optional: without it, ranks
   * rely on building identical weights from the seed. */
  broadcast?(buffers: Float32Array[], root: number): Promise<void>;
}

/** World size 1: nothing to combine. */
export const LOCAL_REDUCER: GradientReducer = { rank: 0, worldSize: 1, sum: () => Promise.resolve() };

/** What one rank's share of a step computes: summed loss and correct predictions over its samples. */
export interface ShardForward {
  /** Sum of the per-sample losses of this rank's samples (differentiated). */
  readonly loss: tf.Scalar;
  /** Number of this rank's samples classified correctly. */
  readonly correct: tf.Scalar;
}

/**
 * A step's gradients, identical on every rank: `gradSums[i] · gradScale` is the gradient of the global mean loss.
 * The scale is left to the optimizer (`Optimizer.apply(gradSums, gradScale)`), whose fused update multiplies by it
 * first — the same float32 product a separate pass over every parameter would compute, without that pass.
 */
export interface ReducedStep {
  /** One tensor per variable, in the order given: the gradient of the summed loss over all ranks' samples. The
   * caller disposes them. */
  readonly gradSums: tf.Tensor[];
  /** 1 / the global sample count. */
  readonly gradScale: number;
  /** Global mean loss of the step. */
  readonly loss: number;
  /** Correct predictions over all ranks. */
  readonly correct: number;
}

/**
 * The gradient step of invariant 1: each rank differentiates the *sum* of its samples' losses, the sums are
 * all-reduced, and the optimizer scales them by 1 / the global sample count — so 1, 2 or 4 ranks give the same
 * update up to float summation order. A rank with no samples this step passes `forward: null` and contributes zeros.
 */
export class ShardedStep {
  private layout: BucketLayout | undefined;
  /** Every gradient value, then the loss sum and the correct count: one all-reduce per step. */
  private fused: Float32Array | undefined;

  constructor(
    private readonly variables: readonly tf.Variable[],
    private readonly reducer: GradientReducer
  ) {}

  async run(forward: (() => ShardForward) | null, globalCount: number): Promise<ReducedStep> {
    // One turn of the event loop per step: on one rank nothing else awaits I/O, and a worker must keep answering
    // heartbeats and aborts while it trains.
    await new Promise(setImmediate);
    countStep();
    let t = performance.now();
    let correct: tf.Scalar | undefined;
    const local = forward
      ? tf.variableGrads(() => {
          const out = forward();
          correct = tf.keep(out.correct);
          return out.loss;
        }, this.variables as tf.Variable[])
      : undefined;
    const localGrads = local ? this.variables.map((v) => local.grads[v.name] as tf.Tensor) : undefined;
    t = addStepTime('forwardBackwardMs', t);
    let handedOver = false;
    try {
      const stats = new Float32Array(2);
      if (local)
        stats.set([(await local.value.data())[0] as number, (await (correct as tf.Scalar).data())[0] as number]);
      t = addStepTime('readBackMs', t);
      const gradScale = 1 / globalCount;
      if (this.reducer.worldSize === 1) {
        // The local sums are the step's sums: handed over as they are (the finally below keeps them alive).
        const gradSums = localGrads ?? this.variables.map((v) => tf.zerosLike(v));
        handedOver = true;
        return { gradSums, gradScale, loss: (stats[0] as number) * gradScale, correct: stats[1] as number };
      }
      // One bucket holding every gradient, with the two statistics after it: a single ring operation per step
      // (the ring pipelines its chunks itself; several concurrent operations only add round trips).
      this.layout ??= createBucketLayout(
        this.variables.map((v) => ({ name: v.name, shape: v.shape })),
        {
          bucketBytes:
            4 *
            Math.max(
              1,
              this.variables.reduce((n, v) => n + v.size, 0)
            ),
        }
      );
      const total = this.layout.totalElements;
      this.fused ??= new Float32Array(total + 2);
      const gradients = this.fused.subarray(0, total);
      // Read back straight into the buffer (on wasm one copy out of the heap, no array per variable).
      if (localGrads) await flattenGradients(localGrads, this.layout, [gradients]);
      else gradients.fill(0);
      this.fused.set(stats, total);
      t = addStepTime('readBackMs', t);
      await this.reducer.sum([this.fused]);
      t = addStepTime('reduceMs', t);
      stats.set(this.fused.subarray(total));
      const gradSums = unflattenGradients([gradients], this.layout).map((g) => g.tensor);
      addStepTime('unpackMs', t);
      return { gradSums, gradScale, loss: (stats[0] as number) / globalCount, correct: stats[1] as number };
    } finally {
      local?.value.dispose();
      correct?.dispose();
      if (!handedOver) localGrads?.forEach((g) => g.dispose());
    }
  }
}

/** Per-sample softmax cross-entropy summed over the batch, and the number of correct argmax predictions. */
export function sumCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): ShardForward {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const oneHot = tf.oneHot(labels, numClasses);
    const loss = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits))));
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
    return { loss: loss as tf.Scalar, correct: correct as tf.Scalar };
  });
}
