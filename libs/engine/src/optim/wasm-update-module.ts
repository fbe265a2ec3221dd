import type { UpdateProgram } from './update-program.js';

/**
 * Compiles an `UpdateProgram` into a tiny WebAssembly module whose one function runs the whole update in a single
 * pass over the tensors, 4 lanes at a time (`f32x4`, then a scalar tail), directly in the TF.js wasm backend's heap
 * (the module imports the backend's `WebAssembly.Memory`). Every TF.js kernel it replaces is a pass over memory of
 * its own plus a dispatch from JS; the fused loop reads each input once and writes each output once.
 *
 * wasm's `f32`/`f32x4` add, sub, mul, div and sqrt are IEEE 754 single-precision operations, correctly rounded and
 * never fused or flushed to zero, so the loop gives the same bits as the op sequence.
 *
 * The function's parameters: one byte address per input, then per output, then `vectorEnd` (bytes covered by whole
 * 4-lane vectors) and `end` (total bytes), then the scalars as f32.
 */
export type UpdateFunction = (...args: number[]) => void;

/** A `WebAssembly.Memory` (the repository's TypeScript libs declare no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}

/** The part of the WebAssembly JS API used here. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}

const WASM = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** Whether `value` is a `WebAssembly.Memory`. */
export function isWasmMemory(value: unknown): value is WasmMemory {
  return value instanceof WASM.Memory;
}

/** Whether `bytes` is a valid module (for the encoder's test). */
export function validateModule(bytes: Uint8Array): boolean {
  return WASM.validate(bytes);
}

/** Compiles `program` against `memory` (shared or not, as the backend's heap is). */
export function compileUpdate(program: UpdateProgram, memory: WasmMemory): UpdateFunction {
  return instantiateRun(encodeModule(program, isSharedMemory(memory)), memory);
}

/** Whether `memory` is shared (the threaded build's heap): a module importing it must declare it shared. */
export function isSharedMemory(memory: WasmMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** Instantiates a module that imports `env.memory` and returns its exported `run` function. */
export function instantiateRun(bytes: Uint8Array, memory: WasmMemory): UpdateFunction {
  const instance = new WASM.Instance(new WASM.Module(bytes), { env: { memory } });
  return instance.exports['run'] as UpdateFunction;
}

/** The memory import's limits: shared memories need a maximum (the wasm32 ceiling, 65 536 pages). */
export function memoryLimits(shared: boolean): number[] {
  return shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
}

const I32 = 0x7f;
const F32 = 0x7d;
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
  f32Load: 0x2a,
  f32Store: 0x38,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
} as const;

/** SIMD instructions: the 0xfd prefix, then the opcode as an unsigned LEB128. */
const SIMD = {
  v128Load: 0x00,
  v128Store: 0x0b,
  f32x4Splat: 0x13,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
} as const;

