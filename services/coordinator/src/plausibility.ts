import {
  ArtifactKind,
  LogLevel,
  Phase,
  ShardState,
  type CheckpointRef,
  type EpochMetrics,
  type ReportProgressRequest,
  type StepProgress,
  type UploadArtifactHeader,
} from '@supwalsh/proto';
import type { CoordinatorContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import type { RunRecord } from './store.js';

/**
 * Plausibility at the door (ARCHITECTURE.md invariant 5 for workers' reports): a progress report, epoch metrics or a
 * checkpoint outside what the run's spec allows is refused with INVALID_ARGUMENT before anything is stored — an
 * epoch beyond the phase's epochs, a step beyond the phase's steps, a non-finite or negative loss, an accuracy
 * outside [0, 1], metrics out of epoch order (each phase's epochs 1, 2, … once), steps going back within a
 * phase of the same ring. Replays of a re-formed ring (PROTOCOL.md step 11) stay acceptable: they repeat what
 * was plausible.
 */

const PHASE_ORDER: ReadonlyMap<Phase, number> = new Map([
  [Phase.PHASE_UNSPECIFIED, 0],
  [Phase.PHASE_PREPARING, 1],
  [Phase.PHASE_PRETRAINING, 2],
  [Phase.PHASE_EVALUATING, 3],
  [Phase.PHASE_TRAINING, 4],
]);

/** The epochs the run's spec gives a phase that has steps, or undefined for a phase without steps. */
export function phaseEpochs(run: RunRecord, phase: Phase): number | undefined {
  if (phase === Phase.PHASE_PRETRAINING) return run.runSpec.pretraining?.epochs ?? 0;
  if (phase === Phase.PHASE_TRAINING) return run.runSpec.training?.epochs ?? 0;
  return undefined;
}

const fail = (field: string, message: string): never => {
  throw new InvalidArgumentError(field, `${field} ${message}`);
};

function requireFiniteAtLeastZero(field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0) fail(field, `must be a finite number ≥ 0, got ${String(value)}`);
}

function requireFraction(field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0 || value > 1) fail(field, `must be from 0 to 1, got ${String(value)}`);
}

function requireEpoch(field: string, run: RunRecord, phase: Phase, epoch: number): number {
  const epochs = phaseEpochs(run, phase);
  if (epochs === undefined)
    fail(field.replace(/epoch$/, 'phase'), `must be PHASE_PRETRAINING or PHASE_TRAINING, got ${phase}`);
  if (epoch < 1 || epoch > epochs!)
    fail(field, `must be from 1 to the phase's ${epochs} epochs (the run's spec), got ${epoch}`);
  return epochs!;
}

function checkStep(
  at: string,
  run: RunRecord,
  s: StepProgress,
  previous: StepProgress | undefined,
  sameRing: boolean
): void {
  const epochs = requireEpoch(`${at}.epoch`, run, s.phase, s.epoch);
  if (s.epochsTotal !== epochs)
    fail(`${at}.epochs_total`, `must be the phase's ${epochs} epochs, got ${s.epochsTotal}`);
  if (s.stepsPerEpoch < 1) fail(`${at}.steps_per_epoch`, `must be at least 1, got ${s.stepsPerEpoch}`);
  if (s.stepInEpoch > s.stepsPerEpoch) {
    fail(`${at}.step_in_epoch`, `must be at most steps_per_epoch ${s.stepsPerEpoch}, got ${s.stepInEpoch}`);
  }
  if (s.stepsTotal > s.stepsPerEpoch * epochs) {
    fail(
      `${at}.steps_total`,
      `must be at most steps_per_epoch × epochs = ${s.stepsPerEpoch * epochs}, got ${s.stepsTotal}`
    );
  }
  if (s.step < 1 || s.step > s.stepsTotal)
    fail(`${at}.step`, `must be from 1 to steps_total ${s.stepsTotal}, got ${s.step}`);
  if (s.epoch > Math.ceil(s.step / s.stepsPerEpoch) + 1) {
    fail(`${at}.epoch`, `${s.epoch} is ahead of step ${s.step} (${s.stepsPerEpoch} steps per epoch)`);
  }
  requireFiniteAtLeastZero(`${at}.loss`, s.loss);
  requireFiniteAtLeastZero(`${at}.epoch_loss`, s.epochLoss);
  requireFiniteAtLeastZero(`${at}.images_per_second`, s.imagesPerSecond);
  requireFiniteAtLeastZero(`${at}.learning_rate`, s.learningRate);
  requireFiniteAtLeastZero(`${at}.eta_seconds`, s.etaSeconds);
  if (previous && previous.phase === s.phase) {
    if (previous.stepsTotal !== s.stepsTotal) {
      fail(`${at}.steps_total`, `must stay ${previous.stepsTotal} within a phase, got ${s.stepsTotal}`);
    }
    if (sameRing && s.step <= previous.step) {
      fail(`${at}.step`, `must increase within a phase of one ring: ${s.step} after ${previous.step}`);
    }
  }
}

