import { DatasetArgumentError } from './errors.js';
import { checkInteger } from './kinds.js';

/**
 * PIL-faithful bilinear resampling of 8-bit grey images: what Pillow's `Image.resize(size, Image.BILINEAR)` does to
 * an "L" image (libImaging/Resample.c), and so what torchvision's `Resize` does to a PIL image.
 *
 * Pillow resamples in two separable passes, horizontal first, each with the triangle filter widened by the scale
 * when shrinking (support = 1 × max(scale, 1)). Output pixel `x` is centred on `(x + 0.5) · scale` in input
 * coordinates; its window starts at `trunc(center − support + 0.5)` (at least 0) and ends at
 * `trunc(center + support + 0.5)` (at most the input size). The weights are normalised to sum to one, then turned
 * into 22-bit fixed point (`PRECISION_BITS = 32 − 8 − 2`, rounded half away from zero); each output starts from
 * half a unit (`1 << 21`), adds `pixel · weight` and is shifted back down and clipped to 0…255. The image between
 * the passes is itself 8-bit, as in Pillow. A pass whose size does not change is skipped.
 */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const INV_ONE = 2 ** -PRECISION_BITS;

/** Fixed-point coefficients of one resampling axis. */
interface Axis {
  /** Coefficients per output position (`ksize` each, zero-padded). */
  readonly ksize: number;
  /** For output position i: first input index at `2i`, number of taps at `2i + 1`. */
  readonly bounds: Int32Array;
  readonly coeffs: Int32Array;
}

/** The triangle ("bilinear") filter. */
function triangle(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the full box [0, inSize), written for typed arrays. */
function precomputeAxis(inSize: number, outSize: number): Axis {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = 1 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const coeffs = new Int32Array(outSize * ksize);
  const weights = new Float64Array(ksize);
  const ss = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      weights[x] = w;
      sum += w;
    }
    for (let x = 0; x < ksize; x++) {
      let k = x < xmax ? (weights[x] as number) : 0;
      if (x < xmax && sum !== 0) k /= sum;
      coeffs[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, coeffs };
}

/** Pillow's `clip8`: arithmetic shift down by PRECISION_BITS, clamped to a byte. */
function clip8(acc: number): number {
  const v = Math.floor(acc * INV_ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes many same-sized images with one set of coefficients and one scratch buffer. `resize(src, srcOffset, dst,
 * dstOffset)` reads `inWidth·inHeight` bytes of `src` from `srcOffset` and writes `outWidth·outHeight` bytes of `dst`
 * from `dstOffset`.
 */
export function createResizer(
  inWidth: number,
  inHeight: number,
  outWidth: number,
  outHeight: number
): (src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number) => void {
  const needHorizontal = outWidth !== inWidth;
  const needVertical = outHeight !== inHeight;
  const vertical = precomputeAxis(inHeight, outHeight);
  // Rows of the source that the vertical pass reads: the horizontal pass resamples only those.
  const firstRow = needVertical ? (vertical.bounds[0] as number) : 0;
  const lastRow = needVertical
    ? (vertical.bounds[2 * outHeight - 2] as number) + (vertical.bounds[2 * outHeight - 1] as number)
    : inHeight;
  const horizontal = needHorizontal ? precomputeAxis(inWidth, outWidth) : null;
  const temp = new Uint8Array(outWidth * (lastRow - firstRow));
  const inSize = inWidth * inHeight;

  return (src, srcOffset, dst, dstOffset) => {
    if (!needHorizontal && !needVertical) {
      dst.set(src.subarray(srcOffset, srcOffset + inSize), dstOffset);
      return;
    }
    // Horizontal pass: rows [firstRow, lastRow) of src → temp (outWidth wide), or src itself when not needed.
    let mid = src;
    let midOffset = srcOffset + firstRow * inWidth;
    if (horizontal) {
      const { ksize, bounds, coeffs } = horizontal;
      for (let y = firstRow; y < lastRow; y++) {
        const rowIn = srcOffset + y * inWidth;
        const rowOut = (y - firstRow) * outWidth;
        for (let xx = 0; xx < outWidth; xx++) {
          const xmin = bounds[2 * xx] as number;
          const taps = bounds[2 * xx + 1] as number;
          const k = xx * ksize;
          let acc = HALF;
          for (let x = 0; x < taps; x++) acc += (src[rowIn + xmin + x] as number) * (coeffs[k + x] as number);
          temp[rowOut + xx] = clip8(acc);
        }
      }
      mid = temp;
      midOffset = 0;
    }
    if (!needVertical) {
      dst.set(mid.subarray(midOffset, midOffset + outWidth * outHeight), dstOffset);
      return;
    }
    // Vertical pass: mid (outWidth wide, rows from firstRow) → dst.
    const { ksize, bounds, coeffs } = vertical;
    for (let yy = 0; yy < outHeight; yy++) {
      const ymin = (bounds[2 * yy] as number) - firstRow;
      const taps = bounds[2 * yy + 1] as number;
      const k = yy * ksize;
      const rowOut = dstOffset + yy * outWidth;
      for (let xx = 0; xx < outWidth; xx++) {
        let acc = HALF;
        for (let y = 0; y < taps; y++) {
          acc += (mid[midOffset + (ymin + y) * outWidth + xx] as number) * (coeffs[k + y] as number);
        }
        dst[rowOut + xx] = clip8(acc);
      }
    }
  };
}

/**
 * Resizes one 8-bit grey image (row-major, `width × height`) to `outWidth × outHeight` exactly as Pillow's
 * `Image.resize((outWidth, outHeight), Image.BILINEAR)` does on an "L" image. Returns a new array.
 */
export function resizeBilinear(
  pixels: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number
): Uint8Array {
  const fn = 'resizeBilinear';
  for (const [name, v] of [
    ['width', width],
    ['height', height],
    ['outWidth', outWidth],
    ['outHeight', outHeight],
  ] as const) {
    checkInteger(fn, name, v, 1, 65_536);
  }
  if (!(pixels instanceof Uint8Array) || pixels.length !== width * height) {
    throw new DatasetArgumentError(
      fn,
      'pixels',
      `must be a Uint8Array of width·height = ${width * height} bytes; got ${pixels instanceof Uint8Array ? `${pixels.length} bytes` : typeof pixels}`
    );
  }
  const out = new Uint8Array(outWidth * outHeight);
  createResizer(width, height, outWidth, outHeight)(pixels, 0, out, 0);
  return out;
}

/**
 * Pillow's RGB → "L" conversion (ITU-R 601-2 luma in 16-bit fixed point, libImaging/Convert.c):
 * `L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16`. The weights sum to 65 536, so grey stays grey.
 */
export function rgbToGray(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}
