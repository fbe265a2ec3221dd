// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
const f32 = Math.fround;
/** scikit-learn's quad-tree `EPSILON` (a C float). */
const DUP = Math.fround(1e-6);
const MARGIN = Math.fround(1e-3);
/** Points closer than this on every axis share a leaf (scikit-learn's quad-tree `EPSILON`, as a float32). */
export const DUPLICATE_EPSILON = DUP;

/**
 * A quad-tree (2-D) or oct-tree (3-D) over the embedding, rebuilt every Barnes–Hut iteration — scikit-learn's
 * `_QuadTree`, in its float32 arithmetic: one point per leaf (points within 1e-6 on every axis are merged as
 * duplicates, the leaf keeping the first one's position), cells split at their centre, children created lazily in
 * insertion order, an internal cell's barycentre updated as the running weighted mean (n·b + p)/(n + 1) at every
 * insertion, bounding box from the points with scikit-learn's margin. Coordinates are read as float32 (rounded).
 * Storage is struct-of-arrays in typed arrays that grow by doubling and are reused from one build to the next.
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
  /** Barycentre of the cell's points (× dims); a leaf's is its first point's position. */
  bary = new Float64Array(0);
  width2 = new Float64Array(0);
  size = new Float64Array(0);
  leaf = new Uint8Array(0);
  children = new Int32Array(0);
  /** Traversal stack for queries, as long as the cell arrays. */
  stack = new Int32Array(0);
  /** The point being inserted (float32-rounded). */
  private readonly point = new Float64Array(3);

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
        const v = f32(y[i * d + a]!);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      // scikit-learn (float32): M = max(M·(1 + 1e-3·sign(M)), M + 1e-3), so every point is strictly inside.
      hi = Math.max(f32(hi * f32(1 + MARGIN * Math.sign(hi))), f32(hi + MARGIN));
      this.minB[a] = lo;
      this.maxB[a] = hi;
      this.center[a] = f32(hi + lo) / 2;
      const w = f32(hi - lo);
      w2 = Math.max(w2, f32(w * w));
    }
    this.width2[root] = w2;
    const p = this.point;
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < d; a++) p[a] = f32(y[i * d + a]!);
      this.insert(p);
    }
  }

  private insert(p: Float64Array): void {
    const d = this.dims;
    let cell = 0;
    for (;;) {
      const s = this.size[cell]!;
      if (s === 0) {
        this.size[cell] = 1;
        for (let a = 0; a < d; a++) this.bary[cell * d + a] = p[a]!;
        return;
      }
      if (!this.leaf[cell]) {
        for (let a = 0; a < d; a++) {
          const o = cell * d + a;
          this.bary[o] = f32(f32(f32(s * this.bary[o]!) + p[a]!) / (s + 1));
        }
        this.size[cell] = s + 1;
        const slot = this.childSlot(cell, p, 0);
        const child = this.children[cell * this.fanout + slot]!;
        if (child < 0) {
          const created = this.newChild(cell, slot);
          this.size[created] = 1;
          for (let a = 0; a < d; a++) this.bary[created * d + a] = p[a]!;
          return;
        }
        cell = child;
        continue;
      }
      // A leaf that holds one location: merge a duplicate, or push the old content down one level and retry here.
      let duplicate = true;
      for (let a = 0; a < d; a++) {
        if (Math.abs(f32(p[a]! - this.bary[cell * d + a]!)) > DUP) duplicate = false;
      }
      // Cells narrower than float resolution can no longer separate points: merge rather than split forever.
      if (duplicate || this.width2[cell]! < 1e-24) {
        this.size[cell] = s + 1;
        return;
      }
      const slot = this.childSlot(cell, this.bary, cell * d);
      const child = this.newChild(cell, slot);
      this.size[child] = s;
      for (let a = 0; a < d; a++) this.bary[child * d + a] = this.bary[cell * d + a]!;
      this.leaf[cell] = 0;
      // Loop again at the same cell, now internal: it updates its barycentre and descends.
    }
  }

  /** Index of the child of `cell` containing point p[o …]. */
  private childSlot(cell: number, p: Float64Array, o: number): number {
    let slot = 0;
    for (let a = 0; a < this.dims; a++) {
      slot <<= 1;
      if (p[o + a]! >= this.center[cell * this.dims + a]!) slot |= 1;
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
      this.center[child * d + a] = f32(lo + hi) / 2;
      const w = f32(hi - lo);
      w2 = Math.max(w2, f32(w * w));
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
