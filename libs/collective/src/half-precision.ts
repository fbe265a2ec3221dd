/**
 * Float32 ⇄ 16-bit wire encodings for all-reduce chunks: IEEE 754 binary16 (`fp16`: 10 fraction bits, range
 * ±65 504, subnormals down to 2^-24) and bfloat16 (`bf16`: 7 fraction bits, float32's range). Both round to
 * nearest, ties to even; NaN stays NaN, ±∞ stay ±∞, fp16 overflows to ±∞. Decoding is exact.
 */

/** Unit roundoff of each encoding: a rounded value v̂ satisfies |v̂ − v| ≤ u·|v| (normal range). */
export const UNIT_ROUNDOFF = { fp16: 2 ** -11, bf16: 2 ** -8 } as const;
/** Largest absolute error fp16 rounding makes below its normal range (half its smallest subnormal). */
export const FP16_SUBNORMAL_HALF_ULP = 2 ** -25;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds one float32 (given as its bits) to binary16 bits. */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // ∞ or NaN (quiet)
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal (or zero) in fp16: value = h · 2^-24 with h = m · 2^(e − 14)
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let h = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent, up to ∞: still right
  return sign | h;
}

/** Rounds one float32 (given as its bits) to bfloat16 bits. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff; // NaN stays NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | undefined;

/** float32 value of every binary16 bit pattern (256 KiB, built on first use). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const frac = h & 0x3ff;
    table[h] =
      exp === 0
        ? sign * frac * 2 ** -24
        : exp === 31
          ? frac
            ? NaN
            : sign * Infinity
          : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = table);
}

/** float32 value of binary16 bits. */
export function f16ToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff]!;
}

/** float32 value of bfloat16 bits. */
export function bf16ToF32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

export type HalfEncoding = 'f16' | 'bf16';

/** Encodes `src` into `dst` (same length) as 16-bit values. */
export function encodeHalf(encoding: HalfEncoding, src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  if (encoding === 'f16') {
    for (let i = 0; i < n; i++) dst[i] = f32BitsToF16(bits[i]!);
  } else {
    for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16(bits[i]!);
  }
}

/** Decodes 16-bit values into `dst`, or, with `accumulate`, adds them: `dst[i] = decode(src[i]) + dst[i]`. */
export function decodeHalf(encoding: HalfEncoding, src: Uint16Array, dst: Float32Array, accumulate: boolean): void {
  const n = src.length;
  if (encoding === 'f16') {
    const table = f16ToF32Table();
    if (accumulate) for (let i = 0; i < n; i++) dst[i] = table[src[i]!]! + dst[i]!;
    else for (let i = 0; i < n; i++) dst[i] = table[src[i]!]!;
  } else {
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
    if (accumulate) {
      for (let i = 0; i < n; i++) {
        u32[0] = src[i]! << 16;
        dst[i] = f32[0]! + dst[i]!;
      }
    } else {
      for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    }
  }
}
