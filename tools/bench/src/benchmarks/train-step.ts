import { execFile, fork } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { availableCores, type BackendName } from '@supwalsh/engine';
import { isModelName, MODEL_NAMES, type ModelName } from '@supwalsh/models';
import { defineBenchmark, type BenchRow } from '../benchmark.js';
import { summarizeProfile } from '../kernel-profile.js';
import type { OptimizerName, StepProfile, TrainStepJob, TrainStepResult, UpdatesName } from './train-step-worker.js';

const WORKER = path.join(import.meta.dirname, 'train-step-worker.js');
/** The PyTorch side: tools/bench/python/torch_train_step.py (not compiled; found from dist/benchmarks/). */
const TORCH_SCRIPT = path.join(import.meta.dirname, '..', '..', 'python', 'torch_train_step.py');
/** Debian's python3-torch lives under the system Python, not a pyenv one on PATH. */
const TORCH_PYTHON = process.env['SUPWALSH_TORCH_PYTHON'] ?? '/usr/bin/python3';
const run = promisify(execFile);
const INPUT: [number, number, number] = [64, 64, 1];
const CLASSES = 10;
/** Fastest first; the native backend is measured only where `@tensorflow/tfjs-node(-gpu)` is installed. */
const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
/** Models the ≈ 30× slower cpu backend still runs at the full batch; the others get one step on `--cpu-batch`. */
const CPU_FULL_BATCH: readonly ModelName[] = ['base'];
const MB = 2 ** 20;
/** How a worker that ran out of memory fails: wasm traps on its heap limit; Node on its own. */
const OUT_OF_MEMORY = /memory access out of bounds|out of memory|OOM|Cannot enlarge memory|allocation failed/i;

