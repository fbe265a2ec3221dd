/**
 * @supwalsh/dashboard — the coordinator's live web dashboard (Preact, Vega-Lite through vega-embed), built by Vite
 * into `dist/app/`. This entry point is for Node: where the built page is ({@link DASHBOARD_ASSETS_DIR}, served by
 * the coordinator) and the JSON shapes of the HTTP API both sides speak.
 * @module
 */
import path from 'node:path';

/** The built page (index.html and assets/), served as static files by the coordinator. */
export const DASHBOARD_ASSETS_DIR = path.resolve(import.meta.dirname, 'app');

export {
  EXPERIMENT_STATE_NAMES,
  type ApiError,
  type ArtifactView,
  type EpochMetricsView,
  type ExperimentDetail,
  type ExperimentPage,
  type ExperimentRow,
  type ExperimentStateName,
  type LiveEvent,
  type LiveMessage,
  type PhaseName,
  type Principal,
  type ProgressView,
  type Role,
  type RunStateName,
  type RunView,
  type SessionInfo,
  type WorkerList,
  type WorkerView,
} from './api.js';
