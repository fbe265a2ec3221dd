import type { ExperimentResult, RunResult } from '@supwalsh/method';

/** The columns of `results.csv`, in order. */
export const CSV_COLUMNS = [
  'run_id',
  'dataset',
  'model',
  'arm',
  'initializer',
  'seed',
  'status',
  'epoch',
  'train_loss',
  'train_accuracy',
  'test_loss',
  'test_accuracy',
  'seconds',
] as const;

type CsvValue = string | number | undefined;

/** One RFC 4180 field: quoted when it holds a comma, a double quote, CR or LF (quotes doubled). */
export function csvField(value: CsvValue): string {
  if (value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isNaN(value) ? 'NaN' : String(value)) : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function runRows(run: RunResult): CsvValue[][] {
  const key = [run.runId, run.dataset, run.model, run.arm, run.initializer, run.seed, run.status];
  const rows: CsvValue[][] = [];
  if (run.initial)
    rows.push([...key, 0, undefined, undefined, run.initial.testLoss, run.initial.testAccuracy, undefined]);
  for (const e of run.epochs) {
    rows.push([...key, e.epoch, e.trainLoss, e.trainAccuracy, e.testLoss, e.testAccuracy, e.seconds]);
  }
  // A run that stopped before its first epoch still gets a row, so its status is in the file.
  if (rows.length === 0) rows.push([...key, undefined, undefined, undefined, undefined, undefined, run.seconds]);
  return rows;
}

/**
 * Every run's metrics as CSV (RFC 4180: CRLF line ends, a header row, quoted fields where needed): one row per
 * run × epoch, an epoch-0 row with the initialization's test metrics when the run has them, and one row with empty
 * metrics for a run without any epoch. Accuracies are fractions, seconds are the epoch's training time.
 */
export function toCsv(result: ExperimentResult): string {
  const rows = [[...CSV_COLUMNS], ...result.runs.flatMap(runRows)];
  return rows.map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}
