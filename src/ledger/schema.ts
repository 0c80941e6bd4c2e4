/**
 * The ledger's tables, and the one map between a LedgerRecord's fields and the columns of
 * `objects`. Adding a field to LedgerRecord is one line in COLUMNS plus one migration step that
 * adds its column (the type below refuses a field without a column, and
 * test/unit/ledger-store.test.ts checks that the migrated table has exactly these columns).
 *
 * Migrations run by `PRAGMA user_version`: a database at version v runs MIGRATIONS[v..] in one
 * transaction. A database whose version is past the last step was written by a newer dualsync
 * and is refused, never rewritten. A step is SQL, or a function over the database when SQL alone
 * cannot do it (step 5 hashes rows into the event log).
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { RecordedFailure } from '../model/failure.ts';
import type { LedgerRecord, SkipReason } from '../model/objects.ts';
import { eventHash, GENESIS, rowDigest } from './digest.ts';
import { legacyFailure } from './merge.ts';
import { skipReasonFromText } from './skip-text.ts';

/**
 * How a field is stored: text and integers as they are, a boolean as 0/1, an object as JSON text,
 * a failure or a skip reason as JSON text (a text that is not, from an earlier dualsync, reads as
 * code `legacy`, or as the skip reason it words); undefined is NULL.
 */
type ColumnType = 'text' | 'integer' | 'boolean' | 'json' | 'failure' | 'skip';

interface Column {
  name: string;
  type: ColumnType;
}

/** A stored field of LedgerRecord: every field is stored (the ledger keeps data; views word it). */
type StoredField = keyof LedgerRecord;

/** One entry per stored LedgerRecord field: its column in `objects`. */
export const COLUMNS: { readonly [F in StoredField]-?: Column } = {
  key: { name: 'key', type: 'text' },
  size: { name: 'size', type: 'integer' },
  etag: { name: 'etag', type: 'text' },
  stage: { name: 'stage', type: 'text' },
  volume: { name: 'volume', type: 'text' },
  md5: { name: 'md5', type: 'text' },
  verifiedBy: { name: 'verified_by', type: 'text' },
  etagComparable: { name: 'etag_comparable', type: 'boolean' },
  attempts: { name: 'attempts', type: 'integer' },
  lastFailure: { name: 'last_error', type: 'failure' },
  skipReason: { name: 'skip_reason', type: 'skip' },
  stagedAt: { name: 'staged_at', type: 'text' },
  deliveredAt: { name: 'delivered_at', type: 'text' },
  purgedAt: { name: 'purged_at', type: 'text' },
  failedAt: { name: 'failed_at', type: 'text' },
  destinationEtag: { name: 'destination_etag', type: 'text' },
  adoptedBy: { name: 'adopted_by', type: 'text' },
  lastDelivered: { name: 'last_delivered', type: 'json' },
  destinationDiffers: { name: 'destination_differs', type: 'text' },
  localDiffers: { name: 'local_differs', type: 'text' },
  lastFailedAt: { name: 'last_failed_at', type: 'text' },
};

const FIELDS = Object.keys(COLUMNS) as StoredField[];

/** Column names in the order `recordToRow` yields their values. */
export const COLUMN_NAMES: readonly string[] = FIELDS.map((field) => COLUMNS[field].name);

export type SqlValue = string | number | null;

/** A record as the values of COLUMN_NAMES, in that order. */
export function recordToRow(record: LedgerRecord): SqlValue[] {
  return FIELDS.map((field) => {
    const value = record[field];
    if (value === undefined) return null;
    if (COLUMNS[field].type === 'boolean') return value ? 1 : 0;
    const type = COLUMNS[field].type;
    if (type === 'json' || type === 'failure' || type === 'skip') return JSON.stringify(value);
    return value as string | number;
  });
}

/** A column's value as the record's field holds it. */
function fromColumn(type: ColumnType, value: string | number): unknown {
  if (type === 'boolean') return value === 1;
  if (type === 'json') return JSON.parse(value as string) as unknown;
  if (type === 'failure') return failureFromColumn(String(value));
  if (type === 'skip') return skipFromColumn(String(value));
  return value;
}

/**
 * A stored skip reason: its JSON, or a text (a ledger of schema 4 or older read where step 5
 * cannot run: a read-only state directory) as the code and facts it words.
 */
