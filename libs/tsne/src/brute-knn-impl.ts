import { dot4x4, squaredDistance, type Matrix } from './distances-impl.js';
import type { Neighbors } from './vp-tree-impl.js';

/** Rows per cache tile: a tile of the "i" side and one of the "j" side stay in cache while their blocks meet. */
const TILE_I = 256;
const TILE_J = 64;

/**
 * Exact k nearest neighbours by brute force — what scikit-learn's `NearestNeighbors(algorithm='auto')` does for
 * more than 15 columns. Every pair is visited once: squared distances come from ‖x‖² + ‖y‖² − 2x·y with the dot
 * products in 4 × 4 register blocks over cache tiles (≈ 5× a plain loop in V8), each pair offered to both rows'
 * bounded heaps. The k survivors' distances are then recomputed directly, so the reported distances carry no
 * cancellation error, and each row is sorted by (distance, index).
 */
export function bruteForceNeighbors(data: Matrix, rows: number, cols: number, k: number): Neighbors {
  const norms = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += data[i * cols + c]! * data[i * cols + c]!;
    norms[i] = s;
  }
  const heaps = new RowHeaps(rows, k);
  const worst = heaps.worst;
  const block = new Float64Array(16);
  for (let ti = 0; ti < rows; ti += TILE_I) {
    const tiEnd = Math.min(rows, ti + TILE_I);
    for (let tj = ti; tj < rows; tj += TILE_J) {
      const tjEnd = Math.min(rows, tj + TILE_J);
      for (let i = ti; i < tiEnd; i += 4) {
        const ni = Math.min(4, tiEnd - i);
        for (let j = tj; j < tjEnd; j += 4) {
          const nj = Math.min(4, tjEnd - j);
          // Only blocks reaching past row i hold pairs (r, s) with s > r.
          if (j + nj - 1 <= i) continue;
          // Past the last row the kernel repeats it; those products are computed but not used.
          const l = rows - 1;
          dot4x4(
            data,
            cols,
            i,
            Math.min(i + 1, l),
            Math.min(i + 2, l),
            Math.min(i + 3, l),
            j,
            Math.min(j + 1, l),
            Math.min(j + 2, l),
            Math.min(j + 3, l),
            block
          );
          for (let a = 0; a < ni; a++) {
            const r = i + a;
            for (let b = 0; b < nj; b++) {
              const s = j + b;
              if (s <= r) continue;
              const d = norms[r]! + norms[s]! - 2 * block[a * 4 + b]!;
              const d2 = d > 0 ? d : 0;
              // Most candidates lose to both rows' current k-th distance: reject them without touching the heaps.
              if (d2 <= worst[r]!) heaps.offer(r, d2, s);
              if (d2 <= worst[s]!) heaps.offer(s, d2, r);
            }
          }
        }
      }
    }
  }
  const indices = new Int32Array(rows * k);
  const sqDistances = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) {
    heaps.drain(i, indices, i * k);
    for (let t = 0; t < k; t++) sqDistances[i * k + t] = squaredDistance(data, cols, i, indices[i * k + t]!);
    sortRow(indices, sqDistances, i * k, k);
  }
  return { k, indices, sqDistances };
}

/** Sorts entries off … off+k−1 by (distance, index); k is small (≈ 91). */
function sortRow(indices: Int32Array, d: Float64Array, off: number, k: number): void {
  for (let a = off + 1; a < off + k; a++) {
    const di = d[a]!;
    const ii = indices[a]!;
    let b = a - 1;
    while (b >= off && (d[b]! > di || (d[b]! === di && indices[b]! > ii))) {
      d[b + 1] = d[b]!;
      indices[b + 1] = indices[b]!;
      b--;
    }
    d[b + 1] = di;
    indices[b + 1] = ii;
  }
}

/** One bounded max-heap of (distance, index) per row, in flat typed arrays; ties prefer the lower index. */
class RowHeaps {
  /** Per row: the k-th best distance so far (∞ until k are held) — a cheap, compact rejection test. */
  readonly worst: Float64Array;
  private readonly d: Float64Array;
  private readonly idx: Int32Array;
  private readonly size: Int32Array;
  constructor(
    rows: number,
    private readonly k: number
  ) {
    this.d = new Float64Array(rows * k);
    this.idx = new Int32Array(rows * k);
    this.size = new Int32Array(rows);
    this.worst = new Float64Array(rows).fill(Infinity);
  }

  offer(row: number, d2: number, index: number): void {
    const k = this.k;
    const base = row * k;
    const size = this.size[row]!;
    const hd = this.d;
    const hi = this.idx;
    if (size === k) {
      const top = hd[base]!;
      if (d2 > top || (d2 === top && index > hi[base]!)) return;
      // Replace the root and sift down.
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= k) break;
        const r = l + 1;
        let m = l;
        if (
          r < k &&
          (hd[base + r]! > hd[base + l]! || (hd[base + r] === hd[base + l] && hi[base + r]! > hi[base + l]!))
        ) {
          m = r;
        }
        const dm = hd[base + m]!;
        if (dm < d2 || (dm === d2 && hi[base + m]! < index)) break;
        hd[base + c] = dm;
        hi[base + c] = hi[base + m]!;
        c = m;
      }
      hd[base + c] = d2;
      hi[base + c] = index;
      this.worst[row] = hd[base]!;
      return;
    }
    let c = size;
    this.size[row] = size + 1;
    while (c > 0) {
      const p = (c - 1) >> 1;
      const dp = hd[base + p]!;
      if (dp > d2 || (dp === d2 && hi[base + p]! > index)) break;
      hd[base + c] = dp;
      hi[base + c] = hi[base + p]!;
      c = p;
    }
    hd[base + c] = d2;
    hi[base + c] = index;
    if (size + 1 === k) this.worst[row] = hd[base]!;
  }

  /** Copies a row's indices (unsorted) to out[offset …]. */
  drain(row: number, out: Int32Array, offset: number): void {
    out.set(this.idx.subarray(row * this.k, row * this.k + this.size[row]!), offset);
  }
}
