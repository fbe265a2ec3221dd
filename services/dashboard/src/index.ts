/**
 * @supwalsh/dashboard — the coordinator's live web dashboard (Preact, Vega-Lite through vega-embed), built by Vite
 * into `dist/app/`. This entry point is for Node: where the built page is ({@link DASHBOARD_ASSETS_DIR}, served by
 * the coordinator) and the JSON shapes of the HTTP API both sides speak.
 * @module
 */
import path from 'node:path';

/** The built page (index.html and assets/), served as static files by the coordinator. */
export const DASHBOARD_ASSETS_DIR = path.resolve(import.meta.dirname, 'app');

/**
 * How the browser test and the dashboard benchmark open the page: Debian's Chromium, headless, with nothing it
 * would fetch on its own (this machine reaches no network but the package registries).
 */
export const HEADLESS_CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
} as const;

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
