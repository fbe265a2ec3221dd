import type { PhaseName, StepProgress } from './progress.js';
import type { EpochMetrics, ExperimentResult, RunResult, RunStatus } from './results.js';

/**
 * What `runExperiment` reports while it works — the method's side of the proto's `ExperimentEvent` (the service
 * numbers them and adds ids and times). Every event of a run carries its `runId`.
 */
export type MethodEvent =
  | { readonly type: 'experiment-started'; readonly runs: readonly string[] }
  | {
      readonly type: 'run-state';
      readonly runId: string;
      readonly state: 'running' | RunStatus;
      readonly message: string;
    }
  | {
      readonly type: 'phase';
      readonly runId: string;
      readonly phase: PhaseName;
      readonly epochsTotal: number;
      readonly stepsTotal: number;
      /** On the first phase after pretraining: which snapshot became the initialization. */
      readonly pretraining?: {
        readonly bestLoss: number;
        readonly bestEpoch: number;
        readonly selectedStep: number;
        readonly steps: number;
      };
    }
  | ({ readonly type: 'step'; readonly runId: string } & StepProgress)
  | {
      readonly type: 'epoch';
      readonly runId: string;
      readonly phase: 'pretraining' | 'training';
      readonly metrics: EpochMetrics;
    }
  | { readonly type: 'run-finished'; readonly runId: string; readonly result: RunResult }
  | {
      readonly type: 'log';
      readonly level: 'info' | 'warning';
      readonly message: string;
      readonly code: string;
      readonly runId?: string;
    }
  | { readonly type: 'experiment-finished'; readonly result: ExperimentResult };
