import type { ExperimentResult, RunResult } from '@supwalsh/method';
import type { TopLevelSpec } from 'vega-lite';
import { mean } from './statistics.js';
import { summarizeRuns, WITH_INITIALIZER, type ResultSummary } from './summary.js';

/** The plots a report can hold; each is made only when the result has data for it. */
export type PlotName = 'pretraining-loss' | 'test-accuracy' | 'tsne-groups' | 'train-loss';

/** A plot as a Vega-Lite specification (data inlined). */
export interface PlotSpec {
  readonly name: PlotName;
  /** One sentence saying what the plot shows (used as the link text in report.md). */
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

/** Options of {@link plotSpecs}. */
export interface PlotOptions {
  /** Moving-average window (steps) of the training-loss curves; 1 turns smoothing off. @default 20 */
  readonly smoothingWindow?: number;
  /** Points kept per line after smoothing (evenly spaced, last step kept) so SVGs stay small. @default 400 */
  readonly maxPointsPerLine?: number;
  /** Class groups shown in the t-SNE scatter. @default 4 */
  readonly tsneGroups?: number;
}

/** The font every plot uses (DejaVu Sans is on the Linux images; resvg falls back to any sans-serif). */
export const PLOT_FONT = 'DejaVu Sans';

/** Overall plot width in pixels the layouts aim at (plus axes and legend). */
const TARGET_WIDTH = 520;

type Row = Record<string, string | number>;
type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

const CONFIG = {
  font: PLOT_FONT,
  background: 'white',
  padding: 8,
  title: { fontSize: 15, anchor: 'start', offset: 10, subtitleFontSize: 12, subtitleColor: '#555' },
  axis: { labelFontSize: 11, titleFontSize: 12, titlePadding: 8, grid: true, gridOpacity: 0.5 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 220 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#ccc' },
  line: { strokeWidth: 2 },
} as const;

/** Running mean over the last `window` values (fewer at the start). */
export function movingAverage(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= window) sum -= values[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

/** Indices of at most `max` evenly spaced points of a series of `length`, always keeping the first and last. */
function keptIndices(length: number, max: number): number[] {
  if (length <= max) return Array.from({ length }, (_, i) => i);
  const out = new Set<number>();
  for (let k = 0; k < max; k++) out.add(Math.round((k * (length - 1)) / (max - 1)));
  return [...out];
}

/** Mean of several per-step series (step i averages the series that reach it). */
function meanSeries(series: readonly (readonly number[])[]): number[] {
  const length = Math.max(0, ...series.map((s) => s.length));
  return Array.from({ length }, (_, i) => mean(series.flatMap((s) => (i < s.length ? [s[i]!] : []))));
}

function groupLabel(run: Pick<RunResult, 'dataset' | 'model'>): string {
  return `${run.dataset} / ${run.model}`;
}

function layout(cells: number): { columns: number; width: number; height: number } {
  if (cells <= 1) return { columns: 1, width: TARGET_WIDTH, height: 300 };
  const columns = cells <= 4 ? 2 : 3;
  const width = Math.floor(TARGET_WIDTH / columns) - (columns - 1) * 10;
  return { columns, width, height: Math.round(width * 0.65) };
}

/** One chart of layers, faceted by `facetField` when the data has more than one value of it. */
function chart(
  title: string | { readonly text: string; readonly subtitle: string },
  rows: readonly Row[],
  layers: readonly Layer[],
  facetField: string,
  facetOrder: readonly string[],
  cell?: { readonly width: number; readonly height: number }
): TopLevelSpec {
  const size = { ...layout(facetOrder.length), ...cell };
  const data = { values: rows as Row[] };
  if (facetOrder.length <= 1) {
    return { title, data, width: size.width, height: size.height, layer: [...layers], config: CONFIG };
  }
  return {
    title,
    data,
    facet: { field: facetField, type: 'nominal', sort: [...facetOrder], title: null },
    columns: size.columns,
    spec: { width: size.width, height: size.height, layer: [...layers] },
    config: CONFIG,
  } as TopLevelSpec;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** One point of a per-step loss curve: `series` is a line (a model or an arm), `group` a panel. */
export interface StepLossRow {
  readonly group: string;
  readonly series: string;
  readonly step: number;
  readonly loss: number;
}

/** Options of {@link stepLossChart}. */
export interface StepLossChartOptions {
  readonly title: string | { readonly text: string; readonly subtitle: string };
  readonly xTitle: string;
  readonly yTitle: string;
  /** Legend title of the lines (`model`, `arm`). */
  readonly seriesTitle: string;
  /** Order of the lines in the legend and the colour scale. */
  readonly seriesOrder: readonly string[];
  /** Order of the panels; one panel (no facet) when it holds at most one. */
  readonly groupOrder: readonly string[];
  /** @default 2 */
  readonly strokeWidth?: number;
  /** Pixel size of one panel. @default from the number of panels */
  readonly cell?: { readonly width: number; readonly height: number };
}

/**
 * The Vega-Lite spec of per-step loss curves (the report's pretraining-loss and train-loss plots, and the
 * dashboard's live curves): one line per series, one panel per group.
 */
export function stepLossChart(rows: readonly StepLossRow[], options: StepLossChartOptions): TopLevelSpec {
  const line: Layer = {
    mark: { type: 'line', interpolate: 'linear', strokeWidth: options.strokeWidth ?? 2 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: options.xTitle },
      y: { field: 'loss', type: 'quantitative', title: options.yTitle },
      color: { field: 'series', type: 'nominal', title: options.seriesTitle, sort: [...options.seriesOrder] },
    },
  };
  return chart(options.title, rows as unknown as Row[], [line], 'group', options.groupOrder, options.cell);
}

/** One point of a per-epoch accuracy curve: `lo`/`hi` bound the band (mean ± 1 sd) when several seeds are averaged. */
export interface EpochAccuracyRow {
  readonly group: string;
  readonly arm: string;
  readonly epoch: number;
  /** Percent. */
  readonly accuracy: number;
  readonly lo?: number;
  readonly hi?: number;
}

/** Options of {@link epochAccuracyChart}. */
export interface EpochAccuracyChartOptions {
  readonly title: string | { readonly text: string; readonly subtitle: string };
  /** e.g. `test accuracy (%)`. */
  readonly yTitle: string;
  readonly armOrder: readonly string[];
  readonly groupOrder: readonly string[];
  /** Draw the ±1 sd band from `lo`/`hi`. @default false */
  readonly band?: boolean;
  readonly cell?: { readonly width: number; readonly height: number };
}

/**
 * The Vega-Lite spec of accuracy per epoch, one line per arm (with points), one panel per group; the report's
 * test-accuracy plot and the dashboard's live training and test accuracy curves.
 */
export function epochAccuracyChart(
  rows: readonly EpochAccuracyRow[],
  options: EpochAccuracyChartOptions
): TopLevelSpec {
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } } as const;
  // Solid legend symbols whatever layer's mark (the translucent band) the legend is built from.
  const color = {
    field: 'arm',
    type: 'nominal',
    title: 'arm',
    sort: [...options.armOrder],
    legend: { symbolOpacity: 1, symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolFillColor: 'transparent' },
  } as const;
  const layers: Layer[] = [];
  if (options.band) {
    layers.push({
      mark: { type: 'errorband', opacity: 0.18 },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: options.yTitle }, y2: { field: 'hi' }, color },
    });
  }
  layers.push({
    mark: { type: 'line', point: { size: 30 } },
    encoding: {
      x,
      y: { field: 'accuracy', type: 'quantitative', title: options.yTitle, scale: { zero: false } },
      color,
    },
  });
  return chart(options.title, rows as unknown as Row[], layers, 'group', options.groupOrder, options.cell);
}

