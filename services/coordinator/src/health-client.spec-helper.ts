// A grpc.health.v1 client for specs (loaded from grpc-health-check's .proto with @grpc/proto-loader).
import {
  loadPackageDefinition,
  type ChannelCredentials,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

interface RawHealthClient {
  check(request: { service: string }, callback: (error: Error | null, response: { status: string }) => void): void;
  close(): void;
}

/** `Check` as a promise of the status name (`SERVING`, `NOT_SERVING`, …). */
export class HealthClient {
  readonly #client: RawHealthClient;

  constructor(address: string, credentials: ChannelCredentials) {
    const loaded = loadPackageDefinition(loadSync([protoPath], { enums: String })) as unknown as {
      grpc: { health: { v1: GrpcObject } };
    };
    const Health = loaded.grpc.health.v1.Health as ServiceClientConstructor;
    this.#client = new Health(address, credentials) as unknown as RawHealthClient;
  }

  check(service: string): Promise<string> {
    return new Promise((resolve, reject) =>
      this.#client.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status)))
    );
  }

  close(): void {
    this.#client.close();
  }
}
