import { Server, ServerCredentials } from '@grpc/grpc-js';

/** Binds `server` to `listen` (`host:port`; port 0 picks a free one) and resolves with the bound port. */
export function bindServer(server: Server, listen: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(listen, credentials, (error, bound) => (error ? reject(error) : resolve(bound)))
  );
}

/**
 * A second gRPC server on `listen` that serves only `grpc.health.v1`, in plaintext: Kubernetes gRPC probes cannot
 * speak TLS, and health says nothing a probe could not see anyway. `health` is the main server's implementation
 * (grpc-health-check's `HealthImplementation`), so both report the same status.
 */
export async function startHealthServer(
  health: { addToServer(server: Server): void },
  listen: string
): Promise<{ readonly server: Server; readonly address: string }> {
  const server = new Server();
  health.addToServer(server);
  const port = await bindServer(server, listen, ServerCredentials.createInsecure());
  return { server, address: `${listen.slice(0, listen.lastIndexOf(':'))}:${port}` };
}

/**
 * Stops `server` gracefully: no new calls, the calls in flight get up to `timeoutMs` to finish, then whatever is
 * left is cancelled (`forceShutdown`). Resolves once it has stopped either way.
 */
export function shutdownServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
