#!/usr/bin/env node
// Docker HEALTHCHECK for the supwalsh images: calls grpc.health.v1.Health/Check on the plaintext health port and
// exits 0 only when the answer is SERVING (1 otherwise: NOT_SERVING, UNKNOWN, an error, or no answer in time).
//
//   node health-probe.mjs [HOST:PORT] [SERVICE]
//
// HOST:PORT defaults to SUPWALSH_HEALTH_PROBE_ADDRESS, then 127.0.0.1:8081 (--health-listen in the images);
// SERVICE defaults to '' (the whole server). SUPWALSH_HEALTH_PROBE_TIMEOUT_MS bounds the call (default 3000).
// It needs only @grpc/grpc-js and grpc-health-check, which both services depend on.
import grpc from '@grpc/grpc-js';
import health from 'grpc-health-check';

const address = process.argv[2] || process.env.SUPWALSH_HEALTH_PROBE_ADDRESS || '127.0.0.1:8081';
const service = process.argv[3] ?? '';
const timeoutMs = Number(process.env.SUPWALSH_HEALTH_PROBE_TIMEOUT_MS || 3000);

const HealthClient = grpc.makeClientConstructor(health.service, 'grpc.health.v1.Health');
const client = new HealthClient(address, grpc.credentials.createInsecure());

client.Check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) => {
  client.close();
  if (error) {
    console.error(`health ${address}: ${error.message}`);
    process.exit(1);
  }
  const status = response?.status;
  if (status === 'SERVING' || status === 1) process.exit(0);
  console.error(`health ${address} (service '${service}'): ${status}`);
  process.exit(1);
});
