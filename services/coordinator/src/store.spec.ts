import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LogLevel } from '@supwalsh/proto';
import { validateSpec } from '@supwalsh/wire';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runIdOf } from './ids.js';
import { SCHEMA_VERSION } from './schema.js';
import { openStore, type NewExperiment, type Store } from './store.js';
import { minimalSpec } from './test-support.js';

function newExperiment(id: string, requestId: string | null = null): NewExperiment {
  const validated = validateSpec(minimalSpec(), { dataDir: os.tmpdir() });
  return {
    record: {
      id,
      name: validated.resolved.name,
      state: 'QUEUED',
      spec: validated.spec,
      resolvedSpec: validated.resolved,
      methodSpec: validated.method,
      settings: validated.service,
      deviations: validated.deviations,
      methodDeviations: validated.method.deviations,
      labels: { team: 'a' },
      priority: 0,
      requestId,
      owner: '',
      createTime: Date.now(),
    },
    runs: validated.runs.map((run) => ({
      id: runIdOf(id, run.index),
      index: run.index,
      datasetIndex: run.datasetIndex,
      modelIndex: run.modelIndex,
      armIndex: run.armIndex,
      seed: run.seed,
      label: run.label,
      runSpec: run.run,
    })),
  };
}

const log = (message: string) => ({
  $case: 'log' as const,
  value: { level: LogLevel.LOG_LEVEL_INFO, message, code: '', workerId: '', rank: undefined },
});

describe('Store', () => {
  let dataDir: string;
  let store: Store;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'supwalsh-store-'));
    store = openStore(dataDir);
  });

  afterEach(async () => {
    store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('opens the database in WAL mode with foreign keys and the current schema version', () => {
    expect(store.journalMode()).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
  });

  it('keeps a committed experiment visible to a second store opened on the same file', () => {
    store.insertExperiment(newExperiment('exp-aaaaaaaaaaaa', 'req-1'));
    const second = openStore(dataDir);
    try {
      const found = second.getExperiment('exp-aaaaaaaaaaaa');
      expect(found?.name).toBe('coordinator-test');
      expect(found?.spec.datasets).toHaveLength(1);
      expect(second.listRuns('exp-aaaaaaaaaaaa').map((r) => r.id)).toEqual(['exp-aaaaaaaaaaaa.r0']);
      expect(second.getExperimentByRequestId('req-1')?.id).toBe('exp-aaaaaaaaaaaa');
    } finally {
      second.close();
    }
  });

  it('rejects a second experiment with a request_id already stored', () => {
    store.insertExperiment(newExperiment('exp-aaaaaaaaaaaa', 'req-1'));
    expect(() => store.insertExperiment(newExperiment('exp-bbbbbbbbbbbb', 'req-1'))).toThrow(/UNIQUE/);
    expect(store.getExperiment('exp-bbbbbbbbbbbb')).toBeUndefined();
  });

  it('numbers an experiment’s events 1 to n without gaps and tracks last_sequence', () => {
    store.insertExperiment(newExperiment('exp-aaaaaaaaaaaa'));
    store.insertExperiment(newExperiment('exp-bbbbbbbbbbbb'));
    for (let i = 0; i < 7; i += 1) {
      store.appendEvent('exp-aaaaaaaaaaaa', '', log(`a${i}`), Date.now());
      if (i % 2 === 0) store.appendEvent('exp-bbbbbbbbbbbb', '', log(`b${i}`), Date.now());
    }
    store.transaction(() => {
      for (let i = 7; i < 10; i += 1)
        store.appendEvent('exp-aaaaaaaaaaaa', 'exp-aaaaaaaaaaaa.r0', log(`a${i}`), Date.now());
    });
    const events = store.listEvents('exp-aaaaaaaaaaaa', 0);
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(store.getExperiment('exp-aaaaaaaaaaaa')?.lastSequence).toBe(10);
    expect(store.listEvents('exp-aaaaaaaaaaaa', 6, 2).map((e) => e.sequence)).toEqual([7, 8]);
    expect(store.listEvents('exp-bbbbbbbbbbbb', 0).map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('announces events on the bus only after their transaction commits', () => {
    store.insertExperiment(newExperiment('exp-aaaaaaaaaaaa'));
    const heard: number[] = [];
    store.bus.subscribe('exp-aaaaaaaaaaaa', (sequence) => heard.push(sequence));
    store.transaction(() => {
      store.appendEvent('exp-aaaaaaaaaaaa', '', log('one'), Date.now());
      store.appendEvent('exp-aaaaaaaaaaaa', '', log('two'), Date.now());
      expect(heard).toEqual([]);
    });
    expect(heard).toEqual([2]);
  });

  it('leaves nothing behind when a transaction throws', () => {
    const heard: number[] = [];
    store.bus.subscribe('exp-aaaaaaaaaaaa', (sequence) => heard.push(sequence));
    expect(() =>
      store.transaction(() => {
        store.insertExperiment(newExperiment('exp-aaaaaaaaaaaa'));
        store.appendEvent('exp-aaaaaaaaaaaa', '', log('doomed'), Date.now());
        throw new Error('boom');
      })
    ).toThrow('boom');
    expect(store.getExperiment('exp-aaaaaaaaaaaa')).toBeUndefined();
    expect(store.listRuns('exp-aaaaaaaaaaaa')).toEqual([]);
    expect(store.listEvents('exp-aaaaaaaaaaaa', 0)).toEqual([]);
    expect(heard).toEqual([]);
  });

  it('lists experiments newest first with state, label and name filters', () => {
    const a = newExperiment('exp-aaaaaaaaaaaa');
    const b = newExperiment('exp-bbbbbbbbbbbb');
    store.insertExperiment({ ...a, record: { ...a.record, createTime: 1000, labels: { team: 'x' } } });
    store.insertExperiment({ ...b, record: { ...b.record, createTime: 2000, name: 'other' } });
    expect(store.listExperiments({ limit: 10 }).map((e) => e.id)).toEqual(['exp-bbbbbbbbbbbb', 'exp-aaaaaaaaaaaa']);
    expect(store.listExperiments({ limit: 10, labelSelector: { team: 'x' } }).map((e) => e.id)).toEqual([
      'exp-aaaaaaaaaaaa',
    ]);
    expect(store.listExperiments({ limit: 10, namePrefix: 'oth' }).map((e) => e.id)).toEqual(['exp-bbbbbbbbbbbb']);
    expect(store.listExperiments({ limit: 10, states: ['RUNNING'] })).toEqual([]);
    expect(
      store.listExperiments({ limit: 10, before: { createTime: 2000, id: 'exp-bbbbbbbbbbbb' } }).map((e) => e.id)
    ).toEqual(['exp-aaaaaaaaaaaa']);
  });
});
