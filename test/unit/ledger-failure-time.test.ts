/**
 * The time of an object's last failure must survive the store: backoff reads it after a restart.
 * Written against the store's public API only (open, append, get, compact, close), so that it
 * holds for any store behind it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../src/ledger/store.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const version = { key: 'refused/by/the/destination', size: 10, etag: 'e1' };

describe('ledger store: the last failure time', () => {
  it('survives a reopen, from the journal and after compaction', async () => {
    const dir = await tempDir('ledger-failure-time-');
    const store = await LedgerStore.open(dir);
    await store.append([
      { ...version, type: 'failed', hop: 'upload', error: 'KeyTooLongError', at: '2026-11-29T10:00:00.000Z' },
      { ...version, type: 'failed', hop: 'upload', error: 'KeyTooLongError', at: '2026-11-29T10:01:00.000Z' },
    ]);
    await store.close();

    const fromJournal = await LedgerStore.open(dir);
    expect(fromJournal.get(version.key)).toMatchObject({ attempts: 2, lastFailedAt: '2026-11-29T10:01:00.000Z' });
    await fromJournal.compact();
    await fromJournal.close();

    const fromSnapshot = await LedgerStore.open(dir);
    expect(fromSnapshot.get(version.key)).toMatchObject({ attempts: 2, lastFailedAt: '2026-11-29T10:01:00.000Z' });
    await fromSnapshot.close();
  });
});
