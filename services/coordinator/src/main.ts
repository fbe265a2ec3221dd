#!/usr/bin/env node
// The coordinator process: configuration, telemetry, start-up and shutdown only (STYLE.md, Services). Telemetry:
// @supwalsh/telemetry/node's startTelemetry (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, else Prometheus /metrics
// on SUPWALSH_METRICS_PORT, default 9464), flushed after the store is closed.
import { SecurityError } from '@supwalsh/security';
import { TelemetryConfigError } from '@supwalsh/telemetry';
import { startTelemetry } from '@supwalsh/telemetry/node';
import { COORDINATOR_USAGE, parseCoordinatorConfig, readCoordinatorSecurity } from './coordinator-options.js';
import { ConfigError, StoreIntegrityError, toError } from './errors.js';
import { createConsoleLogger } from './logger.js';
import { createCoordinatorServer } from './server.js';
import { openStore } from './store.js';

async function main(): Promise<number> {
  let config;
  try {
    config = parseCoordinatorConfig(process.argv.slice(2), process.env);
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n\n${COORDINATOR_USAGE}`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(COORDINATOR_USAGE);
    return 0;
  }
  let security;
  try {
    security = readCoordinatorSecurity(config);
  } catch (error: unknown) {
    if (!(error instanceof SecurityError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const logger = createConsoleLogger({ level: config.logLevel });
  let telemetry;
  try {
    telemetry = await startTelemetry({ serviceName: 'supwalsh-coordinator', logger });
  } catch (error: unknown) {
    if (!(error instanceof TelemetryConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  let store;
  try {
    store = openStore(config.dataDir, { artifactsDir: config.artifactsDir });
  } catch (error: unknown) {
    if (error instanceof StoreIntegrityError) {
      // A store that cannot be trusted is not served: exit 2 with the file and what to do (deploy/README.md).
      process.stderr.write(`coordinator: refusing to start: ${error.message}\n`);
      await telemetry.shutdown().catch(() => undefined);
      return 2;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (!code || !['EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS'].includes(code)) throw error;
    process.stderr.write(
      `coordinator: --data-dir ${config.dataDir} cannot hold the store (${code}: not a writable directory)\n`
    );
    await telemetry.shutdown();
    return 2;
  }
  let server;
  try {
    server = await createCoordinatorServer({
      store,
      dataDir: config.dataDir,
      artifactsDir: config.artifactsDir,
      listen: config.listen,
      logger,
      settings: config.settings,
      protoDir: config.protoDir,
      security,
      ...(config.healthListen ? { healthListen: config.healthListen } : {}),
      ...(config.httpListen ? { httpListen: config.httpListen } : {}),
    });
  } catch (error: unknown) {
    store.close();
    await telemetry.shutdown();
    // Settings the server checks as it starts (TLS without a certificate) are usage errors; a busy port is not.
    if (error instanceof SecurityError) {
      process.stderr.write(`coordinator: ${error.message}\n`);
      return 2;
    }
    const message = toError(error).message;
    const busy = /EADDRINUSE|EACCES|EADDRNOTAVAIL|No address added/.exec(message);
    if (!busy) throw error;
    process.stderr.write(
      `coordinator: cannot listen on ${config.listen}: ${message.replace(/^.*errors: \[|\]$/g, '')}\n`
    );
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signalled = false;
    const stop = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warn('second signal: exiting at once', { signal });
        process.exit(1);
      }
      signalled = true;
      logger.info('shutting down', { signal });
      // Stop accepting calls, let those in flight finish, then close the store (checkpointing the WAL).
      server
        .shutdown()
        .then(() => store.close())
        .then(() => telemetry.shutdown())
        .then(
          () => resolve(0),
          (error: unknown) => {
            logger.error('shutdown failed', { error: toError(error).message });
            resolve(1);
          }
        );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`coordinator: ${toError(error).stack ?? String(error)}\n`);
    process.exit(1);
  }
);
