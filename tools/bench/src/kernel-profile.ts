import { performance } from 'node:perf_hooks';
import { getKernelsForBackend, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';

/** One kernel's share of the profiled calls, keyed by the kernel and the kernel that called it (if any). */
export interface KernelProfileEntry {
  kernel: string;
  /** The kernel whose function ran this one (the engine's composite kernels call XNNPACK ones), or null at top level. */
  parent: string | null;
  calls: number;
  /** Wall ms inside this kernel's function minus the kernels it called. */
  selfMs: number;
  /**
   * CPU ms of the whole process (all its threads) over the same spans: steadier than the wall on a shared machine,
   * and on several threads `selfCpuMs / selfMs` is how many cores the kernel kept busy (≈ 1: it ran on one thread).
   */
  selfCpuMs: number;
}

export interface KernelProfiler {
  /** Forgets what was recorded so far. */
  reset(): void;
  /** The entries recorded since the last `reset`, highest self time first. */
  entries(): KernelProfileEntry[];
  /** Puts the unwrapped kernels back. */
  uninstall(): void;
}

interface Frame {
  started: number;
  cpuStarted: number;
  childMs: number;
  childCpuMs: number;
}

/** CPU ms of this process so far (user + system, all threads). */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Wraps every kernel registered for `backend` with a wall-clock and a CPU timer, so that a training step can be
 * broken down by kernel: self time (nested kernel calls subtracted) and call count, per (parent kernel, kernel). TF.js looks a
 * kernel up in the registry on every call, so re-registering the wrapped configs takes effect at once; their
 * `setupFunc`s are not run again (the backend is already initialised, the kernels keep what their set-up cached).
 * The wasm backend's kernels are synchronous (XNNPACK's thread pool joins before a call returns), so the wall time of
 * a call is its cost; on an asynchronous backend (WebGL, WebGPU) it would only be the dispatch. Install after
 * `initEngine` (which registers the engine's own kernels).
 */
export function installKernelProfiler(backend: string): KernelProfiler {
  const originals = getKernelsForBackend(backend);
  const totals = new Map<string, KernelProfileEntry>();
  const stack: Frame[] = [];
  const names: string[] = [];
  const record = (kernel: string, parent: string | null, selfMs: number, selfCpuMs: number) => {
    const key = `${parent ?? ''}\u0000${kernel}`;
    const entry = totals.get(key);
    if (entry) {
      entry.calls++;
      entry.selfMs += selfMs;
      entry.selfCpuMs += selfCpuMs;
    } else totals.set(key, { kernel, parent, calls: 1, selfMs, selfCpuMs });
  };
  for (const config of originals) {
    const inner = config.kernelFunc;
    const wrapped: KernelConfig = {
      ...config,
      kernelFunc: (args) => {
        const frame: Frame = { started: performance.now(), cpuStarted: cpuNow(), childMs: 0, childCpuMs: 0 };
        const parent = names.length > 0 ? (names[names.length - 1] as string) : null;
        stack.push(frame);
        names.push(config.kernelName);
        try {
          return inner(args);
        } finally {
          stack.pop();
          names.pop();
          const totalMs = performance.now() - frame.started;
          const totalCpuMs = cpuNow() - frame.cpuStarted;
          const outer = stack[stack.length - 1];
          if (outer) {
            outer.childMs += totalMs;
            outer.childCpuMs += totalCpuMs;
          }
          record(config.kernelName, parent, totalMs - frame.childMs, totalCpuMs - frame.childCpuMs);
        }
      },
    };
    unregisterKernel(config.kernelName, backend);
    registerKernel(wrapped);
  }
  return {
    reset: () => totals.clear(),
    entries: () => [...totals.values()].sort((a, b) => b.selfMs - a.selfMs),
    uninstall: () => {
      for (const config of originals) {
        unregisterKernel(config.kernelName, backend);
        registerKernel(config);
      }
    },
  };
}

/**
 * The profile merged by kernel name (every parent together), highest self time first, with each kernel's share of
 * `stepMs`; a kernel that ran inside others is listed with its callers, e.g. `Conv2D (in Conv2DBackpropFilter 40)`.
 */
export function summarizeProfile(
  entries: readonly KernelProfileEntry[],
  stepMs: number,
  top: number
): { kernel: string; selfMs: number; selfCpuMs: number; calls: number; share: number; callers: string }[] {
  const byKernel = new Map<
    string,
    { selfMs: number; selfCpuMs: number; calls: number; parents: Map<string, number> }
  >();
  for (const e of entries) {
    const k = byKernel.get(e.kernel) ?? { selfMs: 0, selfCpuMs: 0, calls: 0, parents: new Map<string, number>() };
    k.selfMs += e.selfMs;
    k.selfCpuMs += e.selfCpuMs;
    k.calls += e.calls;
    const p = e.parent ?? 'top';
    k.parents.set(p, (k.parents.get(p) ?? 0) + e.selfMs);
    byKernel.set(e.kernel, k);
  }
  return [...byKernel.entries()]
    .sort((a, b) => b[1].selfMs - a[1].selfMs)
    .slice(0, top)
    .map(([kernel, k]) => ({
      kernel,
      selfMs: k.selfMs,
      selfCpuMs: k.selfCpuMs,
      calls: k.calls,
      share: stepMs > 0 ? k.selfMs / stepMs : Number.NaN,
      callers: [...k.parents.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([p, ms]) => `${p} ${ms.toFixed(0)}`)
        .join(', '),
    }));
}
