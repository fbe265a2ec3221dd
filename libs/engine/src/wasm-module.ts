/**
 * What the engine's hand-encoded WebAssembly kernels share (the fused optimizer updates, the column sums, the pooling
 * window scan): the binary encoding, the opcodes they use, and one module shape — a single exported function `run`
 * that imports the TF.js wasm backend's `env.memory` and works on byte addresses in that heap.
 */

/** The exported `run` of such a module: byte addresses, lengths and scalars in, results written into the heap. */
export type WasmRunFunction = (...args: number[]) => void;

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

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** The core instructions the kernels use. */
export const OP = {
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
  f32Load: 0x2a,
  f32Store: 0x38,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
} as const;

/** SIMD instructions: written as the 0xfd prefix, then the opcode as an unsigned LEB128. */
export const SIMD = {
  v128Load: 0x00,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i32x4Splat: 0x11,
  f32x4Splat: 0x13,
  f32x4Gt: 0x44,
  v128Bitselect: 0x52,
  i32x4Add: 0xae,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
} as const;

/** Whether `value` is a `WebAssembly.Memory`. */
export function isWasmMemory(value: unknown): value is WasmMemory {
  return value instanceof WASM.Memory;
}

/** Whether `bytes` is a valid module (for the encoders' tests). */
export function validateModule(bytes: Uint8Array): boolean {
  return WASM.validate(bytes);
}

/** Whether `memory` is shared (the threaded build's heap): a module importing it must declare it shared. */
export function isSharedMemory(memory: WasmMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** Instantiates a module that imports `env.memory` and returns its exported `run` function. */
export function instantiateRun(bytes: Uint8Array, memory: WasmMemory): WasmRunFunction {
  const instance = new WASM.Instance(new WASM.Module(bytes), { env: { memory } });
  return instance.exports['run'] as WasmRunFunction;
}

/**
 * A module of one function `run(params…)` with `locals` (each entry: count, type) and body `code` (ending in `end`),
 * importing `env.memory` (declared shared when the backend's heap is).
 */
export function encodeRunModule(
  params: readonly number[],
  locals: readonly (readonly number[])[],
  code: readonly number[],
  shared: boolean
): Uint8Array {
  const body = [...vec(locals.map(([count, type]) => [...uleb(count!), type!])), ...code];
  // Shared memories need a maximum (the wasm32 ceiling, 65 536 pages).
  const limits = shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(params.map((t) => [t])), ...vec([])]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('run'), 0x00, ...uleb(0)]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

/** `encode`'s module compiled against a heap, once per heap (a backend re-created gets its own). */
export function compiledPerHeap<F extends WasmRunFunction>(
  encode: (shared: boolean) => Uint8Array
): (memory: WasmMemory) => F {
  const compiled = new WeakMap<WasmMemory, F>();
  return (memory) => {
    let fn = compiled.get(memory);
    if (fn === undefined) {
      fn = instantiateRun(encode(isSharedMemory(memory)), memory) as F;
      compiled.set(memory, fn);
    }
    return fn;
  };
}

/** Unsigned LEB128. */
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

/** Signed LEB128 (the immediates of `i32.const`). */
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

/** A vector: its length, then its items. */
export function vec(items: readonly (readonly number[])[]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A name: its UTF-8 length, then its bytes. */
export function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** A section: its id, its length, its content. */
export function section(id: number, content: readonly number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}
