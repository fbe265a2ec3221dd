import { tensor, tidy, type DataType, type Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { WeightsFormatError } from './errors.js';
import { crc32 } from './hash.js';

/** The first four bytes of every weights blob: ASCII `SWWB`. */
export const WEIGHTS_MAGIC = 0x42575753; // 'SWWB' read as a little-endian uint32
/** The blob layout version `weightsToBytes` writes and `weightsFromBytes` reads. */
export const WEIGHTS_FORMAT_VERSION = 1;

const PREAMBLE_BYTES = 16;
const SUPPORTED_DTYPES: readonly DataType[] = ['float32', 'int32'];

/** One weight's entry in the blob header. */
export interface WeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DataType;
  /** Offset from the start of the data section. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

interface WeightsHeader {
  readonly format: 'supwalsh-weights';
  readonly weights: readonly WeightEntry[];
}

/**
 * Serializes `model.weights` (trainable and not, e.g. batch-norm moving statistics) in their order:
 *
 * | bytes | content |
 * |---|---|
 * | 0–3 | magic `SWWB` |
 * | 4–7 | uint32 format version (1) |
 * | 8–11 | uint32 header length `L` (a multiple of 8) |
 * | 12–15 | uint32 CRC-32 of everything after byte 16 |
 * | 16 … 16+L | UTF-8 JSON header: `{ format, weights: [{ name, shape, dtype, byteOffset, byteLength }] }`, space-padded |
 * | 16+L … | the values, little-endian float32/int32, each weight 8-byte aligned |
 *
 * All integers are little-endian. The checksum catches truncated or corrupted transfers and checkpoints.
 */
export async function weightsToBytes(model: Pick<LayersModel, 'weights'>): Promise<Uint8Array> {
  const variables = model.weights;
  const entries: WeightEntry[] = [];
  let dataBytes = 0;
  for (const v of variables) {
    if (!SUPPORTED_DTYPES.includes(v.dtype)) {
      throw new WeightsFormatError(
        `weightsToBytes: weight '${v.name}' has dtype ${v.dtype}; only float32 and int32 are stored`,
        v.name
      );
    }
    const byteLength = v.shape.reduce((a: number, b) => a * (b ?? 0), 1) * 4;
    entries.push({
      name: v.name,
      shape: v.shape.map((d) => d ?? 0),
      dtype: v.dtype,
      byteOffset: dataBytes,
      byteLength,
    });
    dataBytes += align8(byteLength);
  }
  const header: WeightsHeader = { format: 'supwalsh-weights', weights: entries };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = align8(json.length);
  const out = new Uint8Array(PREAMBLE_BYTES + headerBytes + dataBytes);
  out.fill(0x20, PREAMBLE_BYTES, PREAMBLE_BYTES + headerBytes);
  out.set(json, PREAMBLE_BYTES);
  const dataStart = PREAMBLE_BYTES + headerBytes;
  const values = await Promise.all(variables.map((v) => v.read().data()));
  values.forEach((vals, i) => {
    const entry = entries[i] as WeightEntry;
    const typed =
      entry.dtype === 'int32'
        ? Int32Array.from(vals as ArrayLike<number>)
        : Float32Array.from(vals as ArrayLike<number>);
    out.set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength), dataStart + entry.byteOffset);
  });
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, WEIGHTS_MAGIC, true);
  view.setUint32(4, WEIGHTS_FORMAT_VERSION, true);
  view.setUint32(8, headerBytes, true);
  view.setUint32(12, crc32(out.subarray(PREAMBLE_BYTES)), true);
  return out;
}

