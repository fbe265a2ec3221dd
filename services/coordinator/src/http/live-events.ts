import type { LiveEvent, LiveMessage } from '@supwalsh/dashboard';
import { ArtifactKind, type ExperimentEvent } from '@supwalsh/proto';
import { experimentStateFromProto, runStateFromProto } from '../states.js';
import { artifactView, metricsView, phaseOf, progressView } from './views.js';

const LOG_LEVELS = ['INFO', 'DEBUG', 'INFO', 'WARNING', 'ERROR'];

/** The dashboard's view of one stored event; undefined for events it does not show (checkpoints, unknown cases). */
export function toLiveEvent(event: ExperimentEvent): LiveEvent | undefined {
  const payload = event.payload;
  const runId = event.runId;
  switch (payload?.$case) {
    case 'experimentStateChanged': {
      const state = experimentStateFromProto(payload.value.state);
      return state && { kind: 'experimentState', state, message: payload.value.message };
    }
    case 'runStateChanged': {
      const state = runStateFromProto(payload.value.state);
      return (
        state && { kind: 'runState', runId, state, message: payload.value.message, restarts: payload.value.restarts }
      );
    }
    case 'phaseChanged':
      return { kind: 'phase', runId, phase: phaseOf(payload.value.phase) };
    case 'stepProgress': {
      const progress = progressView(payload.value);
      const points: [number, number][] = progress.phase === 'EVALUATING' ? [] : [[progress.step, progress.loss]];
      return { kind: 'progress', runId, progress, points };
    }
    case 'epochMetrics':
      return { kind: 'epochMetrics', runId, metrics: metricsView(payload.value) };
    case 'workersChanged':
      return { kind: 'workers', runId, workerIds: [...payload.value.workerIds] };
    case 'artifactReady':
      // Checkpoints are not offered for download: the page does not need them.
      return payload.value.artifact && payload.value.artifact.kind !== ArtifactKind.ARTIFACT_KIND_CHECKPOINT
        ? { kind: 'artifact', artifact: artifactView(payload.value.artifact) }
        : undefined;
    case 'log':
      return { kind: 'log', runId, level: LOG_LEVELS[payload.value.level] ?? 'INFO', message: payload.value.message };
    default:
      return undefined;
  }
}

/**
 * Merges step progress: consecutive progress of the same run and phase — with no other event of that run between
 * them — become one event holding the latest progress and every step's loss; every other event is kept, in order.
 * So a message carries few progress updates per run however often the workers report, and no metric is dropped.
 */
export function mergeProgress(events: readonly LiveEvent[]): LiveEvent[] {
  const out: LiveEvent[] = [];
  /** Index in `out` of the progress a run's next progress may merge into. */
  const open = new Map<string, number>();
  for (const event of events) {
    if (event.kind !== 'progress') {
      if ('runId' in event) open.delete(event.runId);
      else open.clear(); // an experiment-level event: keep the order around it
      out.push(event);
      continue;
    }
    const at = open.get(event.runId);
    const previous = at === undefined ? undefined : out[at];
    if (previous?.kind === 'progress' && previous.progress.phase === event.progress.phase) {
      out[at!] = { ...event, points: [...previous.points, ...event.points] };
    } else {
      open.set(event.runId, out.length);
      out.push(event);
    }
  }
  return out;
}

/** One server-sent event: `id` is the last stored sequence the message covers (the stream's resume point). */
export function formatSse(message: LiveMessage): string {
  return `id: ${message.sequence}\ndata: ${JSON.stringify(message)}\n\n`;
}
