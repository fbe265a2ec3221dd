/**
 * `npm run bench -- optimizer-update [--params 2843760] [--threads 1]`
 *
 * One optimizer update of every parameter of the Base model (2.84 M) on wasm, with the engine's fused kernels
 * (`adamUpdate` / `sgdUpdate`: one SIMD pass) vs the same update as TF.js ops (the fused kernels unregistered),
 * alternated call by call in one process. Rows: ms per update, fused / ops.
 */
import {
  ADAM_UPDATE_KERNEL,
  adamUpdate,
  initEngine,
  SGD_UPDATE_KERNEL,
  sgdUpdate,
  WASM_TRAINING_KERNELS,
} from '@supwalsh/engine';
import * as tf from '@tensorflow/tfjs-core';
import { defineBenchmark, option, type BenchRow } from '../benchmark.js';
import { time } from '../timing.js';

/** The Base model's trainable parameters: 4096·640 + 640 + 640·320 + 320 + 320·50 + 50 + 50·10 + 10. */
const BASE_PARAMS = 2_843_760;

export default defineBenchmark({
  name: 'optimizer-update',
  description:
    "one Adam / SGD (weight decay 3e-6, 1/batch gradient scale) update of Base's 2.84 M parameters on wasm: the engine's fused kernel vs the same update as TF.js ops, alternated; --params --threads",
  async run({ args, log, setBackend }) {
    const params = Number(option(args, '--params') ?? BASE_PARAMS);
    const threads = Number(option(args, '--threads') ?? 1);
    if (!Number.isInteger(params) || params < 1) throw new Error(`optimizer-update: --params must be ≥ 1`);
    const info = await initEngine({ backend: 'wasm', threads });
    setBackend(`${info.package} ${info.version}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`);
    const configs = [ADAM_UPDATE_KERNEL, SGD_UPDATE_KERNEL].map(
      (name) => WASM_TRAINING_KERNELS.find((k) => k.kernelName === name) as tf.KernelConfig
    );
    const useFused = (on: boolean) => {
      for (const config of configs) {
        const registered = tf.getKernel(config.kernelName, 'wasm') !== undefined;
        if (on && !registered) tf.registerKernel(config);
        if (!on && registered) tf.unregisterKernel(config.kernelName, 'wasm');
      }
    };
    const p = tf.variable(tf.randomNormal([params], 0, 0.05, 'float32', 1));
    const m = tf.variable(tf.zeros([params]));
    const v = tf.variable(tf.zeros([params]));
    const g = tf.randomNormal([params], 0, 1, 'float32', 2);
    let t = 0;
    const adam = () => {
      t += 1;
      tf.tidy(() => {
        const out = adamUpdate(p, g, m, v, {
          beta1: 0.9,
          beta2: 0.999,
          epsilon: 1e-8,
          lrOverBc1: 3e-5 / (1 - 0.9 ** t),
          sqrtBc2: Math.sqrt(1 - 0.999 ** t),
          gradScale: 1 / 10,
        });
        p.assign(out.p);
        m.assign(out.m);
        v.assign(out.v);
      });
    };
    const sgd = () =>
      tf.tidy(() => p.assign(sgdUpdate(p, g, null, { learningRate: 0.01, weightDecay: 3e-6, gradScale: 1 / 32 }).p));
    const rows: BenchRow[] = [];
    for (const [name, update] of [
      ['adam', adam],
      ['sgd', sgd],
    ] as const) {
      const ms: Record<string, number[]> = { fused: [], ops: [] };
      // Alternate in rounds so both paths see the same load.
      for (let round = 0; round < 5; round++) {
        for (const mode of ['fused', 'ops'] as const) {
          useFused(mode === 'fused');
          const timing = await time(update, { warmup: 1, minRuns: 5, minSeconds: 0.3 });
          ms[mode]?.push(1000 * timing.median);
        }
      }
      useFused(true);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
      const fused = median(ms['fused'] as number[]);
      const ops = median(ms['ops'] as number[]);
      log(`${name}: fused ${fused.toFixed(2)} ms, ops ${ops.toFixed(2)} ms (${(fused / ops).toFixed(3)})`);
      rows.push({
        optimizer: name,
        params,
        threads: info.threads,
        fusedMs: fused,
        opsMs: ops,
        fusedOverOps: fused / ops,
      });
    }
    tf.dispose([p, m, v, g]);
    return rows;
  },
});
