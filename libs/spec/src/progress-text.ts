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

/** Where a run stands within an epoch, as the live progress line shows it. */
export interface StepText {
  readonly phase: string;
  readonly epoch: number;
  readonly epochsTotal: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  readonly loss: number;
  readonly epochLoss: number;
  readonly imagesPerSecond: number;
  readonly etaSeconds: number;
}

/** `  training    epoch 1/3  [####....]  12/40  loss 0.5123 (epoch 0.6012)  850 img/s  ETA 0:42`. */
export function stepText(s: StepText): string {
  return [
    `  ${s.phase.padEnd(11)} epoch ${s.epoch}/${s.epochsTotal}`,
    `${progressBar(s.stepsPerEpoch > 0 ? s.stepInEpoch / s.stepsPerEpoch : 0)} ${s.stepInEpoch}/${s.stepsPerEpoch}`,
    `loss ${s.loss.toFixed(4)} (epoch ${s.epochLoss.toFixed(4)})`,
    `${Math.round(s.imagesPerSecond)} img/s`,
    `ETA ${duration(s.etaSeconds)}`,
  ].join('  ');
}

/** A finished epoch's metrics, as its line shows them. */
export interface EpochText {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly testLoss?: number | undefined;
  readonly testAccuracy?: number | undefined;
  readonly seconds: number;
}

/** `  epoch 1: train loss 0.5123 acc 81.23%  test loss 0.4012 acc 84.10%  (12.3 s)`. */
export function epochText(m: EpochText): string {
  const test =
    m.testAccuracy === undefined ? '' : `  test loss ${m.testLoss?.toFixed(4)} acc ${percent(m.testAccuracy)}`;
  return `  epoch ${m.epoch}: train loss ${m.trainLoss.toFixed(4)} acc ${percent(m.trainAccuracy)}${test}  (${m.seconds.toFixed(1)} s)`;
}

/** `m:ss` or `h:mm:ss`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}
