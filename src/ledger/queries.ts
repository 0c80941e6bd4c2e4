/**
 * The ledger's statements, prepared once per connection. Reads and writes of records go through
 * COLUMNS (schema.ts), so a new field needs no change here.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { RecordedFailure } from '../model/failure.ts';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord, SkipReason, Stage } from '../model/objects.ts';
import { userError } from '../errors.ts';
import { applyEvent } from './merge.ts';
import { EventLog } from './events.ts';
import { arrayToRecord, COLUMN_NAMES, COLUMNS, recordToRow, rowToRecord, type SqlValue } from './schema.ts';

const COLUMN_LIST = COLUMN_NAMES.join(', ');

/**
 * Fields of a record the planner never reads (src/plan decides from the others): the plan's
 * read selects NULL in their place, so SQLite hands out no string for them and the record built
 * leaves them out. Measured at 200k delivered rows: about a fifth less CPU for the read.
 */
export const FIELDS_THE_PLAN_SKIPS = ['verifiedBy', 'etagComparable', 'stagedAt', 'deliveredAt', 'purgedAt', 'adoptedBy'] as const satisfies readonly (keyof LedgerRecord)[];
const SKIPPED_COLUMNS = new Set<string>(FIELDS_THE_PLAN_SKIPS.map((field) => COLUMNS[field].name));
const PLAN_COLUMN_LIST = COLUMN_NAMES.map((name) => (SKIPPED_COLUMNS.has(name) ? 'NULL' : name)).join(', ');
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
  /** The first failing versions in key order, at most the limit asked for (not those the operator's stop cut short). */
  failing: { key: string; attempts: number; lastFailure: RecordedFailure; lastFailedAt?: string }[];
  /** Versions whose last try the operator stopped (code `stopped`): no failure, tried at once by the next run. */
  stoppedCount: number;
  stopped: { key: string; lastFailure: RecordedFailure }[];
  skippedCount: number;
  skipped: { key: string; reason: SkipReason }[];
}

/** Whether `error` is node:sqlite refusing an integer past 2^53 - 1, which a JavaScript number cannot hold exactly. */
function isTooLarge(error: unknown): boolean {
  return error instanceof RangeError && (error as RangeError & { code?: string }).code === 'ERR_OUT_OF_RANGE';
}

const MAX = Number.MAX_SAFE_INTEGER;

export class LedgerQueries {
  readonly #db: DatabaseSync;
  readonly #file: string;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #insert: StatementSync;
  readonly #serial: StatementSync;
  readonly #setSerial: StatementSync;
  readonly #all: StatementSync;
  #forPlan: StatementSync | undefined;
  #log: EventLog | undefined;

  /** `file` names the ledger in errors. */
  constructor(db: DatabaseSync, file = 'ledger.db') {
    this.#db = db;
    this.#file = file;
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
    return this.#readable(() => (this.#serial.get() as { value: number }).value);
  }

  setSerial(serial: number): void {
    this.#setSerial.run(serial);
  }

  get(key: string): LedgerRecord | undefined {
    const row = this.#readable(() => this.#get.get(key) as Record<string, SqlValue> | undefined);
    return row === undefined ? undefined : rowToRecord(row);
  }

  /** Writes a record (inserted or replaced); returns the row it was written as. */
  put(record: LedgerRecord): SqlValue[] {
    const row = recordToRow(record);
    this.#put.run(...row);
    return row;
  }

