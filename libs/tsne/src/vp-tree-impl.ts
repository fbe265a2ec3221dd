import { squaredDistance, type Matrix } from './distances-impl.js';
import type { Random } from './random.js';

/** The k nearest neighbours of every row: indices and squared Euclidean distances, n × k, nearest first. */
export interface Neighbors {
  readonly k: number;
  readonly indices: Int32Array;
  readonly sqDistances: Float64Array;
}

/**
 * Exact k-nearest-neighbour search of every row against all others (a point is not its own neighbour) with a
 * vantage-point tree, as in van der Maaten's bhtsne: each node splits its points at the median distance to a
 * randomly chosen vantage point, and the triangle inequality prunes subtrees. Ties are broken by index, so the
 * result does not depend on the random choices. Used up to 15 columns; above, the triangle inequality prunes
 * little and `bruteForceNeighbors` is faster (4× on 784-column MNIST digits).
 */
export function nearestNeighbors(data: Matrix, rows: number, cols: number, k: number, random: Random): Neighbors {
  const tree = buildVpTree(data, rows, cols, random);
  const indices = new Int32Array(rows * k);
  const sqDistances = new Float64Array(rows * k);
  const heap = new NeighborHeap(k);
  const stack = new Int32Array(2 * (rows + 1));
  for (let i = 0; i < rows; i++) {
    heap.clear();
    searchVpTree(tree, data, cols, i, heap, stack);
    heap.drainSorted(indices, sqDistances, i * k);
  }
  return { k, indices, sqDistances };
}

interface VpTree {
  rows: number;
  /** Points in tree order: node [lo, hi) has vantage point items[lo], inside child [lo+1, mid), outside [mid, hi). */
  items: Int32Array;
  /** Distance (not squared) from the vantage point items[lo] to the median, per node start lo. */
  radius: Float64Array;
}

function buildVpTree(data: Matrix, rows: number, cols: number, random: Random): VpTree {
  const items = new Int32Array(rows);
  for (let i = 0; i < rows; i++) items[i] = i;
  const radius = new Float64Array(rows);
  const dist = new Float64Array(rows);
  const stack: number[] = [0, rows];
  while (stack.length > 0) {
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    if (hi - lo <= 1) continue;
    swap(items, dist, lo, lo + random.int(hi - lo));
    const vp = items[lo]!;
    for (let t = lo + 1; t < hi; t++) dist[t] = Math.sqrt(squaredDistance(data, cols, vp, items[t]!));
    const mid = lo + 1 + ((hi - lo - 1) >> 1);
    quickselect(items, dist, lo + 1, hi - 1, mid);
    radius[lo] = dist[mid]!;
    stack.push(lo + 1, mid, mid, hi);
  }
  return { rows, items, radius };
}

/** Rearranges [left, right] so that position kth holds the value it would have if sorted (by dist). */
function quickselect(items: Int32Array, dist: Float64Array, left: number, right: number, kth: number): void {
  while (right > left) {
    const pivot = dist[(left + right) >> 1]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (dist[i]! < pivot) i++;
      while (dist[j]! > pivot) j--;
      if (i <= j) swap(items, dist, i++, j--);
    }
    if (kth <= j) right = j;
    else if (kth >= i) left = i;
    else return;
  }
}

function swap(items: Int32Array, dist: Float64Array, a: number, b: number): void {
  const ti = items[a]!;
  items[a] = items[b]!;
  items[b] = ti;
  const td = dist[a]!;
  dist[a] = dist[b]!;
  dist[b] = td;
}

function searchVpTree(
  tree: VpTree,
  data: Matrix,
  cols: number,
  query: number,
  heap: NeighborHeap,
  stack: Int32Array
): void {
  const { items, radius } = tree;
  let top = 0;
  stack[top++] = 0;
  stack[top++] = tree.rows;
  while (top > 0) {
    const hi = stack[--top]!;
    const lo = stack[--top]!;
    if (hi <= lo) continue;
    const vp = items[lo]!;
    const d2 = vp === query ? 0 : squaredDistance(data, cols, query, vp);
    if (vp !== query) heap.offer(d2, vp);
    if (hi - lo === 1) continue;
    const d = Math.sqrt(d2);
    const mid = lo + 1 + ((hi - lo - 1) >> 1);
    const r = radius[lo]!;
    // Push the less promising side first so the more promising one is searched (and tightens τ) first.
    const insideFirst = d < r;
    const tau = heap.tau();
    const visitInside = d - tau <= r;
    const visitOutside = d + tau >= r;
    if (insideFirst) {
      if (visitOutside) {
        stack[top++] = mid;
        stack[top++] = hi;
      }
      if (visitInside) {
        stack[top++] = lo + 1;
        stack[top++] = mid;
      }
    } else {
      if (visitInside) {
        stack[top++] = lo + 1;
        stack[top++] = mid;
      }
      if (visitOutside) {
        stack[top++] = mid;
        stack[top++] = hi;
      }
    }
  }
}

/** Bounded max-heap of the k best (squared distance, index) pairs; ties prefer the lower index. */
class NeighborHeap {
  private size = 0;
  private readonly d: Float64Array;
  private readonly idx: Int32Array;
  constructor(private readonly k: number) {
    this.d = new Float64Array(k);
    this.idx = new Int32Array(k);
  }

  clear(): void {
    this.size = 0;
  }

  /** Current k-th best distance (not squared), ∞ until k candidates are held. */
  tau(): number {
    return this.size < this.k ? Infinity : Math.sqrt(this.d[0]!);
  }

  offer(d2: number, index: number): void {
    if (this.size < this.k) {
      let c = this.size++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!this.worse(d2, index, this.d[parent]!, this.idx[parent]!)) break;
        this.d[c] = this.d[parent]!;
        this.idx[c] = this.idx[parent]!;
        c = parent;
      }
      this.d[c] = d2;
      this.idx[c] = index;
      return;
    }
    if (!this.worse(this.d[0]!, this.idx[0]!, d2, index)) return;
    this.siftDown(d2, index, this.size);
  }

  /** Writes the held pairs nearest-first to out[offset …] and empties the heap. */
  drainSorted(indices: Int32Array, sqDistances: Float64Array, offset: number): void {
    for (let n = this.size; n > 0; n--) {
      indices[offset + n - 1] = this.idx[0]!;
      sqDistances[offset + n - 1] = this.d[0]!;
      this.siftDown(this.d[n - 1]!, this.idx[n - 1]!, n - 1);
    }
    this.size = 0;
  }

  /** Places (d2, index) at the root of a heap of `size` entries and sifts it down. */
  private siftDown(d2: number, index: number, size: number): void {
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= size) break;
      const r = l + 1;
      const m = r < size && this.worse(this.d[r]!, this.idx[r]!, this.d[l]!, this.idx[l]!) ? r : l;
      if (!this.worse(this.d[m]!, this.idx[m]!, d2, index)) break;
      this.d[c] = this.d[m]!;
      this.idx[c] = this.idx[m]!;
      c = m;
    }
    this.d[c] = d2;
    this.idx[c] = index;
  }

  /** Is (da, ia) a worse neighbour than (db, ib)? */
  private worse(da: number, ia: number, db: number, ib: number): boolean {
    return da > db || (da === db && ia > ib);
  }
}
