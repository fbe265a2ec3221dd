import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** The .proto files (under the `proto/` root) of the services a worker serves. */
export const WORKER_PROTO_FILES = ['supwalsh/v1/worker.proto', 'supwalsh/v1/collective.proto'] as const;

/**
 * The repository's `proto/` directory (holding `supwalsh/v1/worker.proto`), searched upwards from this module:
 * present in the workspace and in images that copy it; `undefined` elsewhere.
 */
export function findProtoRoot(from: string = import.meta.dirname): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, WORKER_PROTO_FILES[0]))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Adds gRPC server reflection (v1 and v1alpha) for the Worker, Collective and Health services. @grpc/reflection
 * needs @grpc/proto-loader's descriptors, which the ts-proto code does not carry, so the .proto files are read
 * from `protoRoot` at start-up. Returns the reason when reflection cannot be served (no proto files, no
 * proto-loader); the server runs without it then.
 */
export async function addReflection(server: Server, protoRoot = findProtoRoot()): Promise<string | undefined> {
  if (!protoRoot) return 'the proto/ directory with supwalsh/v1/worker.proto was not found';
  let loadSync: (files: string[], options: Record<string, unknown>) => object;
  try {
    // A dependency of @grpc/reflection and grpc-health-check, so installed wherever they are.
    ({ loadSync } = (await import('@grpc/proto-loader')) as unknown as { loadSync: typeof loadSync });
  } catch (error: unknown) {
    return `@grpc/proto-loader cannot be loaded (${String(error)})`;
  }
  const options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
  const definition = {
    ...loadSync(
      WORKER_PROTO_FILES.map((f) => path.join(protoRoot, f)),
      { ...options, includeDirs: [protoRoot] }
    ),
    ...loadSync([healthProtoPath], options),
  };
  new ReflectionService(definition as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);
  return undefined;
}
