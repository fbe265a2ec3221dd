/**
 * @supwalsh/tsne — exact and Barnes–Hut t-SNE on typed arrays, following scikit-learn's `TSNE` (its defaults,
 * perplexity search, learning schedule and stopping rules). The exact method is tuned for Sup-Walsh's hot path —
 * one embedding of ~10 points of 4096 dimensions per pretraining batch — and `createTsne` reuses its buffers
 * across calls; Barnes–Hut (vantage-point-tree kNN, quad/oct-tree forces) embeds whole test sets. Depends on
 * nothing but typed arrays.
 * @module
 */
export { TsneArgumentError, TsneRunnerBusyError } from './errors.js';
export type { TsnePhase } from './gradient-descent-impl.js';
export {
  defaultTsneOptions,
  type ResolvedTsneOptions,
  type TsneCallOptions,
  type TsneData,
  type TsneInit,
  type TsneLogger,
  type TsneMethod,
  type TsneOptions,
  type TsneProgress,
  type TsneResult,
} from './tsne-options.js';
export { createTsne, MAX_EXACT_ROWS, tsne, tsneAsync, type TsneRunner, type TsneRunOptions } from './tsne.js';
