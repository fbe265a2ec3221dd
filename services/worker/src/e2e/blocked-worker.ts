/**
 * Test fixture (lease-keeper.spec.ts): registers with a coordinator, starts the lease keeper, then blocks its main
 * thread for `blockMs` as a long synchronous training step would, and prints the keeper's events as JSON lines.
 * Usage: node dist/e2e/blocked-worker.js <coordinator host:port> <blockMs>
 */
import { WorkerInfo, WorkerState } from '@supwalsh/proto';
import { callUnary, createCoordinatorClient } from '../coordinator-client.js';
import { startLeaseKeeper } from '../lease-keeper.js';

const [address = '', blockMs = '2000'] = process.argv.slice(2);
const client = createCoordinatorClient(address);
const worker = WorkerInfo.fromPartial({
  workerId: 'blocked',
  address: '127.0.0.1:1',
  state: WorkerState.WORKER_STATE_BUSY,
});
const { leaseId, heartbeatIntervalMs } = await callUnary(client, client.registerWorker, { worker }, 5_000);
const keeper = startLeaseKeeper({ coordinator: address, onEvent: (e) => console.log(JSON.stringify(e)) });
if (!keeper) throw new Error('no lease keeper thread next to the compiled module');
keeper.update({
  workerId: 'blocked',
  leaseId,
  intervalMs: heartbeatIntervalMs,
  state: WorkerState.WORKER_STATE_BUSY,
  shards: [],
});
const end = Date.now() + Number(blockMs);
while (Date.now() < end) {
  // A synchronous training step: nothing else runs on this thread.
}
await new Promise((resolve) => setTimeout(resolve, 100));
await keeper.stop();
client.close();
