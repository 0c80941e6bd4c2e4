/**
 * Looking into a state directory's ledger from a test while a dualsync child writes it, and
 * writing the JSON ledger of earlier versions (the documented formatVersion 1) to migrate.
 */
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { JOURNAL_FILE, LEDGER_FILE, LedgerStore, SNAPSHOT_FILE } from '../../src/ledger/store.ts';
import { verifyDatabase } from '../../src/ops/report.ts';
import type { VerifyResult } from '../../src/model/report.ts';
import { connect, upgradeSchema } from '../../src/ledger/db.ts';
import type { LedgerRecord } from '../../src/model/objects.ts';

export type StageStamp = 'staged_at' | 'delivered_at' | 'purged_at';

/**
 * How many keys (under `keyPrefix`) have reached a stage, read from the last commit of the
 * ledger: 0 while there is no ledger yet. Never creates the database.
 */
export function stageTally(stateDir: string, stamp: StageStamp, keyPrefix = ''): number {
  const file = join(stateDir, LEDGER_FILE);
  if (!existsSync(file)) return 0;
  const db = new DatabaseSync(file, { timeout: 5000 });
  try {
    const row = db.prepare(`SELECT count(*) AS n FROM objects WHERE ${stamp} IS NOT NULL AND substr(key, 1, ?) = ?`).get(keyPrefix.length, keyPrefix) as { n: number };
    return row.n;
  } catch (error) {
    if (/no such table/.test((error as Error).message)) return 0; // created, schema not yet committed
    throw error;
  } finally {
    db.close();
  }
}

/** The i-th record of a synthetic legacy ledger: a third each staged, delivered and purged. */
export function legacyRecord(i: number): LedgerRecord {
  const stage = (['staged', 'delivered', 'purged'] as const)[i % 3]!;
  const record: LedgerRecord = { key: `old/cam-${i % 97}/frame-${String(i).padStart(8, '0')}.jpg`, size: 1000 + i, etag: (i * 2654435761).toString(16).padStart(32, '0').slice(-32), stage, verifiedBy: 'size', attempts: 0 };
  if (stage !== 'purged') record.volume = '/mnt/old-volume';
  return record;
}

/** The record a legacy ledger of `records` ends with after its journal: every 10th key failed once more. */
export function legacyRecordAfterJournal(i: number): LedgerRecord {
  const record = legacyRecord(i);
  // The journal's text reads as a failure of code 'legacy'.
  return i % 10 === 0 ? { ...record, attempts: 1, lastFailure: { code: 'legacy', hop: 'upload', cause: `journal event ${i / 10}` } } : record;
}

/**
 * Writes `ledger.snapshot.json` with `records` records and `ledger.journal.jsonl` with one
 * failure for every 10th of them, in the format dualsync wrote before its SQLite ledger.
 * Returns the serial the migrated ledger must have.
 */
export async function writeLegacyLedger(stateDir: string, records: number): Promise<number> {
  const snapshotSerial = records;
  const snapshot = await open(join(stateDir, SNAPSHOT_FILE), 'w');
  let chunk = `{"formatVersion":1,"serial":${snapshotSerial},"records":[\n`;
  for (let i = 0; i < records; i++) {
    chunk += JSON.stringify(legacyRecord(i)) + (i === records - 1 ? '\n' : ',\n');
    if (chunk.length >= 1 << 20) {
      await snapshot.write(chunk);
      chunk = '';
    }
  }
  await snapshot.write(`${chunk}]}\n`);
  await snapshot.close();
  const journal = await open(join(stateDir, JOURNAL_FILE), 'w');
  let serial = snapshotSerial;
  chunk = '';
  for (let i = 0; i < records; i += 10) {
    const { key, size, etag } = legacyRecord(i);
    serial++;
    chunk += `${JSON.stringify({ formatVersion: 1, serial, event: { type: 'failed', key, size, etag, hop: 'upload', error: `journal event ${i / 10}` } })}\n`;
  }
  await journal.write(chunk);
  await journal.close();
  return serial;
}

/** Fills `stateDir`'s ledger with N rows by one INSERT ... SELECT over a counter, as bench/ledger.ts does. */
export async function fillLedger(stateDir: string, rows: number): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, LEDGER_FILE);
  const db = connect(file);
  try {
    await upgradeSchema(db, file);
    db.exec('BEGIN');
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
       INSERT INTO objects (key, size, etag, stage, volume, verified_by, attempts, staged_at, delivered_at, purged_at)
       SELECT printf('site-7/cam-%02d/day-%03d/frame-%08d.jpg', i % 97, (i / 128) % 365, i), 65536 + i,
              printf('%08x%08x%08x%08x', i, i * 7, i * 13, i * 31), 'purged', '/mnt/staging-0', 'size', 0,
              '2026-11-29T10:00:00.000Z', '2026-11-29T10:01:00.000Z', '2026-11-29T10:02:00.000Z'
       FROM n`,
    ).run(rows);
    db.prepare(`UPDATE meta SET value = ? WHERE name = 'serial'`).run(rows);
    db.exec('COMMIT');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** `report --verify` on the ledger of `dir`, through the store as the command opens it. */
export async function verifyLedgerDir(dir: string): Promise<VerifyResult> {
  const store = await LedgerStore.open(dir);
  try {
    return store.read((db) => verifyDatabase(db), (): VerifyResult => ({ ok: true, events: 0, headHash: '', uncovered: 0 }));
  } finally {
    await store.close();
  }
}

/** Runs SQL on the ledger of `dir` as a hand edit would: outside dualsync, no event written. */
export function editLedger(dir: string, sql: string): void {
  const db = new DatabaseSync(join(dir, LEDGER_FILE));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}
