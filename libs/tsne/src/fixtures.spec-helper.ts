// Test fixtures shared by the specs: data generators independent of the library's own PRNG, and reference
// computations written for clarity rather than speed.

/** A small LCG stream in [0, 1), independent of the library's xoshiro. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Standard normals from an LCG by Box–Muller. */
export function normals(seed: number): () => number {
  const u = lcg(seed);
  return () => {
    let a = 0;
    while (a === 0) a = u();
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  };
}

/** k Gaussian clusters (unit noise) of `perCluster` points each in `cols` dimensions; centres N(0, spread²). */
export function gaussianClusters(
  k: number,
  perCluster: number,
  cols: number,
  spread: number,
  seed: number
): { data: Float64Array; labels: Int32Array; rows: number } {
  const g = normals(seed);
  const centers = Array.from({ length: k }, () => Float64Array.from({ length: cols }, () => g() * spread));
  const rows = k * perCluster;
  const data = new Float64Array(rows * cols);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % k;
    labels[i] = c;
    for (let d = 0; d < cols; d++) data[i * cols + d] = centers[c]![d]! + g();
  }
  return { data, labels, rows };
}

/** Fraction of points whose nearest other point (in the embedding) has the same label. */
export function nearestNeighborAgreement(y: Float64Array, labels: Int32Array, dims: number): number {
  const n = labels.length;
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let bestJ = -1;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let d = 0;
      for (let a = 0; a < dims; a++) d += (y[i * dims + a]! - y[j * dims + a]!) ** 2;
      if (d < best) {
        best = d;
        bestJ = j;
      }
    }
    if (labels[bestJ] === labels[i]) agree++;
  }
  return agree / n;
}

/** Plain squared Euclidean distance matrix, n × n. */
export function bruteSquaredDistances(data: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += (data[i * cols + k]! - data[j * cols + k]!) ** 2;
      out[i * rows + j] = s;
    }
  }
  return out;
}

/** KL(P‖Q) with Q the Student-t kernel of y, straight from the definition (no ε floors). */
export function referenceKl(y: ArrayLike<number>, p: ArrayLike<number>, n: number, dims: number, dof: number): number {
  const w = (i: number, j: number) => {
    let d = 0;
    for (let a = 0; a < dims; a++) d += (y[i * dims + a]! - y[j * dims + a]!) ** 2;
    return (1 + d / dof) ** (-(dof + 1) / 2);
  };
  let z = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) z += w(i, j);
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const pij = p[i * n + j]!;
      if (i !== j && pij > 0) kl += pij * Math.log(pij / (w(i, j) / z));
    }
  }
  return kl;
}
