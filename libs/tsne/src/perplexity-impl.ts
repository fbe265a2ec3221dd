/** Binary-search steps per row, as scikit-learn's `_binary_search_perplexity`. */
export const PERPLEXITY_STEPS = 100;
/** Tolerance on |H(P_i) − log(perplexity)| in nats, as scikit-learn. */
export const PERPLEXITY_TOLERANCE = 1e-5;
// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation.
const TOL = 1e-5;

/** scikit-learn's `EPSILON_DBL`: the row sum used when every exp(−β·d) underflows to 0. */
const EPSILON_DBL = 1e-8;

/**
 * Conditional probabilities p_{j|i} with a per-row Gaussian bandwidth β_i = 1/(2σ_i²) found by binary search so
 * that the row entropy H(P_i) = −Σ p log p (nats) equals log(perplexity) within 1e-5 — scikit-learn's
 * `_binary_search_perplexity`, operation for operation (β starts at 1, doubles / halves until bracketed, then
 * bisects; 100 steps at most; p = exp(−d·β) / Σ, a row that underflows entirely is normalised by 1e-8 so that its
 * entropy reads as very low and β keeps halving). Same arithmetic, same rounding: at 10 points the optimisation
 * amplifies a last-bit difference in P into a different embedding.
 *
 * `sqDistances` is n × k row-major, already rounded as scikit-learn rounds them (float32). With `neighbors` false
 * it is the full n × n matrix and the diagonal is excluded (p_{i|i} = 0); with `neighbors` true row i holds the
 * squared distances to i's k nearest neighbours and every entry counts.
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
        const p = Math.exp(-sqDistances[row + j]! * beta);
        out[row + j] = p;
        sumP += p;
      }
      if (sumP === 0) sumP = EPSILON_DBL;
      let sumDP = 0;
      for (let j = 0; j < k; j++) {
        const p = out[row + j]! / sumP;
        out[row + j] = p;
        sumDP += sqDistances[row + j]! * p;
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
