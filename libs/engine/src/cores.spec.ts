import { describe, expect, it } from 'vitest';
import { availableCores, CGROUP_CPU_FILES, cgroupQuota } from './cores.js';

const files = (entries: Record<string, string>) => (file: string) => entries[file];

describe('availableCores', () => {
  it('bounds the cores by a cgroup v2 quota, rounding down, never below 1', () => {
    expect(availableCores({ parallelism: 16, readFile: files({ [CGROUP_CPU_FILES.v2]: '350000 100000\n' }) })).toBe(3);
    expect(availableCores({ parallelism: 16, readFile: files({ [CGROUP_CPU_FILES.v2]: '50000 100000' }) })).toBe(1);
    expect(availableCores({ parallelism: 2, readFile: files({ [CGROUP_CPU_FILES.v2]: '800000 100000' }) })).toBe(2);
  });

  it('uses every core the scheduler gives when there is no quota', () => {
    expect(availableCores({ parallelism: 8, readFile: files({ [CGROUP_CPU_FILES.v2]: 'max 100000' }) })).toBe(8);
    expect(availableCores({ parallelism: 8, readFile: files({}) })).toBe(8);
  });

  it('reads cgroup v1 when v2 is absent', () => {
    const v1 = { [CGROUP_CPU_FILES.v1Quota]: '200000', [CGROUP_CPU_FILES.v1Period]: '100000' };
    expect(availableCores({ parallelism: 8, readFile: files(v1) })).toBe(2);
    expect(cgroupQuota(files({ ...v1, [CGROUP_CPU_FILES.v1Quota]: '-1' }))).toBeUndefined();
    expect(cgroupQuota(files({ [CGROUP_CPU_FILES.v2]: 'garbage' }))).toBeUndefined();
  });

  it('reads this machine without throwing', () => {
    expect(availableCores()).toBeGreaterThanOrEqual(1);
  });
});
