import type { ImageSet, PixelScale } from '@supwalsh/datasets';
import type { GradientReducer } from './reducer.js';
/** A phase of a run, as the proto's `Phase`. */
export type PhaseName = 'preparing' | 'pretraining' | 'training' | 'evaluating';

/** Step progress of a phase (the proto's `StepProgress`, run id and world size added by the caller's event). */
export interface StepProgress {
  readonly phase: 'pretraining' | 'training';
  /** 1-based. */
  readonly epoch: number;
  readonly epochsTotal: number;
  /** 1-based step within the epoch. */
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number;
  /** 1-based step within the phase. */
  readonly step: number;
  readonly stepsTotal: number;
  /** Mean loss of this step. */
  readonly loss: number;
  /** Mean step loss so far in this epoch. */
  readonly epochLoss: number;
  readonly imagesPerSecond: number;
  /** Seconds left in the phase at the current pace. */
  readonly etaSeconds: number;
  readonly learningRate: number;
  readonly worldSize: number;
}

/** What both phases' loops take besides their own inputs. */
export interface PhaseOptions {
  train: ImageSet;
  /** The run's seed: fixes sampling (shared by every arm of the seed) and the phase's own randomness. */
  seed: number;
  pixelScale: PixelScale;
  /** @default LOCAL_REDUCER */
  reducer?: GradientReducer;
  signal?: AbortSignal;
  /** Stop every epoch after this many steps (smoke runs). */
  maxStepsPerEpoch?: number;
  /** @default true */
  stopOnNonFinite?: boolean;
  /** Called every `progressEvery` steps and at each epoch's last step. */
  onProgress?: (progress: StepProgress) => void;
  /** @default 10 */
  progressEvery?: number;
  /** Steps between checkpoints (`onCheckpoint`, given on one rank); 0: only at epoch ends. @default 0 */
  checkpointEvery?: number;
  /**
   * Whether checkpoints are taken on schedule (every `checkpointEvery` steps and at epoch ends); false: only when
   * `checkpointNow` asks (ranks other than 0). @default true
   */
  periodicCheckpoints?: boolean;
  /** Asked after every step: true takes a checkpoint now (a draining worker hands its run over with it). */
  checkpointNow?: () => boolean;
}

/** Measures a phase's pace for `StepProgress`. */
export class PhaseClock {
  private readonly start = performance.now();
  private images = 0;

  constructor(private readonly stepsTotal: number) {}

  /** Records `images` more samples; returns images/s and the ETA after `stepsDone` steps. */
  tick(images: number, stepsDone: number): { imagesPerSecond: number; etaSeconds: number } {
    this.images += images;
    const seconds = (performance.now() - this.start) / 1000;
    return {
      imagesPerSecond: seconds > 0 ? this.images / seconds : 0,
      etaSeconds: stepsDone > 0 ? (seconds / stepsDone) * (this.stepsTotal - stepsDone) : 0,
    };
  }
}

/** Seconds since `start` (a `performance.now()` value). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
