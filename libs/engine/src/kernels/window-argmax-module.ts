import { compiledPerHeap, encodeRunModule, I32, OP, SIMD, sleb, uleb, V128 } from '../wasm-module.js';

/**
 * `run(x, best, chosen, vectorBytes, rows, cols, rowBytes, colBytes, base, rowStride, colStride)`: the first maximum
 * per channel of one pooling window, 4 channels at a time (`f32x4.gt` + `v128.bitselect`). The window's taps are
 * `rows × cols` runs of `vectorBytes` bytes (channels) starting at byte address `x`, `rowBytes` / `colBytes` apart;
 * tap (r, q)'s channel k has the flat element index `base + r·rowStride + q·colStride + k`. Writes the maximum to
 * `best` (−∞ where no tap is greater) and its index to `chosen` (−1 there). A tap replaces the best only when
 * strictly greater, so ties keep the first tap in row-major order and NaN never wins — the scalar loop's rule.
 */
export type WindowArgmaxFunction = (
  x: number,
  best: number,
  chosen: number,
  vectorBytes: number,
  rows: number,
  cols: number,
  rowBytes: number,
  colBytes: number,
  base: number,
  rowStride: number,
  colStride: number
) => void;

// Parameters.
const X = 0;
const BEST = 1;
const CHOSEN = 2;
const VECTOR_BYTES = 3;
const ROWS = 4;
const COLS = 5;
const ROW_BYTES = 6;
const COL_BYTES = 7;
const BASE = 8;
const ROW_STRIDE = 9;
const COL_STRIDE = 10;
// Locals: i32 r, q, offset, tap; v128 index, value, current, mask.
const R = 11;
const Q = 12;
const OFFSET = 13;
const TAP = 14;
const INDEX = 15;
const VALUE = 16;
const CURRENT = 17;
const MASK = 18;

function f32Bytes(value: number): number[] {
  return [...new Uint8Array(Float32Array.of(value).buffer)];
}

function i32Bytes(values: readonly number[]): number[] {
  return [...new Uint8Array(Int32Array.from(values).buffer)];
}

/** The module's bytes (exported for the test that checks they validate with a shared and an unshared heap). */
export function encodeWindowArgmaxModule(shared: boolean): Uint8Array {
  const code: number[] = [];
  const get = (local: number) => code.push(OP.localGet, ...uleb(local));
  const set = (local: number) => code.push(OP.localSet, ...uleb(local));
  const simd = (op: number, ...rest: number[]) => code.push(0xfd, ...uleb(op), ...rest);
  const memarg = [...uleb(4), ...uleb(0)];
  const i32 = (value: number) => code.push(OP.i32Const, ...sleb(value));
  /** `while (counter < limit) { body; counter += step }` with `counter = 0` first. */
  const loop = (counter: number, limit: number, step: number, body: () => void) => {
    i32(0);
    set(counter);
    code.push(OP.block, 0x40, OP.loop, 0x40);
    get(counter);
    get(limit);
    code.push(OP.i32GeU, OP.brIf, ...uleb(1));
    body();
    get(counter);
    i32(step);
    code.push(OP.i32Add);
    set(counter);
    code.push(OP.br, ...uleb(0), OP.end, OP.end);
  };

  // best = −∞, chosen = −1
  loop(OFFSET, VECTOR_BYTES, 16, () => {
    get(BEST);
    get(OFFSET);
    code.push(OP.i32Add);
    simd(
      SIMD.v128Const,
      ...f32Bytes(-Infinity),
      ...f32Bytes(-Infinity),
      ...f32Bytes(-Infinity),
      ...f32Bytes(-Infinity)
    );
    simd(SIMD.v128Store, ...memarg);
    get(CHOSEN);
    get(OFFSET);
    code.push(OP.i32Add);
    simd(SIMD.v128Const, ...i32Bytes([-1, -1, -1, -1]));
    simd(SIMD.v128Store, ...memarg);
  });
  loop(R, ROWS, 1, () => {
    loop(Q, COLS, 1, () => {
      // tap = x + r·rowBytes + q·colBytes; index = splat(base + r·rowStride + q·colStride) + [0, 1, 2, 3]
      get(X);
      get(R);
      get(ROW_BYTES);
      code.push(OP.i32Mul, OP.i32Add);
      get(Q);
      get(COL_BYTES);
      code.push(OP.i32Mul, OP.i32Add);
      set(TAP);
      get(BASE);
      get(R);
      get(ROW_STRIDE);
      code.push(OP.i32Mul, OP.i32Add);
      get(Q);
      get(COL_STRIDE);
      code.push(OP.i32Mul, OP.i32Add);
      simd(SIMD.i32x4Splat);
      simd(SIMD.v128Const, ...i32Bytes([0, 1, 2, 3]));
      simd(SIMD.i32x4Add);
      set(INDEX);
      loop(OFFSET, VECTOR_BYTES, 16, () => {
        get(TAP);
        get(OFFSET);
        code.push(OP.i32Add);
        simd(SIMD.v128Load, ...memarg);
        set(VALUE);
        get(BEST);
        get(OFFSET);
        code.push(OP.i32Add);
        simd(SIMD.v128Load, ...memarg);
        set(CURRENT);
        get(VALUE);
        get(CURRENT);
        simd(SIMD.f32x4Gt);
        set(MASK);
        // best = mask ? value : current
        get(BEST);
        get(OFFSET);
        code.push(OP.i32Add);
        get(VALUE);
        get(CURRENT);
        get(MASK);
        simd(SIMD.v128Bitselect);
        simd(SIMD.v128Store, ...memarg);
        // chosen = mask ? index : chosen
        get(CHOSEN);
        get(OFFSET);
        code.push(OP.i32Add);
        get(INDEX);
        get(CHOSEN);
        get(OFFSET);
        code.push(OP.i32Add);
        simd(SIMD.v128Load, ...memarg);
        get(MASK);
        simd(SIMD.v128Bitselect);
        simd(SIMD.v128Store, ...memarg);
        get(INDEX);
        simd(SIMD.v128Const, ...i32Bytes([4, 4, 4, 4]));
        simd(SIMD.i32x4Add);
        set(INDEX);
      });
    });
  });
  code.push(OP.end);

  return encodeRunModule(
    Array.from({ length: 11 }, () => I32),
    [
      [4, I32],
      [4, V128],
    ],
    code,
    shared
  );
}

/** The window argmax compiled against `memory` (once per heap). */
export const windowArgmaxFor = compiledPerHeap<WindowArgmaxFunction>(encodeWindowArgmaxModule);
