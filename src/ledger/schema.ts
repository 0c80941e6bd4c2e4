/**
 * The ledger's tables, and the one map between a LedgerRecord's fields and the columns of
 * `objects`. Adding a field to LedgerRecord is one line in COLUMNS plus one migration step that
 * adds its column (the type below refuses a field without a column, and
 * test/unit/ledger-store.test.ts checks that the migrated table has exactly these columns).
 *
 * Migrations run by `PRAGMA user_version`: a database at version v runs MIGRATIONS[v..] in one
 * transaction. A database whose version is past the last step was written by a newer dualsync
 * and is refused, never rewritten.
 */
import type { RecordedFailure } from '../model/failure.ts';
import type { LedgerRecord } from '../model/objects.ts';
import { legacyFailure } from './merge.ts';

/**
 * How a field is stored: text and integers as they are, a boolean as 0/1, an object as JSON text,
 * a failure as JSON text (a text that is not, from an earlier dualsync, reads as code `legacy`);
 * undefined is NULL.
 */
type ColumnType = 'text' | 'integer' | 'boolean' | 'json' | 'failure';

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
  skipReason: { name: 'skip_reason', type: 'text' },
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
    if (COLUMNS[field].type === 'json' || COLUMNS[field].type === 'failure') return JSON.stringify(value);
    return value as string | number;
  });
}

/** A column's value as the record's field holds it. */
function fromColumn(type: ColumnType, value: string | number): unknown {
  if (type === 'boolean') return value === 1;
  if (type === 'json') return JSON.parse(value as string) as unknown;
  if (type === 'failure') return failureFromColumn(String(value));
  return value;
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

/**
 * Schema steps; step i takes a database from user_version i to i + 1. Never edit a step that
 * has shipped: add one.
 */
export const MIGRATIONS: readonly string[] = [
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
];

/** The user_version a database has once every step ran. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The oldest schema this dualsync reads as it is, where the steps cannot run (a read-only state
 * directory: a backup, a snapshot): the steps after it change nothing a reader uses (step 4 only
 * drops an index). Raise it with a step that changes what is read.
 */
export const READABLE_FROM = 3;
