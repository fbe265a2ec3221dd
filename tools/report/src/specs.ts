/**
 * @supwalsh/report/specs — the browser-safe part of the report: chart specifications (Vega-Lite), the summary
 * across seeds and the paper-style tables, with no Node-only import (no file system, no renderer). The coordinator's
 * dashboard draws its live curves and a finished experiment's plots and tables with these, so the page and
 * `report.md` show the same charts and numbers.
 * @module
 */
export { formatMeanStd, formatP, formatPercent, formatPoints, formatSeconds, formatStatistic } from './format.js';
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
export { mean, sampleStd } from './statistics.js';
export {
  summarizeRuns,
  WITH_INITIALIZER,
  WITHOUT_INITIALIZER,
  type ArmSummary,
  type GroupSummary,
  type ResultSummary,
} from './summary.js';
export { type Table } from './table.js';
export { epochTable, originalTable, pairedTable, pretrainingTable, seedTable, type AccuracyKind } from './tables.js';
