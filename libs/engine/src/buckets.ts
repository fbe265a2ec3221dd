import { backend, getBackend, tensor, type NamedTensorMap, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import { EngineArgumentError } from './errors.js';
import { hash128 } from './hash.js';

/** Bytes per bucket unless told otherwise: 4 MiB, i.e. 1 Mi float32 values. */
export const DEFAULT_BUCKET_BYTES = 4 * 1024 * 1024;

/** What a bucket layout needs to know about one variable. */
export interface BucketVariable {
  /** The variable's name in this process (TF.js uniquifies names per process, so names are never compared). */
  readonly name: string;
  /** Fully known (a `LayerVariable`'s shape type allows `null`, which is rejected). */
  readonly shape: readonly (number | null)[];
  /** Only float32 variables are trained. @default 'float32' */
  readonly dtype?: string;
}

/** A contiguous run of one variable's values inside one bucket. */
export interface BucketSegment {
  /** Index into `BucketLayout.variables`. */
  readonly variable: number;
  /** First value of the variable (flat, row-major) in this segment. */
  readonly variableOffset: number;
  /** Where the segment starts in the bucket. */
  readonly bucketOffset: number;
  readonly length: number;
}

export interface BucketLayout {
  /** Bytes per full bucket (a multiple of 4). */
  readonly bucketBytes: number;
  /** float32 values per full bucket; every bucket but the last holds exactly this many. */
  readonly bucketElements: number;
  /** Values over all variables. */
  readonly totalElements: number;
  /** The variables in layout order, with their sizes and offsets in the flat concatenation. */
  readonly variables: readonly {
    readonly name: string;
    readonly shape: readonly number[];
    readonly size: number;
    readonly offset: number;
  }[];
  /** The buckets in order, each with the segments that fill it. */
  readonly buckets: readonly { readonly elements: number; readonly segments: readonly BucketSegment[] }[];
  /**
   * Hex digest of the bucket size and every variable's shape, in order: equal on every process that builds the same
   * architecture; compare it at rendezvous before the first all-reduce.
   */
  readonly fingerprint: string;
}

export interface BucketOptions {
  /** Bytes per bucket, a positive multiple of 4. @default DEFAULT_BUCKET_BYTES */
  bucketBytes?: number;
}

/**
 * Lays `variables` end to end, in the order given, and cuts the result into buckets of `bucketBytes`. A variable
 * larger than a bucket (or one that straddles a boundary) is split across consecutive buckets, so every bucket but
 * the last is exactly full — the unit the ring all-reduce moves is uniform.
 *
 * The order is the caller's: pass `model.trainableWeights`, whose order follows layer construction and is the same
 * on every process that builds the same architecture. Names are kept for lookups in this process only.
 */
export function createBucketLayout(variables: readonly BucketVariable[], options: BucketOptions = {}): BucketLayout {
  const bucketBytes = options.bucketBytes ?? DEFAULT_BUCKET_BYTES;
  if (!Number.isInteger(bucketBytes) || bucketBytes <= 0 || bucketBytes % 4 !== 0) {
    throw new EngineArgumentError(
      'createBucketLayout',
      'bucketBytes',
      `must be a positive multiple of 4, got ${bucketBytes}`
    );
  }
  const bucketElements = bucketBytes / 4;
  const seen = new Set<string>();
  let offset = 0;
  const laidOut = variables.map((v, i) => {
    if ((v.dtype ?? 'float32') !== 'float32') {
      throw new EngineArgumentError(
        'createBucketLayout',
        `variables[${i}]`,
        `(${v.name}) must be float32, got ${v.dtype}`
      );
    }
    if (!v.shape.every((d) => d !== null && Number.isInteger(d) && d >= 0)) {
      throw new EngineArgumentError(
        'createBucketLayout',
        `variables[${i}]`,
        `(${v.name}) has an invalid shape [${v.shape.join(', ')}]`
      );
    }
    if (seen.has(v.name)) {
      throw new EngineArgumentError('createBucketLayout', `variables[${i}]`, `repeats the name '${v.name}'`);
    }
    seen.add(v.name);
    const shape = v.shape as readonly number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name: v.name, shape: [...shape], size, offset };
    offset += size;
    return entry;
  });
  const totalElements = offset;
  const buckets: { elements: number; segments: BucketSegment[] }[] = [];
  let variable = 0;
  let variableOffset = 0;
  for (let start = 0; start < totalElements; start += bucketElements) {
    const elements = Math.min(bucketElements, totalElements - start);
    const segments: BucketSegment[] = [];
    let filled = 0;
    while (filled < elements) {
      const v = laidOut[variable] as (typeof laidOut)[number];
      const length = Math.min(v.size - variableOffset, elements - filled);
      if (length > 0) segments.push({ variable, variableOffset, bucketOffset: filled, length });
      filled += length;
      variableOffset += length;
      if (variableOffset === v.size) {
        variable++;
        variableOffset = 0;
      }
    }
    buckets.push({ elements, segments });
  }
  const shapes = laidOut.map((v) => v.shape.join('x')).join(';');
  const fingerprint = hash128(`buckets:v1:${bucketBytes}:${shapes}`)
    .map((w) => w.toString(16).padStart(8, '0'))
    .join('');
  return { bucketBytes, bucketElements, totalElements, variables: laidOut, buckets, fingerprint };
}

