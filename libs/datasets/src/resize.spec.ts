import fs from 'node:fs';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DatasetArgumentError } from './errors.js';
import { resizeBilinear, resizeBilinearTensor, rgbToGray } from './resize.js';

/** Textbook bilinear in float64: half-pixel centres, edges clamped (align_corners=False), rounded once at the end. */
function floatBilinear(src: Uint8Array, w: number, h: number, ow: number, oh: number): Float64Array {
  const coord = (o: number, inSize: number, outSize: number): [number, number, number] => {
    const s = Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    return [i0, Math.min(i0 + 1, inSize - 1), s - i0];
  };
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    const [y0, y1, fy] = coord(y, h, oh);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, fx] = coord(x, w, ow);
      const top = src[y0 * w + x0]! * (1 - fx) + src[y0 * w + x1]! * fx;
      const bottom = src[y1 * w + x0]! * (1 - fx) + src[y1 * w + x1]! * fx;
      out[y * ow + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

function randomImage(w: number, h: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: w * h }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 24;
  });
}

function maxDifference(a: Uint8Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - Math.round(b[i]!)));
  return worst;
}

/** Records of fixtures/pil-golden.bin (see pil-golden.py): inputs and what Pillow 9.4 made of them. */
function pilGolden(): {
  kind: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  input: Uint8Array;
  grey?: Uint8Array;
  output: Uint8Array;
}[] {
  const bytes = fs.readFileSync(new URL('./fixtures/pil-golden.bin', import.meta.url));
  const records = [];
  let at = 0;
  while (at < bytes.length) {
    const kind = bytes[at]!;
    const [h, w, oh, ow] = [0, 1, 2, 3].map((k) => bytes.readUInt32LE(at + 1 + 4 * k)) as [
      number,
      number,
      number,
      number,
    ];
    at += 17;
    const input = new Uint8Array(bytes.subarray(at, (at += h * w * (kind === 1 ? 3 : 1))));
    const grey = kind === 1 ? new Uint8Array(bytes.subarray(at, (at += h * w))) : undefined;
    const output = new Uint8Array(bytes.subarray(at, (at += oh * ow)));
    records.push({ kind, h, w, oh, ow, input, output, ...(grey ? { grey } : {}) });
  }
  return records;
}

