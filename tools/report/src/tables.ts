import { formatMeanStd, formatP, formatPercent, formatPoints, formatSeconds, formatStatistic } from './format.js';
import { figureKeysOf, figureLabel, type FigureKey, type GroupSummary, type ResultSummary } from './summary.js';
import { markdownTable, textTable, type Table } from './table.js';

/** Which accuracy a table of the original's kind shows. */
export type AccuracyKind = 'train' | 'test';

/** What the Markdown and text tables say when a paired test has too few seeds. */
export const NEEDS_TWO_SEEDS = 'n/a (needs ≥ 2 seeds)';

/** What the tables say when every paired difference is 0 (t undefined). */
export const NO_DIFFERENCE = 'n/a (no difference)';

/** Column titles; `single` when every group's first epoch is also its last (one column per figure then). */
function epochHeaders(summary: ResultSummary): { first: string; last: string; perGroup: boolean; single: boolean } {
  const firsts = new Set(summary.groups.map((g) => g.firstEpoch));
  const lasts = new Set(summary.groups.map((g) => g.lastEpoch));
  const single = summary.groups.every((g) => g.firstEpoch === g.lastEpoch);
  if (firsts.size <= 1 && lasts.size <= 1) {
    const group = summary.groups[0];
    return {
      first: `epoch ${group?.firstEpoch ?? 1}`,
      last: `epoch ${group?.lastEpoch ?? ''}`,
      perGroup: false,
      single,
    };
  }
  return { first: single ? 'epoch' : 'first epoch', last: 'last epoch', perGroup: true, single };
}

function armFigure(group: GroupSummary, arm: string | undefined, key: FigureKey): number | undefined {
  return group.arms.find((a) => a.arm === arm)?.figures[key]?.mean;
}

/**
 * The original's table for one accuracy kind: per dataset × model, the accuracy (percent, mean over seeds) at the
 * first and the last epoch without and with Sup-Walsh, and the change in percentage points.
 */
export function originalTable(summary: ResultSummary, kind: AccuracyKind): Table {
  const { first, last, perGroup, single } = epochHeaders(summary);
  const [firstKey, lastKey]: [FigureKey, FigureKey] =
    kind === 'train' ? ['trainFirst', 'trainLast'] : ['testFirst', 'testLast'];
  const header = [
    'Dataset',
    'Model',
    ...(perGroup ? ['Epochs'] : []),
    `${first}: without`,
    `${first}: with`,
    'Δ (pp)',
    ...(single ? [] : [`${last}: without`, `${last}: with`, 'Δ (pp)']),
  ];
  const rows = summary.groups.map((g) => {
    const cells = (key: FigureKey) => {
      const without = armFigure(g, g.without, key);
      const withSw = armFigure(g, g.with, key);
      const delta = without !== undefined && withSw !== undefined ? withSw - without : undefined;
      return [formatPercent(without), formatPercent(withSw), formatPoints(delta)];
    };
    return [
      g.dataset,
      g.model,
      ...(perGroup ? [single ? String(g.firstEpoch) : `${g.firstEpoch}, ${g.lastEpoch}`] : []),
      ...cells(firstKey),
      ...(single ? [] : cells(lastKey)),
    ];
  });
  const leading = perGroup ? 3 : 2;
  return { header, rows, align: header.map((_, i) => (i < leading ? 'left' : 'right')) };
}

/** Mean ± sample standard deviation over seeds of the four figures (percent), per arm. */
export function seedTable(summary: ResultSummary): Table {
  const { first, last, perGroup, single } = epochHeaders(summary);
  const keys = figureKeysOf(single);
  const titles: Record<FigureKey, string> = {
    trainFirst: `train ${first}`,
    trainLast: `train ${last}`,
    testFirst: `test ${first}`,
    testLast: `test ${last}`,
  };
  const header = ['Dataset', 'Model', ...(perGroup ? ['Epochs'] : []), 'Arm', 'n', ...keys.map((k) => titles[k])];
  const rows = summary.groups.flatMap((g) =>
    g.arms.map((a) => [
      g.dataset,
      g.model,
      ...(perGroup ? [single ? String(g.firstEpoch) : `${g.firstEpoch}, ${g.lastEpoch}`] : []),
      a.arm,
      String(a.seeds.length),
      ...keys.map((key) => formatMeanStd(a.figures[key]?.mean, a.figures[key]?.std)),
    ])
  );
  const leading = perGroup ? 4 : 3;
  return { header, rows, align: header.map((_, i) => (i < leading ? 'left' : 'right')) };
}

