/**
 * `npm run bench -- scaling [--sections sweep,weak,strong] [--models base,resnet50] [--workers 1,2] [--runs 4]
 * [--steps N] [--pretrain-steps N] [--sweep-steps N] [--groups-per-step N] [--probes N]`
 *
 * What more worker processes buy on this machine, three ways, each against 1 worker in the same run (every
 * configuration shares the same cores: N workers get cores / N wasm threads each):
 * - `sweep`: `--runs` whole Sup-Walsh runs (pretraining + training), as the coordinator schedules them: each run on
 *   one worker, so 1 worker runs them one after the other and 2 workers run 2 at a time, each its half in turn.
 *   The figure is the wall time from the workers' start signal to the last run's end (`speedup` = 1 worker's wall /
 *   this one's).
 * - `weak`: one run's training shared by N workers over the ring, 32 images per worker per step (global batch 32·N).
 * - `strong`: the same with the global batch fixed at 32 (16 per worker on 2).
 * `--rounds R` repeats everything R times, each round's ratios against its own 1-worker figures (a loaded machine
 * drifts between configurations). `--threads-per-worker T` gives every worker T threads instead (one node per worker: more workers, more cores).
 * For the data-parallel sections, rows carry the training step's time split, averaged over the ranks (ms per step):
 * forward + backward, read-back into the all-reduce buffer, waiting for the other rank to reach the all-reduce, the ring itself,
 * copying the sums back into tensors, the optimizer, and the rest; `allReduceShare` = (wait + ring) / step, and
 * `ringAloneMs`: the same buffer all-reduced with both ranks entering together, after the run (the ring without
 * the step around it). `efficiency` = speedup / (cores used ÷ the first configuration's): with shared cores it is
 * the speed-up itself (ideal 1: nothing but processes was added); with `--threads-per-worker`, speedup / workers.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { availableCores } from '@supwalsh/engine';
import { isModelName, MODEL_NAMES, type ModelName } from '@supwalsh/models';
import { defineBenchmark, option, type BenchRow } from '../benchmark.js';
import type { RunTiming, ScalingJob, ScalingMessage } from './scaling-worker.js';

const WORKER = path.join(import.meta.dirname, 'scaling-worker.js');
const SECTIONS = ['sweep', 'weak', 'strong'] as const;
type Section = (typeof SECTIONS)[number];

type Done = Extract<ScalingMessage, { type: 'done' }>;

/**
 * Starts one process per job; once all are ready (engine up, data loaded), tells them to go — with the ring's
 * addresses when they form one — and collects their results. Returns them with the wall time from go to the last.
 */
