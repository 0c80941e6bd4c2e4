/**
 * The event log costs apply no index: `report --verify` finds each key's last event itself (a
 * sort at verify time, merged with the rows in key order). Schema step 4 drops the index that a
 * step-3 ledger has, and leaves its events and their hashes as they were; verify still names the
 * first thing that does not match: an edited row, a deleted row, an edited event.
 */
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LEDGER_FILE, LedgerStore } from '../../src/ledger/store.ts';
import { SCHEMA_VERSION } from '../../src/ledger/schema.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';
import { editLedger, verifyLedgerDir } from '../harness/ledger.ts';
import { bindReadOnly, canBindReadOnly, unmount } from '../harness/tmpfs.ts';

afterAll(removeTempDirs);

const CAN_BIND_READ_ONLY = canBindReadOnly();

// Keys whose UTF-16 order is not their UTF-8 (SQLite BINARY) order: U+FF5E sorts before an emoji
// in UTF-8 and after it in UTF-16. A merge that compared with `<` would pair the wrong rows.
const KEYS = ['m/b.jpg', 'm/\uFF5E.jpg', 'm/😀.jpg', 'a/1.jpg', 'z/9.jpg', 'm/a.jpg'];

/** staged, delivered, purged for each key, the keys' events interleaved (as apply's batches do). */
function lifecycle(keys: readonly string[]): LedgerEvent[][] {
  const version = (key: string) => ({ key, size: key.length, etag: `e-${key.length}` });
  return [
    keys.map((key): LedgerEvent => ({ ...version(key), type: 'staged', volume: '/mnt/s-0', verifiedBy: 'size' })),
    keys.map((key): LedgerEvent => ({ ...version(key), type: 'delivered', verifiedBy: 'size', destinationEtag: `e-${key.length}` })),
    keys.map((key): LedgerEvent => ({ ...version(key), type: 'purged' })),
  ];
}

async function ledgerWithEvents(keys: readonly string[]): Promise<string> {
  const dir = await tempDir('ledger-verify-');
  const store = await LedgerStore.open(dir);
  for (const batch of lifecycle(keys)) await store.append(batch);
  await store.close();
  return dir;
}

/** Every event row with its hashes as hex: what a migration must leave as it was. */
function eventRows(dir: string): unknown[] {
  const db = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
  try {
    return db.prepare('SELECT seq, at, type, key, body, hex(record_hash) AS recordHash, hex(hash) AS hash FROM events ORDER BY seq').all();
  } finally {
    db.close();
  }
}

function indexes(dir: string): string[] {
  const db = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
  try {
    return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`).all() as { name: string }[]).map((row) => row.name);
  } finally {
    db.close();
  }
}

describe('event log: no index for apply to keep', () => {
  it('a new ledger has no index on the events (apply writes only the row)', async () => {
    const dir = await ledgerWithEvents(KEYS);
    expect(indexes(dir)).toEqual([]);
  });

  it('schema step 4 drops events_by_key from a step-3 ledger with events; the chain and its hashes are unchanged and verify', async () => {
    const dir = await ledgerWithEvents(KEYS);
    const before = await verifyLedgerDir(dir);
    expect(before).toMatchObject({ ok: true, events: KEYS.length * 3, uncovered: 0 });
    // As schema step 3 left a ledger: the index on (key, seq), user_version 3.
    editLedger(dir, 'CREATE INDEX IF NOT EXISTS events_by_key ON events (key, seq); PRAGMA user_version = 3;');
    const rows = eventRows(dir);

    const after = await verifyLedgerDir(dir);
    expect(indexes(dir)).toEqual([]);
    const db = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
    expect((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
    db.close();
    expect(eventRows(dir)).toEqual(rows);
    expect(after).toEqual(before);

    // The chain goes on from the migrated head.
    const store = await LedgerStore.open(dir);
    await store.append([{ key: 'a/1.jpg', size: 7, etag: 'e-7b', type: 'staged', volume: '/mnt/s-0', verifiedBy: 'size' }]);
    await store.close();
    expect(await verifyLedgerDir(dir)).toMatchObject({ ok: true, events: KEYS.length * 3 + 1 });
  });

  it.skipIf(!CAN_BIND_READ_ONLY)('a step-3 ledger in a read-only state directory (a backup, a snapshot) still verifies: step 4 is not needed to read it', async () => {
    const dir = await ledgerWithEvents(KEYS);
    const before = await verifyLedgerDir(dir);
    editLedger(dir, 'CREATE INDEX IF NOT EXISTS events_by_key ON events (key, seq); PRAGMA user_version = 3; PRAGMA wal_checkpoint(TRUNCATE);');
    expect(bindReadOnly(dir)).toBe(true);
    try {
      expect(await verifyLedgerDir(dir)).toEqual(before);
    } finally {
      unmount(dir);
    }
    expect(indexes(dir)).toEqual(['events_by_key']);
  });

  it.each(KEYS)('an edited row of %j is named with its last event', async (key) => {
    const dir = await ledgerWithEvents(KEYS);
    const db = new DatabaseSync(join(dir, LEDGER_FILE));
    const last = (db.prepare('SELECT max(seq) AS seq FROM events WHERE key = ?').get(key) as { seq: number }).seq;
    db.prepare(`UPDATE objects SET destination_etag = 'ffff' WHERE key = ?`).run(key);
    db.close();
    const result = await verifyLedgerDir(dir);
    expect(result.ok).toBe(false);
    expect(result.problem).toBe(`the ledger row of ${JSON.stringify(key)} does not match event ${last}, the last that wrote it: the row was edited`);
  });

  it('of two edited rows, the first in key order is named (UTF-8 order: U+FF5E before an emoji)', async () => {
    const dir = await ledgerWithEvents(KEYS);
    editLedger(dir, `UPDATE objects SET attempts = 9 WHERE key IN ('m/\uFF5E.jpg', 'm/😀.jpg')`);
    expect((await verifyLedgerDir(dir)).problem).toMatch(/^the ledger row of "m\/\uFF5E.jpg"/);
  });

  it('a deleted row that events wrote is named with its last event', async () => {
    const dir = await ledgerWithEvents(KEYS);
    editLedger(dir, `DELETE FROM objects WHERE key = 'm/😀.jpg'`);
    const result = await verifyLedgerDir(dir);
    expect(result.ok).toBe(false);
    expect(result.problem).toBe(`the ledger has no row of "m/😀.jpg", which event ${KEYS.indexOf('m/😀.jpg') + 1 + 2 * KEYS.length} wrote last: the row was deleted`);
  });

  it('a row no event wrote is named: every row of a ledger is covered since schema step 5 (ledger-coverage.test.ts)', async () => {
    const dir = await ledgerWithEvents(KEYS);
    editLedger(dir, `INSERT INTO objects (key, size, etag) VALUES ('b/older.jpg', 1, 'e')`);
    expect(await verifyLedgerDir(dir)).toMatchObject({ ok: false, problem: expect.stringContaining('"b/older.jpg" was written by no event') });
  });

  it('an edited event is named before any row', async () => {
    const dir = await ledgerWithEvents(KEYS);
    editLedger(dir, `UPDATE events SET body = '{}' WHERE seq = 4; UPDATE objects SET attempts = 9 WHERE key = 'a/1.jpg'`);
    expect((await verifyLedgerDir(dir)).problem).toMatch(/^event 4 \(staged "a\/1.jpg" at .*\) does not match its hash/);
  });
});
