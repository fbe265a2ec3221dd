import {
  encodeRunModule,
  F32,
  I32,
  instantiateRun,
  isSharedMemory,
  OP,
  SIMD,
  sleb,
  uleb,
  V128,
  type WasmMemory,
  type WasmRunFunction,
} from '../wasm-module.js';
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
export type UpdateFunction = WasmRunFunction;

/** Compiles `program` against `memory` (shared or not, as the backend's heap is). */
export function compileUpdate(program: UpdateProgram, memory: WasmMemory): UpdateFunction {
  return instantiateRun(encodeModule(program, isSharedMemory(memory)), memory);
}

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
  const locals = [
    [1, I32],
    [nScalar + nodes, V128],
    [nodes, F32],
  ];

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

  return encodeRunModule(params, locals, code, shared);
}

const BINARY = {
  add: [SIMD.f32x4Add, OP.f32Add],
  sub: [SIMD.f32x4Sub, OP.f32Sub],
  mul: [SIMD.f32x4Mul, OP.f32Mul],
  div: [SIMD.f32x4Div, OP.f32Div],
} as const;
