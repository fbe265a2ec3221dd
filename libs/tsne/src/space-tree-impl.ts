// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
const DUP = 1e-6;
/** Points closer than this on every axis share a leaf (scikit-learn's quad-tree `EPSILON`). */
export const DUPLICATE_EPSILON = DUP;

/**
 * A quad-tree (2-D) or oct-tree (3-D) over the embedding, rebuilt every Barnes–Hut iteration — scikit-learn's
 * `_QuadTree`: one point per leaf (points within 1e-6 on every axis are merged as duplicates), cells split at
 * their centre, children created lazily, bounding box from the points with scikit-learn's margin. Storage is
 * struct-of-arrays in typed arrays that grow by doubling and are reused from one build to the next.
 */
export class SpaceTree {
  readonly dims: number;
  readonly fanout: number;
  /** Number of cells in use; cell 0 is the root. */
  count = 0;
  private capacity = 0;
  /** Per cell: min and max bounds and centre (× dims), squared largest width, size, leaf flag, children (× fanout). */
  minB = new Float64Array(0);
  maxB = new Float64Array(0);
  center = new Float64Array(0);
  /** Sum of the coordinates of the cell's points (× dims); the barycentre once `finish` has run. */
  bary = new Float64Array(0);
  width2 = new Float64Array(0);
  size = new Float64Array(0);
  leaf = new Uint8Array(0);
  children = new Int32Array(0);
  /** Traversal stack for queries, as long as the cell arrays. */
  stack = new Int32Array(0);

  constructor(dims: 2 | 3) {
    this.dims = dims;
    this.fanout = 1 << dims;
  }

  /** Rebuilds the tree over n points (row-major n × dims). */
  build(y: Float64Array, n: number): void {
    const d = this.dims;
    this.ensureCapacity(Math.max(16, 2 * n));
    this.count = 0;
    const root = this.newCell();
    let w2 = 0;
    for (let a = 0; a < d; a++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = y[i * d + a]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      // scikit-learn: M = max(M·(1 + 1e-3·sign(M)), M + 1e-3), so every point is strictly inside.
      hi = Math.max(hi * (1 + 1e-3 * Math.sign(hi)), hi + 1e-3);
      this.minB[a] = lo;
      this.maxB[a] = hi;
      this.center[a] = (lo + hi) / 2;
      w2 = Math.max(w2, (hi - lo) * (hi - lo));
    }
    this.width2[root] = w2;
    for (let i = 0; i < n; i++) this.insert(y, i);
    this.finish();
  }

  private insert(y: Float64Array, i: number): void {
    const d = this.dims;
    const o = i * d;
    let cell = 0;
    for (;;) {
      if (this.size[cell] === 0) {
        this.size[cell] = 1;
        for (let a = 0; a < d; a++) this.bary[cell * d + a] = y[o + a]!;
        return;
      }
      if (!this.leaf[cell]) {
        this.size[cell]! += 1;
        for (let a = 0; a < d; a++) this.bary[cell * d + a]! += y[o + a]!;
        const slot = this.childSlot(cell, y, o);
        let child = this.children[cell * this.fanout + slot]!;
        if (child < 0) child = this.newChild(cell, slot);
        cell = child;
        continue;
      }
      // A leaf that holds one location: merge a duplicate, or split and push the old content down one level.
      const s = this.size[cell]!;
      let duplicate = true;
      for (let a = 0; a < d; a++) {
        if (Math.abs(y[o + a]! - this.bary[cell * d + a]! / s) > DUP) duplicate = false;
      }
      // Cells narrower than float resolution can no longer separate points: merge rather than split forever.
      if (duplicate || this.width2[cell]! < 1e-24) {
        this.size[cell] = s + 1;
        for (let a = 0; a < d; a++) this.bary[cell * d + a]! += y[o + a]!;
        return;
      }
      const slot = this.childSlot(cell, this.bary, cell * d, s);
      const child = this.newChild(cell, slot);
      this.size[child] = s;
      for (let a = 0; a < d; a++) this.bary[child * d + a] = this.bary[cell * d + a]!;
      this.leaf[cell] = 0;
      // Loop again at the same cell, now internal: it counts the new point and descends.
    }
  }

  /** Index of the child of `cell` containing point p[o …] (divided by `scale`, for barycentre sums). */
  private childSlot(cell: number, p: Float64Array, o: number, scale = 1): number {
    let slot = 0;
    for (let a = 0; a < this.dims; a++) {
      slot <<= 1;
      if (p[o + a]! / scale >= this.center[cell * this.dims + a]!) slot |= 1;
    }
    return slot;
  }

  private newChild(parent: number, slot: number): number {
    const child = this.newCell();
    const d = this.dims;
    let w2 = 0;
    for (let a = 0; a < d; a++) {
      const upper = (slot >> (d - 1 - a)) & 1;
      const lo = upper ? this.center[parent * d + a]! : this.minB[parent * d + a]!;
      const hi = upper ? this.maxB[parent * d + a]! : this.center[parent * d + a]!;
      this.minB[child * d + a] = lo;
      this.maxB[child * d + a] = hi;
      this.center[child * d + a] = (lo + hi) / 2;
      w2 = Math.max(w2, (hi - lo) * (hi - lo));
    }
    this.width2[child] = w2;
    this.children[parent * this.fanout + slot] = child;
    return child;
  }

  private newCell(): number {
    if (this.count === this.capacity) this.ensureCapacity(2 * this.capacity);
    const c = this.count++;
    this.size[c] = 0;
    this.leaf[c] = 1;
    this.children.fill(-1, c * this.fanout, (c + 1) * this.fanout);
    return c;
  }

  /** Sums → barycentres. */
  private finish(): void {
    const d = this.dims;
    for (let c = 0; c < this.count; c++) {
      const s = this.size[c]!;
      if (s > 0) for (let a = 0; a < d; a++) this.bary[c * d + a] = this.bary[c * d + a]! / s;
    }
  }

  private ensureCapacity(capacity: number): void {
    if (capacity <= this.capacity) return;
    const d = this.dims;
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(capacity * per);
      next.set(old.subarray(0, this.count * per));
      return next;
    };
    const f64 = (n: number) => new Float64Array(n);
    this.minB = grow(this.minB, f64, d);
    this.maxB = grow(this.maxB, f64, d);
    this.center = grow(this.center, f64, d);
    this.bary = grow(this.bary, f64, d);
    this.width2 = grow(this.width2, f64, 1);
    this.size = grow(this.size, f64, 1);
    this.leaf = grow(this.leaf, (n) => new Uint8Array(n), 1);
    this.children = grow(this.children, (n) => new Int32Array(n), this.fanout);
    this.stack = new Int32Array(capacity);
    this.capacity = capacity;
  }
}
