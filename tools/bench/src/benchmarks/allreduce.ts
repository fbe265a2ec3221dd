/**
 * `npm run bench -- allreduce [--quick] [--sizes 4K,1M,…] [--world 2,3,4] [--transports grpc,tcp]
 * [--chunk-bytes N] [--in-flight N] [--window N] [--serializer fast|generated] [--trials N]`
 *
 * Ring all-reduce between separate processes on loopback, through the library's gRPC transport and, in the same
 * run, through a plain TCP-socket transport running the same ring algorithm, plus a raw one-way TCP stream for
 * scale. Transports `grpc-js` and `grpc-http2` are the gRPC transport with one data path forced
 * (`RingOptions.dataPath`), for paired comparisons. Rows: `{ transport, worldSize, bytes, seconds, algbw, busbw,
 * streamBw, ofTcp }`, bandwidths in bytes/s with the nccl-tests definitions (algbw = bytes / seconds; busbw =
 * algbw · 2(n−1)/n); `streamBw` is the raw one-way TCP stream moving the same bytes, `ofTcp` the gRPC busbw as a
 * fraction of the TCP ring's. Each figure is the median of `trials` trials of back-to-back operations, slowest rank.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { defineBenchmark, option, type BenchRow } from '../benchmark.js';
import type { BenchCommand, BenchReply, BenchTransport, TransportSettings } from './allreduce-worker.js';

const WORKER = path.join(import.meta.dirname, 'allreduce-worker.js');
const KiB = 1024;
const MiB = 1024 * KiB;
const FULL_SIZES = [4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB];
const QUICK_SIZES = [4 * KiB, 64 * KiB, MiB, 16 * MiB];

function parseSize(text: string): number {
  const match = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!match) throw new Error(`allreduce: cannot read size "${text}" (use e.g. 4K, 16M)`);
  const unit = { '': 1, K: KiB, M: MiB, G: 1024 * MiB }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(match[1]) * unit;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const formatBytes = (bytes: number) => (bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`);

class Process {
  private readonly child: ChildProcess;
  constructor() {
    this.child = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  request(command: BenchCommand): Promise<BenchReply> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: BenchReply) => {
        this.child.off('exit', onExit);
        if (reply.type === 'error') reject(new Error(`allreduce worker: ${reply.message}`));
        else resolve(reply);
      };
      const onExit = (code: number | null) => reject(new Error(`allreduce worker exited with ${code}`));
      this.child.once('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(command);
    });
  }
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    this.child.send({ type: 'close' } satisfies BenchCommand);
    await exited;
    clearTimeout(timer);
  }
}

/** Iterations per trial: enough bytes to time, few enough to keep the run short. */
function iterationsFor(bytes: number, quick: boolean): number {
  const target = quick ? 32 * MiB : 256 * MiB;
  return Math.max(1, Math.min(quick ? 20 : 50, Math.ceil(target / bytes)));
}