function pretrainingLossPlot(runs: readonly RunResult[], maxPoints: number): PlotSpec | undefined {
  const withLoss = runs.filter((r) => r.pretraining && r.pretraining.lossPerStep.length > 0);
  if (withLoss.length === 0) return undefined;
  const byGroup = new Map<string, RunResult[]>();
  for (const run of withLoss) byGroup.set(groupLabel(run), [...(byGroup.get(groupLabel(run)) ?? []), run]);
  const rows: StepLossRow[] = [];
  for (const group of byGroup.values()) {
    const loss = meanSeries(group.map((r) => r.pretraining!.lossPerStep));
    for (const i of keptIndices(loss.length, maxPoints)) {
      rows.push({ group: group[0]!.dataset, series: group[0]!.model, step: i + 1, loss: loss[i]! });
    }
  }
  const seeds = unique(withLoss.map((r) => String(r.seed))).length;
  return {
    name: 'pretraining-loss',
    caption: `Sup-Walsh pretraining loss per step for each model${seeds > 1 ? ` (mean over ${seeds} seeds)` : ''}`,
    spec: stepLossChart(rows, {
      title: 'Sup-Walsh pretraining loss',
      xTitle: 'pretraining step',
      yTitle: 'cross-entropy loss',
      seriesTitle: 'model',
      seriesOrder: unique(withLoss.map((r) => r.model)),
      groupOrder: unique(withLoss.map((r) => r.dataset)),
    }),
  };
}

