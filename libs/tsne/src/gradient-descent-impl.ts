/**
 * The objective: writes ∂KL/∂y into grad and returns KL (NaN when `computeError` is false). P is multiplied by
 * `exaggeration` inside, so the error reported during early exaggeration is that of the exaggerated P, as in
 * scikit-learn.
 */
export type Objective = (y: Float64Array, grad: Float64Array, exaggeration: number, computeError: boolean) => number;

/** Which stage of scikit-learn's learning schedule an iteration belongs to. */
export type TsnePhase = 'exaggeration' | 'final';

export interface DescentSettings {
  maxIter: number;
  explorationIter: number;
  earlyExaggeration: number;
  learningRate: number;
  iterWithoutProgress: number;
  minGradNorm: number;
  /** Called at every convergence check (every 50 iterations), with the 1-based iteration count. */
  onCheck?: (iteration: number, phase: TsnePhase, error: number, gradNorm: number) => void;
  /** Called when a phase ends, with the iterations performed so far and the latest error. */
  onPhaseEnd?: (phase: TsnePhase, iterations: number, error: number) => void;
}

/** Iterations between convergence checks (scikit-learn's `_N_ITER_CHECK`). */
export const N_ITER_CHECK = 50;
/** Momentum during / after early exaggeration. */
export const EXPLORATION_MOMENTUM = 0.5;
export const FINAL_MOMENTUM = 0.8;
/** Gains: +0.2 when the gradient changes sign against the update, ×0.8 otherwise, never below 0.01. */
export const MIN_GAIN = 0.01;
// Hot loops read module-private literals: V8 (Node 20) boxes doubles read from exported or imported bindings,
// which turns every use in a loop into a heap allocation. scikit-learn keeps the embedding, gradient, gains and
// update in float32 and numpy casts the Python constants to float32 before each operation; so do we.
const f32 = Math.fround;
const MIN_GAIN_F32 = Math.fround(0.01);
const GAIN_STEP_F32 = Math.fround(0.2);
const GAIN_DECAY_F32 = Math.fround(0.8);

/**
 * scikit-learn's `_gradient_descent`, run twice by `TSNE._tsne`: first `explorationIter` iterations with
 * momentum 0.5 and P exaggerated, then up to `maxIter` with momentum 0.8; update and gains restart at each phase.
 * Every 50 iterations (and at a phase's last) the error is computed; a phase stops when its gradient norm (of the
 * gain-scaled gradient) is ≤ `minGradNorm` or, in the final phase, when the error has not improved for more than
 * `iterWithoutProgress` iterations.
 *
 * Arithmetic as scikit-learn's: the embedding, gradient, gains and update are float32 (each operation rounded to
 * float32, the constants 0.2, 0.8, 0.01, the momentum and the learning rate too), since at 10 points the schedule is
 * chaotic enough that a last-bit difference ends in a different local minimum. The gradient norm is summed in
 * double (it only meets `minGradNorm`).
 *
 * Resumable: `advance(steps)` runs at most that many iterations and reports whether the schedule is finished, so
 * an async caller can yield to the event loop in between. All state lives in the typed arrays it was given.
 */
export class GradientDescent {
  /** Index of the next iteration (0-based, counted across both phases). */
  iteration = 0;
  /** Error of the latest evaluation that computed one. */
  error = Number.MAX_VALUE;
  /** Iterations performed so far (scikit-learn's `n_iter_` + 1 at the end). */
  performed = 0;
  private phase: 0 | 1 | 2 = 0;
  private phaseEnd = 0;
  private momentum = EXPLORATION_MOMENTUM;
  private exaggeration = 1;
  private withoutProgress = 0;
  private bestError = Number.MAX_VALUE;
  private bestIter = 0;

  constructor(
    private readonly objective: Objective,
    private readonly y: Float64Array,
    private readonly grad: Float64Array,
    private readonly update: Float64Array,
    private readonly gains: Float64Array,
    private readonly settings: DescentSettings
  ) {
    this.startPhase(0, Math.min(settings.explorationIter, settings.maxIter));
  }

  /** True once the last phase has finished. */
  get done(): boolean {
    return this.phase === 2;
  }

  /** The exaggeration of the phase the last iteration ran in (1 in the final phase). */
  get lastExaggeration(): number {
    return this.exaggeration;
  }

  /** Runs up to `steps` iterations; returns `done`. */
  advance(steps: number): boolean {
    const { y, grad, update, gains, objective, settings } = this;
    const len = y.length;
    const lr = f32(settings.learningRate);
    let budget = steps;
    while (this.phase !== 2 && budget > 0) {
      if (this.iteration >= this.phaseEnd) {
        this.endPhase();
        continue;
      }
      const i = this.iteration;
      const check = (i + 1) % N_ITER_CHECK === 0;
      const error = objective(y, grad, this.exaggeration, check || i === this.phaseEnd - 1);
      if (!Number.isNaN(error)) this.error = error;
      const momentum = f32(this.momentum);
      let norm2 = 0;
      for (let k = 0; k < len; k++) {
        const g = f32(grad[k]!);
        const u = update[k]!;
        let gain = gains[k]!;
        gain = f32(u * g) < 0 ? f32(gain + GAIN_STEP_F32) : f32(gain * GAIN_DECAY_F32);
        if (gain < MIN_GAIN_F32) gain = MIN_GAIN_F32;
        gains[k] = gain;
        const scaled = f32(g * gain);
        norm2 += scaled * scaled;
        const next = f32(f32(momentum * u) - f32(lr * scaled));
        update[k] = next;
        y[k] = f32(y[k]! + next);
      }
      this.iteration = i + 1;
      this.performed = i + 1;
      budget--;
      if (check) {
        const gradNorm = Math.sqrt(norm2);
        settings.onCheck?.(i + 1, this.phase === 0 ? 'exaggeration' : 'final', error, gradNorm);
        let stop = false;
        if (error < this.bestError) {
          this.bestError = error;
          this.bestIter = i;
        } else if (i - this.bestIter > this.withoutProgress) {
          stop = true;
        }
        if (gradNorm <= settings.minGradNorm) stop = true;
        if (stop) this.endPhase();
      }
    }
    return this.phase === 2;
  }

  private endPhase(): void {
    this.settings.onPhaseEnd?.(this.phase === 0 ? 'exaggeration' : 'final', this.iteration, this.error);
    if (this.phase === 0 && this.iteration < this.settings.maxIter) {
      this.startPhase(1, this.settings.maxIter);
    } else {
      this.phase = 2;
    }
  }

  private startPhase(phase: 0 | 1, end: number): void {
    const s = this.settings;
    this.phase = phase;
    this.phaseEnd = end;
    this.momentum = phase === 0 ? EXPLORATION_MOMENTUM : FINAL_MOMENTUM;
    this.exaggeration = phase === 0 ? s.earlyExaggeration : 1;
    this.withoutProgress = phase === 0 ? s.explorationIter : s.iterWithoutProgress;
    this.bestError = Number.MAX_VALUE;
    this.bestIter = this.iteration;
    this.update.fill(0);
    this.gains.fill(1);
    if (phase === 0 && end === 0) this.endPhase();
  }
}
