import type {
  ArtifactView,
  EpochMetricsView,
  ExperimentDetail,
  ExperimentRow,
  PhaseName,
  ProgressView,
  RunView,
  WorkerView,
} from '@supwalsh/dashboard';
import { DeviceKind, ExperimentSpec, type EpochMetrics, type StepProgress } from '@supwalsh/proto';
import { stringify } from 'yaml';
import { artifactKindName, backendName, isTerminalExperimentState, isTerminalRunState, phaseName } from '../states.js';
import type { ArtifactRecord, ExperimentRecord, RunRecord, Store, WorkerRecord } from '../store.js';

/** The parts of @supwalsh/method's ResolvedExperimentSpec a run's names come from. */
interface MethodNames {
  readonly datasets?: readonly { readonly kind?: string }[];
  readonly models?: readonly string[];
  readonly arms?: readonly { readonly name?: string }[];
}

export const phaseOf = (value: number): PhaseName => phaseName(value) as PhaseName;

export function progressView(p: StepProgress): ProgressView {
  return {
    phase: phaseOf(p.phase),
    epoch: p.epoch,
    epochsTotal: p.epochsTotal,
    step: p.step,
    stepsTotal: p.stepsTotal,
    loss: p.loss,
    imagesPerSecond: p.imagesPerSecond,
    etaSeconds: p.etaSeconds ?? null,
  };
}

export function metricsView(m: EpochMetrics): EpochMetricsView {
  return {
    phase: phaseOf(m.phase),
    epoch: m.epoch,
    ...(m.trainLoss !== undefined ? { trainLoss: m.trainLoss } : {}),
    ...(m.trainAccuracy !== undefined ? { trainAccuracy: m.trainAccuracy } : {}),
    ...(m.testLoss !== undefined ? { testLoss: m.testLoss } : {}),
    ...(m.testAccuracy !== undefined ? { testAccuracy: m.testAccuracy } : {}),
  };
}

export function artifactView(a: Pick<ArtifactRecord, 'id' | 'runId' | 'kind' | 'name' | 'mediaType' | 'sizeBytes'>) {
  const view: ArtifactView = {
    id: a.id,
    runId: a.runId,
    kind: artifactKindName(a.kind),
    name: a.name,
    mediaType: a.mediaType,
    sizeBytes: a.sizeBytes,
  };
  return view;
}

export function experimentRow(e: ExperimentRecord, store: Store): ExperimentRow {
  const counts = store.countRuns(e.id);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    id: e.id,
    name: e.name,
    owner: e.owner,
    state: e.state,
    runsDone: counts.SUCCEEDED + counts.FAILED + counts.CANCELLED,
    runsTotal: total,
    createTime: e.createTime,
    startTime: e.startTime,
    endTime: e.endTime,
  };
}

function runView(run: RunRecord, names: MethodNames, store: Store): RunView {
  return {
    id: run.id,
    index: run.index,
    label: run.label,
    dataset: names.datasets?.[run.datasetIndex]?.kind ?? String(run.datasetIndex),
    model: names.models?.[run.modelIndex] ?? String(run.modelIndex),
    arm: names.arms?.[run.armIndex]?.name ?? String(run.armIndex),
    seed: run.seed,
    state: run.state,
    phase: run.state === 'RUNNING' ? phaseOf(run.phase) : 'UNSPECIFIED',
    statusMessage: run.statusMessage,
    workerIds: isTerminalRunState(run.state) ? [] : [...run.workerIds],
    restarts: run.restarts,
    progress: run.progress ? progressView(run.progress) : null,
    metrics: store.listRunMetrics(run.id).map(metricsView),
  };
}

/** The experiment page's data; `mayCancel`: the caller is its owner or an admin. */
export function experimentDetail(e: ExperimentRecord, store: Store, mayCancel: boolean): ExperimentDetail {
  const names = (e.methodSpec ?? {}) as MethodNames;
  return {
    ...experimentRow(e, store),
    statusMessage: e.statusMessage,
    specYaml: stringify(ExperimentSpec.toJSON(e.spec), { lineWidth: 0 }),
    runs: store.listRuns(e.id).map((run) => runView(run, names, store)),
    // Checkpoints are the workers' business (and large): not offered for download.
    artifacts: store
      .listArtifacts(e.id, '')
      .concat(store.listRuns(e.id).flatMap((run) => store.listArtifacts(e.id, run.id)))
      .filter((a) => a.checkpoint === null)
      .map(artifactView),
    lastSequence: e.lastSequence,
    canCancel: mayCancel && !isTerminalExperimentState(e.state),
  };
}

export function workerView(w: WorkerRecord, now: number, showAddress: boolean): WorkerView {
  const device = w.info.devices[0];
  const shard = w.info.shards.find((s) => s.runId === w.assignedRunId);
  return {
    id: w.workerId,
    state: w.state,
    backend: backendName(w.info.backend),
    device: device
      ? `${device.kind === DeviceKind.DEVICE_KIND_GPU ? `GPU ${device.index}` : 'CPU'}${device.name ? `: ${device.name}` : ''}`
      : '',
    address: showAddress ? w.address : '',
    runId: w.assignedRunId ?? '',
    experimentId: shard?.experimentId ?? '',
    rank: shard ? shard.rank : null,
    lastHeartbeatAgeMs: Math.max(0, now - w.lastHeartbeat),
    recoveries: w.info.shards.filter((s) => s.generation > 1).length,
  };
}