function testAccuracyPlot(summary: ResultSummary): PlotSpec | undefined {
  const rows: EpochAccuracyRow[] = [];
  const arms: string[] = [];
  for (const group of summary.groups) {
    for (const arm of group.arms) {
      arms.push(arm.arm);
      for (const e of arm.testAccuracyByEpoch) {
        const sd = Number.isFinite(e.std) ? e.std : 0;
        rows.push({
          group: groupLabel(group),
          arm: arm.arm,
          epoch: e.epoch,
          accuracy: e.mean,
          lo: e.mean - sd,
          hi: e.mean + sd,
        });
      }
    }
  }
  if (rows.length === 0) return undefined;
  const seeded = summary.groups.some((g) => g.arms.some((a) => a.seeds.length > 1));
  return {
    name: 'test-accuracy',
    caption: `Test accuracy per epoch for every arm${seeded ? ' (mean over seeds, band ±1 sd)' : ''}`,
    spec: epochAccuracyChart(rows, {
      title: seeded
        ? { text: 'Test accuracy per epoch', subtitle: 'mean over seeds, band ±1 sd' }
        : 'Test accuracy per epoch',
      yTitle: 'test accuracy (%)',
      armOrder: unique(arms),
      groupOrder: unique(rows.map((r) => r.group)),
      band: seeded,
    }),
  };
}

/** A Walsh code as a compact sign string, e.g. `++−−++−−`. */
export function codeString(code: readonly number[]): string {
  return code.map((v) => (v >= 0 ? '+' : '−')).join('');
}

/** Signs of a Walsh code shown beside each t-SNE point; the legend shows the whole code. */
const POINT_CODE_SIGNS = 8;

