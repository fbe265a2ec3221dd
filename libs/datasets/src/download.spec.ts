import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetChecksumError, DatasetDownloadError, DatasetNotFoundError } from './errors.js';
import { cifarBatches, idxImages, idxLabels, recordingLogger, tarArchive, tempDir } from './fixtures.spec-helper.js';
import { loadDataset } from './load.js';
import { OFFICIAL_SOURCES, type DownloadSources } from './sources.js';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** What the local server serves: `/good/<name>` the real bytes, `/bad/<name>` other bytes, anything else 404. */
const FILES = new Map<string, Buffer>([
  ['t10k-images-idx3-ubyte.gz', zlib.gzipSync(idxImages(4, 28, 28))],
  ['t10k-labels-idx1-ubyte.gz', zlib.gzipSync(idxLabels([3, 1, 4, 1]))],
  [
    'cifar-10-binary.tar.gz',
    zlib.gzipSync(tarArchive(new Map([...cifarBatches(2)].map(([n, b]) => [`cifar-10-batches-bin/${n}`, b])))),
  ],
]);

describe('download: true', () => {
  const base = tempDir();
  const requests: string[] = [];
  let server: http.Server;
  let origin = '';

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      const [, mode, name] = (req.url ?? '').split('/');
      const body = FILES.get(name ?? '');
      if (!body || (mode !== 'good' && mode !== 'bad')) {
        res.writeHead(404).end('not here');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(mode === 'good' ? body : Buffer.concat([body, Buffer.from('tampered')]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  });

  /** A download table whose MNIST test files are served as `mode`, after a first URL that 404s. */
  function table(mode: 'good' | 'bad', fallback = true): DownloadSources {
    const entry = (name: string) => ({
      name,
      sha256: sha256(FILES.get(name)!),
      size: FILES.get(name)!.length,
      urls: [...(fallback ? [`${origin}/gone/${name}`] : []), `${origin}/${mode}/${name}`],
    });
    return {
      ...OFFICIAL_SOURCES,
      mnist: [entry('t10k-images-idx3-ubyte.gz'), entry('t10k-labels-idx1-ubyte.gz')],
      cifar10: [entry('cifar-10-binary.tar.gz')],
    };
  }

  it('fetches the missing files, falling back to the next URL, checks them and loads the split', async () => {
    const root = path.join(base, 'ok');
    const logger = recordingLogger();
    requests.length = 0;
    const set = await loadDataset({
      kind: 'mnist',
      split: 'test',
      root,
      download: true,
      sources: table('good'),
      cacheDir: false,
      logger,
    });
    expect(set.length).toBe(4);
    expect(Array.from(set.labels)).toEqual([3, 1, 4, 1]);
    expect(fs.readdirSync(root).sort()).toEqual(['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']);
    expect(
      fs.readFileSync(path.join(root, 't10k-images-idx3-ubyte.gz')).equals(FILES.get('t10k-images-idx3-ubyte.gz')!)
    ).toBe(true);
    expect(requests).toEqual([
      '/gone/t10k-images-idx3-ubyte.gz',
      '/good/t10k-images-idx3-ubyte.gz',
      '/gone/t10k-labels-idx1-ubyte.gz',
      '/good/t10k-labels-idx1-ubyte.gz',
    ]);
    expect(logger.infos.filter((m) => m.startsWith('downloaded'))).toHaveLength(2);

    // Present now: nothing is fetched again.
    requests.length = 0;
    await loadDataset({ kind: 'mnist', split: 'test', root, download: true, sources: table('good'), cacheDir: false });
    expect(requests).toEqual([]);
  });

  it('deletes a download whose SHA-256 differs and throws DatasetChecksumError', async () => {
    const root = path.join(base, 'tampered');
    const error = await loadDataset({
      kind: 'mnist',
      split: 'test',
      root,
      download: true,
      sources: table('bad'),
      cacheDir: false,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetChecksumError);
    const mismatch = error as DatasetChecksumError;
    expect(mismatch.url).toBe(`${origin}/bad/t10k-images-idx3-ubyte.gz`);
    expect(mismatch.expected).toBe(sha256(FILES.get('t10k-images-idx3-ubyte.gz')!));
    expect(mismatch.actual).toBe(
      sha256(Buffer.concat([FILES.get('t10k-images-idx3-ubyte.gz')!, Buffer.from('tampered')]))
    );
    expect(mismatch.message).toMatch(
      /SHA-256 mismatch, expected [0-9a-f]{64}, got [0-9a-f]{64}; the download was deleted$/
    );
    expect(fs.readdirSync(root)).toEqual([]); // neither the file nor its temporary part is left
  });

  it('throws DatasetDownloadError listing every URL when none answers', async () => {
    const root = path.join(base, 'unreachable');
    const sources = table('good');
    const dead: DownloadSources = {
      ...sources,
      mnist: sources.mnist.map((f) => ({ ...f, urls: [`${origin}/gone/${f.name}`, 'http://127.0.0.1:9/refused'] })),
    };
    const error = await loadDataset({
      kind: 'mnist',
      split: 'test',
      root,
      download: true,
      sources: dead,
      cacheDir: false,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetDownloadError);
    expect((error as Error).message).toMatch(
      /^could not download t10k-images-idx3-ubyte\.gz: http:\/\/127\.0\.0\.1:\d+\/gone\/t10k-images-idx3-ubyte\.gz: HTTP 404; http:\/\/127\.0\.0\.1:9\/refused: /
    );
  });

  it('downloads into ~/.cache/supwalsh/data/<kind> when no root is given, CIFAR-10 as its archive', async () => {
    const home = path.join(base, 'home');
    const set = await loadDataset({
      kind: 'cifar10',
      split: 'test',
      download: true,
      sources: table('good'),
      cacheDir: false,
      env: {},
      homeDir: home,
    });
    const archive = path.join(home, '.cache', 'supwalsh', 'data', 'cifar10', 'cifar-10-binary.tar.gz');
    expect(set.source).toBe(archive);
    expect(set.length).toBe(2);
    expect(fs.existsSync(archive)).toBe(true);
  });

  it('never fetches anything without download: true', async () => {
    requests.length = 0;
    await expect(
      loadDataset({
        kind: 'mnist',
        split: 'test',
        root: path.join(base, 'off'),
        sources: table('good'),
        cacheDir: false,
      })
    ).rejects.toThrow(DatasetNotFoundError);
    expect(requests).toEqual([]);
  });
});
