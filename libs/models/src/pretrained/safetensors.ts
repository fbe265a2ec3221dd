import { PretrainedWeightsError } from '../errors.js';

/** Element types this reader decodes (all to float32). */
export const SAFETENSORS_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];
const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** One tensor of a safetensors file, header only: decode its values with `decodeTensor`. */
export interface SafetensorsEntry {
  readonly name: string;
  /** As written in the file (`F32`, `F16`, `BF16`, or another type this reader does not decode). */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range inside `bytes`. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsFile {
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  /** The optional `__metadata__` string map. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly bytes: Uint8Array;
}

/**
 * Parses a safetensors file: an 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {…} }`, then the tensors' little-endian
 * bytes, offsets relative to the end of the header. Checks every entry's offsets against its shape and dtype and the
 * file size; throws `PretrainedWeightsError` naming the entry otherwise.
 */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const fail = (problem: string): never => {
    throw new PretrainedWeightsError(source, [problem]);
  };
  if (bytes.length < 8) fail(`file of ${bytes.length} bytes is too short for a safetensors header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) {
    fail(`header length ${headerLength} exceeds the ${bytes.length - 8} bytes after it`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error: unknown) {
    throw new PretrainedWeightsError(source, [`header is not valid UTF-8 JSON (${String(error)})`], { cause: error });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (typeof e.dtype !== 'string') {
      problems.push(`tensor ${name}: dtype is missing`);
      continue;
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      problems.push(`tensor ${name}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
      continue;
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      problems.push(`tensor ${name}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
      continue;
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) {
      problems.push(`tensor ${name}: data_offsets [${begin}, ${end}] lie outside the ${dataLength} data bytes`);
      continue;
    }
    const size = BYTES[e.dtype as SafetensorsDtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (size !== undefined && end - begin !== count * size) {
      problems.push(
        `tensor ${name}: ${end - begin} bytes for ${count} ${e.dtype} values of shape [${shape.join(', ')}]`
      );
      continue;
    }
    entries.set(name, {
      name,
      dtype: e.dtype,
      shape: shape as number[],
      begin: dataStart + begin,
      end: dataStart + end,
    });
  }
  if (problems.length > 0) throw new PretrainedWeightsError(source, problems);
  return { entries, metadata, bytes };
}

/** IEEE 754 half → float: sign, 5-bit exponent (bias 15), 10-bit mantissa; subnormals, ±∞ and NaN included. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** A tensor's values as float32 (F16 and BF16 widened exactly), row-major as stored. */
export function decodeTensor(file: SafetensorsFile, entry: SafetensorsEntry): Float32Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(file.bytes.buffer, file.bytes.byteOffset + entry.begin, entry.end - entry.begin);
  const out = new Float32Array(count);
  switch (entry.dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
    default:
      throw new Error(
        `decodeTensor: ${entry.name} has dtype ${entry.dtype}; supported: ${SAFETENSORS_DTYPES.join(', ')}`
      );
  }
  return out;
}
