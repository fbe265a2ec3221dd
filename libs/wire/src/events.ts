import type { MethodEvent, PhaseName, RunResult } from '@supwalsh/method';
import {
  EpochMetrics,
  LogLevel,
  LogMessage,
  Phase,
  PhaseChanged,
  StepProgress,
  type ExperimentEvent,
  type ShardReport,
} from '@supwalsh/proto';
import { WireConversionError } from './errors.js';

const PHASES: Record<PhaseName, Phase> = {
  preparing: Phase.PHASE_PREPARING,
  pretraining: Phase.PHASE_PRETRAINING,
  training: Phase.PHASE_TRAINING,
  evaluating: Phase.PHASE_EVALUATING,
};

/** The proto `Phase` of a method phase. */
export function phaseToProto(phase: PhaseName): Phase {
  return PHASES[phase];
}

/** The method phase of a proto `Phase`; undefined for UNSPECIFIED. */
export function phaseFromProto(phase: Phase): PhaseName | undefined {
  return (Object.keys(PHASES) as PhaseName[]).find((name) => PHASES[name] === phase);
}

/**
 * What a worker reports for a method event (`ShardReport.payload`): phase changes, step progress, epoch metrics
 * and log lines. Undefined for events with no report (run states and results travel as `ShardFinished` and the
 * `run-result.json` artifact).
 */
export function methodEventToReport(event: MethodEvent): ShardReport['payload'] {
  switch (event.type) {
    case 'phase':
      return {
        $case: 'phaseChanged',
        value: PhaseChanged.fromPartial({
          phase: phaseToProto(event.phase),
          epochsTotal: event.epochsTotal,
          stepsTotal: event.stepsTotal,
          ...(event.pretraining
            ? {
                pretraining: {
                  bestLoss: event.pretraining.bestLoss,
                  bestEpoch: event.pretraining.bestEpoch,
                  bestStep: event.pretraining.selectedStep,
                  selectedStep: event.pretraining.selectedStep,
                  steps: event.pretraining.steps,
                },
              }
            : {}),
        }),
      };
    case 'step':
      return {
        $case: 'stepProgress',
        value: StepProgress.fromPartial({
          phase: phaseToProto(event.phase),
          epoch: event.epoch,
          epochsTotal: event.epochsTotal,
          stepInEpoch: event.stepInEpoch,
          stepsPerEpoch: event.stepsPerEpoch,
          step: event.step,
          stepsTotal: event.stepsTotal,
          loss: event.loss,
          epochLoss: event.epochLoss,
          imagesPerSecond: event.imagesPerSecond,
          etaSeconds: event.etaSeconds,
          learningRate: event.learningRate,
          worldSize: event.worldSize,
        }),
      };
    case 'epoch': {
      const m = event.metrics;
      return {
        $case: 'epochMetrics',
        value: EpochMetrics.fromPartial({
          phase: phaseToProto(event.phase),
          epoch: m.epoch,
          trainLoss: m.trainLoss,
          trainAccuracy: m.trainAccuracy,
          testLoss: m.testLoss,
          testAccuracy: m.testAccuracy,
          steps: m.steps,
          durationSeconds: m.seconds + m.evalSeconds,
        }),
      };
    }
    case 'log':
      return {
        $case: 'log',
        value: LogMessage.fromPartial({
          level: event.level === 'warning' ? LogLevel.LOG_LEVEL_WARNING : LogLevel.LOG_LEVEL_INFO,
          message: event.message,
          code: event.code,
        }),
      };
    default:
      return undefined;
  }
}

/**
 * The method event a stored `ExperimentEvent` stands for, so one progress printer serves the one-process command
 * and the service's CLI. `label` names the run (the coordinator's run id is opaque). Undefined for events the
 * method has no counterpart of.
 */
export function experimentEventToMethodEvent(event: ExperimentEvent, label = event.runId): MethodEvent | undefined {
  const p = event.payload;
  if (!p) return undefined;
  switch (p.$case) {
    case 'stepProgress': {
      const s = p.value;
      const phase = phaseFromProto(s.phase);
      if (phase !== 'pretraining' && phase !== 'training') return undefined;
      return {
        type: 'step',
        runId: label,
        phase,
        epoch: s.epoch,
        epochsTotal: s.epochsTotal,
        stepInEpoch: s.stepInEpoch,
        stepsPerEpoch: s.stepsPerEpoch,
        step: s.step,
        stepsTotal: s.stepsTotal,
        loss: s.loss,
        epochLoss: s.epochLoss,
        imagesPerSecond: s.imagesPerSecond,
        etaSeconds: s.etaSeconds ?? 0,
        learningRate: s.learningRate,
        worldSize: s.worldSize,
      };
    }
    case 'epochMetrics': {
      const m = p.value;
      if (m.trainLoss === undefined || m.trainAccuracy === undefined) return undefined;
      return {
        type: 'epoch',
        runId: label,
        phase: 'training',
        metrics: {
          epoch: m.epoch,
          trainLoss: m.trainLoss,
          trainAccuracy: m.trainAccuracy,
          ...(m.testLoss === undefined ? {} : { testLoss: m.testLoss }),
          ...(m.testAccuracy === undefined ? {} : { testAccuracy: m.testAccuracy }),
          steps: m.steps,
          seconds: m.durationSeconds,
          evalSeconds: 0,
        },
      };
    }
    case 'log':
      return {
        type: 'log',
        level:
          p.value.level === LogLevel.LOG_LEVEL_WARNING || p.value.level === LogLevel.LOG_LEVEL_ERROR
            ? 'warning'
            : 'info',
        message: p.value.message,
        code: p.value.code,
        runId: label,
      };
    default:
      return undefined;
  }
}

const STATUSES = ['succeeded', 'failed', 'cancelled'];

/** Parses a worker's `run-result.json` (@supwalsh/method's `RunResult`), checking the fields the report needs. */
export function runResultFromJson(text: string): RunResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    throw new WireConversionError('runResultFromJson', 'text', `is not JSON: ${(error as Error).message}`);
  }
  const r = value as Partial<RunResult> | null;
  const problems = [
    typeof r?.runId !== 'string' && 'runId',
    typeof r?.model !== 'string' && 'model',
    typeof r?.arm !== 'string' && 'arm',
    typeof r?.seed !== 'number' && 'seed',
    !STATUSES.includes(String(r?.status)) && 'status',
    !Array.isArray(r?.epochs) && 'epochs',
    !Array.isArray(r?.trainLossPerStep) && 'trainLossPerStep',
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new WireConversionError(
      'runResultFromJson',
      'text',
      `is not a RunResult: bad or missing ${problems.join(', ')}`
    );
  }
  return r as RunResult;
}
