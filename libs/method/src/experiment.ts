import path from 'node:path';
import { loadDataset, type ImageSet, type LoadDatasetOptions } from '@supwalsh/datasets';
import { initEngine, type EngineInfo } from '@supwalsh/engine';
import type * as tfl from '@tensorflow/tfjs-layers';
import { EventQueue } from './event-queue.js';
import type { MethodEvent } from './events.js';
import type { ExperimentResult, RunResult } from './results.js';
import { executeRun } from './run.js';
import { expandRuns, resolveExperimentSpec, type ExperimentSpec, type ResolvedDataset } from './spec.js';

export interface RunExperimentOptions {
  /** Stops the current run (recorded as cancelled) and every later one. */
  signal?: AbortSignal;
  /** Base directory of relative dataset roots. @default process.cwd() */
  dataDir?: string;
  /** Preprocessed-dataset cache (see @supwalsh/datasets). @default its default */
  cacheDir?: string | false;
  /** Replaces `loadDataset` (tests, or a service that keeps datasets in memory). */
  loadDataset?: (options: LoadDatasetOptions) => Promise<ImageSet>;
  /** Sees each run's classifier after its initialization (for Sup-Walsh: the selected snapshot) and at the end. */
  onModel?: (model: tfl.LayersModel, stage: 'initial' | 'final', runId: string) => Promise<void> | void;
}

/** A running experiment: its progress events and, once done, its record. */
export interface ExperimentRun {
  /** Every event in order; ends after `experiment-finished`. One consumer. */
  readonly events: AsyncIterable<MethodEvent>;
  /** Resolves when every run has ended (failed runs are in the record; it rejects only for a bad spec or setup). */
  readonly result: Promise<ExperimentResult>;
}

/**
 * Runs an experiment in this process: every (dataset, model, arm, seed) run in the spec's order, one after the
 * other, on the backend the spec asks for. The spec is validated before anything starts (MethodSpecError).
 */
export function runExperiment(spec: ExperimentSpec, options: RunExperimentOptions = {}): ExperimentRun {
  const resolved = resolveExperimentSpec(spec);
  const queue = new EventQueue<MethodEvent>();
  const result = (async (): Promise<ExperimentResult> => {
    const startedAt = new Date().toISOString();
    const engine: EngineInfo = await initEngine({ backend: resolved.backend });
    const runs = expandRuns(resolved);
    queue.push({ type: 'experiment-started', runs: runs.map((r) => r.runId) });
    queue.push({
      type: 'log',
      level: 'info',
      code: 'BACKEND',
      message: `backend ${engine.backend} (${engine.package} ${engine.version})`,
    });
    const load = options.loadDataset ?? loadDataset;
    const datasets = new Map<string, Promise<{ train: ImageSet; test: ImageSet }>>();
    const splits = (d: ResolvedDataset): Promise<{ train: ImageSet; test: ImageSet }> => {
      const key = JSON.stringify(d);
      let loaded = datasets.get(key);
      if (!loaded) {
        const base = {
          kind: d.kind,
          imageSize: d.imageSize,
          resizeRoute: d.resizeRoute,
          ...(d.root === undefined ? {} : { root: resolveRoot(options.dataDir, d.root) }),
          ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
        };
        loaded = Promise.all([
          load({ ...base, split: 'train', ...(d.trainSubset === undefined ? {} : { subset: d.trainSubset }) }),
          load({ ...base, split: 'test', ...(d.testSubset === undefined ? {} : { subset: d.testSubset }) }),
        ]).then(([train, test]) => ({ train, test }));
        datasets.set(key, loaded);
      }
      return loaded;
    };
    const results: RunResult[] = [];
    for (const run of runs) {
      if (options.signal?.aborted) break;
      const { train, test } = await splits(run.dataset);
      results.push(
        await executeRun(run, {
          train,
          test,
          ...(run.pretrainedDir === undefined
            ? {}
            : { pretrainedDir: resolveRoot(options.dataDir, run.pretrainedDir) }),
          ...(options.signal ? { signal: options.signal } : {}),
          onEvent: (e) => queue.push(e),
          ...(options.onModel ? { onModel: (model, stage) => options.onModel?.(model, stage, run.runId) } : {}),
        })
      );
    }
    const record: ExperimentResult = {
      name: resolved.name,
      description: resolved.description,
      preset: resolved.preset,
      startedAt,
      finishedAt: new Date().toISOString(),
      engine: { ...engine },
      spec: resolved,
      deviations: resolved.deviations,
      knownDeviations: resolved.knownDeviations,
      runs: results,
    };
    queue.push({ type: 'experiment-finished', result: record });
    return record;
  })();
  result.then(
    () => queue.close(),
    (error: unknown) => queue.fail(error)
  );
  return { events: queue, result };
}

function resolveRoot(dataDir: string | undefined, root: string): string {
  return path.resolve(dataDir ?? process.cwd(), root);
}
