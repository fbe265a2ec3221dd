import { createHash } from 'node:crypto';
import {
  Experiment,
  ExperimentSpec,
  ExperimentState,
  Run,
  RunState,
  type CancelExperimentRequest,
  type ListExperimentsRequest,
  type ListExperimentsResponse,
  type SubmitExperimentRequest,
} from '@supwalsh/proto';
import { LOCAL_PRINCIPAL, type Principal } from '@supwalsh/security';
import { validateSpec, type ValidatedSpec } from '@supwalsh/wire';
import { requireExperimentAccess } from './auth-policy.js';
import { newEffects, type CoordinatorContext } from './context.js';
import { InvalidArgumentError, QueueFullError, RequestConflictError, WrongStateError } from './errors.js';
import { newExperimentId, runIdOf } from './ids.js';
import { emit, endRun, setExperimentState } from './lifecycle.js';
import { experimentToProto } from './proto-mapping.js';
import {
  experimentStateFromProto,
  experimentStateToProto,
  isTerminalRunState,
  runStateToProto,
  type ExperimentStateName,
} from './states.js';
import type { ExperimentRecord } from './store.js';

/** ListExperiments page size when the request leaves it 0. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest ListExperiments page. */
export const MAX_PAGE_SIZE = 500;
/** Longest CancelExperimentRequest.reason. */
export const MAX_CANCEL_REASON_CHARS = 1000;

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** JSON with object keys sorted: equal for equal specs whatever the map order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sameSpec(a: ExperimentSpec, b: ExperimentSpec): boolean {
  return canonicalJson(ExperimentSpec.toJSON(a)) === canonicalJson(ExperimentSpec.toJSON(b));
}

/** The response of a validate_only submission: nothing stored, no ids, runs QUEUED. */
function previewExperiment(validated: ValidatedSpec): Experiment {
  return Experiment.fromPartial({
    id: '',
    spec: validated.spec,
    resolvedSpec: validated.resolved,
    state: ExperimentState.EXPERIMENT_STATE_UNSPECIFIED,
    runs: validated.runs.map((run) =>
      Run.fromPartial({
        index: run.index,
        datasetIndex: run.datasetIndex,
        modelIndex: run.modelIndex,
        armIndex: run.armIndex,
        seed: run.seed,
        label: run.label,
        state: RunState.RUN_STATE_QUEUED,
      })
    ),
    runCounts: { total: validated.runs.length, queued: validated.runs.length },
    deviations: [...validated.deviations],
  });
}

/**
 * SubmitExperiment: validates the spec (nothing is stored when it is invalid: invariant 5), stores the QUEUED
 * experiment, its runs and their first events in one transaction before returning (invariant 3), and asks the
 * scheduler for a pass. A request_id already stored returns that experiment when the spec is the same.
 */
export function submitExperiment(
  ctx: CoordinatorContext,
  request: SubmitExperimentRequest,
  owner: Principal = LOCAL_PRINCIPAL
): Experiment {
  const { store } = ctx;
  if (!request.spec) throw new InvalidArgumentError('spec', 'spec is required');
  const requestId = request.requestId;
  if (requestId && !REQUEST_ID.test(requestId)) {
    throw new InvalidArgumentError(
      'request_id',
      `request_id must be 1–128 characters from [A-Za-z0-9._-], got ${JSON.stringify(requestId)}`
    );
  }
  if (requestId && !request.validateOnly) {
    const stored = store.getExperimentByRequestId(requestId);
    if (stored) {
      // Another principal's request_id: say it is taken, not which experiment holds it.
      if (stored.owner !== owner.name) throw new RequestConflictError(requestId, '');
      if (!sameSpec(stored.spec, request.spec)) throw new RequestConflictError(requestId, stored.id);
      return experimentToProto(stored, store);
    }
  }
  const validated = validateSpec(request.spec, { dataDir: ctx.dataDir });
  if (request.validateOnly) return previewExperiment(validated);
  if (store.countActiveExperiments() >= ctx.settings.maxActiveExperiments) {
    throw new QueueFullError(ctx.settings.maxActiveExperiments);
  }
  const id = newExperimentId();
  const effects = newEffects();
  store.transaction(() => {
    store.insertExperiment({
      record: {
        id,
        name: validated.resolved.name,
        state: 'QUEUED',
        spec: validated.spec,
        resolvedSpec: validated.resolved,
        methodSpec: validated.method,
        settings: validated.service,
        deviations: validated.deviations,
        methodDeviations: validated.method.deviations,
        labels: validated.service.labels,
        priority: validated.service.priority,
        requestId: requestId || null,
        owner: owner.name,
        createTime: ctx.clock(),
      },
      runs: validated.runs.map((run) => ({
        id: runIdOf(id, run.index),
        index: run.index,
        datasetIndex: run.datasetIndex,
        modelIndex: run.modelIndex,
        armIndex: run.armIndex,
        seed: run.seed,
        label: run.label,
        runSpec: run.run,
      })),
    });
    emit(ctx, id, '', {
      $case: 'experimentStateChanged',
      value: {
        state: experimentStateToProto('QUEUED'),
        previousState: ExperimentState.EXPERIMENT_STATE_UNSPECIFIED,
        message: '',
      },
    });
    for (const run of validated.runs) {
      emit(ctx, id, runIdOf(id, run.index), {
        $case: 'runStateChanged',
        value: {
          state: runStateToProto('QUEUED'),
          previousState: RunState.RUN_STATE_UNSPECIFIED,
          message: '',
          worldSize: 0,
          generation: 0,
          restarts: 0,
        },
      });
    }
    effects.schedule = true;
  });
  ctx.apply(effects);
  ctx.logger.info('experiment submitted', {
    experimentId: id,
    name: validated.resolved.name,
    runs: validated.runs.length,
  });
  return experimentToProto(store.requireExperiment(id), store);
}