/** Reads the header of a weights blob after checking magic, version and checksum. */
export function readWeightsHeader(bytes: Uint8Array): { weights: readonly WeightEntry[]; dataOffset: number } {
  const fail = (message: string): never => {
    throw new WeightsFormatError(`weightsFromBytes: ${message}`);
  };
  if (bytes.byteLength < PREAMBLE_BYTES) fail(`${bytes.byteLength} bytes is too short for a weights blob`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== WEIGHTS_MAGIC) fail('not a supwalsh weights blob (magic bytes differ)');
  const version = view.getUint32(4, true);
  if (version !== WEIGHTS_FORMAT_VERSION)
    fail(`format version ${version} is not supported (this build reads ${WEIGHTS_FORMAT_VERSION})`);
  const headerBytes = view.getUint32(8, true);
  if (PREAMBLE_BYTES + headerBytes > bytes.byteLength)
    fail(`header length ${headerBytes} runs past the end (${bytes.byteLength} bytes)`);
  const expected = view.getUint32(12, true);
  const actual = crc32(bytes.subarray(PREAMBLE_BYTES));
  if (expected !== actual)
    fail(`checksum mismatch (stored ${hex(expected)}, computed ${hex(actual)}): the bytes are corrupted or truncated`);
  let header: WeightsHeader;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerBytes))
    ) as WeightsHeader;
  } catch (error: unknown) {
    throw new WeightsFormatError('weightsFromBytes: the header is not valid JSON', undefined, { cause: error });
  }
  if (header.format !== 'supwalsh-weights' || !Array.isArray(header.weights)) fail('the header has no weights list');
  const dataOffset = PREAMBLE_BYTES + headerBytes;
  for (const w of header.weights) {
    if (dataOffset + w.byteOffset + w.byteLength > bytes.byteLength)
      fail(`weight '${w.name}' runs past the end of the bytes`);
  }
  return { weights: header.weights, dataOffset };
}

export interface WeightsFromBytesOptions {
  /**
   * Also require equal names. Off by default: TF.js numbers auto-generated layer names per process, so the same
   * architecture built twice has different names; positions, shapes and dtypes are always checked.
   * @default false
   */
  checkNames?: boolean;
}

/** Sets `model`'s weights from `weightsToBytes` output; a count, shape or dtype mismatch throws `WeightsFormatError`. */
export function weightsFromBytes(
  model: Pick<LayersModel, 'weights' | 'setWeights'>,
  bytes: Uint8Array,
  options: WeightsFromBytesOptions = {}
): void {
  const { weights, dataOffset } = readWeightsHeader(bytes);
  const variables = model.weights;
  if (weights.length !== variables.length) {
    throw new WeightsFormatError(
      `weightsFromBytes: the bytes hold ${weights.length} weights, the model has ${variables.length}`
    );
  }
  variables.forEach((v, i) => {
    const w = weights[i] as WeightEntry;
    const shape = v.shape.map((d) => d ?? 0);
    if (w.shape.length !== shape.length || w.shape.some((d, k) => d !== shape[k]) || w.dtype !== v.dtype) {
      throw new WeightsFormatError(
        `weightsFromBytes: weight ${i} ('${v.name}') is ${w.dtype} [${w.shape.join(', ')}] in the bytes ('${w.name}') ` +
          `but ${v.dtype} [${shape.join(', ')}] in the model`,
        v.name
      );
    }
    if (options.checkNames && w.name !== v.name) {
      throw new WeightsFormatError(
        `weightsFromBytes: weight ${i} is '${w.name}' in the bytes but '${v.name}' in the model`,
        v.name
      );
    }
  });
  const tensors: Tensor[] = tidy(() =>
    weights.map((w) => {
      const start = bytes.byteOffset + dataOffset + w.byteOffset;
      // Copy into an aligned buffer: the blob may sit at any offset of a larger buffer (a gRPC message, a file).
      const raw = bytes.buffer.slice(start, start + w.byteLength);
      const values = w.dtype === 'int32' ? new Int32Array(raw) : new Float32Array(raw);
      return tensor(values, [...w.shape], w.dtype);
    })
  );
  try {
    model.setWeights(tensors);
  } finally {
    for (const t of tensors) t.dispose();
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
