/** Row-major input rows × cols, as the public functions accept it. */
export type Matrix = Float32Array | Float64Array;

/**
 * Gram matrix G = X·Xᵀ of row-major data (rows × rows, both triangles written), in 4 × 4 blocks of rows with
 * `dot4x4`. For 10 × 4096 inputs this is the dominant cost of preparing an exact run. `block` is 16 scratch values.
 */
export function gramMatrix(data: Matrix, rows: number, cols: number, out: Float64Array, block: Float64Array): void {
  const l = rows - 1;
  for (let i = 0; i < rows; i += 4) {
    const r1 = Math.min(i + 1, l);
    const r2 = Math.min(i + 2, l);
    const r3 = Math.min(i + 3, l);
    for (let j = i; j < rows; j += 4) {
      dot4x4(data, cols, i, r1, r2, r3, j, Math.min(j + 1, l), Math.min(j + 2, l), Math.min(j + 3, l), block);
      for (let a = 0; a < 4 && i + a < rows; a++) {
        for (let b = 0; b < 4 && j + b < rows; b++) {
          const v = block[a * 4 + b]!;
          out[(i + a) * rows + j + b] = v;
          out[(j + b) * rows + i + a] = v;
        }
      }
    }
  }
}

/**
 * The 16 dot products between rows r0 … r3 and c0 … c3 (out[a·4 + b] = x_{r_a}·x_{c_b}) in one pass with 16
 * accumulators: about 5× the speed of one dot product at a time in V8, which reloads both operands for every
 * product. Rows may repeat (callers pad edge blocks by repeating the last row).
 */
export function dot4x4(
  data: Matrix,
  cols: number,
  r0: number,
  r1: number,
  r2: number,
  r3: number,
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  out: Float64Array
): void {
  const a0 = r0 * cols;
  const a1 = r1 * cols;
  const a2 = r2 * cols;
  const a3 = r3 * cols;
  const b0 = c0 * cols;
  const b1 = c1 * cols;
  const b2 = c2 * cols;
  const b3 = c3 * cols;
  let s00 = 0,
    s01 = 0,
    s02 = 0,
    s03 = 0,
    s10 = 0,
    s11 = 0,
    s12 = 0,
    s13 = 0;
  let s20 = 0,
    s21 = 0,
    s22 = 0,
    s23 = 0,
    s30 = 0,
    s31 = 0,
    s32 = 0,
    s33 = 0;
  for (let c = 0; c < cols; c++) {
    const x0 = data[a0 + c]!;
    const x1 = data[a1 + c]!;
    const x2 = data[a2 + c]!;
    const x3 = data[a3 + c]!;
    const y0 = data[b0 + c]!;
    const y1 = data[b1 + c]!;
    const y2 = data[b2 + c]!;
    const y3 = data[b3 + c]!;
    s00 += x0 * y0;
    s01 += x0 * y1;
    s02 += x0 * y2;
    s03 += x0 * y3;
    s10 += x1 * y0;
    s11 += x1 * y1;
    s12 += x1 * y2;
    s13 += x1 * y3;
    s20 += x2 * y0;
    s21 += x2 * y1;
    s22 += x2 * y2;
    s23 += x2 * y3;
    s30 += x3 * y0;
    s31 += x3 * y1;
    s32 += x3 * y2;
    s33 += x3 * y3;
  }
  out[0] = s00;
  out[1] = s01;
  out[2] = s02;
  out[3] = s03;
  out[4] = s10;
  out[5] = s11;
  out[6] = s12;
  out[7] = s13;
  out[8] = s20;
  out[9] = s21;
  out[10] = s22;
  out[11] = s23;
  out[12] = s30;
  out[13] = s31;
  out[14] = s32;
  out[15] = s33;
}

/**
 * Squared Euclidean distances from a Gram matrix, d_ij = G_ii + G_jj − 2·G_ij (scikit-learn's
 * `euclidean_distances` expansion), clamped at 0, with an exact zero diagonal.
 */
export function squaredDistancesFromGram(gram: Float64Array, n: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const gii = gram[i * n + i]!;
    out[i * n + i] = 0;
    for (let j = i + 1; j < n; j++) {
      const d = gii + gram[j * n + j]! - 2 * gram[i * n + j]!;
      const v = d > 0 ? d : 0;
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
}

/** Double-centres a Gram matrix in place, G ← J·G·J with J = I − 11ᵀ/n: the Gram matrix of the centred rows. */
export function centerGram(gram: Float64Array, n: number, rowMeans: Float64Array): void {
  let total = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += gram[i * n + j]!;
    rowMeans[i] = s / n;
    total += s;
  }
  const grand = total / (n * n);
  for (let i = 0; i < n; i++) {
    const ri = rowMeans[i]!;
    for (let j = 0; j < n; j++) gram[i * n + j] = gram[i * n + j]! - ri - rowMeans[j]! + grand;
  }
}

/** Squared Euclidean distance between rows a and b of row-major data. */
export function squaredDistance(data: Matrix, cols: number, a: number, b: number): number {
  const oa = a * cols;
  const ob = b * cols;
  let s0 = 0;
  let s1 = 0;
  let k = 0;
  for (; k + 1 < cols; k += 2) {
    const d0 = data[oa + k]! - data[ob + k]!;
    const d1 = data[oa + k + 1]! - data[ob + k + 1]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  if (k < cols) {
    const d = data[oa + k]! - data[ob + k]!;
    s0 += d * d;
  }
  return s0 + s1;
}

/** Index of the first non-finite value in data, or −1. */
export function firstNonFinite(data: Matrix): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}
