import { adamUpdate, sgdUpdate } from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { MethodArgumentError } from './errors.js';
import type { ResolvedOptimizer } from './spec.js';

/**
 * SGD and Adam with PyTorch's semantics (L2 weight decay added to the gradient; Adam's bias corrections as
 * `torch.optim.Adam`, not AdamW), over a fixed list of variables. The state is explicit so a checkpoint can hold it
 * and any world size can resume it. Each variable's update is one engine op (`adamUpdate` / `sgdUpdate`: a single
 * fused pass on wasm, the same float32 operations as TF.js ops elsewhere).
 */
export interface Optimizer {
  readonly spec: ResolvedOptimizer;
  /** Steps applied so far. */
  readonly iterations: number;
  /**
   * Applies one update; `grads[i]` belongs to `variables[i]`, and `grads[i] · gradScale` is the gradient of the
   * *mean* loss (`ShardedStep` hands over sums and 1 / samples: the scaling happens inside the fused update instead
   * of in a pass of its own).
   */
  apply(grads: readonly tf.Tensor[], gradScale?: number): void;
  /** Moments (Adam: m then v per variable; SGD with momentum: the buffer per variable) as flat copies. */
  exportState(): { iterations: number; slots: Float32Array[] };
  importState(state: { iterations: number; slots: readonly Float32Array[] }): void;
  dispose(): void;
}

export function createOptimizer(spec: ResolvedOptimizer, variables: readonly tf.Variable[]): Optimizer {
  const slotsPerVariable = spec.kind === 'adam' ? 2 : spec.momentum > 0 ? 1 : 0;
  const slots = variables.flatMap((v) =>
    Array.from({ length: slotsPerVariable }, () => tf.tidy(() => tf.variable(tf.zerosLike(v), false)))
  );
  let iterations = 0;
  // PyTorch's first momentum step copies the gradient into the buffer instead of decaying an empty one.
  let momentumStarted = false;

  const apply = (grads: readonly tf.Tensor[], gradScale = 1): void => {
    if (grads.length !== variables.length) {
      throw new MethodArgumentError(
        'Optimizer.apply',
        'grads',
        `has ${grads.length} tensors, expected ${variables.length}`
      );
    }
    if (!Number.isFinite(gradScale)) {
      throw new MethodArgumentError('Optimizer.apply', 'gradScale', `must be a finite number, got ${gradScale}`);
    }
    iterations += 1;
    const bc1 = 1 - spec.beta1 ** iterations;
    const bc2 = 1 - spec.beta2 ** iterations;
    tf.tidy(() => {
      variables.forEach((p, i) => {
        const g = grads[i] as tf.Tensor;
        if (spec.kind === 'sgd') {
          const buf = spec.momentum > 0 ? (slots[i] as tf.Variable) : null;
          const out = sgdUpdate(p, g, buf, {
            learningRate: spec.learningRate,
            weightDecay: spec.weightDecay,
            gradScale,
            momentum: spec.momentum,
            nesterov: spec.nesterov,
            firstStep: !momentumStarted,
          });
          p.assign(out.p);
          if (buf !== null && out.buf !== null) buf.assign(out.buf);
        } else {
          const m = slots[2 * i] as tf.Variable;
          const v = slots[2 * i + 1] as tf.Variable;
          const out = adamUpdate(p, g, m, v, {
            beta1: spec.beta1,
            beta2: spec.beta2,
            epsilon: spec.epsilon,
            lrOverBc1: spec.learningRate / bc1,
            sqrtBc2: Math.sqrt(bc2),
            weightDecay: spec.weightDecay,
            gradScale,
          });
          p.assign(out.p);
          m.assign(out.m);
          v.assign(out.v);
        }
      });
    });
    momentumStarted = true;
  };

  return {
    spec,
    get iterations() {
      return iterations;
    },
    apply,
    exportState: () => ({ iterations, slots: slots.map((s) => Float32Array.from(s.dataSync())) }),
    importState(state) {
      if (state.slots.length !== slots.length) {
        throw new MethodArgumentError(
          'Optimizer.importState',
          'state.slots',
          `has ${state.slots.length}, expected ${slots.length}`
        );
      }
      tf.tidy(() => slots.forEach((s, i) => s.assign(tf.tensor(state.slots[i] as Float32Array, s.shape))));
      iterations = state.iterations;
      momentumStarted = iterations > 0;
    },
    dispose: () => slots.forEach((s) => s.dispose()),
  };
}
