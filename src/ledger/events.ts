/**
 * The ledger's event log: an append-only table beside `objects` (schema step 3), one row per
 * event, written in the same transaction as the record change it records. Each row carries
 * sha256 over the previous row's hash and its own canonical bytes (the event's fields as JSON
 * with sorted keys), and the digest of the record the event left, so that an edited event, a deleted one,
 * or an edited `objects` row no longer matches: `dualsync report --verify` walks the chain.
 *
 * The sequence number of an event is the ledger's serial after it: a ledger migrated from an
 * earlier schema keeps its serial, and its chain starts at the first event after the migration.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord } from '../model/objects.ts';
import { eventHash, GENESIS, rowDigest, type LoggedEvent, type LoggedType } from './digest.ts';
import { recordToRow, type SqlValue } from './schema.ts';

export { eventHash, GENESIS, rowDigest, type LoggedEvent, type LoggedType } from './digest.ts';

/** A value with its object keys sorted and its null and undefined fields left out, at every depth. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[name];
    if (field !== undefined && field !== null) out[name] = canonical(field);
  }
  return out;
}

/**
 * The event's canonical bytes, as the log's `body` holds them: its fields as JSON with sorted
 * keys, without the absent ones and without what the row holds already (type and key): the same
 * bytes whatever order the object was built in, and no byte a million events would repeat for nothing.
 */
export function canonicalEvent(event: LedgerEvent): string {
  // Written field by field: the same bytes as JSON.stringify(canonical(rest)) without a copy of
  // each event (a million adopts are a million events). Event fields are names, never
  // integer-like keys, which JSON.stringify would have put first.
  const fields = event as unknown as Record<string, unknown>;
  let out = '';
  for (const name of Object.keys(fields).sort()) {
    if (name === 'type' || name === 'key') continue;
    const value = fields[name];
    if (value === undefined || value === null) continue;
    out += `${out === '' ? '{' : ','}${JSON.stringify(name)}:${JSON.stringify(typeof value === 'object' ? canonical(value) : value)}`;
  }
  return out === '' ? '{}' : `${out}}`;
}

/** The digest of a record as its row holds it (the columns in schema order). */
export function recordDigest(record: LedgerRecord): string {
  return rowDigest(recordToRow(record));
}


/** The type the log names an event by. */
export function loggedType(event: LedgerEvent): LoggedType {
  return event.type === 'delivered' && event.adopted === true ? 'adopted' : event.type;
}

/**
 * The columns of an event row as hex text, for reading: the hashes are stored as 32-byte BLOBs
 * (half the bytes of their hex) and shown, and chained, as hex.
 */
export const EVENT_COLUMNS = 'seq, at, type, key, body, lower(hex(record_hash)) AS recordHash, lower(hex(hash)) AS hash';

/** The head hash of the log in `db` (hex), or {@link GENESIS} when it holds no event. */
export function logHead(db: DatabaseSync): string {
  return (db.prepare('SELECT lower(hex(hash)) AS hash FROM events ORDER BY seq DESC LIMIT 1').get() as { hash: string } | undefined)?.hash ?? GENESIS;
}

/** The body of a `reset` event: the head hash of the ledger it replaced, and where that ledger went. */
export function resetBody(previousHead: string, backup?: string): string {
  return JSON.stringify(canonical({ previousHead, backup }));
}

/** Appends events to the log; used inside the transaction that applies them (queries.ts). */
export class EventLog {
  readonly #head: StatementSync;
  readonly #insert: StatementSync;

  constructor(db: DatabaseSync) {
    this.#head = db.prepare('SELECT lower(hex(hash)) AS hash FROM events ORDER BY seq DESC LIMIT 1');
    this.#insert = db.prepare('INSERT INTO events (seq, at, type, key, body, record_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)');
  }

  /** The last event's hash, or {@link GENESIS} when there is none. */
  head(): string {
    return (this.#head.get() as { hash: string } | undefined)?.hash ?? GENESIS;
  }

  /** Appends one event after `previous`, which left the record written as `row` (recordToRow); returns its hash. */
  append(previous: string, seq: number, at: string, event: LedgerEvent, row: readonly SqlValue[]): string {
    return this.#appendRow(previous, { seq, at, type: loggedType(event), key: event.key, body: canonicalEvent(event), recordHash: rowDigest(row) });
  }

  /**
   * Appends the `reset` event after `previous` (GENESIS in a new ledger): it names no key and no
   * record (its record hash is GENESIS), and its body the head hash of the ledger it replaced.
   */
  appendReset(previous: string, seq: number, at: string, previousHead: string, backup?: string): string {
    return this.#appendRow(previous, { seq, at, type: 'reset', key: '', body: resetBody(previousHead, backup), recordHash: GENESIS });
  }

  #appendRow(previous: string, row: Omit<LoggedEvent, 'hash'>): string {
    const hash = eventHash(previous, row);
    this.#insert.run(row.seq, row.at, row.type, row.key, row.body, Buffer.from(row.recordHash, 'hex'), Buffer.from(hash, 'hex'));
    return hash;
  }
}
