import type { GradientReducer } from './reducer.js';

/** In-memory ranks meeting at every `sum` and `broadcast`, like a ring. */
export function memoryRing(worldSize: number): GradientReducer[] {
  let pending: { buffers: Float32Array[]; resolve: () => void; rank: number }[] = [];
  return Array.from({ length: worldSize }, (_, rank) => ({
    rank,
    worldSize,
    sum: (buffers: Float32Array[]) =>
      new Promise<void>((resolve) => {
        pending.push({ buffers, resolve, rank });
        if (pending.length < worldSize) return;
        const all = pending;
        pending = [];
        buffers.forEach((_, b) => {
          const total = new Float32Array((all[0]?.buffers[b] as Float32Array).length);
          for (const p of all) (p.buffers[b] as Float32Array).forEach((v, i) => (total[i] = (total[i] as number) + v));
          for (const p of all) (p.buffers[b] as Float32Array).set(total);
        });
        all.forEach((p) => p.resolve());
      }),
    broadcast: (buffers: Float32Array[], root: number) =>
      new Promise<void>((resolve) => {
        pending.push({ buffers, resolve, rank });
        if (pending.length < worldSize) return;
        const all = pending;
        pending = [];
        const source = all.find((p) => p.rank === root) as (typeof all)[number];
        for (const p of all) p.buffers.forEach((b, i) => b.set(source.buffers[i] as Float32Array));
        all.forEach((p) => p.resolve());
      }),
  }));
}
