import { DatasetArgumentError } from './errors.js';
import { show } from './kinds.js';
import type { ImageSet } from './load.js';

/**
 * How bytes become floats: `'unit'` is v/255 in [0, 1] (torchvision's `ToTensor`), `'raw255'` keeps v in [0, 255]
 * (what the original feeds when it skips `ToTensor`'s scaling; see the method's presets).
 */
export type PixelScale = 'unit' | 'raw255';

const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);
const RAW = Float32Array.from({ length: 256 }, (_, v) => v);

function checkSet(fn: string, set: ImageSet): void {
  if (
    set === null ||
    typeof set !== 'object' ||
    !(set.pixels instanceof Uint8Array) ||
    !(set.labels instanceof Uint8Array) ||
    set.labels.length !== set.length ||
    set.pixels.length !== set.length * set.height * set.width * set.channels
  ) {
    throw new DatasetArgumentError(
      fn,
      'set',
      'must be an ImageSet from loadDataset (pixels and labels agreeing with length)'
    );
  }
}

function checkIndices(fn: string, indices: ArrayLike<number>, length: number): void {
  if (indices === null || typeof indices !== 'object' || typeof indices.length !== 'number') {
    throw new DatasetArgumentError(
      fn,
      'indices',
      `must be an array or typed array of sample indices; got ${show(indices)}`
    );
  }
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= length) {
      throw new DatasetArgumentError(
        fn,
        `indices[${i}]`,
        `must be an integer sample index in [0, ${length}); got ${show(v)}`
      );
    }
  }
}

/**
 * The images at `indices` as floats, `indices.length × height × width × 1`, channel-last (the layout of a TF.js
 * `[n, h, w, 1]` tensor). `'unit'` gives v/255, `'raw255'` gives v. Writes into `out` when it is given and long
 * enough (returning a view of its first part), else into a new array.
 */
export function imageBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  scale: PixelScale,
  out?: Float32Array
): Float32Array {
  const fn = 'imageBatch';
  checkSet(fn, set);
  checkIndices(fn, indices, set.length);
  if (scale !== 'unit' && scale !== 'raw255') {
    throw new DatasetArgumentError(fn, 'scale', `must be one of unit, raw255; got ${show(scale)}`);
  }
  if (out !== undefined && !(out instanceof Float32Array)) {
    throw new DatasetArgumentError(fn, 'out', `must be a Float32Array or undefined; got ${show(out)}`);
  }
  const stride = set.height * set.width * set.channels;
  const need = indices.length * stride;
  const target = out && out.length >= need ? out.subarray(0, need) : new Float32Array(need);
  const table = scale === 'unit' ? UNIT : RAW;
  const pixels = set.pixels;
  for (let i = 0; i < indices.length; i++) {
    const from = (indices[i] as number) * stride;
    const to = i * stride;
    for (let p = 0; p < stride; p++) target[to + p] = table[pixels[from + p]!]!;
  }
  return target;
}

/** The labels at `indices` as int32 (for `tf.oneHot` / sparse cross-entropy); into `out` when long enough. */
export function labelBatch(set: ImageSet, indices: ArrayLike<number>, out?: Int32Array): Int32Array {
  const fn = 'labelBatch';
  checkSet(fn, set);
  checkIndices(fn, indices, set.length);
  if (out !== undefined && !(out instanceof Int32Array)) {
    throw new DatasetArgumentError(fn, 'out', `must be an Int32Array or undefined; got ${show(out)}`);
  }
  const target = out && out.length >= indices.length ? out.subarray(0, indices.length) : new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) target[i] = set.labels[indices[i] as number]!;
  return target;
}
