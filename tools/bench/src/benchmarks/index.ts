import type { Benchmark } from '../benchmark.js';
import allreduce from './allreduce.js';
import convGrad from './conv-grad.js';
import dashboard from './dashboard.js';
import fwht from './fwht.js';
import optimizerUpdate from './optimizer-update.js';
import pretrain from './pretrain.js';
import scaling from './scaling.js';
import trainStep from './train-step.js';
import tsne from './tsne.js';

/** Every benchmark `npm run bench -- <name>` knows, in the order `--list` shows them. */
export const BENCHMARKS: readonly Benchmark[] = [
  fwht,
  tsne,
  allreduce,
  convGrad,
  trainStep,
  optimizerUpdate,
  pretrain,
  scaling,
  dashboard,
];
