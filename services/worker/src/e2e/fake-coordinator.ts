/**
 * Test helper: a minimal coordinator (the generated `CoordinatorService` on a real grpc-js server) that grants
 * leases, stores reports once each in sequence order (as PROTOCOL.md step 7 asks of the real one), assembles
 * uploaded artifacts and records everything, with knobs to reject a report batch or to call a run stale.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  ArtifactInfo,
  ArtifactKind,
  CoordinatorService,
  type DeregisterWorkerRequest,
  type GetArtifactRequest,
  type GetArtifactResponse,
  type HeartbeatRequest,
  type ReportProgressRequest,
  type ShardReport,
  type UploadArtifactHeader,
  type UploadArtifactRequest,
  type UploadArtifactResponse,
  type WorkerInfo,
} from '@supwalsh/proto';
import { shutdownServer } from '@supwalsh/security';

/** An artifact as the fake stored it. */
export interface StoredArtifact {
  /** The id the fake gave it (ArtifactInfo.id, CheckpointRef.artifact_id). */
  readonly id: string;
  readonly header: UploadArtifactHeader;
  readonly data: Buffer;
  /** Messages of the upload, the header's included. */
  readonly messages: number;
  /** Largest `data` of one message. */
  readonly largestChunk: number;
  /** Whether the first message carried the header and no data. */
  readonly headerAlone: boolean;
}

export interface FakeCoordinatorOptions {
  /** RegisterWorkerResponse / HeartbeatResponse interval. @default 200 */
  heartbeatIntervalMs?: number;
}

/** The fake's state and knobs; every list is in arrival order. */
export interface FakeCoordinator {
  readonly address: string;
  readonly port: number;
  readonly registrations: WorkerInfo[];
  readonly heartbeats: HeartbeatRequest[];
  readonly deregistrations: DeregisterWorkerRequest[];
  /** Every ReportProgress request as received (retries included). */
  readonly reportBatches: ReportProgressRequest[];
  /** Batches rejected with UNAVAILABLE so far. */
  readonly rejectedBatches: ReportProgressRequest[];
  readonly artifacts: StoredArtifact[];
  /** Reject this many of the next ReportProgress batches (with reports) with UNAVAILABLE. */
  rejectNextBatches: number;
  /** Runs whose reports and uploads get FAILED_PRECONDITION (a stale generation). */
  readonly staleRuns: Set<string>;
  /** Run ids the next heartbeat answers list in abort_run_ids. */
  readonly abortRunIds: Set<string>;
  /** Shards (run, generation) the next heartbeat answers list in abort_shards. */
  readonly abortShards: { runId: string; generation: number }[];
  /** Reports stored for a shard, in sequence order, each once. */
  stored(runId: string, generation: number, rank: number): ShardReport[];
  /** The `ShardFinished` a shard reported, if any. */
  finished(runId: string, generation: number, rank: number): ShardReport | undefined;
  /** Artifacts of a run (optionally of one kind). */
  artifactsOf(runId: string, kind?: number): StoredArtifact[];
  /** Forgets leases (as a restarted coordinator would): the next heartbeats get NOT_FOUND. */
  forgetLeases(): void;
  /** Stops serving at once (as a killed coordinator). */
  kill(): void;
  /** Serves again on the same port, with the state kept (leases forgotten unless `keepLeases`). */
  restart(options?: { keepLeases?: boolean }): Promise<void>;
  close(): Promise<void>;
}

const key = (runId: string, generation: number, rank: number) => `${runId}/${generation}/${rank}`;