interface Options {
  models: ModelName[];
  backends: BackendName[];
  batch: number;
  cpuBatch: number;
  optimizer: OptimizerName;
  minSeconds: number;
  /** wasm thread counts, each measured in its own process (and PyTorch with the same count). */
  threads: number[];
  torch: boolean;
  /** Optimizer update implementations, each measured in its own process next to the others (see `UpdatesName`). */
  updates: UpdatesName[];
  /**
   * `--native-kernels none,Sum+Mean`: each cell once per set, with the set's engine kernels put back to the wasm
   * backend's own (`none`: the engine's kernels as registered) — a before/after of a kernel in one run.
   */
  nativeKernelSets: string[][];
  /** `--profile [N]`: one extra step per cell timed kernel by kernel; the top N kernels are printed (0: off). */
  profileTop: number;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function parse(args: readonly string[]): Options {
  const list = (name: string) =>
    flag(args, name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const models = list('--models') ?? [...MODEL_NAMES];
  const badModel = models.find((m) => !isModelName(m));
  if (badModel) throw new Error(`train-step: --models: unknown "${badModel}" (known: ${MODEL_NAMES.join(', ')})`);
  const backends = list('--backends') ?? [...BACKENDS];
  const badBackend = backends.find((b) => !(BACKENDS as readonly string[]).includes(b));
  if (badBackend) throw new Error(`train-step: --backends: unknown "${badBackend}" (known: ${BACKENDS.join(', ')})`);
  const positive = (name: string, fallback: number) => {
    const v = Number(flag(args, name) ?? fallback);
    if (!(v > 0)) throw new Error(`train-step: ${name} must be a positive number, got ${flag(args, name)}`);
    return v;
  };
  const optimizer = flag(args, '--optimizer') ?? 'sgd';
  if (!['sgd', 'momentum', 'adam'].includes(optimizer)) {
    throw new Error(`train-step: --optimizer must be sgd, momentum or adam, got ${optimizer}`);
  }
  return {
    models: models as ModelName[],
    backends: backends as BackendName[],
    batch: Math.round(positive('--batch', 32)),
    cpuBatch: Math.round(positive('--cpu-batch', 1)),
    optimizer: optimizer as OptimizerName,
    minSeconds: positive('--min-seconds', 4),
    threads: parseThreads(flag(args, '--threads')),
    torch: (flag(args, '--torch') ?? 'auto') !== 'off',
    updates: parseUpdates(list('--updates')),
    profileTop: parseProfile(args),
    nativeKernelSets: (list('--native-kernels') ?? ['none']).map((set) =>
      set === 'none' ? [] : set.split('+').map((k) => k.trim())
    ),
  };
}

/** `--profile` alone: the top 12 kernels; `--profile N`: the top N; absent: 0 (no profiled step). */
function parseProfile(args: readonly string[]): number {
  const i = args.indexOf('--profile');
  if (i < 0) return 0;
  const next = args[i + 1];
  if (next === undefined || next.startsWith('--')) return 12;
  const n = Number(next);
  if (!Number.isInteger(n) || n < 1) throw new Error(`train-step: --profile takes a positive integer, got ${next}`);
  return n;
}

/** The profile's top kernels as log lines: self ms, share of the step, calls, and who called them. */
function profileLines(profile: StepProfile, top: number): string[] {
  const rows = summarizeProfile(profile.entries, profile.stepMs, top);
  const kernelMs = profile.entries.reduce((sum, e) => sum + e.selfMs, 0);
  const kernelCpuMs = profile.entries.reduce((sum, e) => sum + e.selfCpuMs, 0);
  return [
    `  step ${profile.stepMs.toFixed(0)} ms (CPU ${profile.stepCpuMs.toFixed(0)}): kernels ${kernelMs.toFixed(0)} ms ` +
      `(CPU ${kernelCpuMs.toFixed(0)}), outside kernels ${(profile.stepMs - kernelMs).toFixed(0)} ms ` +
      `(CPU ${(profile.stepCpuMs - kernelCpuMs).toFixed(0)})`,
    `  ${'kernel'.padEnd(36)} ${'self ms'.padStart(9)}    ${'share'.padStart(5)}   ${'CPU ms'.padStart(8)} ${'calls'.padStart(6)}  (callers: self ms)`,
    ...rows.map(
      (r) =>
        `  ${r.kernel.padEnd(36)} ${r.selfMs.toFixed(1).padStart(9)} ms ${(100 * r.share).toFixed(1).padStart(5)} % ` +
        `${r.selfCpuMs.toFixed(1).padStart(8)} ${String(r.calls).padStart(6)}  (${r.callers})`
    ),
  ];
}

/**
 * The kernels of a model's profiles on several thread counts side by side: self ms per count and the speed-up of the
 * largest count over the smallest — kernels near 1.0× are the ones the wasm thread pool does not reach.
 */
function threadComparisonLines(profiles: ReadonlyMap<number, StepProfile>, top: number): string[] {
  const counts = [...profiles.keys()].sort((a, b) => a - b);
  if (counts.length < 2) return [];
  const self = new Map<number, Map<string, number>>();
  const cpu = new Map<number, Map<string, number>>();
  for (const [threads, p] of profiles) {
    const rows = summarizeProfile(p.entries, p.stepMs, Infinity);
    self.set(threads, new Map(rows.map((r) => [r.kernel, r.selfMs])));
    cpu.set(threads, new Map(rows.map((r) => [r.kernel, r.selfCpuMs])));
  }
  const first = counts[0] as number;
  const last = counts[counts.length - 1] as number;
  const kernels = [...(self.get(first) as Map<string, number>).entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k]) => k);
  const ms = (t: number, k: string) => self.get(t)?.get(k) ?? 0;
  // CPU ÷ wall on the most threads: the cores a kernel kept busy (≈ 1: single-threaded).
  const busy = (k: string) => (cpu.get(last)?.get(k) ?? 0) / ms(last, k);
  const step = (t: number) => profiles.get(t) as StepProfile;
  return [
    `  ${'kernel'.padEnd(36)} ${counts.map((t) => `${t} thr ms`.padStart(10)).join(' ')}  ${`${first}→${last}`.padStart(6)}  cores busy on ${last}`,
    `  ${'(step)'.padEnd(36)} ${counts.map((t) => step(t).stepMs.toFixed(0).padStart(10)).join(' ')}  ${`${(step(first).stepMs / step(last).stepMs).toFixed(2)}×`.padStart(6)}  ${(step(last).stepCpuMs / step(last).stepMs).toFixed(2)}`,
    ...kernels.map(
      (k) =>
        `  ${k.padEnd(36)} ${counts.map((t) => ms(t, k).toFixed(0).padStart(10)).join(' ')}  ${`${(ms(first, k) / ms(last, k)).toFixed(2)}×`.padStart(6)}  ${busy(k).toFixed(2)}`
    ),
  ];
}

/** `--updates fused,ops`; default fused. */
function parseUpdates(values: string[] | undefined): UpdatesName[] {
  const updates = values ?? ['fused'];
  const bad = updates.find((u) => u !== 'fused' && u !== 'ops');
  if (bad !== undefined) throw new Error(`train-step: --updates must list fused and/or ops, got ${bad}`);
  return updates as UpdatesName[];
}

/** `--threads 1,2`; default 1 and every core this process may use. */
function parseThreads(value: string | undefined): number[] {
  if (value === undefined) return [...new Set([1, Math.min(availableCores(), 8)])];
  return value.split(',').map((t) => {
    const n = Number(t.trim());
    if (!Number.isInteger(n) || n < 1 || n > 8)
      throw new Error(`train-step: --threads must list integers 1–8, got ${t}`);
    return n;
  });
}

type TorchResult =
  | { ok: true; medianSeconds: number; cpuSecondsPerStep: number; params: number; torch: string }
  | { ok: false; message: string };

