/** Binary-search steps per row, as scikit-learn's `_binary_search_perplexity`. */
export const PERPLEXITY_STEPS = 100;
/** Tolerance on |H(P_i) − log(perplexity)| in nats, as scikit-learn. */
export const PERPLEXITY_TOLERANCE = 1e-5;
// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
const TOL = 1e-5;

/**
 * Conditional probabilities p_{j|i} with a per-row Gaussian bandwidth β_i = 1/(2σ_i²) found by binary search so
 * that the row entropy H(P_i) = −Σ p log p (nats) equals log(perplexity) within 1e-5 — scikit-learn's
 * `_binary_search_perplexity`, step for step (β starts at 1, doubles / halves until bracketed, then bisects;
 * 100 steps at most).
 *
 * `sqDistances` is n × k row-major. With `neighbors` false it is the full n × n matrix and the diagonal is
 * excluded (p_{i|i} = 0); with `neighbors` true row i holds the squared distances to i's k nearest neighbours
 * and every entry counts.
 *
 * One deviation, for robustness only: the exponent is shifted by the row's smallest distance,
 * exp(−β(d_j − d_min)), which leaves p_{j|i} and the entropy unchanged mathematically but cannot underflow to an
 * all-zero row when distances are large (4096-dimensional inputs).
 *
 * @param betas receives β_i per row when given (for the mean-σ log line and tests).
 */
export function binarySearchPerplexity(
  sqDistances: Float64Array,
  n: number,
  k: number,
  neighbors: boolean,
  perplexity: number,
  out: Float64Array,
  betas?: Float64Array
): void {
  const desiredEntropy = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    let dMin = Infinity;
    for (let j = 0; j < k; j++) {
      if (j === i && !neighbors) continue;
      const d = sqDistances[row + j]!;
      if (d < dMin) dMin = d;
    }
    if (dMin === Infinity) dMin = 0;
    let beta = 1;
    let betaMin = -Infinity;
    let betaMax = Infinity;
    for (let step = 0; step < PERPLEXITY_STEPS; step++) {
      let sumP = 0;
      for (let j = 0; j < k; j++) {
        if (j === i && !neighbors) {
          out[row + j] = 0;
          continue;
        }
        const p = Math.exp(-(sqDistances[row + j]! - dMin) * beta);
        out[row + j] = p;
        sumP += p;
      }
      if (sumP === 0) sumP = 1e-8;
      let sumDP = 0;
      const inv = 1 / sumP;
      for (let j = 0; j < k; j++) {
        const p = out[row + j]! * inv;
        out[row + j] = p;
        if (p !== 0) sumDP += (sqDistances[row + j]! - dMin) * p;
      }
      const entropyDiff = Math.log(sumP) + beta * sumDP - desiredEntropy;
      if (Math.abs(entropyDiff) <= TOL) break;
      if (entropyDiff > 0) {
        betaMin = beta;
        beta = betaMax === Infinity ? beta * 2 : (beta + betaMax) / 2;
      } else {
        betaMax = beta;
        beta = betaMin === -Infinity ? beta / 2 : (beta + betaMin) / 2;
      }
    }
    if (betas) betas[i] = beta;
  }
}