function tsnePlot(runs: readonly RunResult[], maxGroups: number): PlotSpec | undefined {
  const candidates = runs.filter((r) => (r.pretraining?.embeddings.length ?? 0) > 0);
  const run = candidates.find((r) => r.initializer === WITH_INITIALIZER) ?? candidates[0];
  if (!run) return undefined;
  const groups = run.pretraining!.embeddings.slice(0, maxGroups);
  const rows: Row[] = [];
  const legend = new Map<number, string>();
  for (const g of groups) {
    const label = `epoch ${g.epoch}, group ${g.index}`;
    const xs = g.points.map(([x]) => x);
    const middle = (Math.min(...xs) + Math.max(...xs)) / 2;
    g.points.forEach(([x, y], i) => {
      const cls = g.classes[i]!;
      const code = codeString(g.codes[i] ?? []);
      const short = code.length > POINT_CODE_SIGNS ? `${code.slice(0, POINT_CODE_SIGNS)}…` : code;
      if (!legend.has(cls)) legend.set(cls, `${cls}: ${code}`);
      rows.push({
        group: label,
        x,
        y,
        class: legend.get(cls)!,
        label: `${cls}: ${short}`,
        side: x > middle ? 'right' : 'left',
      });
    });
  }
  if (rows.length === 0) return undefined;
  const classOrder = [...legend.entries()].sort(([a], [b]) => a - b).map(([, text]) => text);
  const encoding = {
    x: { field: 'x', type: 'quantitative', title: 't-SNE 1', scale: { zero: false, nice: false, padding: 12 } },
    y: { field: 'y', type: 'quantitative', title: 't-SNE 2', scale: { zero: false, nice: false, padding: 12 } },
    color: {
      field: 'class',
      type: 'nominal',
      title: 'class: Walsh code',
      sort: classOrder,
      scale: { scheme: 'category10' },
      legend: { labelFont: 'DejaVu Sans Mono', labelLimit: 400 },
    },
  } as const;
  const text = (side: 'left' | 'right'): Layer => ({
    transform: [{ filter: { field: 'side', equal: side } }],
    mark: {
      type: 'text',
      align: side === 'left' ? 'left' : 'right',
      dx: side === 'left' ? 7 : -7,
      dy: -7,
      fontSize: 10,
      font: 'DejaVu Sans Mono',
    },
    encoding: { ...encoding, text: { field: 'label', type: 'nominal' } },
  });
  const layers: Layer[] = [
    { mark: { type: 'point', filled: true, size: 70, opacity: 0.9 }, encoding },
    text('left'),
    text('right'),
  ];
  const spec = chart(
    `t-SNE of class groups (${run.runId})`,
    rows,
    layers,
    'group',
    unique(rows.map((r) => String(r['group']))),
    groups.length > 1 ? { width: 300, height: 220 } : { width: 420, height: 300 }
  );
  return {
    name: 'tsne-groups',
    caption: `t-SNE embedding of the first ${groups.length} class group${groups.length > 1 ? 's' : ''} of ${run.runId}, labelled class: Walsh code`,
    spec,
  };
}

function trainLossPlot(summary: ResultSummary, runs: readonly RunResult[], window: number, maxPoints: number) {
  const rows: StepLossRow[] = [];
  const arms: string[] = [];
  for (const group of summary.groups) {
    for (const arm of group.arms) {
      const armRuns = runs.filter(
        (r) =>
          r.dataset === group.dataset && r.model === group.model && r.arm === arm.arm && r.trainLossPerStep.length > 0
      );
      if (armRuns.length === 0) continue;
      arms.push(arm.arm);
      const loss = movingAverage(meanSeries(armRuns.map((r) => r.trainLossPerStep)), Math.max(1, window));
      for (const i of keptIndices(loss.length, maxPoints)) {
        rows.push({ group: groupLabel(group), series: arm.arm, step: i + 1, loss: loss[i]! });
      }
    }
  }
  if (rows.length === 0) return undefined;
  const smoothed = window > 1 ? `, moving average of ${window} steps` : '';
  const plot: PlotSpec = {
    name: 'train-loss',
    caption: `Training loss per step for every arm (mean over seeds${smoothed})`,
    spec: stepLossChart(rows, {
      title: { text: 'Training loss per step', subtitle: `mean over seeds${smoothed}` },
      xTitle: 'training step',
      yTitle: 'training loss',
      seriesTitle: 'arm',
      seriesOrder: unique(arms),
      groupOrder: unique(rows.map((r) => r.group)),
      strokeWidth: 1.5,
    }),
  };
  return plot;
}

/**
 * The Vega-Lite specifications of the report's plots, each only when the result has data for it: the Sup-Walsh
 * pretraining loss per model, test accuracy per epoch per arm, the t-SNE scatter of the first class groups, and
 * the training loss per step per arm. Only succeeded runs are plotted.
 */
export function plotSpecs(result: ExperimentResult, options: PlotOptions = {}): PlotSpec[] {
  const { smoothingWindow = 20, maxPointsPerLine = 400, tsneGroups = 4 } = options;
  const runs = result.runs.filter((r) => r.status === 'succeeded');
  const summary = summarizeRuns(result);
  return [
    pretrainingLossPlot(runs, maxPointsPerLine),
    testAccuracyPlot(summary),
    tsnePlot(runs, tsneGroups),
    trainLossPlot(summary, runs, smoothingWindow, maxPointsPerLine),
  ].filter((p): p is PlotSpec => p !== undefined);
}