export default defineBenchmark({
  name: 'allreduce',
  description: 'ring all-reduce over gRPC vs plain TCP sockets, 2–4 processes, 4 KiB … 256 MiB',
  async run({ args, log }) {
    const quick = args.includes('--quick');
    const sizes = option(args, '--sizes')?.split(',').map(parseSize) ?? (quick ? QUICK_SIZES : FULL_SIZES);
    const worldSizes = option(args, '--world')?.split(',').map(Number) ?? [2, 3, 4];
    const transports = (option(args, '--transports')?.split(',') ?? ['grpc', 'tcp']) as BenchTransport[];
    const trials = Number(option(args, '--trials') ?? 3);
    const settings: TransportSettings = {};
    if (option(args, '--chunk-bytes')) settings.chunkBytes = parseSize(option(args, '--chunk-bytes')!);
    if (option(args, '--in-flight')) settings.chunksInFlight = Number(option(args, '--in-flight'));
    if (option(args, '--window')) settings.flowControlWindowBytes = parseSize(option(args, '--window')!);
    if (option(args, '--serializer')) settings.wireSerializer = option(args, '--serializer') as 'fast' | 'generated';
    log(`${os.cpus().length} CPUs (load ${os.loadavg()[0]!.toFixed(1)}); settings ${JSON.stringify(settings)}`);

    // The raw one-way TCP stream, for scale.
    const streamBw = new Map<number, number>();
    {
      const [receiver, sender] = [new Process(), new Process()];
      try {
        const { address } = (await receiver.request({ type: 'stream-listen' })) as { address: string };
        for (const bytes of sizes) {
          const iterations = iterationsFor(bytes, quick);
          const reply = await sender.request({ type: 'stream-measure', address, bytes, iterations, trials });
          const seconds = median((reply as { trials: number[] }).trials);
          streamBw.set(bytes, bytes / seconds);
          log(`raw TCP stream ${formatBytes(bytes)}: ${(bytes / seconds / 1e6).toFixed(0)} MB/s`);
        }
      } finally {
        await Promise.all([receiver.close(), sender.close()]);
      }
    }

    const rows: BenchRow[] = [];
    for (const worldSize of worldSizes) {
      // Both rings are up at once and measured turn about, trial by trial, so that a burst of load from
      // elsewhere on the machine hits both transports alike.
      const rings = new Map(transports.map((t) => [t, Array.from({ length: worldSize }, () => new Process())]));
      try {
        for (const [transport, ranks] of rings) {
          const addresses = await Promise.all(
            ranks.map((p, rank) => p.request({ type: 'setup', transport, rank, worldSize, settings }))
          );
          const peers = addresses.map((a) => (a as { address: string }).address);
          await Promise.all(ranks.map((p) => p.request({ type: 'connect', peers })));
        }
        for (const bytes of sizes) {
          const iterations = iterationsFor(bytes, quick);
          const perTrial = new Map<string, number[]>(transports.map((t) => [t, []]));
          const cpu = new Map<string, number[]>(transports.map((t) => [t, []]));
          for (let trial = -1; trial < trials; trial++) {
            for (const [transport, ranks] of rings) {
              const warmup = trial < 0 ? (bytes >= 64 * MiB ? 1 : 2) : 0;
              const replies = (await Promise.all(
                ranks.map((p) => p.request({ type: 'measure', bytes, warmup, iterations, trials: 1 }))
              )) as Extract<BenchReply, { type: 'measured' }>[];
              if (trial < 0) continue; // the warm-up trial
              perTrial.get(transport)!.push(Math.max(...replies.map((r) => r.trials[0]!))); // slowest rank
              cpu.get(transport)!.push(median(replies.map((r) => r.cpu[0]!)));
            }
          }
          const measured = new Map<string, BenchRow>();
          for (const transport of transports) {
            const seconds = median(perTrial.get(transport)!);
            const algbw = bytes / seconds;
            const busbw = (algbw * 2 * (worldSize - 1)) / worldSize;
            measured.set(transport, {
              transport,
              worldSize,
              bytes,
              seconds,
              algbw,
              busbw,
              streamBw: streamBw.get(bytes) ?? null,
            });
            log(
              `${transport} n=${worldSize} ${formatBytes(bytes)}: ${(seconds * 1e3).toFixed(2)} ms, ` +
                `algbw ${(algbw / 1e6).toFixed(0)} MB/s, busbw ${(busbw / 1e6).toFixed(0)} MB/s, ` +
                `CPU ${(median(cpu.get(transport)!) * 1e3).toFixed(2)} ms per rank`
            );
          }
          const tcp = measured.get('tcp');
          for (const row of measured.values()) {
            row['ofTcp'] = tcp ? (row['busbw'] as number) / (tcp['busbw'] as number) : null;
            rows.push(row);
          }
        }
      } finally {
        await Promise.all([...rings.values()].flat().map((p) => p.close()));
      }
    }
    return rows;
  },
});