function checkMetrics(
  at: string,
  run: RunRecord,
  m: EpochMetrics,
  progress: StepProgress | undefined,
  stored: readonly EpochMetrics[]
): void {
  requireEpoch(`${at}.epoch`, run, m.phase, m.epoch);
  requireFiniteAtLeastZero(`${at}.train_loss`, m.trainLoss);
  requireFiniteAtLeastZero(`${at}.test_loss`, m.testLoss);
  requireFraction(`${at}.train_accuracy`, m.trainAccuracy);
  requireFraction(`${at}.test_accuracy`, m.testAccuracy);
  requireFiniteAtLeastZero(`${at}.duration_seconds`, m.durationSeconds);
  if (stored.some((s) => s.phase === m.phase && s.epoch === m.epoch)) return; // a replay, dropped later
  // Every epoch of a phase ends with its metrics, so the next one is always the last stored + 1 (progress
  // reports may be sparser: outputs.progress_every_steps).
  const last = Math.max(0, ...stored.filter((s) => s.phase === m.phase).map((s) => s.epoch));
  // A ring resumed from a checkpoint past an epoch whose metrics never arrived cannot report them again.
  const c = run.latestCheckpoint;
  const resumedFrom = c && c.phase === m.phase ? (c.endOfEpoch ? c.epoch : c.epoch - 1) : 0;
  if (m.epoch !== last + 1 && !(m.epoch > last && m.epoch <= resumedFrom + 1)) {
    fail(
      `${at}.epoch`,
      `must be ${last + 1}, the epoch after the stored ${last} (metrics stay in epoch order), got ${m.epoch}`
    );
  }
  const ahead =
    progress !== undefined &&
    progress.phase === m.phase &&
    progress.stepsPerEpoch > 0 &&
    m.epoch > Math.ceil(progress.stepsTotal / progress.stepsPerEpoch);
  if (ahead) fail(`${at}.epoch`, `${m.epoch} is beyond the phase's steps (${progress!.stepsTotal})`);
}

/**
 * Checks the new reports of a ReportProgress request (those above the shard's acknowledged sequence) against the
 * run's spec and what it stored, in order, as if each earlier one had been applied. Throws InvalidArgumentError
 * naming `reports[i]…`; an unknown run or a stale generation is left to `reportProgress`.
 */
