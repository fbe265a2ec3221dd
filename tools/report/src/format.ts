/** Number formatting shared by the tables. Every function shows a missing or undefined value as `–`. */

const MISSING = '–';

/** A percentage with two decimals, e.g. `97.31`. */
export function formatPercent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? MISSING : value.toFixed(2);
}

/** A signed difference in percentage points, e.g. `+1.20` or `−0.35` (a true minus sign). */
export function formatPoints(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return MISSING;
  const fixed = Math.abs(value).toFixed(2);
  if (Number(fixed) === 0) return '0.00';
  return (value > 0 ? '+' : '−') + fixed;
}

/** `mean ± sd`, or the mean alone when the spread is undefined (one seed). */
export function formatMeanStd(mean: number | undefined, std: number | undefined): string {
  if (mean === undefined || !Number.isFinite(mean)) return MISSING;
  return std === undefined || !Number.isFinite(std) ? mean.toFixed(2) : `${mean.toFixed(2)} ± ${std.toFixed(2)}`;
}

/** A statistic such as t with 3 significant digits; `∞` for infinities. */
export function formatStatistic(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return MISSING;
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  const text = Math.abs(value) >= 1e4 ? value.toExponential(2) : value.toFixed(3);
  return text.replace(/^-/, '−');
}

/** A p-value: three decimals, `< 0.001` below that. */
export function formatP(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return MISSING;
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/** Seconds with one decimal. */
export function formatSeconds(seconds: number | undefined): string {
  return seconds === undefined || !Number.isFinite(seconds) ? MISSING : seconds.toFixed(1);
}
