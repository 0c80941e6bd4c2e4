/**
 * The ledger keeps each version's last failure as a value (code, hop, facts): JSON in the
 * last_error column. A ledger written before (plain text "upload: why") is migrated by schema
 * step 2 and reads as code 'legacy', worded as it was; the operator's stop is no attempt.
 */
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyEvent } from '../../src/ledger/merge.ts';
import { LEDGER_FILE, LedgerStore } from '../../src/ledger/store.ts';
import { SCHEMA_VERSION } from '../../src/ledger/schema.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const version = { key: 'a.bin', size: 10, etag: 'e1' };
const failedAt = (at: string): LedgerEvent => ({ ...version, type: 'failed', hop: 'upload', failure: { code: 's5cmd-error', cause: 'KeyTooLongError' }, at });
const stopped: LedgerEvent = { ...version, type: 'failed', hop: 'upload', failure: { code: 'stopped' }, at: '2026-11-29T10:09:00.000Z' };

describe('ledger: a failure of an earlier dualsync (text) reads as code legacy', () => {
  it('schema step 2 turns each plain-text last error into {code: legacy, hop, cause}; status words it as before', async () => {
    const dir = await tempDir('ledger-failure-');
    const store = await LedgerStore.open(dir);
    await store.append([
      failedAt('2026-11-29T10:00:00.000Z'),
      { ...version, key: 'b.bin', type: 'failed', hop: 'download', failure: { code: 'stalled', cause: 'x' } },
      { ...version, key: 'c.bin', type: 'failed', hop: 'download', failure: { code: 'stalled', cause: 'x' } },
    ]);
    await store.close();
    // As the version before wrote it: text in last_error, schema 1.
    const db = new DatabaseSync(join(dir, LEDGER_FILE));
    db.prepare('UPDATE objects SET last_error = ? WHERE key = ?').run('upload: KeyTooLongError', 'a.bin');
    db.prepare('UPDATE objects SET last_error = ? WHERE key = ?').run('download: timeout', 'b.bin');
    db.prepare('UPDATE objects SET last_error = ? WHERE key = ?').run('a text with no hop', 'c.bin');
    db.exec('DROP TABLE events');
    db.exec('PRAGMA user_version = 1');
    db.close();

    const reopened = await LedgerStore.open(dir);
    try {
      expect(reopened.get('a.bin')).toMatchObject({ attempts: 1, lastFailure: { code: 'legacy', hop: 'upload', cause: 'KeyTooLongError' } });
      // The ledger keeps the failure as data; views word it.
      expect(reopened.get('a.bin')).not.toHaveProperty('lastError');
      expect(reopened.get('b.bin')).toMatchObject({ lastFailure: { code: 'legacy', hop: 'download', cause: 'timeout' } });
      expect(reopened.get('c.bin')).toMatchObject({ lastFailure: { code: 'legacy', cause: 'a text with no hop' } });
      expect(reopened.summary(10).failing.map((f) => f.lastFailure.code)).toEqual(['legacy', 'legacy', 'legacy']);
      // Migrated in place: the column holds JSON now.
      const raw = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
      expect(JSON.parse((raw.prepare("SELECT last_error FROM objects WHERE key = 'a.bin'").get() as { last_error: string }).last_error)).toEqual({ code: 'legacy', hop: 'upload', cause: 'KeyTooLongError' });
      expect((raw.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
      raw.close();
    } finally {
      await reopened.close();
    }
  });

  it('a text written into the column by hand after the migration still reads, as legacy', async () => {
    const dir = await tempDir('ledger-failure-');
    const store = await LedgerStore.open(dir);
    await store.append([failedAt('2026-11-29T10:00:00.000Z')]);
    await store.close();
    const db = new DatabaseSync(join(dir, LEDGER_FILE));
    db.prepare('UPDATE objects SET last_error = ? WHERE key = ?').run('upload: {not json', 'a.bin');
    db.close();
    const reopened = await LedgerStore.open(dir);
    expect(reopened.get('a.bin')?.lastFailure).toEqual({ code: 'legacy', hop: 'upload', cause: '{not json' });
    await reopened.close();
  });
});

describe('ledger: the operator\'s stop', () => {
  it('is kept as the last failure but is no attempt: attempts, lastFailedAt and failedAt stay', () => {
    const twice = applyEvent(applyEvent(undefined, failedAt('2026-11-29T10:00:00.000Z'), '2026-11-29T10:00:00.000Z'), failedAt('2026-11-29T10:01:00.000Z'), '2026-11-29T10:01:00.000Z');
    const after = applyEvent(twice, stopped, '2026-11-29T10:09:00.000Z');
    expect(after).toMatchObject({ attempts: 2, lastFailedAt: '2026-11-29T10:01:00.000Z', failedAt: '2026-11-29T10:01:00.000Z', lastFailure: { code: 'stopped', hop: 'upload' } });
    expect(applyEvent(undefined, stopped, '2026-11-29T10:09:00.000Z')).toEqual({ ...version, attempts: 0, lastFailure: { code: 'stopped', hop: 'upload' } });
  });

  it('status lists it apart from the failing objects', async () => {
    const dir = await tempDir('ledger-failure-');
    const store = await LedgerStore.open(dir);
    await store.append([stopped, failedAt('2026-11-29T10:00:00.000Z'), { ...version, key: 'z.bin', type: 'failed', hop: 'upload', failure: { code: 'stopped' } }]);
    const summary = store.summary(10);
    await store.close();
    // a.bin was stopped, then failed: failing; z.bin was only stopped.
    expect(summary.failingCount).toBe(1);
    expect(summary.failing.map((f) => [f.key, f.lastFailure.code])).toEqual([['a.bin', 's5cmd-error']]);
    expect(summary.stoppedCount).toBe(1);
    expect(summary.stopped).toEqual([{ key: 'z.bin', lastFailure: { code: 'stopped', hop: 'upload' } }]);
  });
});
