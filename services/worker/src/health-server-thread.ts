/**
 * The health thread (see health-thread.ts): a plaintext grpc-js server with grpc.health.v1 only, answering from
 * this thread whatever the main thread is doing. Every 250 ms it compares the main thread's shared heartbeat with
 * `stallMs`: stale, every service reads NOT_SERVING; fresh, the status the main thread last sent — except
 * {@link LIVENESS_SERVICE}, which is SERVING whenever the heartbeat is fresh, draining or not.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import {
  LIVENESS_SERVICE,
  type HealthStatus,
  type HealthThreadData,
  type HealthThreadReply,
  type HealthThreadRequest,
} from './health-thread.js';

const port = parentPort;
if (!port) throw new Error('health-server-thread.js runs only as a worker thread');
const { listen, services, stallMs, beat } = workerData as HealthThreadData;
const beats = new BigInt64Array(beat);
const reply = (message: HealthThreadReply) => port.postMessage(message);

const health = new HealthImplementation({
  ...Object.fromEntries(services.map((s) => [s, 'NOT_SERVING'])),
  [LIVENESS_SERVICE]: 'SERVING',
});
const server = new Server();
health.addToServer(server);

let wanted: HealthStatus = 'NOT_SERVING';
let shown: HealthStatus = 'NOT_SERVING';
let alive = true;
const refresh = () => {
  const stalled = Date.now() - Number(Atomics.load(beats, 0)) > stallMs;
  if (alive === stalled) {
    alive = !stalled;
    health.setStatus(LIVENESS_SERVICE, alive ? 'SERVING' : 'NOT_SERVING');
  }
  const status = stalled ? 'NOT_SERVING' : wanted;
  if (status === shown) return;
  shown = status;
  for (const service of services) health.setStatus(service, status);
};
const timer = setInterval(refresh, 250);

port.on('message', (request: HealthThreadRequest) => {
  if (request.type === 'status') {
    wanted = request.status;
    refresh();
    return;
  }
  clearInterval(timer);
  server.forceShutdown();
  port.close();
});

server.bindAsync(listen, ServerCredentials.createInsecure(), (error, bound) => {
  if (error) {
    clearInterval(timer);
    reply({ type: 'error', message: error.message });
    port.close();
    return;
  }
  reply({ type: 'listening', port: bound });
});
