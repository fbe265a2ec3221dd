import * as tf from '@tensorflow/tfjs-core';

/**
 * An element-wise optimizer update written once as a straight-line program of float32 operations, so that every
 * implementation — the TF.js op sequence (any backend) and the fused wasm SIMD loop (`wasm-update-module.ts`) —
 * performs the same operations on the same operands in the same order, each rounded to float32. Each operation is
 * correctly rounded in IEEE 754 on both (TF.js's kernels and wasm's `f32x4` instructions alike), so the results are
 * bit-identical by construction; `optimizer-updates.spec.ts` checks it.
 */
export type UpdateNode =
  | { readonly op: 'input'; readonly index: number }
  | { readonly op: 'scalar'; readonly index: number }
  | { readonly op: 'add' | 'sub' | 'mul' | 'div'; readonly a: number; readonly b: number }
  | { readonly op: 'sqrt' | 'square'; readonly a: number };

export interface UpdateProgram {
  /** Input tensors by name, in the order the kernel receives them. */
  readonly inputs: readonly string[];
  /** Scalar operands by name (float32-rounded when used, as TF.js rounds a number operand). */
  readonly scalars: readonly string[];
  /** The operations; an operand refers to an earlier node by index. */
  readonly nodes: readonly UpdateNode[];
  /** Output name → node. An output may be an input node unchanged only through a copy (see `outputs`). */
  readonly outputs: readonly { readonly name: string; readonly node: number }[];
}

/** Builds an `UpdateProgram`; every method returns the new node's index. */
export class UpdateProgramBuilder {
  private readonly inputs: string[] = [];
  private readonly scalars: string[] = [];
  private readonly nodes: UpdateNode[] = [];
  private readonly memo = new Map<string, number>();

  input(name: string): number {
    return this.leaf('input', name, this.inputs);
  }

  scalar(name: string): number {
    return this.leaf('scalar', name, this.scalars);
  }

  add(a: number, b: number): number {
    return this.push({ op: 'add', a, b });
  }

  sub(a: number, b: number): number {
    return this.push({ op: 'sub', a, b });
  }

  mul(a: number, b: number): number {
    return this.push({ op: 'mul', a, b });
  }

  div(a: number, b: number): number {
    return this.push({ op: 'div', a, b });
  }

  sqrt(a: number): number {
    return this.push({ op: 'sqrt', a });
  }

  square(a: number): number {
    return this.push({ op: 'square', a });
  }

  build(outputs: Record<string, number>): UpdateProgram {
    return {
      inputs: [...this.inputs],
      scalars: [...this.scalars],
      nodes: [...this.nodes],
      outputs: Object.entries(outputs).map(([name, node]) => ({ name, node })),
    };
  }

  private leaf(op: 'input' | 'scalar', name: string, names: string[]): number {
    const key = `${op}:${name}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    names.push(name);
    const node = this.push({ op, index: names.length - 1 });
    this.memo.set(key, node);
    return node;
  }

  private push(node: UpdateNode): number {
    this.nodes.push(node);
    return this.nodes.length - 1;
  }
}

/** Which optional steps an Adam update contains (each changes the operation sequence, so each is its own program). */
export interface AdamVariant {
  /** Multiply the gradient by `gradScale` first (a sum of per-sample gradients → the mean's). */
  readonly scaled: boolean;
  /** Add `weightDecay · p` to the gradient (PyTorch's L2 decay). */
  readonly decayed: boolean;
}

/**
 * `torch.optim.Adam`'s update in the operation order of `@supwalsh/method`'s optimizer:
 * m ← m·β₁ + g·(1 − β₁); v ← v·β₂ + g²·(1 − β₂); p ← p − (m / (√v / √bc₂ + ε)) · (lr / bc₁).
 */
export function adamProgram({ scaled, decayed }: AdamVariant): UpdateProgram {
  const b = new UpdateProgramBuilder();
  const p = b.input('p');
  let g = b.input('g');
  const m0 = b.input('m');
  const v0 = b.input('v');
  if (scaled) g = b.mul(g, b.scalar('gradScale'));
  if (decayed) g = b.add(g, b.mul(p, b.scalar('weightDecay')));
  const m = b.add(b.mul(m0, b.scalar('beta1')), b.mul(g, b.scalar('oneMinusBeta1')));
  const v = b.add(b.mul(v0, b.scalar('beta2')), b.mul(b.square(g), b.scalar('oneMinusBeta2')));
  const denom = b.add(b.div(b.sqrt(v), b.scalar('sqrtBc2')), b.scalar('epsilon'));
  return b.build({ p: b.sub(p, b.mul(b.div(m, denom), b.scalar('lrOverBc1'))), m, v });
}

/** Which optional steps an SGD update contains. */
export interface SgdVariant extends AdamVariant {
  /** No momentum buffer; `first`: the buffer becomes the gradient (PyTorch's first step); `running`: m·μ + g. */
  readonly momentum: 'none' | 'first' | 'running';
  /** Nesterov: step along g + buf·μ instead of buf. */
  readonly nesterov: boolean;
}

/** `torch.optim.SGD`'s update (dampening 0) in the operation order of `@supwalsh/method`'s optimizer. */
export function sgdProgram({ scaled, decayed, momentum, nesterov }: SgdVariant): UpdateProgram {
  const b = new UpdateProgramBuilder();
  const p = b.input('p');
  let g = b.input('g');
  if (scaled) g = b.mul(g, b.scalar('gradScale'));
  if (decayed) g = b.add(g, b.mul(p, b.scalar('weightDecay')));
  if (momentum === 'none') return b.build({ p: b.sub(p, b.mul(g, b.scalar('learningRate'))) });
  const buf = momentum === 'first' ? g : b.add(b.mul(b.input('buf'), b.scalar('momentum')), g);
  const step = nesterov ? b.add(g, b.mul(buf, b.scalar('momentum'))) : buf;
  return b.build({ p: b.sub(p, b.mul(step, b.scalar('learningRate'))), buf });
}

/**
 * Runs `program` as TF.js ops on the current backend (one kernel per operation): the implementation for backends
 * without the fused kernel, and the operation sequence the fused kernel must reproduce. Call inside `tf.tidy`.
 * An output that is an input unchanged is returned as that input (the caller assigns it; nothing is copied).
 */
export function runProgramAsOps(
  program: UpdateProgram,
  inputs: readonly tf.Tensor[],
  scalars: readonly number[]
): tf.Tensor[] {
  const values: (tf.Tensor | number)[] = [];
  const tensor = (i: number): tf.Tensor | number => values[i] as tf.Tensor | number;
  for (const node of program.nodes) {
    switch (node.op) {
      case 'input':
        values.push(inputs[node.index] as tf.Tensor);
        break;
      case 'scalar':
        values.push(scalars[node.index] as number);
        break;
      case 'add':
        values.push(tf.add(tensor(node.a), tensor(node.b)));
        break;
      case 'sub':
        values.push(tf.sub(tensor(node.a), tensor(node.b)));
        break;
      case 'mul':
        values.push(tf.mul(tensor(node.a), tensor(node.b)));
        break;
      case 'div':
        values.push(tf.div(tensor(node.a), tensor(node.b)));
        break;
      case 'sqrt':
        values.push(tf.sqrt(tensor(node.a) as tf.Tensor));
        break;
      case 'square':
        values.push(tf.square(tensor(node.a) as tf.Tensor));
        break;
    }
  }
  return program.outputs.map((o) => tensor(o.node) as tf.Tensor);
}
