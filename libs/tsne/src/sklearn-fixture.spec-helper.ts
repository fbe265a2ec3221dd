// The scikit-learn fixture (../fixtures/sklearn-fashion-mnist.json, written by make-sklearn-fixture.py): real
// Sup-Walsh-shaped inputs (10 Fashion-MNIST images, one per class, 64 × 64 raw pixels) and scikit-learn's t-SNE
// results on them. Inputs are rebuilt here from the stored 28 × 28 originals with torchvision's tensor resize, and
// checked against the SHA-256 the script recorded of torch's own output.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface SklearnRun {
  /** Final embedding, 10 × 2 row-major (scikit-learn's float32 values). */
  embedding: number[];
  /** scikit-learn's `kl_divergence_` (Barnes–Hut: its approximation). */
  klDivergence: number;
  nIter: number;
  /** The initial embedding `TSNE._tsne` received (PCA, scaled to std 1e-4 in column 0). */
  init: number[];
  /**
   * Joint P as `TSNE._tsne` received it: exact, the condensed upper triangle (i < j, row by row); Barnes–Hut, the
   * CSR values (rows in order, columns ascending; at N = 10 every pair).
   */
  P: number[];
}

export interface SklearnGroup {
  indices: number[];
  sha256: string;
  exact: SklearnRun;
  barnes_hut: SklearnRun;
}

export interface SklearnFixture {
  sklearnVersion: string;
  args: Record<string, unknown>;
  originals: string;
  /** random_state 0 per group, in full. */
  groups: SklearnGroup[];
  /** Number of random_state draws per group and method. */
  randomStates: number;
  /** Final embeddings per method: float32 little-endian, groups × randomStates × 10 × 2, base64. */
  draws: { exact: string; barnes_hut: string };
  /** Initial (PCA) embeddings, the same for both methods; layout as `draws`. */
  inits: string;
}

const SIDE_IN = 28;
const SIDE_OUT = 64;

/** The fixture, parsed, with each group's 10 × 4096 input rebuilt (float32, 0…255 integers as scikit-learn sees them). */
export function loadSklearnFixture(): { fixture: SklearnFixture; inputs: Float32Array[] } {
  const path = new URL('../fixtures/sklearn-fashion-mnist.json', import.meta.url);
  const fixture = JSON.parse(readFileSync(path, 'utf8')) as SklearnFixture;
  const originals = gunzipSync(Buffer.from(fixture.originals, 'base64'));
  const perGroup = 10 * SIDE_IN * SIDE_IN;
  if (originals.length !== fixture.groups.length * perGroup) throw new Error('fixture: originals have the wrong size');
  const inputs = fixture.groups.map((group, g) => {
    const pixels = new Uint8Array(10 * SIDE_OUT * SIDE_OUT);
    for (let r = 0; r < 10; r++) {
      const start = g * perGroup + r * SIDE_IN * SIDE_IN;
      const image = resizeBilinearTorch(originals.subarray(start, start + SIDE_IN * SIDE_IN), SIDE_IN, SIDE_OUT);
      pixels.set(image, r * SIDE_OUT * SIDE_OUT);
    }
    const digest = createHash('sha256').update(pixels).digest('hex');
    if (digest !== group.sha256) throw new Error(`fixture: group ${g} does not rebuild torch's pixels`);
    return Float32Array.from(pixels);
  });
  return { fixture, inputs };
}

/**
 * torchvision's `Resize` on a uint8 tensor (torch's `upsample_bilinear2d`, align_corners=False, no antialias),
 * then `torch.round` (half to even): source coordinate (o + 0.5)·in/out − 0.5 clamped at 0, the right/bottom
 * neighbour clamped to the edge. For 28 → 64 every weight is a multiple of 1/32, so the float32 result is exact and
 * any evaluation order gives the same value.
 */
export function resizeBilinearTorch(src: Uint8Array, inSide: number, outSide: number): Uint8Array {
  const scale = inSide / outSide;
  const index0 = new Int32Array(outSide);
  const index1 = new Int32Array(outSide);
  const lambda1 = new Float64Array(outSide);
  for (let o = 0; o < outSide; o++) {
    const s = Math.max(scale * (o + 0.5) - 0.5, 0);
    const i0 = Math.floor(s);
    index0[o] = i0;
    index1[o] = i0 < inSide - 1 ? i0 + 1 : i0;
    lambda1[o] = s - i0;
  }
  const out = new Uint8Array(outSide * outSide);
  for (let oy = 0; oy < outSide; oy++) {
    const r0 = index0[oy]! * inSide;
    const r1 = index1[oy]! * inSide;
    const h1 = lambda1[oy]!;
    const h0 = 1 - h1;
    for (let ox = 0; ox < outSide; ox++) {
      const c0 = index0[ox]!;
      const c1 = index1[ox]!;
      const w1 = lambda1[ox]!;
      const w0 = 1 - w1;
      const v = h0 * (w0 * src[r0 + c0]! + w1 * src[r0 + c1]!) + h1 * (w0 * src[r1 + c0]! + w1 * src[r1 + c1]!);
      out[oy * outSide + ox] = roundHalfEven(v);
    }
  }
  return out;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Exact KL(P‖Q) of a 2-D embedding against a condensed joint P (i < j), written plainly as the definition:
 * Σ_{i≠j} p_ij log(p_ij / q_ij), q_ij = (1 + ‖y_i − y_j‖²)⁻¹ / Σ_{k≠l} (1 + ‖y_k − y_l‖²)⁻¹.
 */
export function exactKl(embedding: ArrayLike<number>, condensedP: ArrayLike<number>, n: number): number {
  const w: number[] = [];
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = embedding[2 * i]! - embedding[2 * j]!;
      const dy = embedding[2 * i + 1]! - embedding[2 * j + 1]!;
      const wij = 1 / (1 + dx * dx + dy * dy);
      w.push(wij);
      z += 2 * wij;
    }
  }
  let kl = 0;
  for (let a = 0; a < w.length; a++) {
    const p = condensedP[a]!;
    if (p > 0) kl += 2 * p * Math.log(p / (w[a]! / z));
  }
  return kl;
}
