/**
 * `dualsync report`: the chain of custody from the ledger, one row per object version, read with
 * a cursor (never all rows at once); and `--verify`, the walk of the event log (ledger/events.ts)
 * that names the first event, or the first record, that no longer matches its chain.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { LedgerRecord } from '../model/objects.ts';
import type { CustodyRow, ReportTotals, VerifyResult } from '../model/report.ts';
import { LedgerStore } from '../ledger/store.ts';
import { schemaVersion } from '../ledger/db.ts';
import { EVENT_COLUMNS, eventHash, GENESIS, rowDigest, type LoggedType } from '../ledger/events.ts';
import { arrayToRecord, COLUMN_NAMES, EVERY_ROW_COVERED_FROM, type SqlValue } from '../ledger/schema.ts';
import { compareKeys } from '../plan/keys.ts';
import { ledgerOptions, type EngineDeps } from '../engine.ts';
import type { Config } from '../model/config.ts';

export interface ReportFilters {
  /** ISO 8601 bounds on the record's last stamp (delivered, else staged, else failed). */
  since?: string;
  until?: string;
  /** 'staged' | 'delivered' | 'purged' | 'failing' | 'skipped' | 'none' */
  stage?: string;
  keyPrefix?: string;
}

export const REPORT_STAGES = ['staged', 'delivered', 'purged', 'failing', 'skipped', 'none'] as const;

/** The time a row is filtered by: when it last moved forward, else when it last failed. */
export function rowTime(record: LedgerRecord): string | undefined {
  return record.purgedAt ?? record.deliveredAt ?? record.stagedAt ?? record.failedAt;
}

function stageOf(record: LedgerRecord): string {
  if (record.skipReason !== undefined && record.stage === undefined) return 'skipped';
  if (record.lastFailure !== undefined && (record.stage === undefined || record.stage === 'staged')) return 'failing';
  return record.stage ?? 'none';
}

function matches(record: LedgerRecord, filters: ReportFilters): boolean {
  if (filters.stage !== undefined && stageOf(record) !== filters.stage) return false;
  if (filters.since !== undefined || filters.until !== undefined) {
    const time = rowTime(record);
    if (time === undefined) return false;
    if (filters.since !== undefined && time < filters.since) return false;
    if (filters.until !== undefined && time >= filters.until) return false;
  }
  return true;
}

export function custodyRow(record: LedgerRecord): CustodyRow {
  const row: CustodyRow = { key: record.key, size: record.size, sourceEtag: record.etag, stage: stageOf(record), attempts: record.attempts };
  if (record.md5 !== undefined) row.localMd5 = record.md5;
  if (record.destinationEtag !== undefined) row.destinationEtag = record.destinationEtag;
  if (record.verifiedBy !== undefined) row.verifiedBy = record.verifiedBy;
  if (record.adoptedBy !== undefined) row.adoptedBy = record.adoptedBy;
  if (record.volume !== undefined) row.volume = record.volume;
  if (record.stagedAt !== undefined) row.stagedAt = record.stagedAt;
  if (record.deliveredAt !== undefined) row.deliveredAt = record.deliveredAt;
  if (record.purgedAt !== undefined) row.purgedAt = record.purgedAt;
  if (record.lastFailure !== undefined) row.lastFailure = record.lastFailure;
  if (record.skipReason !== undefined) row.skipReason = record.skipReason;
  return row;
}

/** The last event's hash and the number of events, or GENESIS and 0. */
function head(db: DatabaseSync): { hash: string; events: number } {
  const row = db.prepare('SELECT lower(hex(hash)) AS hash, (SELECT count(*) FROM events) AS n FROM events ORDER BY seq DESC LIMIT 1').get() as { hash: string; n: number } | undefined;
  return row === undefined ? { hash: GENESIS, events: 0 } : { hash: row.hash, events: row.n };
}

/** Rows read per batch: one batch is in memory at a time, and the output drains between batches. */
export const REPORT_BATCH = 1000;

/**
 * Streams the matching rows to `emit` in key order and returns the totals with the event log's
 * head hash. The rows are read in key-ordered batches of REPORT_BATCH, each in its own read
 * transaction, and `drained` is awaited between batches, so a slow reader holds back the reading
 * instead of the rows piling up in memory (10M rows into a slow pipe).
 *
 * No read transaction stays open across the awaits: a reader as slow as it likes must not hold
 * off the checkpoints of an apply or watch writing at the same time (the write-ahead log would
 * grow for as long as the pipe is slow). So while dualsync writes, the rows of one report may come
 * from several ledger states. That is acceptable: each row is still one record whole, as one
 * commit left it; each key appears once (the batches resume after the last key read); and the head
 * hash is read after the last batch, so every row shown was written at or before the event it
 * names, and `report --verify` proves the chain up to it. A report for the handover form is taken
 * once the transfers are done, when the ledger does not move and every row is from one state.
 */
