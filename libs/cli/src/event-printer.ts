import {
  experimentStateToJSON,
  LogLevel,
  Phase,
  RunState,
  type ExperimentEvent,
  type ExperimentState,
  type StepProgress,
} from '@supwalsh/proto';
import { epochText, stepText, type ProgressStream } from '@supwalsh/spec';

/** `EXPERIMENT_STATE_SUCCEEDED` → `succeeded`. */
export function experimentStateName(state: ExperimentState): string {
  return experimentStateToJSON(state).replace('EXPERIMENT_STATE_', '').toLowerCase();
}

const RUN_ENDS = new Map([
  [RunState.RUN_STATE_SUCCEEDED, 'succeeded'],
  [RunState.RUN_STATE_FAILED, 'failed'],
  [RunState.RUN_STATE_CANCELLED, 'cancelled'],
]);

/**
 * Prints an experiment's events (the coordinator's `ExperimentEvent`s, straight from the wire) for a person, by run
 * label: `▶` when a run starts (with its worker count), a step line per progress report (on a terminal the running
 * step rewrites one line: phase, epoch, bar, loss, images/s, ETA), a line per epoch's metrics, log lines, `■` when
 * a run ends and a line when the experiment ends.
 */
export function createEventPrinter(
  stream: ProgressStream,
  labels: ReadonlyMap<string, string>
): (event: ExperimentEvent) => void {
  const tty = stream.isTTY === true;
  let live = false;
  const line = (text: string): void => {
    stream.write(`${live ? '\r\u001b[K' : ''}${text}\n`);
    live = false;
  };
  return (event) => {
    const label = labels.get(event.runId) ?? event.runId;
    const p = event.payload;
    switch (p?.$case) {
      case 'runStateChanged': {
        const { state, worldSize, message } = p.value;
        if (state === RunState.RUN_STATE_RUNNING) line(`▶ ${label} (${worldSize} worker${worldSize === 1 ? '' : 's'})`);
        const end = RUN_ENDS.get(state);
        if (end) line(`${end === 'succeeded' ? '' : 'warning: '}■ ${label}: ${end}${message ? ` (${message})` : ''}`);
        return;
      }
      case 'experimentStateChanged':
        line(`experiment ${experimentStateName(p.value.state)}${p.value.message ? `: ${p.value.message}` : ''}`);
        return;
      case 'stepProgress': {
        const text = stepLine(p.value);
        if (text === undefined) return;
        if (tty) {
          stream.write(`\r\u001b[K${text.slice(0, (stream.columns ?? 120) - 1)}`);
          live = true;
        } else {
          line(text);
        }
        return;
      }
      case 'epochMetrics': {
        const m = p.value;
        if (m.trainLoss === undefined || m.trainAccuracy === undefined) return;
        line(epochText({ ...m, trainLoss: m.trainLoss, trainAccuracy: m.trainAccuracy, seconds: m.durationSeconds }));
        return;
      }
      case 'log': {
        const warning = p.value.level === LogLevel.LOG_LEVEL_WARNING || p.value.level === LogLevel.LOG_LEVEL_ERROR;
        line(`${warning ? 'warning: ' : ''}${p.value.message}`);
        return;
      }
      default:
        return;
    }
  };
}

function stepLine(s: StepProgress): string | undefined {
  const phase =
    s.phase === Phase.PHASE_PRETRAINING ? 'pretraining' : s.phase === Phase.PHASE_TRAINING ? 'training' : undefined;
  if (phase === undefined) return undefined;
  return stepText({ ...s, phase, etaSeconds: s.etaSeconds ?? 0 });
}
