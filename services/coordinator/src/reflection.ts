import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** The repository's `proto/` directory, seen from this package (`services/coordinator/{src,dist}`). */
export const DEFAULT_PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../proto');

/** The file that declares the Coordinator service (and imports every message it uses). */
const COORDINATOR_PROTO = 'supwalsh/v1/coordinator.proto';

/**
 * Adds gRPC server reflection (v1 and v1alpha, @grpc/reflection) for the Coordinator service and
 * grpc.health.v1.Health, from the .proto files under `protoDir` (loaded with @grpc/proto-loader, which
 * @grpc/reflection needs: it serves the file descriptors of a proto-loader package definition). Returns false,
 * adding nothing, when `protoDir` does not hold the supwalsh protos.
 */
export function addReflection(server: Server, protoDir: string = DEFAULT_PROTO_DIR): boolean {
  if (!existsSync(path.join(protoDir, COORDINATOR_PROTO))) return false;
  const definition = loadSync([COORDINATOR_PROTO, healthProtoPath], {
    includeDirs: [protoDir, path.dirname(healthProtoPath)],
  });
  new ReflectionService(definition).addToServer(server);
  return true;
}
