/**
 * @supwalsh/report — turns an experiment's result into the original paper's table (training and test accuracy at
 * the first and last epoch, without vs with Sup-Walsh), statistics across seeds, paired t-tests against the
 * default initialization, per-epoch tables for every arm, plots (Vega-Lite rendered headless to SVG, resvg to PNG),
 * and the result as JSON and CSV.
 * @module
 */
export { toCsv, csvField, CSV_COLUMNS } from './csv.js';
export { errorMessage, PlotRenderError, ReportArgumentError } from './errors.js';
export { formatReportMarkdown, type PlotLink, type ReportLinks } from './markdown.js';
export {
  codeString,
  epochAccuracyChart,
  movingAverage,
  plotSpecs,
  PLOT_FONT,
  stepLossChart,
  type EpochAccuracyChartOptions,
  type EpochAccuracyRow,
  type PlotName,
  type PlotOptions,
  type PlotSpec,
  type StepLossChartOptions,
  type StepLossRow,
} from './plots.js';
export { duration, type ProgressStream } from '@supwalsh/spec';
export { createProgressPrinter } from './progress-printer.js';
export { renderSvg, svgToPng, type PngOptions } from './render.js';
export {
  logGamma,
  mean,
  pairedTTest,
  regularizedIncompleteBeta,
  sampleStd,
  studentTCdf,
  studentTTwoSidedP,
  type PairedTTest,
} from './statistics.js';
export {
  FIGURE_KEYS,
  figureLabel,
  summarizeRuns,
  WITH_INITIALIZER,
  WITHOUT_INITIALIZER,
  type ArmSummary,
  type EpochStatistic,
  type ExcludedRun,
  type FigureKey,
  type GroupSummary,
  type PairedComparison,
  type PretrainingSummary,
  type ResultSummary,
  type SeedFigures,
  type SeedStatistic,
} from './summary.js';
export { markdownTable, textTable, type Table } from './table.js';
export {
  epochTable,
  formatOriginalTableMarkdown,
  formatResultsTable,
  NEEDS_TWO_SEEDS,
  NO_DIFFERENCE,
  originalTable,
  pairedTable,
  pretrainingTable,
  seedTable,
  type AccuracyKind,
} from './tables.js';
export { writeReport, type ReportFiles, type ReportOptions } from './write-report.js';