describe('resizeBilinear', () => {
  it('matches a hand-computed 1-D upscale and downscale', () => {
    // 2 → 4: centres 0.25, 0.75, 1.25, 1.75; inner outputs weigh the neighbours 3:1; edges see one tap only.
    expect(Array.from(resizeBilinear(Uint8Array.from([0, 100]), 2, 1, 4, 1))).toEqual([0, 25, 75, 100]);
    // 4 → 2: support widens to 2; weights (.75, .75, .25)/1.75, so 100·3/7 + 200/7 = 71.4 and 100/7 + 260·3/7 = 125.7.
    expect(Array.from(resizeBilinear(Uint8Array.from([0, 100, 200, 60]), 4, 1, 2, 1))).toEqual([71, 126]);
  });

  it('rounds between its two passes as Pillow does', () => {
    // Rows become [0, 25, 75, 100] and [200, 160, 80, 40]; row 1 of the output is .75·row0 + .25·row1 = 58.75 → 59.
    const out = resizeBilinear(Uint8Array.from([0, 100, 200, 40]), 2, 2, 4, 4);
    expect(Array.from(out)).toEqual([0, 25, 75, 100, 50, 59, 76, 85, 150, 126, 79, 55, 200, 160, 80, 40]);
  });

  it.each([
    [28, 64],
    [32, 64],
  ])('agrees with a float64 bilinear within one grey level for %i → %i', (size, out) => {
    for (const seed of [1, 2, 3]) {
      const image = randomImage(size, size, seed);
      const ours = resizeBilinear(image, size, size, out, out);
      expect(maxDifference(ours, floatBilinear(image, size, size, out, out))).toBeLessThanOrEqual(1);
    }
    // A smooth gradient: rounding is the only difference.
    const ramp = Uint8Array.from({ length: size * size }, (_, p) =>
      Math.round(((p % size) + Math.floor(p / size)) * (255 / (2 * size - 2)))
    );
    expect(
      maxDifference(resizeBilinear(ramp, size, size, out, out), floatBilinear(ramp, size, size, out, out))
    ).toBeLessThanOrEqual(1);
  });

  it('returns the image unchanged at its own size', () => {
    const image = randomImage(28, 28, 9);
    expect(resizeBilinear(image, 28, 28, 28, 28)).toEqual(image);
    expect(resizeBilinear(image, 28, 28, 28, 28)).not.toBe(image);
  });

  it('reproduces Pillow 9.4 byte for byte, upscaling, downscaling and non-square', () => {
    const records = pilGolden();
    expect(records.length).toBe(14);
    for (const r of records) {
      const grey =
        r.kind === 1
          ? Uint8Array.from({ length: r.h * r.w }, (_, p) =>
              rgbToGray(r.input[3 * p]!, r.input[3 * p + 1]!, r.input[3 * p + 2]!)
            )
          : r.input;
      if (r.grey) expect(grey, 'RGB → L').toEqual(r.grey);
      expect(resizeBilinear(grey, r.w, r.h, r.ow, r.oh), `${r.h}×${r.w} → ${r.oh}×${r.ow}`).toEqual(r.output);
    }
  });

  it('rejects sizes that are not positive integers and pixels of the wrong length', () => {
    expect(() => resizeBilinear(new Uint8Array(4), 2, 2, 0, 2)).toThrow(DatasetArgumentError);
    expect(() => resizeBilinear(new Uint8Array(4), 2, 2, 0, 2)).toThrow(
      /^resizeBilinear: outWidth must be an integer from 1 to 65536; got 0/
    );
    expect(() => resizeBilinear(new Uint8Array(5), 2, 2, 4, 4)).toThrow(
      /resizeBilinear: pixels must be a Uint8Array of width·height = 4 bytes; got 5 bytes/
    );
  });
});

/** Records of fixtures/tensor-golden.bin.gz (see tensor-golden.py): inputs and torchvision 0.14's tensor Resize. */
function tensorGolden(): {
  name: string;
  h: number;
  w: number;
  oh: number;
  ow: number;
  input: Uint8Array;
  output: Uint8Array;
}[] {
  const bytes = zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/tensor-golden.bin.gz', import.meta.url)));
  const records = [];
  let at = 0;
  while (at < bytes.length) {
    const length = bytes[at]!;
    const name = bytes.toString('latin1', at + 1, at + 1 + length);
    at += 1 + length;
    const [h, w, oh, ow] = [0, 1, 2, 3].map((k) => bytes.readUInt32LE(at + 4 * k)) as [number, number, number, number];
    at += 16;
    const input = new Uint8Array(bytes.subarray(at, (at += h * w)));
    const output = new Uint8Array(bytes.subarray(at, (at += oh * ow)));
    records.push({ name, h, w, oh, ow, input, output });
  }
  return records;
}