/** Why PyTorch cannot run here, or null when `import torch, torchvision` works. */
async function torchMissing(): Promise<string | null> {
  try {
    await run(TORCH_PYTHON, ['-c', 'import torch, torchvision'], { timeout: 120_000 });
    return null;
  } catch (error: unknown) {
    return `${TORCH_PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision): ${String(error).split('\n')[0]}`;
  }
}

async function runTorch(
  model: ModelName,
  batch: number,
  threads: number,
  minSeconds: number,
  optimizer: OptimizerName
): Promise<TorchResult> {
  // Our 'sgd' is the original's training optimizer, SGD with L2 weight decay 3e-6: PyTorch gets the same.
  const weightDecay = optimizer === 'sgd' ? '3e-6' : '0';
  try {
    const { stdout } = await run(
      TORCH_PYTHON,
      [TORCH_SCRIPT, model, String(batch), String(threads), String(minSeconds), weightDecay],
      { timeout: 1_800_000, maxBuffer: 1 << 20, env: { ...process.env, OMP_NUM_THREADS: String(threads) } }
    );
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as TorchResult;
  } catch (error: unknown) {
    return { ok: false, message: String(error).split('\n').slice(0, 3).join(' ') };
  }
}

function runJob(job: TrainStepJob): Promise<TrainStepResult> {
  return new Promise((resolve) => {
    const child = fork(WORKER, [JSON.stringify(job)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let result: TrainStepResult | null = null;
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('message', (message) => (result = message as TrainStepResult));
    child.on('exit', (code, signal) => {
      const lastLine = stderr
        .trim()
        .split('\n')
        .filter((l) => !/^(=+|Hi, looks like|$)/.test(l.trim()))
        .pop();
      resolve(result ?? { ok: false, message: `worker exited (${signal ?? code}): ${lastLine ?? 'no output'}` });
    });
  });
}

export default defineBenchmark({
  name: 'train-step',
  description:
    "images/s of the service's training step (ShardedStep on one rank + the method's optimizer: SGD 0.01 with weight decay 3e-6) at batch 32 on 64 × 64 × 1 for every model on the native backend (if installed), wasm on each --threads count next to PyTorch on as many threads, and cpu (one step of --cpu-batch 1 image but for base), with peak memory; --models a,b --backends wasm,cpu --threads 1,2 --torch auto|off --batch --cpu-batch --optimizer sgd|momentum|adam --updates fused,ops --native-kernels none,Sum+Mean (each cell also with those engine kernels put back to the backend's own) --min-seconds --profile [N] (one more step per cell timed kernel by kernel: top N kernels by self time, calls, callers, and per model the kernels side by side across --threads)",
  async run({ args, log, setBackend }) {
    const o = parse(args);
    const rows: BenchRow[] = [];
    const used = new Set<string>();
    const skippedBackends = new Set<string>();
    const torchProblem = o.torch && o.backends.includes('wasm') ? await torchMissing() : 'off (--torch off)';
    if (torchProblem && o.torch) log(`PyTorch: skipped — ${torchProblem}`);
    // Model by model, ours and PyTorch's step one after the other at each thread count: on a shared machine the load
    // changes over minutes, so the ratio is taken between neighbouring measurements.
    for (const model of o.models) {
      for (const backend of o.backends) {
        if (skippedBackends.has(backend)) continue;
        const profiles = new Map<number, StepProfile>();
        for (const threads of backend === 'wasm' ? o.threads : [undefined]) {
          const singleStep = backend === 'cpu' && !CPU_FULL_BATCH.includes(model);
          const cell: BenchRow[] = [];
          let cellBatch = o.batch;
          let abandon = false;
          const variants = o.updates.flatMap((updates) =>
            o.nativeKernelSets.map((nativeKernels) => ({ updates, nativeKernels }))
          );
          for (const { updates, nativeKernels } of variants) {
            const variant =
              nativeKernels.length > 0 ? `${updates} updates, native ${nativeKernels.join('+')}` : `${updates} updates`;
            const kernelsColumn: BenchRow =
              o.nativeKernelSets.length > 1 || nativeKernels.length > 0
                ? { nativeKernels: nativeKernels.join('+') || 'none' }
                : {};
            let batch = singleStep ? Math.min(o.cpuBatch, o.batch) : o.batch;
            const job = {
              backend,
              model,
              inputShape: INPUT,
              numClasses: CLASSES,
              optimizer: o.optimizer,
              singleStep,
              updates,
              ...(threads === undefined ? {} : { threads }),
              ...(o.profileTop > 0 && !singleStep ? { profile: true } : {}),
              ...(nativeKernels.length > 0 ? { nativeKernels } : {}),
            };
            let result = await runJob({ ...job, batch, minSeconds: o.minSeconds });
            while (!result.ok && OUT_OF_MEMORY.test(result.message) && batch > 1) {
              log(`${backend} ${model}: batch ${batch} ran out of memory (${result.message}); trying ${batch >> 1}`);
              batch >>= 1;
              result = await runJob({ ...job, batch, minSeconds: o.minSeconds });
            }
            if (!result.ok) {
              if (backend === 'tensorflow' && /needs @tensorflow\/tfjs-node/.test(result.message)) {
                log(`${backend}: not installed, skipped (${result.message.split('\n')[0]?.slice(0, 160)}…)`);
                skippedBackends.add(backend);
                abandon = true;
                break;
              }
              log(`${backend} ${model}: FAILED ${result.message}`);
              rows.push({
                backend,
                model,
                batch,
                optimizer: o.optimizer,
                updates,
                ...kernelsColumn,
                note: `failed: ${result.message.slice(0, 200)}`,
              });
              continue;
            }
            const notes = [];
            if (singleStep) notes.push(`cpu: one step of ${batch} image${batch === 1 ? '' : 's'}, the first`);
            else if (batch < o.batch) notes.push(`batch ${o.batch} does not fit in ${backend}'s memory`);
            used.add(backend);
            cellBatch = batch;
            const ours = batch / result.medianSeconds;
            cell.push({
              backend,
              model,
              threads: result.threads,
              params: result.params,
              batch,
              optimizer: o.optimizer,
              updates,
              ...kernelsColumn,
              imagesPerSecond: ours,
              secondsPerStep: result.medianSeconds,
              cpuSecondsPerStep: result.cpuSecondsPerStep,
              steps: result.runs,
              firstStepSeconds: result.firstSeconds,
              peakTensorMB: result.peakTensorBytes / MB,
              peakRssMB: result.maxRssBytes / MB,
              note: notes.join('; '),
            });
            log(
              `${backend} ${model} (${variant}): ${ours.toFixed(2)} images/s (${result.medianSeconds.toFixed(3)} s/step ` +
                `× ${result.runs}, batch ${batch}), peak tensors ${(result.peakTensorBytes / MB).toFixed(0)} MB, ` +
                `RSS ${(result.maxRssBytes / MB).toFixed(0)} MB — ${result.engine}`
            );
            if (result.profile) {
              log(`${backend} ${model} profile, ${result.threads} thread(s), batch ${batch}, ${variant}:`);
              for (const line of profileLines(result.profile, o.profileTop)) log(line);
              const top = summarizeProfile(result.profile.entries, result.profile.stepMs, 5);
              cell[cell.length - 1]!['topKernels'] = top
                .map((r) => `${r.kernel} ${(100 * r.share).toFixed(0)}%`)
                .join(', ');
              // The thread comparison takes the first variant (a batch halved for memory is halved on every count).
              if (updates === variants[0]?.updates && nativeKernels === variants[0].nativeKernels) {
                profiles.set(result.threads, result.profile);
              }
            }
          }
          if (abandon) break;
          // PyTorch once per cell, right after our runs of it: each ratio between neighbouring measurements.
          if (backend === 'wasm' && threads !== undefined && !torchProblem && cell.length > 0) {
            const torch = await runTorch(model, cellBatch, threads, o.minSeconds, o.optimizer);
            for (const row of cell) {
              const notes = row['note'] ? [row['note']] : [];
              if (o.optimizer !== 'sgd') notes.push('PyTorch runs SGD only');
              if (torch.ok && row['batch'] === cellBatch) {
                row['torchImagesPerSecond'] = cellBatch / torch.medianSeconds;
                row['oursOverTorch'] = (row['imagesPerSecond'] as number) / row['torchImagesPerSecond'];
                row['torchParams'] = torch.params;
                row['torchCpuSecondsPerStep'] = torch.cpuSecondsPerStep;
                row['cpuOursOverTorch'] = torch.cpuSecondsPerStep / (row['cpuSecondsPerStep'] as number);
              } else if (!torch.ok) notes.push(`PyTorch failed: ${torch.message.slice(0, 160)}`);
              row['note'] = notes.join('; ');
            }
            if (torch.ok) {
              log(
                `torch ${torch.torch} ${model}: ${(cellBatch / torch.medianSeconds).toFixed(2)} images/s on ${threads} ` +
                  `thread(s) — ours / torch = ${cell.map((r) => `${(r['oursOverTorch'] as number)?.toFixed(3)} (${r['updates']})`).join(', ')}`
              );
            } else log(`torch ${model}: FAILED ${torch.message}`);
          }
          rows.push(...cell);
        }
        const comparison = threadComparisonLines(profiles, o.profileTop);
        if (comparison.length > 0) {
          log(`${backend} ${model}: kernel self time by thread count (speed-up of the most threads over the fewest):`);
          for (const line of comparison) log(line);
        }
      }
    }
    setBackend([...used].join(', '));
    return rows;
  },
});
