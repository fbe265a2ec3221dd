import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExperimentResult, ResolvedExperimentSpec, RunResult } from '@supwalsh/method';
import { ArtifactKind, LogLevel } from '@supwalsh/proto';
import { ENUMS, runResultFromJson, shortName } from '@supwalsh/wire';
import { artifactAbsolutePath, artifactRelativePath, EXPERIMENT_ARTIFACTS_DIR, hashFile } from './artifacts.js';
import type { CoordinatorContext } from './context.js';
import { toError } from './errors.js';
import { newArtifactId } from './ids.js';
import { emit, setExperimentState } from './lifecycle.js';
import { RUN_RESULT_NAME } from './progress.js';
import { artifactToProto } from './proto-mapping.js';
import { isTerminalExperimentState, isTerminalRunState } from './states.js';
import type { ExperimentRecord, RunRecord } from './store.js';

/** One file of the experiment's report, to be registered as an artifact. */
interface ReportFile {
  readonly kind: ArtifactKind;
  readonly name: string;
  readonly mediaType: string;
  readonly absolutePath: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The record of a run that left no run-result.json (failed or cancelled), for the report's list of such runs. */
function missingRunResult(method: ResolvedExperimentSpec, run: RunRecord, error: string): RunResult {
  const arm = method.arms[run.armIndex];
  return {
    runId: run.label,
    dataset: method.datasets[run.datasetIndex]?.kind ?? 'mnist',
    model: method.models[run.modelIndex] ?? 'unknown',
    arm: arm?.name ?? 'unknown',
    initializer: arm?.initializer ?? 'unknown',
    seed: run.seed,
    status: run.state === 'CANCELLED' ? 'cancelled' : 'failed',
    error,
    parameters: 0,
    epochs: [],
    trainLossPerStep: [],
    seconds: run.startTime !== null && run.endTime !== null ? (run.endTime - run.startTime) / 1000 : 0,
  };
}

/**
 * The experiment's `ExperimentResult` (@supwalsh/method): every succeeded run's `run-result.json` as uploaded by
 * its rank 0, a failed or cancelled record for the others, the backend the runs used and each worker's.
 */
export async function assembleResult(
  ctx: CoordinatorContext,
  experiment: ExperimentRecord,
  runs: readonly RunRecord[]
): Promise<ExperimentResult> {
  const { store } = ctx;
  const method = experiment.methodSpec as ResolvedExperimentSpec;
  const records: RunResult[] = [];
  for (const run of runs) {
    if (run.state !== 'SUCCEEDED') {
      records.push(missingRunResult(method, run, run.statusMessage || run.state.toLowerCase()));
      continue;
    }
    const artifact = store.findArtifact(
      experiment.id,
      run.id,
      ArtifactKind.ARTIFACT_KIND_RESULTS_JSON,
      RUN_RESULT_NAME
    );
    try {
      if (!artifact) throw new Error(`no ${RUN_RESULT_NAME} stored`);
      records.push(runResultFromJson(await readFile(artifactAbsolutePath(ctx.artifactsDir, artifact.path), 'utf8')));
    } catch (error: unknown) {
      records.push(missingRunResult(method, run, `${RUN_RESULT_NAME} unreadable: ${toError(error).message}`));
    }
  }
  const backends = [
    ...new Set(runs.map((r) => shortName(ENUMS.backend, r.backend)).filter((b): b is string => b !== undefined)),
  ];
  const workers: Record<string, string> = {};
  for (const workerId of new Set(runs.flatMap((r) => r.workerIds))) {
    const worker = store.getWorker(workerId);
    if (worker) workers[workerId] = shortName(ENUMS.backend, worker.info.backend) ?? 'unknown';
  }
  return {
    name: method.name,
    description: method.description,
    preset: method.preset,
    startedAt: iso(experiment.startTime ?? experiment.createTime),
    finishedAt: iso(ctx.clock()),
    engine: {
      backend: backends.join(',') || shortName(ENUMS.backend, experiment.resolvedSpec.backend) || 'auto',
      workers,
    },
    spec: method,
    deviations: [...experiment.methodDeviations],
    knownDeviations: [...((method as Partial<ResolvedExperimentSpec>).knownDeviations ?? [])],
    runs: records,
  };
}

/** Writes the report with @supwalsh/report and lists its files by artifact kind. */
async function writeReportFiles(
  ctx: CoordinatorContext,
  experiment: ExperimentRecord,
  result: ExperimentResult
): Promise<ReportFile[]> {
  const dir = path.join(ctx.artifactsDir, experiment.id, EXPERIMENT_ARTIFACTS_DIR);
  // Loaded when the first report is written: the report's plotting stack (Vega, and TF.js through
  // @supwalsh/method) would otherwise add seconds of CPU to every coordinator start.
  const { writeReport } = await import('@supwalsh/report');
  const written = await writeReport(result, dir, {
    ...ctx.settings.reportOptions,
    plots: experiment.settings.outputs.plots,
  });
  const file = (kind: ArtifactKind, mediaType: string) => (absolutePath: string) => ({
    kind,
    name: path.basename(absolutePath),
    mediaType,
    absolutePath,
  });
  return [
    file(ArtifactKind.ARTIFACT_KIND_REPORT, 'text/markdown')(written.markdown),
    file(ArtifactKind.ARTIFACT_KIND_RESULTS_JSON, 'application/json')(written.json),
    file(ArtifactKind.ARTIFACT_KIND_RESULTS_CSV, 'text/csv')(written.csv),
    ...written.svg.map(file(ArtifactKind.ARTIFACT_KIND_PLOT, 'image/svg+xml')),
    ...written.png.map(file(ArtifactKind.ARTIFACT_KIND_PLOT, 'image/png')),
  ];
}

/** Why an experiment whose runs have all ended did not succeed ('' when every run succeeded). */
function failureSummary(runs: readonly RunRecord[]): string {
  const notSucceeded = runs.filter((r) => r.state !== 'SUCCEEDED');
  const first = notSucceeded[0];
  if (!first) return '';
  return `${notSucceeded.length} of ${runs.length} runs did not succeed; first: run ${first.id} (${first.label}) ${first.state}${
    first.statusMessage ? `: ${first.statusMessage}` : ''
  }`;
}

/**
 * End of an experiment (PROTOCOL.md step 10), once every run has ended: assembles the ExperimentResult, writes the
 * report into `<artifacts>/<experiment>/_experiment/` (unless `outputs.report` is off), stores REPORT, RESULTS_JSON,
 * RESULTS_CSV and PLOT artifacts with their ArtifactReady events, and sets the experiment SUCCEEDED (every run
 * succeeded and the report was written) or FAILED, its ExperimentStateChanged the stream's last event. Does
 * nothing when the experiment already ended (e.g. it was cancelled meanwhile) or has a run still going.
 */
export async function completeExperiment(ctx: CoordinatorContext, experimentId: string): Promise<void> {
  const { store } = ctx;
  const experiment = store.getExperiment(experimentId);
  if (!experiment || isTerminalExperimentState(experiment.state)) return;
  const runs = store.listRuns(experimentId);
  if (!runs.every((r) => isTerminalRunState(r.state))) return;
  let files: ReportFile[] = [];
  const hashes = new Map<string, { sha256: string; sizeBytes: number }>();
  let reportError: Error | undefined;
  if (experiment.settings.outputs.report) {
    try {
      const result = await assembleResult(ctx, experiment, runs);
      files = await writeReportFiles(ctx, experiment, result);
      for (const f of files) hashes.set(f.absolutePath, await hashFile(f.absolutePath));
    } catch (error: unknown) {
      reportError = toError(error);
      files = [];
      ctx.logger.error('writing the experiment report failed', { experimentId, error: reportError.message });
    }
  }
  store.transaction(() => {
    const current = store.getExperiment(experimentId);
    if (!current || isTerminalExperimentState(current.state)) return;
    const now = ctx.clock();
    for (const f of files) {
      const previous = store.findArtifact(experimentId, '', f.kind, f.name);
      if (previous) store.deleteArtifact(previous.id);
      const hash = hashes.get(f.absolutePath) ?? { sha256: '', sizeBytes: 0 };
      const artifact = {
        id: newArtifactId(),
        experimentId,
        runId: '',
        kind: f.kind,
        name: f.name,
        mediaType: f.mediaType,
        sizeBytes: hash.sizeBytes,
        sha256: hash.sha256,
        path: artifactRelativePath(experimentId, '', f.kind, f.name),
        createTime: now,
        checkpoint: null,
      };
      store.insertArtifact(artifact);
      emit(ctx, experimentId, '', { $case: 'artifactReady', value: { artifact: artifactToProto(artifact) } });
    }
    if (reportError) {
      emit(ctx, experimentId, '', {
        $case: 'log',
        value: {
          level: LogLevel.LOG_LEVEL_ERROR,
          message: `the experiment report could not be written: ${reportError.message}`.slice(0, 4096),
          code: 'REPORT_FAILED',
          workerId: '',
          rank: undefined,
        },
      });
    }
    const summary = failureSummary(runs);
    const message = summary || (reportError ? `the report could not be written: ${reportError.message}` : '');
    setExperimentState(ctx, current, summary || reportError ? 'FAILED' : 'SUCCEEDED', message);
  });
  ctx.logger.info('experiment ended', { experimentId, state: store.getExperiment(experimentId)?.state });
}
