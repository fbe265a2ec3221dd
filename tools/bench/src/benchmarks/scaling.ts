/**
 * `npm run bench -- scaling [--models base,resnet50] [--world 1,2] [--steps N] [--groups-per-step N]`
 *
 * Images per second of the Sup-Walsh pretraining and of ordinary training when one run is shared by 1 or 2 worker
 * processes that all-reduce through @supwalsh/collective on loopback — the service's data path without its control
 * plane. Each rank is its own process (wasm backend) with cores / N threads, so 1 and 2 processes use the same cores. Rows: `{ model, phase, worldSize, imagesPerSecond,
 * speedup }`, speedup against world size 1 of the same model and phase, measured in the same run. Pretraining
 * shares `groupsPerStep` class groups per step among the ranks (the original's 1 group per step cannot be shared).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { availableCores } from '@supwalsh/engine';
import type { ModelName } from '@supwalsh/models';
import { defineBenchmark, option, type BenchRow } from '../benchmark.js';
import type { ScalingJob, ScalingMessage } from './scaling-worker.js';

const WORKER = path.join(import.meta.dirname, 'scaling-worker.js');

type Done = Extract<ScalingMessage, { type: 'done' }>;

/** Starts `worldSize` ranks, hands every rank the others' addresses, and collects their results. */
async function runRing(job: Omit<ScalingJob, 'rank'>): Promise<Done[]> {
  const children = Array.from({ length: job.worldSize }, (_, rank) =>
    fork(WORKER, [JSON.stringify({ ...job, rank } satisfies ScalingJob)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
  );
  const addresses: string[] = [];
  const results = children.map(
    (child, rank) =>
      new Promise<Done>((resolve, reject) => {
        child.on('message', (m: ScalingMessage) => {
          if (m.type === 'address') {
            addresses[rank] = m.address;
            if (addresses.filter(Boolean).length === job.worldSize) children.forEach((c) => c.send(addresses));
          } else if (m.type === 'done') resolve(m);
          else reject(new Error(`scaling rank ${rank}: ${m.message}`));
        });
        child.on('exit', (code) => code !== 0 && reject(new Error(`scaling rank ${rank} exited with ${code}`)));
      })
  );
  try {
    return await Promise.all(results);
  } finally {
    children.forEach((c) => c.exitCode === null && c.kill());
  }
}

export default defineBenchmark({
  name: 'scaling',
  description:
    'Sup-Walsh pretraining and training images/s on 1 vs 2 worker processes sharing the cores (cores/N threads each; all-reduce on loopback)',
  async run({ args, log, setBackend }) {
    const models = (option(args, '--models')?.split(',') ?? ['base', 'resnet50']) as ModelName[];
    const worlds = option(args, '--world')?.split(',').map(Number) ?? [1, 2];
    const rows: BenchRow[] = [];
    for (const model of models) {
      const steps = Number(option(args, '--steps') ?? (model === 'base' ? 30 : 4));
      // 8 groups (80 images) per step keep the Base model's ranks busy; ResNet-50's activations for 80 images do
      // not fit the wasm heap, so it shares 2 groups.
      const groupsPerStep = Number(option(args, '--groups-per-step') ?? (model === 'base' ? 8 : 2));
      const base: Record<string, number> = {};
      for (const worldSize of worlds) {
        log(
          `${model}: ${worldSize} process${worldSize === 1 ? '' : 'es'}, ${steps} steps per phase, ${groupsPerStep} groups per pretraining step…`
        );
        // The machine's cores shared out among the ranks (the CLI's --local N should do the same).
        const threads = Math.max(1, Math.floor(Math.min(availableCores(), 8 * worldSize) / worldSize));
        const ranks = await runRing({ model, worldSize, groupsPerStep, batchSize: 32, steps, threads });
        setBackend(ranks[0]?.engine ?? 'wasm');
        for (const phase of ['pretraining', 'training'] as const) {
          // The ring is as fast as its slowest rank; each rank times the same global steps.
          const seconds = Math.max(...ranks.map((r) => r.phases[phase].seconds));
          const images = ranks[0]?.phases[phase].images ?? 0;
          const imagesPerSecond = seconds > 0 ? images / seconds : 0;
          if (worldSize === worlds[0]) base[phase] = imagesPerSecond;
          rows.push({
            model,
            phase,
            worldSize,
            threadsPerRank: threads,
            imagesPerStep: phase === 'pretraining' ? groupsPerStep * 10 : 32,
            imagesPerSecond: Number(imagesPerSecond.toFixed(2)),
            speedup: Number((imagesPerSecond / (base[phase] ?? imagesPerSecond)).toFixed(2)),
          });
          log(`  ${phase}: ${imagesPerSecond.toFixed(1)} img/s`);
        }
      }
    }
    return rows;
  },
});