function skipFromColumn(text: string): SkipReason {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string') return value as SkipReason;
  } catch {
    // not JSON: a text
  }
  return skipReasonFromText(text);
}

/** A stored failure: its JSON, or a text no JSON object (written by hand, or by an earlier dualsync) as code `legacy`. */
function failureFromColumn(text: string): RecordedFailure {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string') return value as RecordedFailure;
  } catch {
    // not JSON: a text
  }
  return legacyFailure(text);
}

/** A row selected with COLUMN_NAMES, as an array in that order, back into a record; NULL columns are left out. */
export function arrayToRecord(row: readonly SqlValue[]): LedgerRecord {
  const record: Record<string, unknown> = {};
  for (let i = 0; i < FIELDS.length; i++) {
    const value = row[i];
    if (value === null || value === undefined) continue;
    const field = FIELDS[i]!;
    record[field] = fromColumn(COLUMNS[field].type, value);
  }
  return record as unknown as LedgerRecord;
}

/** A row selected with COLUMN_NAMES back into a record; NULL columns are left out. */
export function rowToRecord(row: Record<string, SqlValue>): LedgerRecord {
  const record: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const column = COLUMNS[field];
    const value = row[column.name];
    if (value === null || value === undefined) continue;
    record[field] = fromColumn(column.type, value);
  }
  return record as unknown as LedgerRecord;
}

/** Why a schema step or the JSON ledger's migration vouched for a row with a `baseline` event. */
export type BaselineCause = 'schema-5' | 'json-ledger';

/**
 * Appends one `baseline` event for each row `rows` yields (the values of COLUMN_NAMES, in key
 * order), chained after the log's head, each moving the serial by one: the log vouches for these
 * rows as they are now. One row at a time, inside the caller's transaction: bounded memory at
 * any number of rows. Returns how many it appended.
 */
