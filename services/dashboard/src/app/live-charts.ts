import { epochAccuracyChart, stepLossChart, type EpochAccuracyRow, type StepLossRow } from '@supwalsh/report/specs';
import type { LiveRun } from './live-state.js';

/** A spec ready for vega-embed (Vega-Lite's TopLevelSpec, as the report builds it). */
export type ChartSpec = ReturnType<typeof stepLossChart>;

/** The live charts of one dataset × model: its arms overlaid, as in the report. */
export interface GroupCharts {
  readonly group: string;
  readonly charts: readonly { readonly key: string; readonly spec: ChartSpec }[];
}

/** Points kept per line (evenly spaced, the latest always kept) so that a long run redraws quickly. */
export const MAX_POINTS_PER_LINE = 300;
const CELL = { width: 250, height: 150 };

function thin(points: readonly [number, number][]): [number, number][] {
  if (points.length <= MAX_POINTS_PER_LINE) return [...points];
  const out: [number, number][] = [];
  const stride = (points.length - 1) / (MAX_POINTS_PER_LINE - 1);
  for (let k = 0; k < MAX_POINTS_PER_LINE; k++) out.push(points[Math.round(k * stride)]!);
  return out;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * The live curves per dataset × model: pretraining loss and training loss per step, training and test accuracy
 * per epoch, one line per arm (per arm and seed when there are several seeds). Built with @supwalsh/report's chart
 * specs, so they look like the report's plots.
 */
export function liveCharts(runs: readonly LiveRun[]): GroupCharts[] {
  const seeds = unique(runs.map((r) => String(r.seed))).length;
  const series = (r: LiveRun) => (seeds > 1 ? `${r.arm} · seed ${r.seed}` : r.arm);
  const groups = new Map<string, LiveRun[]>();
  for (const run of runs) {
    const key = `${run.dataset} / ${run.model}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const out: GroupCharts[] = [];
  for (const [group, members] of groups) {
    const order = unique(members.map(series));
    const charts: { key: string; spec: ChartSpec }[] = [];
    const lossRows = (curve: (r: LiveRun) => ReadonlyMap<number, number>): StepLossRow[] =>
      members.flatMap((r) =>
        thin([...curve(r)].sort((a, b) => a[0] - b[0])).map(([step, loss]) => ({
          group,
          series: series(r),
          step,
          loss,
        }))
      );
    const pre = lossRows((r) => r.pretrainingLoss);
    if (pre.length > 0) {
      charts.push({
        key: 'pretraining-loss',
        spec: stepLossChart(pre, {
          title: 'Sup-Walsh pretraining loss',
          xTitle: 'pretraining step',
          yTitle: 'cross-entropy loss',
          seriesTitle: 'arm',
          seriesOrder: order,
          groupOrder: [group],
          cell: CELL,
        }),
      });
    }
    const train = lossRows((r) => r.trainingLoss);
    if (train.length > 0) {
      charts.push({
        key: 'train-loss',
        spec: stepLossChart(train, {
          title: 'Training loss per step',
          xTitle: 'training step',
          yTitle: 'training loss',
          seriesTitle: 'arm',
          seriesOrder: order,
          groupOrder: [group],
          strokeWidth: 1.5,
          cell: CELL,
        }),
      });
    }
    for (const [key, field, title] of [
      ['train-accuracy', 'trainAccuracy', 'Training accuracy per epoch'],
      ['test-accuracy', 'testAccuracy', 'Test accuracy per epoch'],
    ] as const) {
      const rows: EpochAccuracyRow[] = members.flatMap((r) =>
        [...r.metrics.values()]
          .filter((m) => m.phase === 'TRAINING' && m[field] !== undefined)
          .sort((a, b) => a.epoch - b.epoch)
          .map((m) => ({ group, arm: series(r), epoch: m.epoch, accuracy: 100 * m[field]! }))
      );
      if (rows.length === 0) continue;
      charts.push({
        key,
        spec: epochAccuracyChart(rows, {
          title,
          yTitle: `${field === 'trainAccuracy' ? 'training' : 'test'} accuracy (%)`,
          armOrder: order,
          groupOrder: [group],
          cell: CELL,
        }),
      });
    }
    out.push({ group, charts });
  }
  return out;
}