/** Gradients as TF.js returns them: by variable name, or as an array in layout order. */
export type Gradients = NamedTensorMap | readonly Tensor[];

/** One variable's gradient, shaped like TF.js's `NamedTensor` (what `optimizer.applyGradients` takes). */
export interface NamedGradient {
  readonly name: string;
  readonly tensor: Tensor;
}

/** The buckets and the layout they follow. */
export interface GradientBuckets {
  readonly layout: BucketLayout;
  readonly buckets: Float32Array[];
}

/**
 * Copies gradients into fused float32 buckets. With a `BucketLayout` the gradients are looked up by its variable
 * names (a `NamedTensorMap`) or taken by position (an array); with options, a layout is made from the gradients
 * themselves in the map's or array's order (fine within one process; across processes build the layout from
 * `model.trainableWeights`). `into` reuses buffers from a previous call. Reads every tensor with `await data()`;
 * disposes nothing.
 */
export async function flattenGradients(
  grads: Gradients,
  layoutOrOptions: BucketLayout | BucketOptions = {},
  into?: Float32Array[]
): Promise<GradientBuckets> {
  const layout = isBucketLayout(layoutOrOptions)
    ? layoutOrOptions
    : createBucketLayout(gradientVariables(grads), layoutOrOptions);
  const tensors = orderedTensors(grads, layout, 'flattenGradients');
  const buckets = layout.buckets.map((b, i) => {
    const reuse = into?.[i];
    return reuse?.length === b.elements ? reuse : new Float32Array(b.elements);
  });
  const heap = wasmHeap();
  if (heap) {
    // One copy, straight from the wasm heap into the buckets: no intermediate array per variable (at 11 MB per
    // step those allocations and their garbage cost more than the copy). No allocation happens between taking
    // a view and copying from it, so the heap cannot grow (and detach the view) in between.
    copyIntoBuckets(
      tensors.map((t) => heap.typedArrayFromHeap(t)),
      layout,
      buckets
    );
  } else {
    const values = await Promise.all(tensors.map((t) => t.data()));
    copyIntoBuckets(values as Float32Array[], layout, buckets);
  }
  return { layout, buckets };
}

