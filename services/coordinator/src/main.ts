#!/usr/bin/env node
// The coordinator process: configuration, start-up and shutdown only (STYLE.md, Services). Telemetry: the
// OpenTelemetry SDK is not set up here yet (@supwalsh/telemetry offers no starter); spans go to the API's no-op.
import { COORDINATOR_USAGE, parseCoordinatorConfig } from './coordinator-options.js';
import { ConfigError, toError } from './errors.js';
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
  const logger = createConsoleLogger({ level: config.logLevel });
  const store = openStore(config.dataDir);
  const server = await createCoordinatorServer({
    store,
    dataDir: config.dataDir,
    artifactsDir: config.artifactsDir,
    listen: config.listen,
    logger,
    settings: config.settings,
    protoDir: config.protoDir,
  });
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
