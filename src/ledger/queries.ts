/**
 * The ledger's statements, prepared once per connection. Reads and writes of records go through
 * COLUMNS (schema.ts), so a new field needs no change here.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord, Stage } from '../model/objects.ts';
import { applyEvent } from './merge.ts';
import { arrayToRecord, COLUMN_NAMES, recordToRow, rowToRecord, type SqlValue } from './schema.ts';

const COLUMN_LIST = COLUMN_NAMES.join(', ');
const PLACEHOLDERS = COLUMN_NAMES.map(() => '?').join(', ');
// An upsert, not INSERT OR REPLACE: REPLACE deletes without firing the delete trigger that keeps `counts`.
const UPDATE_ALL = COLUMN_NAMES.filter((name) => name !== 'key')
  .map((name) => `${name} = excluded.${name}`)
  .join(', ');

/** What `status` shows of the ledger, counted by the database. */
export interface LedgerSummary {
  serial: number;
  records: number;
  stages: Record<Stage, { objects: number; bytes: number }>;
  verifiedBy: Record<string, number>;
  etagNotComparable: number;
  failingCount: number;
  /** The first failing versions in key order, at most the limit asked for. */
  failing: { key: string; attempts: number; lastError: string; lastFailedAt?: string }[];
  skippedCount: number;
  skipped: { key: string; reason: string }[];
}

export class LedgerQueries {
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #insert: StatementSync;
  readonly #serial: StatementSync;
  readonly #setSerial: StatementSync;
  readonly #all: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#get = db.prepare(`SELECT ${COLUMN_LIST} FROM objects WHERE key = ?`);
    this.#put = db.prepare(`INSERT INTO objects (${COLUMN_LIST}) VALUES (${PLACEHOLDERS}) ON CONFLICT (key) DO UPDATE SET ${UPDATE_ALL}`);
    this.#insert = db.prepare(`INSERT OR IGNORE INTO objects (${COLUMN_LIST}) VALUES (${PLACEHOLDERS})`);
    this.#serial = db.prepare(`SELECT value FROM meta WHERE name = 'serial'`);
    this.#setSerial = db.prepare(`UPDATE meta SET value = ? WHERE name = 'serial'`);
    this.#all = db.prepare(`SELECT ${COLUMN_LIST} FROM objects ORDER BY key`);
    // Rows as arrays: no object with every column name per row, which a full read makes N of.
    this.#all.setReturnArrays(true);
  }

  serial(): number {
    return (this.#serial.get() as { value: number }).value;
  }

  setSerial(serial: number): void {
    this.#setSerial.run(serial);
  }

  get(key: string): LedgerRecord | undefined {
    const row = this.#get.get(key) as Record<string, SqlValue> | undefined;
    return row === undefined ? undefined : rowToRecord(row);
  }

  put(record: LedgerRecord): void {
    this.#put.run(...recordToRow(record));
  }

  /** Adds a record whose key is new; false (and nothing changed) when the key is there already. */
  insert(record: LedgerRecord): boolean {
    return Number(this.#insert.run(...recordToRow(record)).changes) === 1;
  }

  /** Every record in key order (BINARY collation: UTF-8 bytes, S3's order), one row at a time. */
  *records(): Generator<LedgerRecord> {
    for (const row of this.#all.iterate()) yield arrayToRecord(row as unknown as SqlValue[]);
  }

  /**
   * Folds events into their records and moves the serial by one per event, in one transaction:
   * events that arrive together share one commit (and one fsync). `at` stamps the stages reached.
   */
  applyEvents(events: readonly LedgerEvent[], at: string): number {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const event of events) this.put(applyEvent(this.get(event.key), event, at));
      const serial = this.serial() + events.length;
      this.setSerial(serial);
      this.#db.exec('COMMIT');
      return serial;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Counts by stage and verification from the `counts` table, and the first `limit` failing and skipped keys. */
  summary(limit: number): LedgerSummary {
    const db = this.#db;
    const stages: LedgerSummary['stages'] = { staged: { objects: 0, bytes: 0 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 0, bytes: 0 } };
    const verifiedBy: Record<string, number> = {};
    let etagNotComparable = 0;
    let records = 0;
    const groups = db.prepare('SELECT stage, verified_by, etag_comparable, objects, bytes FROM counts WHERE objects > 0').all() as {
      stage: Stage | '';
      verified_by: string;
      etag_comparable: number;
      objects: number;
      bytes: number;
    }[];
    for (const group of groups) {
      records += group.objects;
      if (group.stage !== '') {
        stages[group.stage].objects += group.objects;
        stages[group.stage].bytes += group.bytes;
      }
      if (group.verified_by !== '') verifiedBy[group.verified_by] = (verifiedBy[group.verified_by] ?? 0) + group.objects;
      if (group.etag_comparable === 0) etagNotComparable += group.objects;
    }
    // The partial indexes hold only failing (or skipped) keys, in key order.
    const failingWhere = `last_error IS NOT NULL AND (stage IS NULL OR stage = 'staged')`;
    const failingCount = (db.prepare(`SELECT count(*) AS n FROM objects INDEXED BY objects_failing WHERE ${failingWhere}`).get() as { n: number }).n;
    const failing = db
      .prepare(`SELECT key, attempts, last_error AS lastError, last_failed_at AS lastFailedAt FROM objects INDEXED BY objects_failing WHERE ${failingWhere} ORDER BY key LIMIT ?`)
      .all(limit) as (Omit<LedgerSummary['failing'][number], 'lastFailedAt'> & { lastFailedAt: string | null })[];
    const skippedCount = (db.prepare('SELECT count(*) AS n FROM objects INDEXED BY objects_skipped WHERE skip_reason IS NOT NULL').get() as { n: number }).n;
    const skipped = db.prepare('SELECT key, skip_reason AS reason FROM objects INDEXED BY objects_skipped WHERE skip_reason IS NOT NULL ORDER BY key LIMIT ?').all(limit) as LedgerSummary['skipped'];
    return { serial: this.serial(), records, stages, verifiedBy, etagNotComparable, failingCount, failing: failing.map(({ lastFailedAt, ...f }) => (lastFailedAt === null ? { ...f } : { ...f, lastFailedAt })), skippedCount, skipped: skipped.map((s) => ({ ...s })) };
  }
}
