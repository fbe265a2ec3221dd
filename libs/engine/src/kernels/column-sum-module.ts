import { compiledPerHeap, encodeRunModule, I32, OP, SIMD, sleb, uleb } from '../wasm-module.js';

/**
 * `run(x, out, rows, rowBytes, vectorBytes)`: adds the `rows` consecutive rows of `rowBytes` bytes starting at byte
 * address `x` into the row at `out`, row after row (`out[c] += x[r, c]` for r = 0, 1, …), 4 lanes at a time
 * (`f32x4.add`) up to `vectorBytes`, then one float at a time. Each column is therefore summed in the plain sequential
 * order a scalar loop uses, in float32 — a reduction over leading axes without transposing the tensor first.
 */
export type ColumnSumFunction = (x: number, out: number, rows: number, rowBytes: number, vectorBytes: number) => void;

// Parameters, then locals.
const X = 0;
const OUT = 1;
const ROWS = 2;
const ROW_BYTES = 3;
const VECTOR_BYTES = 4;
const ROW = 5;
const OFFSET = 6;
const ROW_ADDRESS = 7;

/** The module's bytes (exported for the test that checks they validate with a shared and an unshared heap). */
export function encodeColumnSumModule(shared: boolean): Uint8Array {
  const code: number[] = [];
  const get = (local: number) => code.push(OP.localGet, ...uleb(local));
  const set = (local: number) => code.push(OP.localSet, ...uleb(local));
  const memarg = [...uleb(2), ...uleb(0)];
  // rowAddress = x; row = 0
  get(X);
  set(ROW_ADDRESS);
  code.push(OP.i32Const, ...sleb(0));
  set(ROW);
  code.push(OP.block, 0x40, OP.loop, 0x40);
  get(ROW);
  get(ROWS);
  code.push(OP.i32GeU, OP.brIf, ...uleb(1));
  code.push(OP.i32Const, ...sleb(0));
  set(OFFSET);
  // One loop per width: vectors up to vectorBytes, then floats up to rowBytes.
  for (const vector of [true, false]) {
    code.push(OP.block, 0x40, OP.loop, 0x40);
    get(OFFSET);
    get(vector ? VECTOR_BYTES : ROW_BYTES);
    code.push(OP.i32GeU, OP.brIf, ...uleb(1));
    // out + offset (store address), out[offset] + rowAddress[offset]
    get(OUT);
    get(OFFSET);
    code.push(OP.i32Add);
    get(OUT);
    get(OFFSET);
    code.push(OP.i32Add);
    if (vector) code.push(0xfd, ...uleb(SIMD.v128Load), ...memarg);
    else code.push(OP.f32Load, ...memarg);
    get(ROW_ADDRESS);
    get(OFFSET);
    code.push(OP.i32Add);
    if (vector) code.push(0xfd, ...uleb(SIMD.v128Load), ...memarg, 0xfd, ...uleb(SIMD.f32x4Add));
    else code.push(OP.f32Load, ...memarg, OP.f32Add);
    if (vector) code.push(0xfd, ...uleb(SIMD.v128Store), ...memarg);
    else code.push(OP.f32Store, ...memarg);
    get(OFFSET);
    code.push(OP.i32Const, ...sleb(vector ? 16 : 4), OP.i32Add);
    set(OFFSET);
    code.push(OP.br, ...uleb(0), OP.end, OP.end);
  }
  // rowAddress += rowBytes; row += 1
  get(ROW_ADDRESS);
  get(ROW_BYTES);
  code.push(OP.i32Add);
  set(ROW_ADDRESS);
  get(ROW);
  code.push(OP.i32Const, ...sleb(1), OP.i32Add);
  set(ROW);
  code.push(OP.br, ...uleb(0), OP.end, OP.end, OP.end);

  return encodeRunModule(
    Array.from({ length: 5 }, () => I32),
    [[3, I32]],
    code,
    shared
  );
}

/** The column sum compiled against `memory` (once per heap; the module is ≈ 150 bytes). */
export const columnSumFor = compiledPerHeap<ColumnSumFunction>(encodeColumnSumModule);