/** `torch.round`, written independently of resize.ts: halves go to the even neighbour. */
function roundHalfToEven(v: number): number {
  const floor = Math.floor(v);
  const frac = v - floor;
  if (frac !== 0.5) return frac < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

describe('resizeBilinearTensor', () => {
  it('rounds once at the end, halves to even, where Pillow rounds halves up', () => {
    // 2 → 4: the inner outputs weigh the neighbours 3:1, so [0, 2] gives 0.5 and 1.5, [1, 3] gives 1.5 and 2.5.
    expect(Array.from(resizeBilinearTensor(Uint8Array.from([0, 2]), 2, 1, 4, 1))).toEqual([0, 0, 2, 2]);
    expect(Array.from(resizeBilinearTensor(Uint8Array.from([1, 3]), 2, 1, 4, 1))).toEqual([1, 2, 2, 3]);
    expect(Array.from(resizeBilinear(Uint8Array.from([0, 2]), 2, 1, 4, 1))).toEqual([0, 1, 2, 2]);
    // 4 → 2 without antialias: two taps each (source positions 0.5 and 2.5), not Pillow's widened window.
    expect(Array.from(resizeBilinearTensor(Uint8Array.from([0, 100, 200, 60]), 4, 1, 2, 1))).toEqual([50, 130]);
  });

  it.each([
    [28, 64],
    [32, 64],
  ])('equals a float64 bilinear rounded half to even for %i → %i, where every step is exact', (size, out) => {
    let halves = 0;
    const images = [1, 2, 3, 4].map((seed) => randomImage(size, size, seed));
    images.push(
      Uint8Array.from({ length: size * size }, (_, p) => Math.round(((p % size) + Math.floor(p / size)) * 2.3) % 256)
    );
    for (const image of images) {
      const reference = floatBilinear(image, size, size, out, out);
      halves += reference.filter((v) => v - Math.floor(v) === 0.5).length;
      expect(resizeBilinearTensor(image, size, size, out, out)).toEqual(Uint8Array.from(reference, roundHalfToEven));
    }
    expect(halves).toBeGreaterThan(0); // the half-to-even rule was exercised
  });

  it('returns the image unchanged at its own size', () => {
    const image = randomImage(28, 28, 9);
    expect(resizeBilinearTensor(image, 28, 28, 28, 28)).toEqual(image);
  });

  it('reproduces torchvision 0.14 byte for byte: real Fashion-MNIST, edge cases, shrinking and non-square', () => {
    const records = tensorGolden();
    expect(records.length).toBe(25);
    expect(records.filter((r) => r.name.startsWith('fashion-mnist')).length).toBe(12);
    for (const r of records) {
      expect(resizeBilinearTensor(r.input, r.w, r.h, r.ow, r.oh), r.name).toEqual(r.output);
    }
  });

  it('differs from the Pillow route by one grey level in about a tenth of the pixels of real images', () => {
    let differ = 0;
    let total = 0;
    for (const r of tensorGolden().filter((g) => g.name.startsWith('fashion-mnist') && g.oh === 64)) {
      const pil = resizeBilinear(r.input, r.w, r.h, r.ow, r.oh);
      for (let p = 0; p < r.output.length; p++) {
        expect(Math.abs(pil[p]! - r.output[p]!)).toBeLessThanOrEqual(1);
        if (pil[p] !== r.output[p]) differ++;
      }
      total += r.output.length;
    }
    expect(total).toBe(10 * 4096);
    expect(differ / total).toBeGreaterThan(0.05);
    expect(differ / total).toBeLessThan(0.15);
  });

  it('rejects sizes that are not positive integers and pixels of the wrong length', () => {
    expect(() => resizeBilinearTensor(new Uint8Array(4), 2, 2, 2, 1.5)).toThrow(
      /^resizeBilinearTensor: outHeight must be an integer from 1 to 65536; got 1\.5/
    );
    expect(() => resizeBilinearTensor(new Uint8Array(3), 2, 2, 4, 4)).toThrow(
      /resizeBilinearTensor: pixels must be a Uint8Array of width·height = 4 bytes; got 3 bytes/
    );
  });
});

describe('rgbToGray', () => {
  it("uses Pillow's fixed-point ITU-R 601-2 luma and keeps grey grey", () => {
    expect(rgbToGray(255, 0, 0)).toBe(76); // 255·19595/65536 = 76.2
    expect(rgbToGray(0, 255, 0)).toBe(150); // 149.7
    expect(rgbToGray(0, 0, 255)).toBe(29); // 29.07
    expect(rgbToGray(10, 200, 30)).toBe((10 * 19595 + 200 * 38470 + 30 * 7471 + 0x8000) >> 16);
    for (let v = 0; v < 256; v++) expect(rgbToGray(v, v, v)).toBe(v);
    expect(rgbToGray(255, 255, 255)).toBe(255);
  });
});
