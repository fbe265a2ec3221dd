import * as tf from '@tensorflow/tfjs-core';
import { MethodArgumentError } from './errors.js';
import type { ResolvedOptimizer } from './spec.js';

/**
 * SGD and Adam with PyTorch's semantics (L2 weight decay added to the gradient; Adam's bias corrections as
 * `torch.optim.Adam`, not AdamW), over a fixed list of variables. The state is explicit so a checkpoint can hold it
 * and any world size can resume it.
 */
export interface Optimizer {
  readonly spec: ResolvedOptimizer;
  /** Steps applied so far. */
  readonly iterations: number;
  /** Applies one update; `grads[i]` belongs to `variables[i]` and is the gradient of the *mean* loss. */
  apply(grads: readonly tf.Tensor[]): void;
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

  const apply = (grads: readonly tf.Tensor[]): void => {
    if (grads.length !== variables.length) {
      throw new MethodArgumentError(
        'Optimizer.apply',
        'grads',
        `has ${grads.length} tensors, expected ${variables.length}`
      );
    }
    iterations += 1;
    tf.tidy(() => {
      variables.forEach((p, i) => {
        let g = grads[i] as tf.Tensor;
        if (spec.weightDecay !== 0) g = tf.add(g, tf.mul(p, spec.weightDecay));
        if (spec.kind === 'sgd') {
          if (spec.momentum > 0) {
            const buf = slots[i] as tf.Variable;
            buf.assign(momentumStarted ? tf.add(tf.mul(buf, spec.momentum), g) : g);
            g = spec.nesterov ? tf.add(g, tf.mul(buf, spec.momentum)) : buf;
          }
          p.assign(tf.sub(p, tf.mul(g, spec.learningRate)));
        } else {
          const m = slots[2 * i] as tf.Variable;
          const v = slots[2 * i + 1] as tf.Variable;
          m.assign(tf.add(tf.mul(m, spec.beta1), tf.mul(g, 1 - spec.beta1)));
          v.assign(tf.add(tf.mul(v, spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2)));
          const bc1 = 1 - spec.beta1 ** iterations;
          const bc2 = 1 - spec.beta2 ** iterations;
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), spec.epsilon);
          p.assign(tf.sub(p, tf.mul(tf.div(m, denom), spec.learningRate / bc1)));
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
