/**
 * E2E fixture: one ring member in its own process, driven by its parent over the IPC channel (`fork` with
 * `serialization: 'advanced'`). 1. It binds a collective server on 127.0.0.1:0 and reports the address;
 * 2. given the peers, it joins the ring; 3. it runs the operations it is told to, on inputs it derives from a
 * seed, and sends back results or the error's name and fields; 4. `close` closes the ring and exits.
 */
import { createCollectiveServer, createRing, type Collective } from '../index.js';
import { randomFloats } from '../test-support.js';

export type WorkerCommand =
  | {
      type: 'join';
      rank: number;
      worldSize: number;
      peers: string[];
      runId: string;
      options?: Record<string, number | string>;
    }
  | { type: 'allReduce'; id: number; size: number; seed: number; op?: 'sum' | 'mean'; returnResult: boolean }
  | { type: 'broadcast'; id: number; size: number; seed: number; root: number }
  | { type: 'barrier'; id: number }
  | { type: 'close' };

export type WorkerReply =
  | { type: 'address'; address: string }
  | { type: 'joined' }
  | { type: 'started'; id: number }
  | { type: 'done'; id: number; result?: Float32Array; seconds: number }
  | { type: 'failed'; id: number; name: string; message: string; peerRank?: number; seconds: number };

const send = (reply: WorkerReply) => process.send!(reply);

async function main(): Promise<void> {
  const server = await createCollectiveServer({ listen: '127.0.0.1:0' });
  let ring: Collective | undefined;
  send({ type: 'address', address: server.address });
  process.on('disconnect', () => process.exit(0)); // the test runner went away: never linger
  process.on('message', (command: WorkerCommand) => {
    void handle(command).catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });

  async function handle(command: WorkerCommand): Promise<void> {
    if (command.type === 'join') {
      ring = await createRing({ ...command.options, ...command, server });
      send({ type: 'joined' });
      return;
    }
    if (command.type === 'close') {
      await ring?.close();
      await server.shutdown();
      process.exit(0);
    }
    const start = performance.now();
    try {
      let result: Float32Array | undefined;
      if (command.type === 'allReduce') {
        const input = randomFloats(command.size, command.seed);
        const pending = ring!.allReduce(input, { op: command.op ?? 'sum' });
        send({ type: 'started', id: command.id });
        const output = await pending;
        if (command.returnResult) result = output;
      } else if (command.type === 'broadcast') {
        const buffer =
          ring!.rank === command.root ? randomFloats(command.size, command.seed) : new Float32Array(command.size);
        result = await ring!.broadcast(buffer, command.root);
      } else {
        await ring!.barrier();
      }
      send({
        type: 'done',
        id: command.id,
        seconds: (performance.now() - start) / 1000,
        ...(result ? { result } : {}),
      });
    } catch (error: unknown) {
      const e = error as Error & { peerRank?: number };
      send({
        type: 'failed',
        id: command.id,
        name: e.name,
        message: e.message,
        seconds: (performance.now() - start) / 1000,
        ...(e.peerRank !== undefined ? { peerRank: e.peerRank } : {}),
      });
    }
  }
}

void main();