/**
 * The experiment `experimentId` when `principal` may access it (its owner or an admin): INVALID_ARGUMENT when the
 * id is empty, NOT_FOUND, or PERMISSION_DENIED (another principal's).
 */
export function requireVisibleExperiment(
  ctx: CoordinatorContext,
  principal: Principal,
  experimentId: string
): ExperimentRecord {
  if (!experimentId) throw new InvalidArgumentError('experiment_id', 'experiment_id is required');
  const experiment = ctx.store.requireExperiment(experimentId);
  requireExperimentAccess(principal, experiment.id, experiment.owner);
  return experiment;
}

/** GetExperiment: the experiment with its runs and artifacts, when `principal` may see it. */
export function getExperiment(
  ctx: CoordinatorContext,
  experimentId: string,
  principal: Principal = LOCAL_PRINCIPAL
): Experiment {
  return experimentToProto(requireVisibleExperiment(ctx, principal, experimentId), ctx.store);
}

interface PageToken {
  /** create_time and id of the previous page's last experiment. */
  readonly t: number;
  readonly i: string;
  /** Hash of the filters the token belongs to. */
  readonly f: string;
}

function filterKey(
  states: readonly ExperimentStateName[],
  labels: Record<string, string>,
  prefix: string,
  owner: string | undefined
): string {
  return createHash('sha256')
    .update(canonicalJson({ s: [...states].sort(), l: labels, p: prefix, o: owner ?? null }))
    .digest('base64url')
    .slice(0, 16);
}

function decodePageToken(token: string, filters: string): PageToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<PageToken>;
    if (typeof parsed.t === 'number' && typeof parsed.i === 'string' && parsed.f === filters) {
      return parsed as PageToken;
    }
  } catch {
    // fall through
  }
  throw new InvalidArgumentError(
    'page_token',
    'page_token is not the next_page_token of a previous response with the same filters'
  );
}

/**
 * ListExperiments: newest first, filtered, paged with an opaque token bound to the filters; a client sees only
 * its own experiments, an admin everyone's.
 */
export function listExperiments(
  ctx: CoordinatorContext,
  request: ListExperimentsRequest,
  principal: Principal = LOCAL_PRINCIPAL
): ListExperimentsResponse {
  const owner = principal.role === 'admin' ? undefined : principal.name;
  if (request.pageSize > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(
      'page_size',
      `page_size must be from 0 to ${MAX_PAGE_SIZE}, got ${request.pageSize}`
    );
  }
  const pageSize = request.pageSize || DEFAULT_PAGE_SIZE;
  const states = request.states.map((s) => {
    const name = experimentStateFromProto(s);
    if (!name) {
      throw new InvalidArgumentError(
        'states',
        `states must hold EXPERIMENT_STATE_QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED, got ${s}`
      );
    }
    return name;
  });
  const filters = filterKey(states, request.labelSelector, request.namePrefix, owner);
  const token = request.pageToken ? decodePageToken(request.pageToken, filters) : undefined;
  const rows = ctx.store.listExperiments({
    states,
    labelSelector: request.labelSelector,
    namePrefix: request.namePrefix,
    ...(owner === undefined ? {} : { owner }),
    before: token ? { createTime: token.t, id: token.i } : undefined,
    limit: pageSize + 1,
  });
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextPageToken =
    rows.length > pageSize && last
      ? Buffer.from(JSON.stringify({ t: last.createTime, i: last.id, f: filters } satisfies PageToken)).toString(
          'base64url'
        )
      : '';
  return { experiments: page.map((e) => experimentToProto(e, ctx.store, false)), nextPageToken };
}

/**
 * CancelExperiment (PROTOCOL.md step 10): queued runs are cancelled, running ones cancelled and their shards
 * aborted (step 8); the experiment is CANCELLED when this returns (workers stop asynchronously). Everything already
 * stored stays. Idempotent on a CANCELLED experiment.
 */
export function cancelExperiment(
  ctx: CoordinatorContext,
  request: CancelExperimentRequest,
  principal: Principal = LOCAL_PRINCIPAL
): Experiment {
  if (!request.experimentId) throw new InvalidArgumentError('experiment_id', 'experiment_id is required');
  if (request.reason.length > MAX_CANCEL_REASON_CHARS) {
    throw new InvalidArgumentError('reason', `reason must be at most ${MAX_CANCEL_REASON_CHARS} characters`);
  }
  const { store } = ctx;
  const effects = newEffects();
  const experiment = store.transaction((): ExperimentRecord => {
    const experiment = requireVisibleExperiment(ctx, principal, request.experimentId);
    if (experiment.state === 'CANCELLED') return experiment;
    if (experiment.state === 'SUCCEEDED' || experiment.state === 'FAILED') {
      throw new WrongStateError(
        'experiment',
        experiment.id,
        experiment.state,
        `experiment ${experiment.id} already ${experiment.state}; only a QUEUED or RUNNING experiment can be cancelled`
      );
    }
    const reason = request.reason || 'cancelled by CancelExperiment';
    for (const run of store.listRuns(experiment.id)) {
      if (!isTerminalRunState(run.state)) endRun(ctx, effects, run, 'CANCELLED', `experiment cancelled: ${reason}`);
    }
    effects.completions.delete(experiment.id);
    setExperimentState(ctx, store.requireExperiment(experiment.id), 'CANCELLED', reason);
    return store.requireExperiment(experiment.id);
  });
  ctx.apply(effects);
  ctx.logger.info('experiment cancelled', { experimentId: experiment.id, reason: request.reason });
  return experimentToProto(experiment, store);
}
