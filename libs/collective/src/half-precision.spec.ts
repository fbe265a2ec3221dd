import { describe, expect, it } from 'vitest';
import {
  bf16ToF32,
  decodeHalf,
  encodeHalf,
  f16ToF32,
  f32BitsToBf16,
  f32BitsToF16,
  UNIT_ROUNDOFF,
} from './half-precision.js';

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;

describe('fp16 and bf16 wire encodings', () => {
  it('round-trip every finite binary16 value exactly (encode ∘ decode = identity)', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const exp = (h >>> 10) & 0x1f;
      if (exp === 31 && h & 0x3ff) continue; // NaN payloads are normalised
      if (f32BitsToF16(bitsOf(f16ToF32(h))) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('round every float32 to the nearest binary16, ties to even, with ±∞ beyond 65 504 and NaN kept', () => {
    const samples = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519.99, 65520, 1e-8, 2 ** -25, 3 * 2 ** -26, -0, -1.5];
    for (const x of samples) {
      const f = Math.fround(x);
      const h = f32BitsToF16(bitsOf(f));
      const decoded = f16ToF32(h);
      if (Math.abs(f) >= 65520) {
        expect(decoded).toBe(Math.sign(f) * Infinity);
        continue;
      }
      // no other binary16 value is closer
      for (const neighbour of [h - 1, h + 1]) {
        if (neighbour < 0 || neighbour > 0xffff || Number.isNaN(f16ToF32(neighbour))) continue;
        expect(Math.abs(decoded - f)).toBeLessThanOrEqual(Math.abs(f16ToF32(neighbour) - f));
      }
    }
    expect(f16ToF32(f32BitsToF16(bitsOf(1 + 2 ** -11)))).toBe(1); // tie → even
    expect(f16ToF32(f32BitsToF16(bitsOf(1 + 3 * 2 ** -11)))).toBe(1 + 2 ** -9); // tie → even (up)
    expect(Number.isNaN(f16ToF32(f32BitsToF16(bitsOf(NaN))))).toBe(true);
    expect(Object.is(f16ToF32(f32BitsToF16(bitsOf(-0))), -0)).toBe(true);
  });

  it('keep the relative error of normal values within the unit roundoff', () => {
    for (let i = 0; i < 10_000; i++) {
      const x = Math.fround((Math.random() - 0.5) * 2 ** ((i % 40) - 20));
      if (x === 0) continue;
      const h = f16ToF32(f32BitsToF16(bitsOf(x)));
      if (Math.abs(x) >= 2 ** -14 && Math.abs(x) <= 65504)
        expect(Math.abs(h - x)).toBeLessThanOrEqual(UNIT_ROUNDOFF.fp16 * Math.abs(x));
      const b = bf16ToF32(f32BitsToBf16(bitsOf(x)));
      expect(Math.abs(b - x)).toBeLessThanOrEqual(UNIT_ROUNDOFF.bf16 * Math.abs(x));
    }
  });

  it('encode and decode arrays, and accumulate decoded values in place', () => {
    for (const encoding of ['f16', 'bf16'] as const) {
      const x = new Float32Array([1, -2.5, 1000, 0.1]);
      const half = new Uint16Array(4);
      encodeHalf(encoding, x, half);
      const out = new Float32Array(4);
      decodeHalf(encoding, half, out, false);
      const tolerance = encoding === 'f16' ? UNIT_ROUNDOFF.fp16 : UNIT_ROUNDOFF.bf16;
      out.forEach((v, i) => expect(Math.abs(v - x[i]!)).toBeLessThanOrEqual(tolerance * Math.abs(x[i]!)));
      const acc = new Float32Array([1, 1, 1, 1]);
      decodeHalf(encoding, half, acc, true);
      acc.forEach((v, i) => expect(v).toBe(Math.fround(out[i]! + 1)));
    }
  });
});
