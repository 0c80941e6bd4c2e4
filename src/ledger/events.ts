/**
 * The ledger's event log: an append-only table beside `objects` (schema step 3), one row per
 * event, written in the same transaction as the record change it records. Each row carries
 * sha256 over the previous row's hash and its own canonical bytes (a JSON array in a fixed field
 * order), and the digest of the record the event left, so that an edited event, a deleted one,
 * or an edited `objects` row no longer matches: `dualsync report --verify` walks the chain.
 *
 * The sequence number of an event is the ledger's serial after it: a ledger migrated from an
 * earlier schema keeps its serial, and its chain starts at the first event after the migration.
 */
import { createHash } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord } from '../model/objects.ts';
import { recordToRow } from './schema.ts';

/** The hash before the first event. */
export const GENESIS = '0'.repeat(64);

/** The kinds the log names: an adoption is a delivery in which nothing moved. */
export type LoggedType = 'staged' | 'delivered' | 'adopted' | 'purged' | 'failed' | 'skipped';

/** Every field an event may carry, in the order its canonical bytes list them. */
const EVENT_FIELDS = [
  'type', 'key', 'size', 'etag', 'volume', 'verifiedBy', 'md5', 'etagComparable', 'again', 'adopted', 'adoptedBy',
  'destinationEtag', 'replaced', 'hop', 'error', 'destinationDiffers', 'localDiffers', 'at', 'reason',
] as const;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The event's fields in the fixed order, absent ones as null: the same bytes whatever order the object was built in. */
export function canonicalEvent(event: LedgerEvent): string {
  const fields = event as unknown as Record<string, unknown>;
  return JSON.stringify(EVENT_FIELDS.map((name) => fields[name] ?? null));
}

/** The digest of a record as its row holds it (the columns in schema order). */
export function recordDigest(record: LedgerRecord): string {
  return sha256(JSON.stringify(recordToRow(record)));
}

/** One row of the log. */
export interface LoggedEvent {
  seq: number;
  at: string;
  type: LoggedType;
  key: string;
  body: string;
  recordHash: string;
  hash: string;
}

/** The hash of an event row: over the previous hash and its canonical bytes. */
export function eventHash(previous: string, row: Omit<LoggedEvent, 'hash'>): string {
  return sha256(`${previous}\n${JSON.stringify([row.seq, row.at, row.type, row.key, row.body, row.recordHash])}`);
}

export function loggedType(event: LedgerEvent): LoggedType {
  return event.type === 'delivered' && event.adopted === true ? 'adopted' : event.type;
}

/** Appends events to the log; used inside the transaction that applies them (queries.ts). */
export class EventLog {
  readonly #head: StatementSync;
  readonly #insert: StatementSync;

  constructor(db: DatabaseSync) {
    this.#head = db.prepare('SELECT hash FROM events ORDER BY seq DESC LIMIT 1');
    this.#insert = db.prepare('INSERT INTO events (seq, at, type, key, body, record_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)');
  }

  /** The last event's hash, or {@link GENESIS} when there is none. */
  head(): string {
    return (this.#head.get() as { hash: string } | undefined)?.hash ?? GENESIS;
  }

  /** Appends one event after `previous`; returns its hash. */
  append(previous: string, seq: number, at: string, event: LedgerEvent, record: LedgerRecord): string {
    const row = { seq, at, type: loggedType(event), key: event.key, body: canonicalEvent(event), recordHash: recordDigest(record) };
    const hash = eventHash(previous, row);
    this.#insert.run(row.seq, row.at, row.type, row.key, row.body, row.recordHash, hash);
    return hash;
  }
}