/** The part of TF.js's wasm backend the buckets use (also the engine's kernels' way into the heap). */
interface WasmHeapAccess {
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * The wasm backend, when it is the active one: its tensors live in the wasm heap, readable as views without a copy,
 * and it copies a new tensor's values into the heap at creation (`BackendWasm.move`) — so a tensor may be made from
 * a view of a buffer that is reused afterwards. Other backends (cpu, tensorflow) keep a reference to the array they
 * are given, and theirs is read with `data()`.
 */
function wasmHeap(): WasmHeapAccess | undefined {
  if (getBackend() !== 'wasm') return undefined;
  const b = backend() as unknown as Partial<WasmHeapAccess>;
  return typeof b.typedArrayFromHeap === 'function' ? (b as WasmHeapAccess) : undefined;
}

/**
 * The copy half of `flattenGradients`, for values already read back: `values[i]` holds variable i's values (layout
 * order, flat), copied into `buckets` (one per layout bucket, of its length).
 */
function copyIntoBuckets(
  values: readonly Float32Array[],
  layout: BucketLayout,
  buckets: readonly Float32Array[]
): void {
  if (values.length !== layout.variables.length) {
    throw new EngineArgumentError(
      'copyIntoBuckets',
      'values',
      `has ${values.length} arrays, the layout ${layout.variables.length} variables`
    );
  }
  layout.variables.forEach((v, i) => {
    if ((values[i] as Float32Array).length !== v.size) {
      throw new EngineArgumentError(
        'copyIntoBuckets',
        `values[${i}]`,
        `has ${(values[i] as Float32Array).length} values, '${v.name}' ${v.size}`
      );
    }
  });
  for (let i = 0; i < layout.buckets.length; i++) {
    const bucket = buckets[i];
    const b = layout.buckets[i] as BucketLayout['buckets'][number];
    if (bucket?.length !== b.elements) {
      throw new EngineArgumentError(
        'copyIntoBuckets',
        `buckets[${i}]`,
        `has ${bucket?.length ?? 'no'} values, the layout ${b.elements}`
      );
    }
    for (const s of b.segments) {
      const source = values[s.variable] as Float32Array;
      bucket.set(source.subarray(s.variableOffset, s.variableOffset + s.length), s.bucketOffset);
    }
  }
}

/**
 * Turns buckets back into one tensor per variable, as `{ name, tensor }` in layout order — what
 * `optimizer.applyGradients` takes. The caller disposes the tensors.
 */
export function unflattenGradients(buckets: readonly Float32Array[], layout: BucketLayout): NamedGradient[] {
  if (buckets.length !== layout.buckets.length) {
    throw new EngineArgumentError(
      'unflattenGradients',
      'buckets',
      `has ${buckets.length} buckets, the layout ${layout.buckets.length}`
    );
  }
  layout.buckets.forEach((b, i) => {
    const bucket = buckets[i] as Float32Array;
    if (bucket.length !== b.elements) {
      throw new EngineArgumentError(
        'unflattenGradients',
        `buckets[${i}]`,
        `has ${bucket.length} values, the layout ${b.elements}`
      );
    }
  });
  // A variable held whole by one segment: on wasm its tensor is made from a view of the bucket (wasm copies it into
  // the heap at once); elsewhere the backend would keep the view, which the caller may reuse, so it gets a copy.
  const copiesOnCreate = wasmHeap() !== undefined;
  const whole: (Float32Array | undefined)[] = layout.variables.map(() => undefined);
  layout.buckets.forEach((b, i) => {
    for (const s of b.segments) {
      if (s.length === (layout.variables[s.variable] as BucketLayout['variables'][number]).size) {
        whole[s.variable] = (buckets[i] as Float32Array).subarray(s.bucketOffset, s.bucketOffset + s.length);
      }
    }
  });
  const flat = layout.variables.map((v, k) => {
    const view = whole[k];
    return view ? (copiesOnCreate ? view : view.slice()) : new Float32Array(v.size);
  });
  // Variables split across buckets are put together from their segments.
  layout.buckets.forEach((b, i) => {
    const bucket = buckets[i] as Float32Array;
    for (const s of b.segments) {
      if (whole[s.variable]) continue;
      (flat[s.variable] as Float32Array).set(
        bucket.subarray(s.bucketOffset, s.bucketOffset + s.length),
        s.variableOffset
      );
    }
  });
  return layout.variables.map((v, i) => ({
    name: v.name,
    tensor: tensor(flat[i] as Float32Array, [...v.shape], 'float32'),
  }));
}

function isBucketLayout(value: BucketLayout | BucketOptions): value is BucketLayout {
  return 'buckets' in value && 'variables' in value;
}

function gradientVariables(grads: Gradients): BucketVariable[] {
  if (isTensorArray(grads)) return grads.map((t, i) => ({ name: String(i), shape: t.shape, dtype: t.dtype }));
  return Object.entries(grads).map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
}

function isTensorArray(grads: Gradients): grads is readonly Tensor[] {
  return Array.isArray(grads);
}

function orderedTensors(grads: Gradients, layout: BucketLayout, fn: string): Tensor[] {
  const tensors = isTensorArray(grads)
    ? layout.variables.map((_, i) => grads[i])
    : layout.variables.map((v) => (grads as NamedTensorMap)[v.name]);
  if (isTensorArray(grads) && grads.length !== layout.variables.length) {
    throw new EngineArgumentError(
      fn,
      'grads',
      `has ${grads.length} tensors, the layout ${layout.variables.length} variables`
    );
  }
  return tensors.map((t, i) => {
    const v = layout.variables[i] as BucketLayout['variables'][number];
    if (t === undefined) throw new EngineArgumentError(fn, 'grads', `has no gradient for '${v.name}'`);
    if (t.size !== v.size || t.shape.length !== v.shape.length || t.shape.some((d, k) => d !== v.shape[k])) {
      throw new EngineArgumentError(
        fn,
        `grads['${v.name}']`,
        `has shape [${t.shape.join(', ')}], the layout [${v.shape.join(', ')}]`
      );
    }
    if (t.dtype !== 'float32')
      throw new EngineArgumentError(fn, `grads['${v.name}']`, `must be float32, got ${t.dtype}`);
    return t;
  });
}
