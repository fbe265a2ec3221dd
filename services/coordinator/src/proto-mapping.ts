import {
  ArtifactInfo,
  CheckpointRef,
  Experiment,
  Phase,
  Run,
  RunCounts,
  WorkerInfo,
  type ExperimentState,
} from '@supwalsh/proto';
import { experimentStateToProto, isActiveRunState, runStateToProto, workerStateToProto } from './states.js';
import type { ArtifactRecord, ExperimentRecord, RunRecord, RunStateCounts, Store, WorkerRecord } from './store.js';

const date = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));

export function artifactToProto(artifact: ArtifactRecord): ArtifactInfo {
  return ArtifactInfo.fromPartial({
    id: artifact.id,
    experimentId: artifact.experimentId,
    runId: artifact.runId,
    kind: artifact.kind,
    name: artifact.name,
    mediaType: artifact.mediaType,
    sizeBytes: artifact.sizeBytes,
    sha256: artifact.sha256,
    createTime: new Date(artifact.createTime),
  });
}

/** The CheckpointRef of a stored checkpoint artifact (its id, size, hash and time filled in). */
export function checkpointToProto(artifact: ArtifactRecord): CheckpointRef {
  return CheckpointRef.fromPartial({
    ...artifact.checkpoint,
    artifactId: artifact.id,
    runId: artifact.runId,
    sizeBytes: artifact.sizeBytes,
    sha256: artifact.sha256,
    createTime: new Date(artifact.createTime),
  });
}

export function runCountsToProto(counts: RunStateCounts): RunCounts {
  return RunCounts.fromPartial({
    total: Object.values(counts).reduce((a, b) => a + b, 0),
    queued: counts.QUEUED,
    running: counts.RUNNING + counts.REFORMING,
    succeeded: counts.SUCCEEDED,
    failed: counts.FAILED,
    cancelled: counts.CANCELLED,
  });
}

/** A stored run as the wire shows it: ring fields only while it has a ring. */
export function runToProto(run: RunRecord, store: Store): Run {
  const active = isActiveRunState(run.state);
  return Run.fromPartial({
    id: run.id,
    index: run.index,
    datasetIndex: run.datasetIndex,
    modelIndex: run.modelIndex,
    armIndex: run.armIndex,
    seed: run.seed,
    label: run.label,
    state: runStateToProto(run.state),
    statusMessage: run.statusMessage,
    // A re-forming run is still in its phase (it resumes there); only a queued or ended run has none.
    phase: run.state === 'RUNNING' || run.state === 'REFORMING' ? run.phase : Phase.PHASE_UNSPECIFIED,
    worldSize: active ? run.worldSize : 0,
    generation: run.generation,
    workerIds: active ? [...run.workerIds] : [],
    backend: run.backend,
    progress: run.progress ?? undefined,
    metrics: store.listRunMetrics(run.id),
    pretraining: run.pretraining ?? undefined,
    latestCheckpoint: run.latestCheckpoint ?? undefined,
    artifacts: store
      .listArtifacts(run.experimentId, run.id)
      .filter((a) => a.checkpoint === null)
      .map(artifactToProto),
    restarts: run.restarts,
    startTime: date(run.startTime),
    endTime: date(run.endTime),
  });
}

/** A stored experiment as the wire shows it; with its runs unless `withRuns` is false (ListExperiments). */
export function experimentToProto(experiment: ExperimentRecord, store: Store, withRuns = true): Experiment {
  return Experiment.fromPartial({
    id: experiment.id,
    spec: experiment.spec,
    resolvedSpec: experiment.resolvedSpec,
    state: experimentStateToProto(experiment.state) as ExperimentState,
    statusMessage: experiment.statusMessage,
    createTime: new Date(experiment.createTime),
    startTime: date(experiment.startTime),
    endTime: date(experiment.endTime),
    runs: withRuns ? store.listRuns(experiment.id).map((run) => runToProto(run, store)) : [],
    runCounts: runCountsToProto(store.countRuns(experiment.id)),
    deviations: [...experiment.deviations],
    // Kept in the stored method spec (absent from experiments stored before it existed).
    knownDeviations: [...((experiment.methodSpec as { knownDeviations?: string[] }).knownDeviations ?? [])],
    lastSequence: experiment.lastSequence,
    artifacts: store.listArtifacts(experiment.id, '').map(artifactToProto),
    owner: experiment.owner,
  });
}

/** A registered worker with the coordinator-only fields (state, register and heartbeat times) set. */
export function workerToProto(worker: WorkerRecord): WorkerInfo {
  return WorkerInfo.fromPartial({
    ...worker.info,
    workerId: worker.workerId,
    address: worker.address,
    instanceId: worker.instanceId,
    state: workerStateToProto(worker.state),
    registerTime: new Date(worker.registerTime),
    lastHeartbeatTime: new Date(worker.lastHeartbeat),
  });
}
