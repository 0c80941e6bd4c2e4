/**
 * The time of an object's last failure must survive the store: backoff reads it after a restart.
 * Written against the store's public API only (open, append, get, summary, close).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../src/ledger/store.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const version = { key: 'refused/by/the/destination', size: 10, etag: 'e1' };

describe('ledger store: the last failure time', () => {
  it('survives a reopen, and status reads it with the failing objects', async () => {
    const dir = await tempDir('ledger-failure-time-');
    const store = await LedgerStore.open(dir);
    await store.append([
      { ...version, type: 'failed', hop: 'upload', failure: { code: 's5cmd-error', cause: 'KeyTooLongError' }, at: '2026-11-29T10:00:00.000Z' },
      { ...version, type: 'failed', hop: 'upload', failure: { code: 's5cmd-error', cause: 'KeyTooLongError' }, at: '2026-11-29T10:01:00.000Z' },
    ]);
    await store.close();

    const reopened = await LedgerStore.open(dir);
    try {
      expect(reopened.get(version.key)).toMatchObject({ attempts: 2, lastFailedAt: '2026-11-29T10:01:00.000Z' });
      expect(reopened.summary(10).failing).toEqual([{ key: version.key, attempts: 2, lastFailure: { code: 's5cmd-error', hop: 'upload', cause: 'KeyTooLongError' }, lastFailedAt: '2026-11-29T10:01:00.000Z' }]);
    } finally {
      await reopened.close();
    }
  });
});