export async function runReport(config: Config, deps: EngineDeps, filters: ReportFilters, emit: (row: CustodyRow) => void, drained: () => Promise<void> = async () => {}): Promise<ReportTotals> {
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  const totals: ReportTotals = { rows: 0, bytes: 0, stages: {}, failures: 0, headHash: GENESIS, events: 0 };
  const prefix = filters.keyPrefix ?? '';
  const columns = COLUMN_NAMES.join(', ');
  try {
    let after: string | undefined;
    for (;;) {
      const batch = ledger.read((db) => {
        // The first batch starts at the prefix itself (a key may equal it); the next ones after the last key read.
        const statement = after === undefined
          ? db.prepare(`SELECT ${columns} FROM objects WHERE key >= ? ORDER BY key LIMIT ${REPORT_BATCH}`)
          : db.prepare(`SELECT ${columns} FROM objects WHERE key > ? ORDER BY key LIMIT ${REPORT_BATCH}`);
        statement.setReturnArrays(true);
        return statement.all(after ?? prefix).map((values) => arrayToRecord(values as unknown as SqlValue[]));
      }, (): LedgerRecord[] => []);
      let past = false;
      for (const record of batch) {
        // Keys under one prefix are contiguous in key order: the first key past them ends the walk.
        if (!record.key.startsWith(prefix)) {
          past = true;
          break;
        }
        if (!matches(record, filters)) continue;
        const row = custodyRow(record);
        totals.rows++;
        totals.bytes += row.size;
        const stage = (totals.stages[row.stage] ??= { objects: 0, bytes: 0 });
        stage.objects++;
        stage.bytes += row.size;
        if (row.stage === 'failing') totals.failures++;
        if (row.deliveredAt !== undefined) {
          if (totals.firstDelivery === undefined || row.deliveredAt < totals.firstDelivery) totals.firstDelivery = row.deliveredAt;
          if (totals.lastDelivery === undefined || row.deliveredAt > totals.lastDelivery) totals.lastDelivery = row.deliveredAt;
        }
        emit(row);
      }
      if (past || batch.length < REPORT_BATCH) break;
      after = batch.at(-1)!.key;
      await drained();
    }
    const last = ledger.read((db) => head(db), () => ({ hash: GENESIS, events: 0 }));
    totals.headHash = last.hash;
    totals.events = last.events;
    return totals;
  } finally {
    await ledger.close();
  }
}

/**
 * Walks the event log from its first event, then checks each record against the last event that
 * wrote it, that every key an event wrote still has its record, and that every record was written
 * by an event (from schema step 5, which vouched for the rows older than the log).
 */
export async function verifyLedger(config: Config, deps: EngineDeps): Promise<VerifyResult> {
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  try {
    return ledger.read((db) => verifyDatabase(db), (): VerifyResult => ({ ok: true, events: 0, headHash: GENESIS, uncovered: 0 }));
  } finally {
    await ledger.close();
  }
}

/** {@link verifyLedger} on an open database, inside a read transaction the caller holds (the bench calls it too). */
export function verifyDatabase(db: DatabaseSync): VerifyResult {
  let previous = GENESIS;
  let previousSeq: number | undefined;
  let events = 0;
  const fail = (problem: string): VerifyResult => ({ ok: false, events, headHash: previous, uncovered: 0, problem });
  const walk = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY seq`);
  for (const value of walk.iterate()) {
    const row = value as { seq: number; at: string; type: LoggedType; key: string; body: string; recordHash: string; hash: string };
    if (previousSeq !== undefined && row.seq !== previousSeq + 1) return fail(`event ${previousSeq + 1} is missing (the log goes from ${previousSeq} to ${row.seq})`);
    const expected = eventHash(previous, row);
    if (expected !== row.hash) return fail(`event ${row.seq} (${row.type} ${JSON.stringify(row.key)} at ${row.at}) does not match its hash: it or an event before it was edited`);
    previous = row.hash;
    previousSeq = row.seq;
    events++;
  }
  const serial = (db.prepare(`SELECT value FROM meta WHERE name = 'serial'`).get() as { value: number }).value;
  if (previousSeq !== undefined && serial !== previousSeq) return fail(`the ledger's serial is ${serial}, but its last event is ${previousSeq}: events were removed or the serial edited`);
  // Each key's last event, sorted by key here rather than kept in an index that every apply would
  // pay for (schema step 4): SQLite's sorter spills to temporary files, so memory stays bounded at
  // any size. The bare columns of a max() aggregate are those of the row that holds the max
  // (sqlite.org/lang_select.html#bareagg). Both walks are in BINARY order, which compareKeys is.
  const lastWrites = db.prepare(`SELECT key, max(seq), lower(hex(record_hash)) FROM events WHERE type <> 'reset' GROUP BY key ORDER BY key`);
  lastWrites.setReturnArrays(true);
  const records = db.prepare(`SELECT ${COLUMN_NAMES.join(', ')} FROM objects ORDER BY key`);
  records.setReturnArrays(true);
  const writes = lastWrites.iterate() as Iterator<[string, number, string]>;
  const deleted = (write: [string, number, string]) => fail(`the ledger has no row of ${JSON.stringify(write[0])}, which event ${write[1]} wrote last: the row was deleted`);
  // Before step 5 (a read-only ledger that could not take it), rows older than the log are not
  // covered and are only counted; from step 5 on, the log covers every row.
  const everyRowCovered = schemaVersion(db) >= EVERY_ROW_COVERED_FROM;
  let uncovered = 0;
  try {
    let write = writes.next();
    for (const value of records.iterate()) {
      // The digest is over the row as stored, not as read back: an edit of any byte of it shows.
      const row = value as unknown as SqlValue[];
      const key = String(row[0]);
      // A key that events wrote and that sorts before this row has no row: nothing deletes one.
      if (write.done !== true && compareKeys(write.value[0], key) < 0) return deleted(write.value);
      if (write.done === true || write.value[0] !== key) {
        if (everyRowCovered) return fail(`the ledger row of ${JSON.stringify(key)} was written by no event: it was added by hand (every row of this ledger is covered by its event log)`);
        uncovered++;
        continue;
      }
      const [, seq, hash] = write.value;
      if (rowDigest(row) !== hash) return fail(`the ledger row of ${JSON.stringify(key)} does not match event ${seq}, the last that wrote it: the row was edited`);
      write = writes.next();
    }
    if (write.done !== true) return deleted(write.value);
  } finally {
    writes.return?.();
  }
  return { ok: true, events, headHash: previous, uncovered };
}
