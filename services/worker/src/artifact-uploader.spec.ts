import { ArtifactKind, type CoordinatorClient } from '@supwalsh/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex, uploadArtifact } from './artifact-uploader.js';
import { createCoordinatorClient } from './coordinator-client.js';
import { startFakeCoordinator, type FakeCoordinator } from './e2e/fake-coordinator.js';
import { StaleShardError } from './errors.js';

describe('uploadArtifact', () => {
  let fake: FakeCoordinator;
  let client: CoordinatorClient;

  beforeAll(async () => {
    fake = await startFakeCoordinator();
    client = createCoordinatorClient(fake.address);
  });
  afterAll(async () => {
    client.close();
    await fake.close();
  });

  it('sends the header alone, then the content in 1 MiB chunks, with its size and SHA-256', async () => {
    const data = new Uint8Array(2.5 * (1 << 20) + 3).map((_, i) => i % 251);
    const response = await uploadArtifact(
      client,
      { runId: 'run-u', generation: 2, rank: 0, instanceId: 'i-1' },
      { kind: ArtifactKind.ARTIFACT_KIND_WEIGHTS, name: 'weights.bin', mediaType: 'application/octet-stream', data }
    );
    expect(response.artifact).toMatchObject({ name: 'weights.bin', sizeBytes: data.length, sha256: sha256Hex(data) });
    const [stored] = fake.artifactsOf('run-u');
    expect(stored?.headerAlone).toBe(true);
    expect(stored?.messages).toBe(1 + 3);
    expect(stored?.largestChunk).toBe(1 << 20);
    expect(stored?.header).toMatchObject({
      runId: 'run-u',
      generation: 2,
      rank: 0,
      instanceId: 'i-1',
      sizeBytes: data.length,
    });
    expect(Buffer.compare(stored!.data, Buffer.from(data))).toBe(0);
  });

  it('uploads an empty file as its header alone', async () => {
    const data = new Uint8Array(0);
    await uploadArtifact(
      client,
      { runId: 'run-e', generation: 1, rank: 0, instanceId: 'i-1' },
      { kind: ArtifactKind.ARTIFACT_KIND_RESULTS_JSON, name: 'empty.json', mediaType: 'application/json', data }
    );
    expect(fake.artifactsOf('run-e')[0]).toMatchObject({ messages: 1, header: { sizeBytes: 0 } });
  });

  it('throws StaleShardError when the coordinator refuses the generation', async () => {
    fake.staleRuns.add('run-s');
    await expect(
      uploadArtifact(
        client,
        { runId: 'run-s', generation: 1, rank: 0, instanceId: 'i-1' },
        {
          kind: ArtifactKind.ARTIFACT_KIND_WEIGHTS,
          name: 'model.json',
          mediaType: 'application/json',
          data: new Uint8Array(5),
        }
      )
    ).rejects.toBeInstanceOf(StaleShardError);
  });
});