/** Starts a fake coordinator on 127.0.0.1 (a free port, or `port`). */
export async function startFakeCoordinator(options: FakeCoordinatorOptions = {}): Promise<FakeCoordinator> {
  const interval = options.heartbeatIntervalMs ?? 200;
  const leases = new Map<string, string>(); // lease id → worker id
  const reports = new Map<string, ShardReport[]>();
  const registrations: WorkerInfo[] = [];
  const heartbeats: HeartbeatRequest[] = [];
  const deregistrations: DeregisterWorkerRequest[] = [];
  const reportBatches: ReportProgressRequest[] = [];
  const rejectedBatches: ReportProgressRequest[] = [];
  const artifacts: StoredArtifact[] = [];
  const staleRuns = new Set<string>();
  const abortRunIds = new Set<string>();
  const abortShards: { runId: string; generation: number }[] = [];
  const coordinatorInstanceId = randomUUID();

  const fake: FakeCoordinator & { rejectNextBatches: number } = {
    address: '',
    port: 0,
    registrations,
    heartbeats,
    deregistrations,
    reportBatches,
    rejectedBatches,
    artifacts,
    rejectNextBatches: 0,
    staleRuns,
    abortRunIds,
    abortShards,
    stored: (runId, generation, rank) => reports.get(key(runId, generation, rank)) ?? [],
    finished: (runId, generation, rank) =>
      (reports.get(key(runId, generation, rank)) ?? []).find((r) => r.payload?.$case === 'shardFinished'),
    artifactsOf: (runId, kind) =>
      artifacts.filter((a) => a.header.runId === runId && (kind === undefined || a.header.kind === kind)),
    forgetLeases: () => leases.clear(),
    kill: () => server.forceShutdown(),
    restart: async (restartOptions = {}) => {
      if (!restartOptions.keepLeases) leases.clear();
      server = createServer();
      await bind(server, `127.0.0.1:${fake.port}`);
    },
    close: () => shutdownServer(server, 2_000),
  };

  const implementation: UntypedServiceImplementation = {
    registerWorker(call: ServerUnaryCall<{ worker?: WorkerInfo }, unknown>, callback: sendUnaryData<unknown>) {
      const worker = call.request.worker;
      if (!worker?.workerId)
        return callback({ code: status.INVALID_ARGUMENT, details: 'worker.worker_id is required' });
      registrations.push(worker);
      for (const [lease, id] of leases) if (id === worker.workerId) leases.delete(lease);
      const leaseId = randomUUID();
      leases.set(leaseId, worker.workerId);
      callback(null, {
        leaseId,
        heartbeatIntervalMs: interval,
        leaseTtlMs: interval * 5,
        coordinatorInstanceId,
        abortRunIds: [],
        abortShards: [],
      });
    },
    heartbeat(call: ServerUnaryCall<HeartbeatRequest, unknown>, callback: sendUnaryData<unknown>) {
      heartbeats.push(call.request);
      if (leases.get(call.request.leaseId) !== call.request.workerId) {
        return callback({ code: status.NOT_FOUND, details: `unknown lease ${call.request.leaseId}` });
      }
      const runs = call.request.shards.map((s) => s.runId).filter((r) => abortRunIds.has(r));
      const shards = call.request.shards
        .filter((s) => abortShards.some((a) => a.runId === s.runId && a.generation === s.generation))
        .map((s) => ({ runId: s.runId, generation: s.generation, reason: 'fake: abort this generation' }));
      callback(null, {
        heartbeatIntervalMs: interval,
        leaseTtlMs: interval * 5,
        abortRunIds: runs,
        abortShards: shards,
      });
    },
    deregisterWorker(call: ServerUnaryCall<DeregisterWorkerRequest, unknown>, callback: sendUnaryData<unknown>) {
      deregistrations.push(call.request);
      leases.delete(call.request.leaseId);
      callback(null, {});
    },
    reportProgress(call: ServerUnaryCall<ReportProgressRequest, unknown>, callback: sendUnaryData<unknown>) {
      const request = call.request;
      reportBatches.push(request);
      if (staleRuns.has(request.runId)) {
        return callback({ code: status.FAILED_PRECONDITION, details: `generation ${request.generation} is stale` });
      }
      if (fake.rejectNextBatches > 0 && request.reports.length > 0) {
        fake.rejectNextBatches -= 1;
        rejectedBatches.push(request);
        return callback({ code: status.UNAVAILABLE, details: 'rejected by the test' });
      }
      const k = key(request.runId, request.generation, request.rank);
      const list = reports.get(k) ?? [];
      reports.set(k, list);
      for (const report of request.reports) {
        const last = list.at(-1)?.sequence ?? 0;
        if (report.sequence <= last) continue; // already stored: a resend
        if (report.sequence !== last + 1) {
          return callback({
            code: status.INVALID_ARGUMENT,
            details: `reports[].sequence ${report.sequence} skips ${last + 1}`,
          });
        }
        list.push(report);
      }
      callback(null, { ackedSequence: list.at(-1)?.sequence ?? 0 });
    },
    uploadArtifact(
      call: ServerReadableStream<UploadArtifactRequest, UploadArtifactResponse>,
      callback: sendUnaryData<UploadArtifactResponse>
    ) {
      let header: UploadArtifactHeader | undefined;
      let headerAlone = false;
      let messages = 0;
      let largestChunk = 0;
      const chunks: Buffer[] = [];
      call.on('data', (message: UploadArtifactRequest) => {
        messages += 1;
        if (messages === 1) {
          header = message.header;
          headerAlone = message.data.length === 0;
        }
        largestChunk = Math.max(largestChunk, message.data.length);
        chunks.push(Buffer.from(message.data));
      });
      call.on('end', () => {
        if (!header) return callback({ code: status.INVALID_ARGUMENT, details: 'header is required' });
        if (staleRuns.has(header.runId)) return callback({ code: status.FAILED_PRECONDITION, details: 'stale' });
        const data = Buffer.concat(chunks);
        const sha256 = createHash('sha256').update(data).digest('hex');
        if (data.length !== header.sizeBytes || sha256 !== header.sha256) {
          return callback({ code: status.INVALID_ARGUMENT, details: 'size_bytes or sha256 does not match' });
        }
        const id = `artifact-${artifacts.length + 1}`;
        artifacts.push({ id, header, data, messages, largestChunk, headerAlone });
        const createTime = new Date();
        callback(null, {
          artifact: {
            id,
            experimentId: '',
            runId: header.runId,
            kind: header.kind,
            name: header.name,
            mediaType: header.mediaType,
            sizeBytes: header.sizeBytes,
            sha256,
            createTime,
          },
          checkpoint:
            header.kind === ArtifactKind.ARTIFACT_KIND_CHECKPOINT && header.checkpoint
              ? { ...header.checkpoint, artifactId: id, sizeBytes: data.length, sha256, createTime }
              : undefined,
        });
      });
    },
    getArtifact(call: ServerWritableStream<GetArtifactRequest, GetArtifactResponse>) {
      const artifact = artifacts.find((a) => a.id === call.request.artifactId);
      if (!artifact) {
        call.destroy(Object.assign(new Error('unknown artifact'), { code: status.NOT_FOUND }));
        return;
      }
      const chunk = call.request.chunkBytes || 1 << 20;
      for (let offset = 0; offset === 0 || offset < artifact.data.length; offset += chunk) {
        call.write({
          info: offset === 0 ? ArtifactInfo.fromPartial({ id: artifact.id, runId: artifact.header.runId }) : undefined,
          offset,
          data: artifact.data.subarray(offset, offset + chunk),
        });
      }
      call.end();
    },
  };

  const createServer = () => {
    const s = new Server();
    s.addService(CoordinatorService, implementation);
    return s;
  };
  const bind = (s: Server, address: string) =>
    new Promise<number>((resolve, reject) =>
      s.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)))
    );
  let server = createServer();
  const port = await bind(server, '127.0.0.1:0');
  Object.assign(fake, { port, address: `127.0.0.1:${port}` });
  return fake;
}

/** Polls `predicate` every 20 ms until it returns a truthy value; rejects after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, predicate: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