async function runProcesses(jobs: ScalingJob[]): Promise<{ results: Done[]; seconds: number }> {
  const children = jobs.map((job) =>
    fork(WORKER, [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  );
  const addresses: string[] = [];
  let ready = 0;
  let go = 0;
  const results = children.map(
    (child, i) =>
      new Promise<Done>((resolve, reject) => {
        child.on('message', (m: ScalingMessage) => {
          if (m.type === 'ready') {
            addresses[i] = m.address;
            if (++ready === jobs.length) {
              go = performance.now();
              children.forEach((c) => c.send(addresses));
            }
          } else if (m.type === 'done') resolve(m);
          else reject(new Error(`scaling process ${i}: ${m.message}`));
        });
        child.on('exit', (code) => code !== 0 && reject(new Error(`scaling process ${i} exited with ${code}`)));
      })
  );
  try {
    const done = await Promise.all(results);
    return { results: done, seconds: (performance.now() - go) / 1000 };
  } finally {
    children.forEach((c) => c.exitCode === null && c.kill());
  }
}

interface Split {
  stepMs: number;
  fwdBwdMs: number;
  readBackMs: number;
  waitMs: number;
  ringMs: number;
  unpackMs: number;
  optimizerMs: number;
  otherMs: number;
}

/**
 * The training step's split, averaged over the ranks. Waiting and ring time come from the all-reduces' start and
 * end on the shared clock: a rank waits from its own start until the last rank starts; the ring runs from there.
 */
function stepSplit(runs: RunTiming[]): Split {
  const n = runs.length;
  const mean = (f: (r: RunTiming) => number) => runs.reduce((s, r) => s + f(r), 0) / n;
  const steps = runs[0]?.phases.training.steps ?? 0;
  const per = (ms: number) => (steps > 0 ? ms / steps : 0);
  let wait = 0;
  let ring = 0;
  const calls = Math.min(...runs.map((r) => r.reduces.length));
  for (let i = 0; i < calls; i++) {
    const last = Math.max(...runs.map((r) => r.reduces[i]!.enter));
    for (const r of runs) {
      wait += last - r.reduces[i]!.enter;
      ring += r.reduces[i]!.exit - last;
    }
  }
  const reduceSteps = calls > 0 ? calls * n : 1;
  const split: Split = {
    stepMs: per(mean((r) => r.phases.training.seconds * 1000)),
    fwdBwdMs: per(mean((r) => r.profile.forwardBackwardMs)),
    readBackMs: per(mean((r) => r.profile.readBackMs)),
    waitMs: wait / reduceSteps,
    ringMs: ring / reduceSteps,
    unpackMs: per(mean((r) => r.profile.unpackMs)),
    optimizerMs: per(mean((r) => r.profile.optimizerMs)),
    otherMs: 0,
  };
  split.otherMs =
    split.stepMs -
    (split.fwdBwdMs + split.readBackMs + split.waitMs + split.ringMs + split.unpackMs + split.optimizerMs);
  return split;
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** A whole-number option at least `min`, or its default; anything else is refused naming the option. */
function count(args: readonly string[], name: string, fallback: number, min = 1): number {
  const raw = option(args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`scaling: ${name} must be an integer ≥ ${min}; got ${raw}`);
  return value;
}

function formatTable(rows: BenchRow[]): string[] {
  const all = [
    'round',
    'section',
    'model',
    'workers',
    'threadsPerWorker',
    'seconds',
    'secondsPerRun',
    'imagesPerSecond',
    'speedup',
    'efficiency',
    'stepMs',
    'fwdBwdMs',
    'readBackMs',
    'waitMs',
    'ringMs',
    'unpackMs',
    'optimizerMs',
    'otherMs',
    'allReduceShare',
    'ringAloneMs',
  ];
  const short: Record<string, string> = {
    threadsPerWorker: 'threads',
    seconds: 'sweep s',
    secondsPerRun: 's/run',
    imagesPerSecond: 'img/s',
    efficiency: 'eff',
    stepMs: 'step',
    fwdBwdMs: 'f+b',
    readBackMs: 'read',
    waitMs: 'wait',
    ringMs: 'ring',
    unpackMs: 'unpack',
    optimizerMs: 'opt',
    otherMs: 'other',
    allReduceShare: 'AR share',
    ringAloneMs: 'ring alone',
  };
  const columns = all.filter((c) => rows.some((r) => r[c] !== undefined));
  const cells = [
    columns.map((c) => short[c] ?? c),
    ...rows.map((r) =>
      columns.map((c) => {
        const v = r[c];
        return typeof v === 'number'
          ? Number.isInteger(v)
            ? String(v)
            : v.toFixed(c === 'speedup' || c === 'efficiency' || c === 'allReduceShare' ? 2 : 1)
          : String(v ?? '');
      })
    ),
  ];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((v, i) => v.padStart(widths[i] ?? 0)).join('  '));
}

export default defineBenchmark({
  name: 'scaling',
  description:
    'sweep of runs on 1 vs 2 workers, and weak / strong data-parallel scaling of one run with the training step split (wasm; N workers share the cores, or each its own with --threads-per-worker; ring on loopback)',
  async run({ args, log, setBackend }) {
    const workerCounts = option(args, '--workers')?.split(',').map(Number) ?? [1, 2];
    const models = (option(args, '--models')?.split(',') ?? ['base', 'resnet50']) as ModelName[];
    const sections = (option(args, '--sections')?.split(',') ?? [...SECTIONS]) as Section[];
    for (const m of models) {
      if (!isModelName(m)) throw new Error(`scaling: --models must be among ${MODEL_NAMES.join(', ')}; got ${m}`);
    }
    for (const s of sections) {
      if (!SECTIONS.includes(s)) throw new Error(`scaling: --sections must be among ${SECTIONS.join(', ')}; got ${s}`);
    }
    if (!workerCounts.every((w) => Number.isInteger(w) && w >= 1)) {
      throw new Error(`scaling: --workers must be positive integers; got ${option(args, '--workers')}`);
    }
    const runsInSweep = count(args, '--runs', 4);
    const rounds = count(args, '--rounds', 1);
    const probes = count(args, '--probes', 5, 0);
    const cores = availableCores();
    const fixedThreads =
      option(args, '--threads-per-worker') === undefined ? undefined : count(args, '--threads-per-worker', 1);
    // Same cores for every configuration (cores / N each, the wasm pool's cap of 8 respected), unless
    // --threads-per-worker gives each worker its own (one node per worker: adding workers adds cores).
    const threadsFor = (workers: number) =>
      fixedThreads ?? Math.max(1, Math.floor(Math.min(cores, 8 * workers) / workers));
    // Efficiency is per core: against the cores the first worker count's configuration uses.
    const firstCores = (workerCounts[0] ?? 1) * threadsFor(workerCounts[0] ?? 1);
    const rows: BenchRow[] = [];
    for (const model of models) {
      const small = model === 'base';
      // Few steps for the large model keep the whole benchmark near 10 minutes on 2 shared cores.
      // At least 2 training steps in weak / strong: the first is warm-up, untimed.
      const steps = count(args, '--steps', small ? 20 : 3, 2);
      const sweepSteps = count(args, '--sweep-steps', small ? 20 : 2);
      const pretrainSteps = count(args, '--pretrain-steps', small ? 10 : 1, 0);
      const groupsPerStep = count(args, '--groups-per-step', 1);
      for (let trial = 1; trial <= rounds; trial++) {
        // Each round's ratios are against its own first worker count, measured just before (a loaded machine drifts).
        const baseline: Partial<Record<Section, number>> = {};
        for (const section of sections) {
          for (const workers of workerCounts) {
            const threads = threadsFor(workers);
            const common = { model, threads, groupsPerStep, ringProbes: probes };
            log(`${model} ${section}: ${workers} worker${workers === 1 ? '' : 's'}, ${threads} thread(s) each…`);
            if (section === 'sweep') {
              const seeds = Array.from({ length: runsInSweep }, (_, i) => i + 1);
              const jobs = Array.from({ length: workers }, (_, index) => ({
                ...common,
                index,
                worldSize: 1,
                // Round robin, as a scheduler handing the next run to the next free worker would with equal runs.
                seeds: seeds.filter((_, i) => i % workers === index),
                pretrainSteps,
                batchSize: 32,
                steps: sweepSteps,
                ringProbes: 0,
              }));
              const { results, seconds } = await runProcesses(jobs);
              setBackend(results[0]?.engine ?? 'wasm');
              baseline.sweep ??= seconds;
              const speedup = (baseline.sweep ?? seconds) / seconds;
              // Where a run's time goes: its whole wall, and its training steps after the first (steady state).
              const all = results.flatMap((r) => r.runs);
              const timed = all.filter((r) => r.phases.training.steps > 0);
              const mean = (xs: number[]) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
              rows.push({
                ...(rounds > 1 ? { round: trial } : {}),
                section,
                model,
                workers,
                threadsPerWorker: threads,
                runs: runsInSweep,
                seconds: round(seconds),
                runsPerHour: round((3600 * runsInSweep) / seconds, 1),
                secondsPerRun: round(mean(all.map((r) => r.seconds))),
                stepMs: round(mean(timed.map((r) => (1000 * r.phases.training.seconds) / r.phases.training.steps)), 1),
                speedup: round(speedup),
                efficiency: round(speedup / ((workers * threads) / firstCores)),
              });
              log(`  ${seconds.toFixed(1)} s for ${runsInSweep} runs, ×${speedup.toFixed(2)}`);
              continue;
            }
            const globalBatch = section === 'weak' ? 32 * workers : 32;
            const jobs = Array.from({ length: workers }, (_, index) => ({
              ...common,
              index,
              worldSize: workers,
              seeds: [1],
              pretrainSteps: 0,
              batchSize: globalBatch,
              steps,
            }));
            const { results } = await runProcesses(jobs);
            setBackend(results[0]?.engine ?? 'wasm');
            const runs = results.map((r) => r.runs[0]!);
            // The ring is as fast as its slowest rank; each rank times the same global steps.
            const seconds = Math.max(...runs.map((r) => r.phases.training.seconds));
            const imagesPerSecond = seconds > 0 ? (runs[0]?.phases.training.images ?? 0) / seconds : 0;
            baseline[section] ??= imagesPerSecond;
            const speedup = imagesPerSecond / (baseline[section] ?? imagesPerSecond);
            const split = stepSplit(runs);
            const ringAlone = results.map((r) => r.ringAloneMs).filter((x) => x > 0);
            rows.push({
              ...(rounds > 1 ? { round: trial } : {}),
              section,
              model,
              workers,
              threadsPerWorker: threads,
              globalBatch,
              imagesPerSecond: round(imagesPerSecond),
              speedup: round(speedup),
              efficiency: round(speedup / ((workers * threads) / firstCores)),
              ...(Object.fromEntries(Object.entries(split).map(([k, v]) => [k, round(v, 1)])) as Record<
                string,
                number
              >),
              allReduceShare: round(split.stepMs > 0 ? (split.waitMs + split.ringMs) / split.stepMs : 0),
              ringAloneMs: ringAlone.length > 0 ? round(Math.max(...ringAlone), 1) : 0,
              reduceMB: round(((runs[0]?.reduceElements ?? 0) * 4) / 1e6, 1),
            });
            log(`  ${imagesPerSecond.toFixed(1)} img/s, ×${speedup.toFixed(2)}, step ${split.stepMs.toFixed(0)} ms`);
          }
        }
      }
    }
    log('');
    for (const line of formatTable(rows)) log(line);
    return rows;
  },
});
