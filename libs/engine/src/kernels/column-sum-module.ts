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
 * `run(x, out, rows, rowBytes, vectorBytes)`: adds the `rows` consecutive rows of `rowBytes` bytes starting at byte
 * address `x` into the row at `out`, row after row (`out[c] += x[r, c]` for r = 0, 1, …), 4 lanes at a time
 * (`f32x4.add`) up to `vectorBytes`, then one float at a time. Each column is therefore summed in the plain sequential
 * order a scalar loop uses, in float32 — a reduction over leading axes without transposing the tensor first.
 */
export type ColumnSumFunction = (x: number, out: number, rows: number, rowBytes: number, vectorBytes: number) => void;

const I32 = 0x7f;
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
  f32Load: 0x2a,
  f32Store: 0x38,
  f32Add: 0x92,
} as const;
const SIMD = { v128Load: 0x00, v128Store: 0x0b, f32x4Add: 0xe4 } as const;

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

  const body = [...vec([[...uleb(3), I32]]), ...code];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...memoryLimits(shared)]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('run'), 0x00, ...uleb(0)]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

const compiled = new WeakMap<WasmMemory, ColumnSumFunction>();

/** The column sum compiled against `memory` (once per heap; the module is ≈ 150 bytes). */
export function columnSumFor(memory: WasmMemory): ColumnSumFunction {
  let fn = compiled.get(memory);
  if (fn === undefined) {
    fn = instantiateRun(encodeColumnSumModule(isSharedMemory(memory)), memory) as UpdateFunction as ColumnSumFunction;
    compiled.set(memory, fn);
  }
  return fn;
}
