/**
 * One rank of the all-reduce benchmark, in its own process, driven by the parent over IPC. The same ring
 * algorithm (`@supwalsh/collective`) runs over either transport: `grpc` (the library's own) or `tcp` (the plain
 * socket baseline in allreduce-tcp.ts). It also serves the raw one-way TCP stream measurement.
 */
import {
  createCollective,
  createCollectiveServer,
  createRing,
  type Collective,
  type CollectiveServer,
} from '@supwalsh/collective';
import { connectRawStream, listenRawStream, listenTcpRing, type TcpRingMember } from './allreduce-tcp.js';

export interface TransportSettings {
  chunkBytes?: number;
  chunksInFlight?: number;
  flowControlWindowBytes?: number;
  wireSerializer?: 'fast' | 'generated';
}

/**
 * `grpc`: the library's gRPC transport with its default data path; `grpc-js` / `grpc-http2`: the same with the
 * sending side forced to one data path (`RingOptions.dataPath`); `tcp`: the plain-socket baseline.
 */
export type BenchTransport = 'grpc' | 'grpc-js' | 'grpc-http2' | 'tcp';

export type BenchCommand =
  | { type: 'setup'; transport: BenchTransport; rank: number; worldSize: number; settings: TransportSettings }
  | { type: 'connect'; peers: string[] }
  | { type: 'measure'; bytes: number; warmup: number; iterations: number; trials: number }
  | { type: 'stream-listen' }
  | { type: 'stream-measure'; address: string; bytes: number; iterations: number; trials: number }
  | { type: 'close' };

export type BenchReply =
  | { type: 'address'; address: string }
  | { type: 'ready' }
  /** Seconds per operation of each trial, and CPU seconds (user + system) of this process per operation. */
  | { type: 'measured'; trials: number[]; cpu: number[] }
  | { type: 'error'; message: string };

const RUN_ID = 'bench';
const reply = (message: BenchReply) => process.send!(message);

let collective: Collective | undefined;
let grpcServer: CollectiveServer | undefined;
let tcpMember: TcpRingMember | undefined;
let setup: Extract<BenchCommand, { type: 'setup' }> | undefined;

async function handle(command: BenchCommand): Promise<void> {
  switch (command.type) {
    case 'setup': {
      setup = command;
      if (command.transport !== 'tcp') {
        grpcServer = await createCollectiveServer({
          listen: '127.0.0.1:0',
          ...(command.settings.flowControlWindowBytes
            ? { flowControlWindowBytes: command.settings.flowControlWindowBytes }
            : {}),
          ...(command.settings.chunkBytes ? { maxMessageBytes: command.settings.chunkBytes + (64 << 10) } : {}),
        });
        reply({ type: 'address', address: grpcServer.address });
      } else {
        tcpMember = await listenTcpRing({ ...command, runId: RUN_ID, generation: 1, ...command.settings });
        reply({ type: 'address', address: tcpMember.address });
      }
      return;
    }
    case 'connect': {
      const { rank, worldSize, settings } = setup!;
      const options = { runId: RUN_ID, generation: 1, timeoutMs: 120_000, ...settings };
      const transport = setup!.transport;
      const dataPath = transport === 'grpc-js' ? 'grpc-js' : transport === 'grpc-http2' ? 'http2' : undefined;
      collective = grpcServer
        ? await createRing({
            ...options,
            ...(dataPath ? { dataPath } : {}),
            rank,
            worldSize,
            peers: command.peers,
            server: grpcServer,
          })
        : createCollective(await tcpMember!.connect(command.peers), options);
      reply({ type: 'ready' });
      return;
    }
    case 'measure': {
      const buffer = new Float32Array(command.bytes / 4).fill(1);
      for (let i = 0; i < command.warmup; i++) await collective!.allReduce(buffer);
      const trials: number[] = [];
      const cpu: number[] = [];
      for (let t = 0; t < command.trials; t++) {
        await collective!.barrier();
        const start = performance.now();
        const cpuStart = process.cpuUsage();
        for (let i = 0; i < command.iterations; i++) await collective!.allReduce(buffer);
        const used = process.cpuUsage(cpuStart);
        trials.push((performance.now() - start) / 1000 / command.iterations);
        cpu.push((used.user + used.system) / 1e6 / command.iterations);
      }
      reply({ type: 'measured', trials, cpu });
      return;
    }
    case 'stream-listen': {
      const stream = await listenRawStream();
      reply({ type: 'address', address: stream.address });
      return;
    }
    case 'stream-measure': {
      const stream = await connectRawStream(command.address);
      await stream.transfer(Math.min(command.bytes, 1 << 20)); // warm-up
      const trials: number[] = [];
      for (let t = 0; t < command.trials; t++) {
        const start = performance.now();
        for (let i = 0; i < command.iterations; i++) await stream.transfer(command.bytes);
        trials.push((performance.now() - start) / 1000 / command.iterations);
      }
      stream.close();
      reply({ type: 'measured', trials, cpu: [] });
      return;
    }
    case 'close': {
      await collective?.close();
      await grpcServer?.shutdown();
      process.exit(0);
    }
  }
}

process.on('disconnect', () => process.exit(0)); // the runner went away: never linger
process.on('message', (command: BenchCommand) => {
  handle(command).catch((error: unknown) => {
    reply({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});
