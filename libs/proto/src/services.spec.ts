import { credentials, Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CollectiveClient,
  CollectiveService,
  CoordinatorClient,
  CoordinatorService,
  DataType,
  ExperimentEvent,
  LogLevel,
  SendChunksRequest,
  WorkerService,
  type CollectiveServer,
  type CoordinatorServer,
  type SendChunksResponse,
} from './index.js';

type Kind = 'unary' | 'server-streaming' | 'client-streaming' | 'bidi';

function methods(service: ServiceDefinition): Record<string, Kind> {
  return Object.fromEntries(
    Object.values(service).map((m) => {
      const kind: Kind = m.requestStream
        ? m.responseStream
          ? 'bidi'
          : 'client-streaming'
        : m.responseStream
          ? 'server-streaming'
          : 'unary';
      return [m.path, kind];
    })
  );
}

describe('service definitions', () => {
  it('expose the Coordinator method paths and streaming kinds', () => {
    expect(methods(CoordinatorService)).toEqual({
      '/supwalsh.v1.Coordinator/SubmitExperiment': 'unary',
      '/supwalsh.v1.Coordinator/GetExperiment': 'unary',
      '/supwalsh.v1.Coordinator/ListExperiments': 'unary',
      '/supwalsh.v1.Coordinator/WatchExperiment': 'server-streaming',
      '/supwalsh.v1.Coordinator/CancelExperiment': 'unary',
      '/supwalsh.v1.Coordinator/GetArtifact': 'server-streaming',
      '/supwalsh.v1.Coordinator/RegisterWorker': 'unary',
      '/supwalsh.v1.Coordinator/Heartbeat': 'unary',
      '/supwalsh.v1.Coordinator/DeregisterWorker': 'unary',
      '/supwalsh.v1.Coordinator/ListWorkers': 'unary',
      '/supwalsh.v1.Coordinator/ReportProgress': 'unary',
      '/supwalsh.v1.Coordinator/UploadArtifact': 'client-streaming',
    });
  });

  it('expose the Worker method paths and streaming kinds', () => {
    expect(methods(WorkerService)).toEqual({
      '/supwalsh.v1.Worker/StartShard': 'unary',
      '/supwalsh.v1.Worker/AbortShard': 'unary',
      '/supwalsh.v1.Worker/GetWorkerStatus': 'unary',
    });
  });

  it('expose the Collective ring hop as one-way client streaming, never bidi', () => {
    expect(methods(CollectiveService)).toEqual({ '/supwalsh.v1.Collective/SendChunks': 'client-streaming' });
  });

  it('serialize requests to what the message codec decodes', () => {
    const { requestSerialize, requestDeserialize } = CoordinatorService.watchExperiment;
    const request = { experimentId: 'exp-1', afterSequence: 41, runIds: ['r'], omitStepProgress: true };
    const wire = requestSerialize({ ...request, minLogLevel: LogLevel.LOG_LEVEL_WARNING, replayOnly: false });
    expect(Buffer.isBuffer(wire)).toBe(true);
    expect(requestDeserialize(wire)).toMatchObject(request);
  });
});

describe('grpc-js over loopback', () => {
  const server = new Server();
  let port = 0;
  const received: { sum: number; chunks: number } = { sum: 0, chunks: 0 };

  const unimplemented = () => {
    throw new Error('not used by this test');
  };
  const coordinator: Pick<CoordinatorServer, 'watchExperiment'> = {
    watchExperiment(call) {
      for (let sequence = call.request.afterSequence + 1; sequence <= 3; sequence++) {
        call.write({ event: ExperimentEvent.fromPartial({ experimentId: call.request.experimentId, sequence }) });
      }
      call.end();
    },
  };
  const collective: CollectiveServer = {
    sendChunks(call, callback) {
      let bytes = 0;
      call.on('data', (chunk: { data: Uint8Array; elementCount: number }) => {
        const floats = new Float32Array(new Uint8Array(chunk.data).buffer, 0, chunk.elementCount);
        received.sum += floats.reduce((a, b) => a + b, 0);
        received.chunks += 1;
        bytes += chunk.data.byteLength;
      });
      call.on('end', () => {
        const response: SendChunksResponse = {
          chunksReceived: received.chunks,
          bytesReceived: bytes,
          lastOperation: 1,
        };
        callback(null, response);
      });
    },
  };

  beforeAll(async () => {
    server.addService(CoordinatorService, {
      ...Object.fromEntries(Object.keys(CoordinatorService).map((k) => [k, unimplemented])),
      ...coordinator,
    });
    server.addService(CollectiveService, collective);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)))
    );
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  it('streams WatchExperiment events from after_sequence on', async () => {
    const client = new CoordinatorClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const sequences: number[] = [];
      const stream = client.watchExperiment({
        experimentId: 'exp-1',
        afterSequence: 1,
        runIds: [],
        omitStepProgress: false,
        minLogLevel: LogLevel.LOG_LEVEL_UNSPECIFIED,
        replayOnly: true,
      });
      for await (const response of stream as AsyncIterable<{ event?: ExperimentEvent }>) {
        sequences.push(response.event?.sequence ?? -1);
      }
      expect(sequences).toEqual([2, 3]);
    } finally {
      client.close();
    }
  });

  it('carries SendChunks chunks one way and answers with the totals', async () => {
    const client = new CollectiveClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const response = await new Promise<SendChunksResponse>((resolve, reject) => {
        const call = client.sendChunks((err, res) =>
          err || !res ? reject(err ?? new Error('no response')) : resolve(res)
        );
        for (let i = 0; i < 4; i++) {
          const values = new Float32Array(1 << 16).fill(i + 1);
          call.write(
            SendChunksRequest.fromPartial({
              runId: 'exp-1.r0000',
              generation: 1,
              operation: 1,
              elementOffset: i << 16,
              elementCount: values.length,
              dtype: DataType.DATA_TYPE_FLOAT32,
              totalElements: 4 << 16,
              chunkIndex: i,
              lastChunk: i === 3,
              data: new Uint8Array(values.buffer),
            })
          );
        }
        call.end();
      });
      expect(response).toEqual({ chunksReceived: 4, bytesReceived: 4 << 18, lastOperation: 1 });
      expect(received.sum).toBe((1 + 2 + 3 + 4) * (1 << 16));
    } finally {
      client.close();
    }
  });
});
