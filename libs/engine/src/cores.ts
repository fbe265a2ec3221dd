import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Where a container's CPU quota is read from: cgroup v2, then cgroup v1. */
export const CGROUP_CPU_FILES = {
  v2: '/sys/fs/cgroup/cpu.max',
  v1Quota: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
  v1Period: '/sys/fs/cgroup/cpu/cpu.cfs_period_us',
} as const;

export interface AvailableCoresOptions {
  /** Reads a file, `undefined` when it is missing (tests inject cgroup files). @default fs.readFileSync */
  readFile?: (file: string) => string | undefined;
  /** The cores the scheduler lets this process run on. @default os.availableParallelism() */
  parallelism?: number;
}

/**
 * The cores this process may use: `os.availableParallelism()` (the CPU affinity mask) bounded by the cgroup CPU
 * quota (Kubernetes `resources.limits.cpu`; a 3.5-CPU limit gives 3 — a thread more than the quota only adds
 * throttling). At least 1.
 */
export function availableCores(options: AvailableCoresOptions = {}): number {
  const read = options.readFile ?? readOptional;
  const parallelism = Math.max(1, options.parallelism ?? os.availableParallelism());
  const quota = cgroupQuota(read);
  return quota === undefined ? parallelism : Math.max(1, Math.min(parallelism, Math.floor(quota)));
}

/** The cgroup CPU quota in CPUs, `undefined` when there is none ("max", -1) or no cgroup file is readable. */
export function cgroupQuota(read: (file: string) => string | undefined): number | undefined {
  const v2 = read(CGROUP_CPU_FILES.v2)?.trim();
  if (v2) {
    const [quota, period] = v2.split(/\s+/);
    return ratio(quota, period ?? '100000');
  }
  const quota = read(CGROUP_CPU_FILES.v1Quota)?.trim();
  const period = read(CGROUP_CPU_FILES.v1Period)?.trim();
  return quota && period ? ratio(quota, period) : undefined;
}

function ratio(quota: string | undefined, period: string): number | undefined {
  if (!quota || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return q / p;
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