/** The module's bytes (exported for the test that checks they validate). */
export function encodeModule(program: UpdateProgram, shared: boolean): Uint8Array {
  const nIn = program.inputs.length;
  const nOut = program.outputs.length;
  const nScalar = program.scalars.length;
  // Parameters: addresses, vectorEnd, end, scalars.
  const params = [...Array<number>(nIn + nOut + 2).fill(I32), ...Array<number>(nScalar).fill(F32)];
  const scalarParam = (s: number): number => nIn + nOut + 2 + s;
  const vectorEnd = nIn + nOut;
  const end = nIn + nOut + 1;
  // Locals: the byte offset, one splat per scalar, one v128 and one f32 per node.
  const offset = params.length;
  const splat = (s: number): number => offset + 1 + s;
  const nodes = program.nodes.length;
  const vectorLocal = (n: number): number => offset + 1 + nScalar + n;
  const scalarLocal = (n: number): number => offset + 1 + nScalar + nodes + n;
  const locals = vec([
    [...uleb(1), I32],
    [...uleb(nScalar + nodes), V128],
    [...uleb(nodes), F32],
  ]);

  const code: number[] = [];
  const simd = (op: number, ...rest: number[]): void => {
    code.push(0xfd, ...uleb(op), ...rest);
  };
  const memarg = (align: number): number[] => [...uleb(align), ...uleb(0)];
  for (let s = 0; s < nScalar; s++) {
    code.push(OP.localGet, ...uleb(scalarParam(s)));
    simd(SIMD.f32x4Splat);
    code.push(OP.localSet, ...uleb(splat(s)));
  }
  code.push(OP.i32Const, ...sleb(0), OP.localSet, ...uleb(offset));

  // One loop per width: 16-byte vectors up to vectorEnd, then single floats up to end.
  for (const vector of [true, false]) {
    const local = vector ? vectorLocal : scalarLocal;
    const address = (param: number): void => {
      code.push(OP.localGet, ...uleb(param), OP.localGet, ...uleb(offset), OP.i32Add);
    };
    code.push(OP.block, 0x40, OP.loop, 0x40);
    code.push(OP.localGet, ...uleb(offset), OP.localGet, ...uleb(vector ? vectorEnd : end), OP.i32GeU);
    code.push(OP.brIf, ...uleb(1));
    program.nodes.forEach((node, n) => {
      switch (node.op) {
        case 'input':
          address(node.index);
          if (vector) simd(SIMD.v128Load, ...memarg(2));
          else code.push(OP.f32Load, ...memarg(2));
          break;
        case 'scalar':
          code.push(OP.localGet, ...uleb(vector ? splat(node.index) : scalarParam(node.index)));
          break;
        case 'sqrt':
          code.push(OP.localGet, ...uleb(local(node.a)));
          if (vector) simd(SIMD.f32x4Sqrt);
          else code.push(OP.f32Sqrt);
          break;
        case 'square':
          code.push(OP.localGet, ...uleb(local(node.a)), OP.localGet, ...uleb(local(node.a)));
          if (vector) simd(SIMD.f32x4Mul);
          else code.push(OP.f32Mul);
          break;
        default: {
          code.push(OP.localGet, ...uleb(local(node.a)), OP.localGet, ...uleb(local(node.b)));
          const [v, f] = BINARY[node.op];
          if (vector) simd(v);
          else code.push(f);
        }
      }
      code.push(OP.localSet, ...uleb(local(n)));
    });
    program.outputs.forEach((output, o) => {
      address(nIn + o);
      code.push(OP.localGet, ...uleb(local(output.node)));
      if (vector) simd(SIMD.v128Store, ...memarg(2));
      else code.push(OP.f32Store, ...memarg(2));
    });
    code.push(OP.localGet, ...uleb(offset), OP.i32Const, ...sleb(vector ? 16 : 4), OP.i32Add);
    code.push(OP.localSet, ...uleb(offset), OP.br, ...uleb(0), OP.end, OP.end);
  }
  code.push(OP.end);

  const body = [...locals, ...code];
  const limits = memoryLimits(shared);
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(params.map((t) => [t])), ...vec([])]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('run'), 0x00, ...uleb(0)]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

const BINARY = {
  add: [SIMD.f32x4Add, OP.f32Add],
  sub: [SIMD.f32x4Sub, OP.f32Sub],
  mul: [SIMD.f32x4Mul, OP.f32Mul],
  div: [SIMD.f32x4Div, OP.f32Div],
} as const;

/** Module-encoding helper, shared with the other hand-encoded kernels (`kernels/column-sum-module.ts`). */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
  return out;
}

/** Module-encoding helper, shared with the other hand-encoded kernels (`kernels/column-sum-module.ts`). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** Module-encoding helper, shared with the other hand-encoded kernels (`kernels/column-sum-module.ts`). */
export function vec(items: readonly (readonly number[])[]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Module-encoding helper, shared with the other hand-encoded kernels (`kernels/column-sum-module.ts`). */
export function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** Module-encoding helper, shared with the other hand-encoded kernels (`kernels/column-sum-module.ts`). */
export function section(id: number, content: readonly number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}