  /** Adds a record whose key is new; false (and nothing changed) when the key is there already. */
  insert(record: LedgerRecord): boolean {
    return Number(this.#insert.run(...recordToRow(record)).changes) === 1;
  }

  /**
   * Every record in key order (BINARY collation: UTF-8 bytes, S3's order), one row at a time;
   * for the plan (`forPlan`), without the fields of {@link FIELDS_THE_PLAN_SKIPS}.
   */
  *records(options: { forPlan?: boolean } = {}): Generator<LedgerRecord> {
    let statement = this.#all;
    if (options.forPlan === true) {
      if (this.#forPlan === undefined) {
        this.#forPlan = this.#db.prepare(`SELECT ${PLAN_COLUMN_LIST} FROM objects ORDER BY key`);
        this.#forPlan.setReturnArrays(true);
      }
      statement = this.#forPlan;
    }
    const rows = statement.iterate();
    for (;;) {
      let next: IteratorResult<unknown>;
      // No closure per row: the read is the plan's hottest loop after the listings.
      try {
        next = rows.next();
      } catch (error) {
        if (!isTooLarge(error)) throw error;
        throw this.#tooLarge(error);
      }
      if (next.done === true) return;
      yield arrayToRecord(next.value as SqlValue[]);
    }
  }

  /**
   * Runs a read; an integer too large for a JavaScript number (a hand edit, or a migration of
   * earlier versions that let one in) becomes E_LEDGER_CORRUPT naming the key, never a raw RangeError.
   */
  #readable<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (!isTooLarge(error)) throw error;
      throw this.#tooLarge(error);
    }
  }

  #tooLarge(error: unknown): Error {
    const db = this.#db;
    const row = db
      .prepare(
        `SELECT 'key ' || quote(key) AS what, 'size' AS field, CAST(size AS TEXT) AS value FROM objects WHERE size > ${MAX} OR size < -${MAX}
         UNION ALL SELECT 'key ' || quote(key), 'attempts', CAST(attempts AS TEXT) FROM objects WHERE attempts > ${MAX} OR attempts < -${MAX}
         UNION ALL SELECT 'the counts of stage ' || quote(stage), 'bytes', CAST(bytes AS TEXT) FROM counts WHERE bytes > ${MAX} OR bytes < -${MAX}
         UNION ALL SELECT 'meta ' || quote(name), 'value', CAST(value AS TEXT) FROM meta WHERE value > ${MAX} OR value < -${MAX}
         LIMIT 1`,
      )
      .get() as { what: string; field: string; value: string } | undefined;
    const where = row === undefined ? 'a value' : `${row.what}: ${row.field} ${row.value}`;
    return userError('E_LEDGER_CORRUPT', `ledger ${this.#file} holds a number too large to read (past 2^53 - 1) at ${where}`, {
      hint:
        'No object is that large: the row was edited or migrated wrongly. Keep a copy of the state directory, correct or delete that row ' +
        'with `sqlite3` on the ledger (or restore the directory from a backup), then run again.',
      cause: error,
    });
  }

  /**
   * A real write transaction that changes nothing (the serial rewritten as it is), committed:
   * proof that the ledger can be written before a run moves anything it would have to record.
   */
  proveWritable(): number {
    return this.applyEvents([], '');
  }

  /**
   * Folds events into their records and moves the serial by one per event, in one transaction:
   * events that arrive together share one commit (and one fsync). `at` stamps the stages reached.
   */
  applyEvents(events: readonly LedgerEvent[], at: string): number {
    return this.#writing(() => {
      const first = this.serial();
      // Each event goes to the log in this transaction too, chained to the one before it.
      this.#log ??= new EventLog(this.#db);
      let hash = events.length > 0 ? this.#log.head() : '';
      events.forEach((event, i) => {
        const row = this.put(applyEvent(this.get(event.key), event, at));
        hash = this.#log!.append(hash, first + i + 1, at, event, row);
      });
      const serial = first + events.length;
      this.setSerial(serial);
      return serial;
    });
  }

  /**
   * Appends the `reset` event (events.ts) and moves the serial by one, in one transaction: the
   * first event of a ledger that `dualsync reset` started, naming the head of the one it replaced.
   */
  recordReset(previousHead: string, backup: string | undefined, at: string): number {
    return this.#writing(() => {
      const serial = this.serial() + 1;
      this.#log ??= new EventLog(this.#db);
      this.#log.appendReset(this.#log.head(), serial, at, previousHead, backup);
      this.setSerial(serial);
      return serial;
    });
  }

  /** Runs `write` in one write transaction (taken at once, so a second writer waits rather than fails half-way): committed whole, or rolled back. */
  #writing<T>(write: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = write();
      this.#db.exec('COMMIT');
      return result;
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
    const groups = this.#readable(() => db.prepare('SELECT stage, verified_by, etag_comparable, objects, bytes FROM counts WHERE objects > 0').all()) as {
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
    const withError = `last_error IS NOT NULL AND (stage IS NULL OR stage = 'staged')`;
    const stoppedWhere = `${withError} AND json_valid(last_error) AND json_extract(last_error, '$.code') = 'stopped'`;
    const failingWhere = `${withError} AND NOT (${stoppedWhere})`;
    const count = (where: string) => (db.prepare(`SELECT count(*) AS n FROM objects INDEXED BY objects_failing WHERE ${where}`).get() as { n: number }).n;
    const failingCount = count(failingWhere);
    const failing = (
      db
        .prepare(`SELECT ${COLUMN_LIST} FROM objects INDEXED BY objects_failing WHERE ${failingWhere} ORDER BY key LIMIT ?`)
        .all(limit) as Record<string, SqlValue>[]
    ).map((row) => {
      const record = rowToRecord(row);
      const entry: LedgerSummary['failing'][number] = { key: record.key, attempts: record.attempts, lastFailure: record.lastFailure! };
      if (record.lastFailedAt !== undefined) entry.lastFailedAt = record.lastFailedAt;
      return entry;
    });
    const stoppedCount = count(stoppedWhere);
    const stopped = (db.prepare(`SELECT ${COLUMN_LIST} FROM objects INDEXED BY objects_failing WHERE ${stoppedWhere} ORDER BY key LIMIT ?`).all(limit) as Record<string, SqlValue>[]).map((row) => {
      const record = rowToRecord(row);
      return { key: record.key, lastFailure: record.lastFailure! };
    });
    const skippedCount = (db.prepare('SELECT count(*) AS n FROM objects INDEXED BY objects_skipped WHERE skip_reason IS NOT NULL').get() as { n: number }).n;
    const skipped = (db.prepare(`SELECT ${COLUMN_LIST} FROM objects INDEXED BY objects_skipped WHERE skip_reason IS NOT NULL ORDER BY key LIMIT ?`).all(limit) as Record<string, SqlValue>[]).map((row) => {
      const record = rowToRecord(row);
      return { key: record.key, reason: record.skipReason! };
    });
    return { serial: this.serial(), records, stages, verifiedBy, etagNotComparable, failingCount, failing, stoppedCount, stopped, skippedCount, skipped };
  }
}