/** Every arm against the `without` arm, paired by seed: mean difference (pp), its sd, t, df and two-sided p. */
export function pairedTable(summary: ResultSummary): Table {
  const header = ['Dataset', 'Model', 'Arm − without', 'Figure', 'n', 'mean Δ (pp)', 'sd Δ', 't', 'df', 'p'];
  // A group whose first epoch is its last compares each figure once.
  const rows = summary.groups.flatMap((g) =>
    g.comparisons
      .filter((c) => figureKeysOf(g.firstEpoch === g.lastEpoch).includes(c.figure))
      .map((c) => {
        const label = figureLabel(c.figure, g.firstEpoch, g.lastEpoch);
        const base = [g.dataset, g.model, c.arm, label, String(c.seeds.length), formatPoints(c.meanDifference)];
        if (!c.test) return [...base, '–', NEEDS_TWO_SEEDS, '–', '–'];
        const t = c.test;
        if (Number.isNaN(t.t)) return [...base, formatStatistic(t.stdDifference), NO_DIFFERENCE, String(t.df), '–'];
        return [...base, formatStatistic(t.stdDifference), formatStatistic(t.t), String(t.df), formatP(t.p)];
      })
  );
  return { header, rows, align: header.map((_, i) => (i < 4 ? 'left' : 'right')) };
}

/** Test accuracy (percent, mean over seeds) per epoch for every arm of one group; epoch 0 is the initialization. */
export function epochTable(group: GroupSummary): Table {
  const epochs = [...new Set(group.arms.flatMap((a) => a.testAccuracyByEpoch.map((e) => e.epoch)))].sort(
    (x, y) => x - y
  );
  const header = ['Epoch', ...group.arms.map((a) => `${a.arm} (n=${a.seeds.length})`)];
  const rows = epochs.map((epoch) => [
    epoch === 0 ? '0 (init)' : String(epoch),
    ...group.arms.map((a) => formatPercent(a.testAccuracyByEpoch.find((e) => e.epoch === epoch)?.mean)),
  ]);
  return { header, rows, align: header.map((_, i) => (i === 0 ? 'left' : 'right')) };
}

/** The Sup-Walsh pretraining of every run that had one. */
export function pretrainingTable(summary: ResultSummary): Table {
  const header = ['Run', 'Steps', 'Selected step', 'Selected loss', 'Seconds', 't-SNE share', 'Incomplete groups'];
  const rows = summary.pretraining.map((p) => [
    p.runId,
    String(p.steps),
    String(p.selectedStep),
    p.selectedLoss.toFixed(4),
    formatSeconds(p.seconds),
    `${(p.tsneShare * 100).toFixed(1)} %`,
    String(p.incompleteGroups),
  ]);
  return { header, rows, align: header.map((_, i) => (i === 0 ? 'left' : 'right')) };
}

/** The original's two tables (training and test accuracy, percent) as Markdown. */
export function formatOriginalTableMarkdown(summary: ResultSummary): string {
  return [
    '**Training accuracy (%)**',
    '',
    markdownTable(originalTable(summary, 'train')),
    '',
    '**Test accuracy (%)**',
    '',
    markdownTable(originalTable(summary, 'test')),
  ].join('\n');
}

/**
 * The original's tables as aligned plain text for a terminal: training and test accuracy (percent, mean over
 * seeds) without and with Sup-Walsh at the first and last epoch, the change in points, and the runs left out.
 */
export function formatResultsTable(summary: ResultSummary): string {
  const parts = [
    `${summary.name}: training accuracy (%)`,
    textTable(originalTable(summary, 'train')),
    '',
    `${summary.name}: test accuracy (%)`,
    textTable(originalTable(summary, 'test')),
  ];
  if (summary.excluded.length > 0) {
    parts.push('', `left out (did not succeed): ${summary.excluded.map((r) => `${r.runId} (${r.status})`).join(', ')}`);
  }
  return parts.join('\n') + '\n';
}
