// One test set-up for every project (each project's vitest.config.js re-exports the default), and `lacks`, the one
// place where a test that needs something outside Node (a Debian package, a binary) decides to skip.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** @type {import('vitest/config').UserConfig} Unit specs live beside the source. */
export default {
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts'],
    environment: 'node',
    // Hang guards, not speed limits: a model's training test takes seconds on a quiet machine, minutes on a busy one.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Test files run side by side, one per core: one wasm thread each (the engine's own tests set their counts).
    env: { SUPWALSH_THREADS: process.env['SUPWALSH_THREADS'] ?? '1' },
  },
};

/** The variable CI sets (`.ci/run`): a missing requirement fails the test run instead of skipping tests. */
export const REQUIRE_ALL_TESTS_ENV = 'SUPWALSH_REQUIRE_ALL_TESTS';

function runs(command, args) {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  return !result.error && result.status === 0;
}

/** What tests may need beyond Node, how to tell it is there, and which package provides it. */
export const REQUIREMENTS = {
  'fashion-mnist': {
    what: 'the real Fashion-MNIST in /usr/share/datasets/fashion-mnist',
    install: 'apt-get install dataset-fashion-mnist',
    present: () => fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'),
  },
  kubectl: {
    what: 'kubectl (its built-in kustomize renders deploy/k8s)',
    install: 'apt-get install kubernetes-client',
    present: () => runs(process.env['SUPWALSH_KUBECTL'] || 'kubectl', ['version', '--client']),
  },
  openssl: {
    what: 'the openssl command (test certificates)',
    install: 'apt-get install openssl',
    present: () => runs(process.env['OPENSSL'] || 'openssl', ['version']),
  },
  tar: {
    what: 'the tar command',
    install: 'apt-get install tar',
    present: () => runs('tar', ['--version']),
  },
  chromium: {
    what: 'a Chromium browser (browser tests)',
    install: 'apt-get install chromium',
    present: () =>
      ['/usr/bin/chromium', '/usr/bin/chromium-browser', process.env['SUPWALSH_CHROMIUM'] ?? ''].some(
        (p) => p !== '' && fs.existsSync(p)
      ),
  },
  torch: {
    what: "PyTorch for Debian's Python (/usr/bin/python3)",
    install: 'apt-get install python3-torch',
    present: () => runs('/usr/bin/python3', ['-c', 'import torch']),
  },
};

/** Requirements to treat as missing whatever is installed (`SUPWALSH_TESTS_WITHOUT=kubectl,openssl`): to see what a
 * machine without them runs. */
export const TESTS_WITHOUT_ENV = 'SUPWALSH_TESTS_WITHOUT';

const known = new Map();
const reported = new Set();

/**
 * Whether any of `names` (keys of {@link REQUIREMENTS}) is missing on this machine: use as
 * `describe.skipIf(lacks('kubectl'))(…)`. Each missing piece is reported once per test file, in one line naming
 * the package to install. With SUPWALSH_REQUIRE_ALL_TESTS=1 (CI) a missing piece throws instead, failing the run.
 * @param {...keyof typeof REQUIREMENTS} names
 * @returns {boolean}
 */
export function lacks(...names) {
  const missing = [];
  for (const name of names) {
    const requirement = REQUIREMENTS[name];
    if (!requirement) throw new Error(`lacks: unknown requirement ${JSON.stringify(name)}`);
    const hidden = (process.env[TESTS_WITHOUT_ENV] ?? '').split(',').map((n) => n.trim());
    if (!known.has(name)) known.set(name, !hidden.includes(name) && requirement.present());
    if (!known.get(name)) missing.push(name);
  }
  for (const name of missing) {
    const { what, install } = REQUIREMENTS[name];
    const line = `tests skipped: they need ${what}; install it with \`${install}\``;
    if (process.env[REQUIRE_ALL_TESTS_ENV] === '1') {
      throw new Error(`${line} (${REQUIRE_ALL_TESTS_ENV}=1: every test must run here)`);
    }
    if (!reported.has(name)) {
      reported.add(name);
      process.stderr.write(`${line}\n`);
    }
  }
  return missing.length > 0;
}
