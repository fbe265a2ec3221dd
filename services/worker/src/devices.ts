import { execFile } from 'node:child_process';
import os from 'node:os';
import type { EngineInfo } from '@supwalsh/engine';
import { DeviceKind, type DeviceInfo } from '@supwalsh/proto';

/** Options of {@link describeDevices}. */
export interface DescribeDevicesOptions {
  /** Environment to read `CUDA_VISIBLE_DEVICES` from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Runs `nvidia-smi` with these arguments and resolves with its stdout (tests inject one). */
  nvidiaSmi?: (args: readonly string[]) => Promise<string>;
}

/**
 * The devices a worker registers (WorkerInfo.devices; the first is the one it computes on): the GPU when the
 * engine runs libtensorflow on one (described by `nvidia-smi` when it is there), then the host CPU.
 */
export async function describeDevices(engine: EngineInfo, options: DescribeDevicesOptions = {}): Promise<DeviceInfo[]> {
  const cpus = os.cpus();
  const cpu: DeviceInfo = {
    kind: DeviceKind.DEVICE_KIND_CPU,
    name: cpus[0]?.model.trim() || os.arch(),
    index: 0,
    memoryBytes: os.totalmem(),
    computeCapability: '',
    driverVersion: '',
    cores: cpus.length,
  };
  if (!engine.gpu) return [cpu];
  const env = options.env ?? process.env;
  // The first visible device is the one TensorFlow computes on ("/gpu:0"); nvidia-smi ignores
  // CUDA_VISIBLE_DEVICES, so ask it for that device by its physical index or UUID.
  const visible = (env['CUDA_VISIBLE_DEVICES'] ?? '').split(',')[0]?.trim() || '0';
  const run = options.nvidiaSmi ?? runNvidiaSmi;
  let gpu: DeviceInfo = { ...cpu, kind: DeviceKind.DEVICE_KIND_GPU, name: 'GPU', memoryBytes: 0, cores: 0 };
  try {
    const out = await run([
      '--query-gpu=name,memory.total,compute_cap,driver_version',
      '--format=csv,noheader,nounits',
      '-i',
      visible,
    ]);
    gpu = { ...gpu, ...parseNvidiaSmi(out) };
  } catch {
    // No nvidia-smi (or it failed): the GPU is still there, only undescribed.
  }
  return [gpu, cpu];
}

/** Fields of a GPU from one line of `nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version`. */
export function parseNvidiaSmi(output: string): Partial<DeviceInfo> {
  const line = output.split('\n').find((l) => l.trim() !== '');
  if (!line) return {};
  const [name, memoryMiB, computeCapability, driverVersion] = line.split(',').map((s) => s.trim());
  const memory = Number(memoryMiB);
  return {
    ...(name ? { name } : {}),
    ...(Number.isFinite(memory) && memory > 0 ? { memoryBytes: memory * 1024 * 1024 } : {}),
    ...(computeCapability && /^\d+\.\d+$/.test(computeCapability) ? { computeCapability } : {}),
    ...(driverVersion && driverVersion !== '[N/A]' ? { driverVersion } : {}),
  };
}

function runNvidiaSmi(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('nvidia-smi', args, { timeout: 5_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}
