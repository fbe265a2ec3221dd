import { ReportArgumentError } from './errors.js';

/** Arithmetic mean; NaN for an empty list. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample standard deviation (divisor n − 1); NaN for fewer than two values. */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return NaN;
  const m = mean(values);
  let sum = 0;
  for (const v of values) sum += (v - m) ** 2;
  return Math.sqrt(sum / (values.length - 1));
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const TINY = 1e-300;
const EPSILON = 1e-15;
const MAX_ITERATIONS = 500;

/** Continued fraction of the incomplete beta function, evaluated with the modified Lentz method. */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    // Even step: d_{2m} = m (b − m) x / ((a + 2m − 1)(a + 2m)).
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step: d_{2m+1} = −(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) return h;
  }
  return h; // converged to within float precision for every (a, b, x) the t-distribution uses
}

/**
 * The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1, from its continued fraction
 * (using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges faster).
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0))
    throw new ReportArgumentError('regularizedIncompleteBeta', 'a, b', `must be > 0; got ${a}, ${b}`);
  if (Number.isNaN(x)) return NaN;
  if (x < 0 || x > 1) throw new ReportArgumentError('regularizedIncompleteBeta', 'x', `must be in [0, 1]; got ${x}`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(logFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/**
 * Two-sided tail probability P(|T| ≥ |t|) of Student's t distribution with `df` degrees of freedom:
 * I_{df/(df+t²)}(df/2, 1/2).
 */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!(df > 0)) throw new ReportArgumentError('studentTTwoSidedP', 'df', `must be > 0; got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** The cumulative distribution function P(T ≤ t) of Student's t distribution with `df` (> 0) degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new ReportArgumentError('studentTCdf', 'df', `must be > 0; got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Result of a paired t-test of `a − b`. */
export interface PairedTTest {
  /** Number of pairs. */
  readonly n: number;
  /** Mean of the differences a − b. */
  readonly meanDifference: number;
  /** Sample standard deviation of the differences. */
  readonly stdDifference: number;
  /** t = mean / (std / √n): ±Infinity when every difference is the same non-zero value, NaN when all are 0. */
  readonly t: number;
  /** Degrees of freedom, n − 1. */
  readonly df: number;
  /** Two-sided p-value: 0 for an infinite t, NaN for an undefined one. */
  readonly p: number;
}

const RELATIVE_NOISE = 1e-12;

/**
 * Paired (dependent samples) Student t-test of `a − b`, where `a[i]` and `b[i]` belong together (e.g. the same
 * seed). Needs at least two pairs. A mean or spread of the differences below 1e-12 of the values' magnitude is
 * rounding noise and counts as 0, so identical shifts give t = ±∞ and identical values give NaN.
 */
export function pairedTTest(a: readonly number[], b: readonly number[]): PairedTTest {
  if (a.length !== b.length) {
    throw new ReportArgumentError('pairedTTest', 'b', `must have as many values as a (${a.length}); got ${b.length}`);
  }
  if (a.length < 2) throw new ReportArgumentError('pairedTTest', 'a', `needs at least 2 pairs; got ${a.length}`);
  const differences = a.map((v, i) => v - b[i]!);
  const n = differences.length;
  // Rounding noise (e.g. 0.85 × 100 − 0.80 × 100 differing in the 15th digit between seeds) is not a spread:
  // a mean or standard deviation below 1e-12 of the values' magnitude counts as exactly 0.
  const noise = RELATIVE_NOISE * Math.max(...a.map(Math.abs), ...b.map(Math.abs));
  const snap = (v: number) => (Math.abs(v) <= noise ? 0 : v);
  const meanDifference = snap(mean(differences));
  const stdDifference = snap(sampleStd(differences));
  const t = meanDifference / (stdDifference / Math.sqrt(n));
  const df = n - 1;
  return { n, meanDifference, stdDifference, t, df, p: studentTTwoSidedP(t, df) };
}
