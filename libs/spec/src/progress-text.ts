/**
 * Progress as terminal text, one way for every printer: the `supwalsh` CLI's event printer (events from the
 * coordinator) and @supwalsh/report's progress printer (the method's events in a local run) print the same bars,
 * percentages and durations.
 */

/** Where progress goes: a terminal gets one live line at a time, anything else plain lines. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

const BAR_WIDTH = 20;

/** `[#####...............]` for `fraction` in [0, 1] (clamped). */
export function progressBar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
}

/** `0.8123` → `81.23%`. */
export function percent(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

/** `m:ss` or `h:mm:ss`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}
