#!/usr/bin/env node
/**
 * The worker process: configuration, telemetry, start-up and signals only (STYLE.md "Services"). Prints
 * `worker <id> listening on <address>` once it serves; SIGTERM (or SIGINT) drains it (PROTOCOL.md step 4) and it
 * exits 0; a second signal exits at once with 1.
 */
import { readTlsFiles, resolveClientToken, SecurityError } from '@supwalsh/security';
import { TelemetryConfigError } from '@supwalsh/telemetry';
import { toError, WorkerArgumentError } from './errors.js';
import { createJsonLogger } from './logger.js';
import { createWorkerServer } from './server.js';
import { startTelemetry } from './telemetry.js';
import { defaultWorkerId, parseWorkerOptions, WORKER_USAGE } from './worker-options.js';

async function main(): Promise<void> {
  const options = parseWorkerOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(WORKER_USAGE);
    return;
  }
  const security = {
    tls: readTlsFiles(options.tls),
    token: resolveClientToken({ tokenFile: options.tokenFile, env: process.env }),
  };
  const logger = createJsonLogger({ level: options.logLevel, base: { service: 'supwalsh-worker', pid: process.pid } });
  const telemetry = await startTelemetry(logger);
  const worker = await createWorkerServer({
    listen: options.listen,
    ...(options.advertise ? { advertisedAddress: options.advertise } : {}),
    workerId: options.id ?? ((port: number) => defaultWorkerId(port)),
    dataDir: options.dataDir,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.coordinator ? { coordinator: options.coordinator } : {}),
    labels: options.labels,
    backend: options.backend,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    security,
    ...(options.healthListen ? { healthListen: options.healthListen } : {}),
    ...(options.healthStallMs === undefined ? {} : { healthStallMs: options.healthStallMs }),
    logger,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn(`second ${signal}: exiting without draining`);
      process.exit(1);
    }
    logger.info(`${signal}: draining`);
    worker
      .drain(`${signal} received`)
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error('draining failed', { error: toError(error) });
          process.exit(1);
        }
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.stdout.write(`worker ${worker.workerId} listening on ${worker.address}\n`);
}

main().catch((error: unknown) => {
  const e = toError(error);
  const usage = e instanceof WorkerArgumentError || e instanceof SecurityError || e instanceof TelemetryConfigError;
  process.stderr.write(`${usage ? e.message : (e.stack ?? e.message)}\n`);
  process.exit(usage ? 2 : 1);
});