export function appendBaselines(db: DatabaseSync, rows: StatementSync, at: string, cause: BaselineCause): number {
  const headRow = db.prepare('SELECT lower(hex(hash)) AS hash FROM events ORDER BY seq DESC LIMIT 1').get() as { hash: string } | undefined;
  const serialRow = db.prepare(`SELECT value FROM meta WHERE name = 'serial'`).get() as { value: number };
  const insert = db.prepare('INSERT INTO events (seq, at, type, key, body, record_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const body = JSON.stringify({ cause });
  let previous = headRow?.hash ?? GENESIS;
  let seq = serialRow.value;
  rows.setReturnArrays(true);
  for (const value of rows.iterate()) {
    const row = value as unknown as SqlValue[];
    const event = { seq: seq + 1, at, type: 'baseline' as const, key: String(row[0]), body, recordHash: rowDigest(row) };
    const hash = eventHash(previous, event);
    insert.run(event.seq, at, 'baseline', event.key, body, Buffer.from(event.recordHash, 'hex'), Buffer.from(hash, 'hex'));
    previous = hash;
    seq++;
  }
  db.prepare(`UPDATE meta SET value = ? WHERE name = 'serial'`).run(seq);
  return seq - serialRow.value;
}

/**
 * Step 5: every row covered by the event log, and skip reasons stored as codes.
 *
 * - A skip reason kept as a sentence becomes the code and facts it was worded from
 *   (skip-text.ts), or code `legacy` with the whole text: nothing is lost.
 * - The log vouches for the rows it must, with one `baseline` event each: rows whose skip reason
 *   this step rewrote and that matched their last event until then (a row already edited by hand
 *   stays unvouched, and verify still names it); and, in a ledger whose rows predate its log
 *   (its first event is not serial 1: schema 1 and 2, the JSON ledger), every row no event wrote.
 *   In a ledger that had its log from the start, a row no event wrote was added by hand: it is
 *   left uncovered, for verify to name.
 * From here on, `report --verify` fails on any row that no event wrote.
 *
 * The keys are gathered in temporary tables, which SQLite spills to disk, and the rows are
 * streamed: bounded memory at 10M rows; the events are ~200 bytes per vouched row.
 */
function everyRowCovered(db: DatabaseSync): void {
  const at = new Date().toISOString();
  const first = (db.prepare('SELECT min(seq) AS seq FROM events').get() as { seq: number | null }).seq;
  const serial = (db.prepare(`SELECT value FROM meta WHERE name = 'serial'`).get() as { value: number }).value;
  const logStartedAt = first === null ? serial : first - 1;
  db.exec(`CREATE TEMP TABLE step5_vouch (key TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
           CREATE TEMP TABLE step5_skipped (key TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
           INSERT INTO temp.step5_skipped SELECT key FROM objects WHERE skip_reason IS NOT NULL;`);
  try {
    if (logStartedAt > 0) db.exec('INSERT INTO temp.step5_vouch SELECT key FROM objects EXCEPT SELECT key FROM events');
    // The skipped rows with their last event's record hash (the bare column of max(): sqlite.org/lang_select.html#bareagg).
    const skippedWithLastWrite = db.prepare(
      `SELECT ${COLUMN_NAMES.map((name) => `o.${name}`).join(', ')}, w.hash FROM objects o JOIN (
         SELECT e.key AS key, max(e.seq) AS seq, lower(hex(e.record_hash)) AS hash FROM events e JOIN temp.step5_skipped s ON s.key = e.key
         WHERE e.type <> 'reset' GROUP BY e.key) w ON w.key = o.key`,
    );
    skippedWithLastWrite.setReturnArrays(true);
    const vouch = db.prepare('INSERT OR IGNORE INTO temp.step5_vouch (key) VALUES (?)');
    for (const value of skippedWithLastWrite.iterate()) {
      const row = value as unknown as SqlValue[];
      if (rowDigest(row.slice(0, COLUMN_NAMES.length)) === row[COLUMN_NAMES.length]) vouch.run(row[0]!);
    }
    db.function('dualsync_skip_reason_step5', { deterministic: true }, (text) => JSON.stringify(skipReasonFromText(String(text))));
    db.exec('UPDATE objects SET skip_reason = dualsync_skip_reason_step5(skip_reason) WHERE skip_reason IS NOT NULL');
    appendBaselines(db, db.prepare(`SELECT ${COLUMN_NAMES.map((name) => `o.${name}`).join(', ')} FROM objects o JOIN temp.step5_vouch v ON v.key = o.key ORDER BY o.key`), at, 'schema-5');
  } finally {
    db.exec('DROP TABLE temp.step5_vouch; DROP TABLE temp.step5_skipped;');
  }
}

/** A schema step: SQL, or a function when SQL alone cannot do it. */
export type SchemaStep = string | ((db: DatabaseSync) => void);

/**
 * Schema steps; step i takes a database from user_version i to i + 1. Never edit a step that
 * has shipped: add one.
 */
export const MIGRATIONS: readonly SchemaStep[] = [
  // 1: one row per relative key. The primary key uses BINARY collation (memcmp over UTF-8),
  // which is S3's key order, so `ORDER BY key` is a walk of the table in listing order.
  `CREATE TABLE objects (
     key TEXT NOT NULL PRIMARY KEY,
     size INTEGER NOT NULL CHECK (size >= 0),
     etag TEXT NOT NULL,
     stage TEXT CHECK (stage IN ('staged', 'delivered', 'purged')),
     volume TEXT,
     md5 TEXT,
     verified_by TEXT,
     etag_comparable INTEGER,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     skip_reason TEXT,
     staged_at TEXT,
     delivered_at TEXT,
     purged_at TEXT,
     failed_at TEXT,
     -- the ETag the destination listed at the delivery, and the rule that adopted it (invariant 9)
     destination_etag TEXT,
     adopted_by TEXT,
     -- JSON {size, etag, destinationEtag}: the version delivered before this one, until this one is
     last_delivered TEXT,
     -- what a comparison proved is not this version: the destination's ETag, a local copy's volume
     destination_differs TEXT,
     local_differs TEXT,
     -- the last failure while it counts for backoff (cleared by progress); failed_at keeps the history
     last_failed_at TEXT
   ) WITHOUT ROWID;
   -- the few failing and skipped keys, found without a scan.
   CREATE INDEX objects_failing ON objects (key) WHERE last_error IS NOT NULL AND (stage IS NULL OR stage = 'staged');
   CREATE INDEX objects_skipped ON objects (key) WHERE skip_reason IS NOT NULL;
   -- serial: increases by one with every event; legacy_serial: the serial of the JSON ledger this one was migrated from.
   CREATE TABLE meta (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
   -- Objects and bytes per (stage, verified_by, etag_comparable), kept by the triggers below in
   -- the transaction that changes the rows: status reads a handful of rows, not N. '' and -1
   -- stand for NULL, which a primary key cannot match.
   CREATE TABLE counts (
     stage TEXT NOT NULL,
     verified_by TEXT NOT NULL,
     etag_comparable INTEGER NOT NULL,
     objects INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     PRIMARY KEY (stage, verified_by, etag_comparable)
   ) WITHOUT ROWID;
   CREATE TRIGGER objects_count_insert AFTER INSERT ON objects BEGIN
     INSERT INTO counts VALUES (coalesce(new.stage, ''), coalesce(new.verified_by, ''), coalesce(new.etag_comparable, -1), 1, new.size)
       ON CONFLICT DO UPDATE SET objects = objects + 1, bytes = bytes + excluded.bytes;
   END;
   CREATE TRIGGER objects_count_delete AFTER DELETE ON objects BEGIN
     UPDATE counts SET objects = objects - 1, bytes = bytes - old.size
       WHERE stage = coalesce(old.stage, '') AND verified_by = coalesce(old.verified_by, '') AND etag_comparable = coalesce(old.etag_comparable, -1);
   END;
   CREATE TRIGGER objects_count_update AFTER UPDATE OF stage, verified_by, etag_comparable, size ON objects BEGIN
     UPDATE counts SET objects = objects - 1, bytes = bytes - old.size
       WHERE stage = coalesce(old.stage, '') AND verified_by = coalesce(old.verified_by, '') AND etag_comparable = coalesce(old.etag_comparable, -1);
     INSERT INTO counts VALUES (coalesce(new.stage, ''), coalesce(new.verified_by, ''), coalesce(new.etag_comparable, -1), 1, new.size)
       ON CONFLICT DO UPDATE SET objects = objects + 1, bytes = bytes + excluded.bytes;
   END;
   INSERT INTO meta (name, value) VALUES ('serial', 0);`,
  // 2: last_error holds the failure as JSON {code, hop, ...facts} (model/failure.ts). A text of
  // earlier versions ("upload: why") becomes code 'legacy' with its hop and the rest as cause.
  `UPDATE objects SET last_error = CASE
     WHEN substr(last_error, 1, 10) = 'download: ' THEN json_object('code', 'legacy', 'hop', 'download', 'cause', substr(last_error, 11))
     WHEN substr(last_error, 1, 8) = 'upload: ' THEN json_object('code', 'legacy', 'hop', 'upload', 'cause', substr(last_error, 9))
     ELSE json_object('code', 'legacy', 'cause', last_error)
   END
   WHERE last_error IS NOT NULL;`,
  // 3: the append-only event log (events.ts): one row per event, its seq the serial after it,
  // chained by sha256. Nothing updates or deletes a row; `report --verify` walks it. The hashes
  // are 32-byte BLOBs and the body holds only the fields the row does not: a log of a million
  // objects (three events each) stays a few hundred MiB.
  `CREATE TABLE events (
     seq INTEGER NOT NULL PRIMARY KEY,
     at TEXT NOT NULL,
     type TEXT NOT NULL,
     key TEXT NOT NULL,
     body TEXT NOT NULL,
     record_hash BLOB NOT NULL CHECK (length(record_hash) = 32),
     hash BLOB NOT NULL CHECK (length(hash) = 32)
   );
   CREATE INDEX events_by_key ON events (key, seq);`,
  // 4: no index on the event log. Only `report --verify` looked a key's last event up, and it
  // now sorts the log by key itself (report.ts); the index cost every apply 0.12 (keys in key
  // order) to 0.85 (scattered keys) of the log's 0.7 to 1.65 s CPU per 100k events, and 58 of its
  // 332 bytes per event (bench ledger events). Rows and hashes are unchanged.
  `DROP INDEX IF EXISTS events_by_key;`,
  // 5: skip reasons as codes and facts, and every row covered by the event log (everyRowCovered).
  everyRowCovered,
];

/** The first step after which every row of a ledger is covered by its event log: `report --verify` fails on a row no event wrote. */
export const EVERY_ROW_COVERED_FROM = 5;

/** The user_version a database has once every step ran. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The oldest schema this dualsync reads as it is, where the steps cannot run (a read-only state
 * directory: a backup, a snapshot): the steps after it change nothing a reader cannot read as it
 * was (step 4 only drops an index; a skip reason still kept as text, step 5, reads as the code
 * it words, and verify then counts the rows no event wrote rather than failing on them). Raise
 * it with a step that changes what is read.
 */
export const READABLE_FROM = 3;
