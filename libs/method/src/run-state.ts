import * as tf from '@tensorflow/tfjs-core';
import { MethodArgumentError } from './errors.js';
import type { PretrainState } from './pretrain.js';
import type { PretrainingResult, RunResult } from './results.js';
import type { TrainState } from './train.js';

/**
 * A run's checkpoint: enough to continue it bit-identically on any world size (invariants 1–3) — the phase's
 * weights, optimizer moments, position and metrics so far. Samplers and dropout masks are functions of the seed
 * and the step, so no random state is kept.
 */
export type RunCheckpoint =
  | { readonly phase: 'pretraining'; readonly pretrain: PretrainState }
  | {
      readonly phase: 'training';
      readonly pretraining?: PretrainingResult;
      readonly initial?: RunResult['initial'];
      readonly train: TrainState;
    };

/** Copies of tensors' values (a checkpoint's weights). */
export function readAll(tensors: readonly tf.Tensor[]): Float32Array[] {
  return tensors.map((t) => Float32Array.from(t.dataSync()));
}

/** Writes saved values back into variables of the same shapes. */
export function assignAll(variables: readonly tf.Tensor[], values: readonly Float32Array[]): void {
  if (values.length !== variables.length) {
    throw new MethodArgumentError('assignAll', 'values', `has ${values.length} tensors, the model ${variables.length}`);
  }
  tf.tidy(() => variables.forEach((v, i) => (v as tf.Variable).assign(tf.tensor(values[i] as Float32Array, v.shape))));
}

const MAGIC = 0x4b435753; // "SWCK" little-endian
const FORMAT_VERSION = 1;

/**
 * A checkpoint as bytes: magic, version, a JSON header in which every Float32Array is replaced by its index, then
 * the arrays' raw little-endian float32 values, 4-byte aligned.
 */
export function encodeCheckpoint(checkpoint: RunCheckpoint): Uint8Array {
  const arrays: Float32Array[] = [];
  const header = JSON.stringify(checkpoint, (_, value: unknown) => {
    if (value instanceof Float32Array) return { $f32: arrays.push(value) - 1, length: value.length };
    if (typeof value === 'number' && !Number.isFinite(value)) return { $num: String(value) };
    return value;
  });
  const headerBytes = new TextEncoder().encode(header);
  const headerPadded = Math.ceil(headerBytes.length / 4) * 4;
  const total = 12 + headerPadded + arrays.reduce((n, a) => n + a.length * 4, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, FORMAT_VERSION, true);
  view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  let offset = 12 + headerPadded;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += a.byteLength;
  }
  return out;
}

/** The inverse of `encodeCheckpoint`. @throws MethodArgumentError for bytes that are not a checkpoint. */
export function decodeCheckpoint(bytes: Uint8Array): RunCheckpoint {
  const fn = 'decodeCheckpoint';
  if (bytes.length < 12)
    throw new MethodArgumentError(fn, 'bytes', `are ${bytes.length} long, too short for a checkpoint`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new MethodArgumentError(fn, 'bytes', 'do not start with a checkpoint');
  const version = view.getUint32(4, true);
  if (version !== FORMAT_VERSION)
    throw new MethodArgumentError(fn, 'bytes', `have format version ${version}, expected ${FORMAT_VERSION}`);
  const headerLength = view.getUint32(8, true);
  const dataStart = 12 + Math.ceil(headerLength / 4) * 4;
  const header = new TextDecoder().decode(bytes.subarray(12, 12 + headerLength));
  let next = dataStart;
  const parsed = JSON.parse(header, (_, value: unknown) => {
    if (value !== null && typeof value === 'object' && '$num' in value) return Number((value as { $num: string }).$num);
    return value;
  }) as unknown;
  // Arrays are stored in the order JSON.stringify met them, which a depth-first walk of the header repeats.
  const restore = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(restore);
    if (value !== null && typeof value === 'object') {
      if ('$f32' in value) {
        const { length } = value as unknown as { length: number };
        const start = next;
        next += length * 4;
        if (next > bytes.length) throw new MethodArgumentError(fn, 'bytes', 'are truncated');
        return new Float32Array(bytes.slice(start, next).buffer);
      }
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, restore(v)]));
    }
    return value;
  };
  const checkpoint = restore(parsed) as RunCheckpoint;
  if (next !== bytes.length)
    throw new MethodArgumentError(fn, 'bytes', `have ${bytes.length - next} bytes past the last array`);
  return checkpoint;
}