export function checkReportsPlausible(ctx: CoordinatorContext, request: ReportProgressRequest): void {
  const run = ctx.store.getRun(request.runId);
  if (!run || request.generation !== run.generation) return;
  const acked = ctx.store.getShardReport(run.id, run.generation, request.rank)?.lastSequence ?? 0;
  let progress = run.progress ?? undefined;
  // Steps go back only when a re-formed ring replays from a checkpoint; within this generation they increase.
  let sameRing = run.restarts === 0;
  const stored = [...ctx.store.listRunMetrics(run.id)];
  request.reports.forEach((report, i) => {
    if (report.sequence <= acked || !report.payload) return;
    const at = `reports[${i}]`;
    const p = report.payload;
    switch (p.$case) {
      case 'stepProgress': {
        checkStep(`${at}.step_progress`, run, p.value, progress, sameRing && request.rank === 0);
        const current = progress;
        const ahead =
          !current ||
          (PHASE_ORDER.get(p.value.phase) ?? 0) > (PHASE_ORDER.get(current.phase) ?? 0) ||
          (current.phase === p.value.phase && p.value.step > current.step);
        if (ahead && request.rank === 0) {
          progress = p.value;
          sameRing = true; // later steps of this request continue this one
        }
        return;
      }
      case 'epochMetrics':
        if (request.rank !== 0) return;
        checkMetrics(`${at}.epoch_metrics`, run, p.value, progress, stored);
        stored.push(p.value);
        return;
      case 'phaseChanged': {
        const epochs = phaseEpochs(run, p.value.phase);
        if (!PHASE_ORDER.has(p.value.phase) || p.value.phase === Phase.PHASE_UNSPECIFIED) {
          fail(`${at}.phase_changed.phase`, `must be a known phase, got ${p.value.phase}`);
        }
        if (p.value.epochsTotal !== 0 && p.value.epochsTotal !== epochs) {
          fail(
            `${at}.phase_changed.epochs_total`,
            `must be 0 or the phase's ${epochs ?? 0} epochs, got ${p.value.epochsTotal}`
          );
        }
        return;
      }
      case 'log':
        if (!Object.values(LogLevel).includes(p.value.level) || p.value.level === LogLevel.UNRECOGNIZED) {
          fail(`${at}.log.level`, `must be a known LogLevel, got ${p.value.level}`);
        }
        return;
      case 'shardFinished': {
        const ends = [ShardState.SHARD_STATE_SUCCEEDED, ShardState.SHARD_STATE_FAILED, ShardState.SHARD_STATE_ABORTED];
        if (!ends.includes(p.value.state)) {
          fail(`${at}.shard_finished.state`, `must be SHARD_STATE_SUCCEEDED, FAILED or ABORTED, got ${p.value.state}`);
        }
        return;
      }
    }
  });
}

/**
 * Checks an UploadArtifact header's checkpoint against the run: phase with steps, epoch within the phase's epochs,
 * the header's generation, and not ahead of the run's reported progress by more than one epoch (a checkpoint may
 * arrive before the report of its last step: both are sent at once).
 */
export function checkCheckpointPlausible(run: RunRecord, header: UploadArtifactHeader): void {
  if (header.kind !== ArtifactKind.ARTIFACT_KIND_CHECKPOINT) return;
  const c: CheckpointRef | undefined = header.checkpoint;
  if (!c) fail('header.checkpoint', 'is required for a CHECKPOINT');
  const ref = c!;
  requireEpoch('header.checkpoint.epoch', run, ref.phase, ref.epoch);
  if (ref.generation !== 0 && ref.generation !== header.generation) {
    fail(
      'header.checkpoint.generation',
      `must be 0 or the header's generation ${header.generation}, got ${ref.generation}`
    );
  }
  const progress = run.progress;
  if (!progress) {
    if (ref.epoch > 1) fail('header.checkpoint.epoch', `${ref.epoch} is ahead of the run, which reported no step yet`);
    return;
  }
  const [mine, theirs] = [PHASE_ORDER.get(ref.phase) ?? 0, PHASE_ORDER.get(progress.phase) ?? 0];
  if (mine < theirs) return; // an earlier phase: behind the run
  if (mine > theirs) {
    if (ref.epoch > 1) fail('header.checkpoint.epoch', `${ref.epoch} is ahead of the run, still in an earlier phase`);
    return;
  }
  if (ref.epoch > progress.epoch + 1) {
    fail('header.checkpoint.epoch', `${ref.epoch} is ahead of the run's epoch ${progress.epoch}`);
  }
  if (ref.step > progress.step + progress.stepsPerEpoch || ref.step > progress.stepsTotal) {
    fail(
      'header.checkpoint.step',
      `${ref.step} is ahead of the run's step ${progress.step} (of ${progress.stepsTotal}, ${progress.stepsPerEpoch} per epoch)`
    );
  }
}
