import {
  instantiateRun,
  isSharedMemory,
  memoryLimits,
  name,
  section,
  sleb,
  uleb,
  vec,
  type UpdateFunction,
  type WasmMemory,
} from '../optim/wasm-update-module.js';

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

const I32 = 0x7f;
const V128 = 0x7b;
const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Mul: 0x6c,
} as const;
const SIMD = {
  v128Load: 0x00,
  v128Const: 0x0c,
  v128Store: 0x0b,
  i32x4Splat: 0x11,
  f32x4Gt: 0x44,
  v128Bitselect: 0x52,
  i32x4Add: 0xae,
} as const;

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

  const body = [
    ...vec([
      [...uleb(4), I32],
      [...uleb(4), V128],
    ]),
    ...code,
  ];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(Array.from({ length: 11 }, () => [I32])), ...vec([])]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...memoryLimits(shared)]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('run'), 0x00, ...uleb(0)]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

const compiled = new WeakMap<WasmMemory, WindowArgmaxFunction>();

/** The window argmax compiled against `memory` (once per heap). */
export function windowArgmaxFor(memory: WasmMemory): WindowArgmaxFunction {
  let fn = compiled.get(memory);
  if (fn === undefined) {
    fn = instantiateRun(
      encodeWindowArgmaxModule(isSharedMemory(memory)),
      memory
    ) as UpdateFunction as WindowArgmaxFunction;
    compiled.set(memory, fn);
  }
  return fn;
}
