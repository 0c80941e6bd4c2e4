/**
 * The hashes of the event log (events.ts), apart from the log itself so that a schema step
 * (schema.ts) can append events without importing the log: sha256 over a row as stored, and
 * the chain of event hashes.
 */
import { hash } from 'node:crypto';
import type { SqlValue } from './schema.ts';

/** The hash before the first event. */
export const GENESIS = '0'.repeat(64);

/**
 * The kinds the log names: an adoption is a delivery in which nothing moved; `reset` starts a
 * ledger that replaced another; `baseline` vouches for a row as a schema step left it (a row
 * written before the log began, or rewritten by the step).
 */
export type LoggedType = 'staged' | 'delivered' | 'adopted' | 'purged' | 'failed' | 'skipped' | 'reset' | 'baseline';

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

// The one-shot digest: a Hash object per call cost more than the hashing of a short text.
export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/** The digest of a record as its row stores it: the values of COLUMN_NAMES, in that order. */
export function rowDigest(row: readonly SqlValue[]): string {
  return sha256(JSON.stringify(row));
}

/** The hash of an event row: over the previous hash and its canonical bytes. */
export function eventHash(previous: string, row: Omit<LoggedEvent, 'hash'>): string {
  return sha256(`${previous}\n${JSON.stringify([row.seq, row.at, row.type, row.key, row.body, row.recordHash])}`);
}
