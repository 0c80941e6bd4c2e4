/**
 * The one rule by which a ledger record changes: fold an event into it. Pure.
 *
 * Rules (each has a case in test/unit/ledger-merge.test.ts):
 * - A version is (size, etag). An event for another version than the record's starts a fresh
 *   record for that version (attempts 0), then applies. The exception is `purged`: it cannot
 *   begin a version, so a purge of a version the ledger no longer tracks changes nothing.
 * - Stages only move forward for a version: staged -> delivered -> purged. An event that would
 *   move a record back (or repeat its stage) is ignored, so replaying an event is harmless;
 *   `again: true` on staged/delivered is the one way back (the destination lost its copy and
 *   the same version is staged and delivered anew).
 * - Moving forward clears the failure count and the last error: `attempts` counts failures
 *   since the version last made progress, which is what a retry limit needs.
 * - `failed` adds one attempt and keeps the error; `skipped` keeps the reason. Neither moves
 *   the stage.
 * - `purged` applies only to a delivered record: purging a copy that was never delivered would
 *   break invariant 1, so such an event is ignored rather than believed.
 * - With a time `at`, an event that moves the record stamps it: `stagedAt`, `deliveredAt`,
 *   `purgedAt`, and `failedAt` for a failure. A new version starts without stamps.
 */
import { assert } from '../errors.ts';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord, LedgerState, Stage } from '../model/objects.ts';

const stageRank: Record<Stage, number> = { staged: 1, delivered: 2, purged: 3 };

function rank(stage: Stage | undefined): number {
  return stage === undefined ? 0 : stageRank[stage];
}

/** A ledger that has seen nothing: serial 0, no records. */
export function emptyLedger(): LedgerState {
  return { serial: 0, records: [] };
}

function sameVersion(record: LedgerRecord, event: LedgerEvent): boolean {
  return record.size === event.size && record.etag === event.etag;
}

function freshRecord(event: LedgerEvent): LedgerRecord {
  return { key: event.key, size: event.size, etag: event.etag, attempts: 0 };
}

/** A record moved to `stage`, with the failure history of the previous stage dropped. */
function progressed(record: LedgerRecord, stage: Stage): LedgerRecord {
  const next: LedgerRecord = { ...record, stage, attempts: 0 };
  delete next.lastError;
  return next;
}

/** Folds one event into the record for its key (undefined when the key is new); never mutates its input. */
export function applyEvent(record: LedgerRecord | undefined, event: LedgerEvent, at?: string): LedgerRecord {
  const next = foldEvent(record, event);
  if (at === undefined || next === record) return next;
  if (event.type === 'failed') next.failedAt = at;
  else if (event.type !== 'skipped' && next.stage === event.type) next[`${event.type}At`] = at;
  return next;
}

function foldEvent(record: LedgerRecord | undefined, event: LedgerEvent): LedgerRecord {
  assert(record === undefined || record.key === event.key, `ledger event for ${JSON.stringify(event.key)} applied to another key's record`);
  if (record === undefined || !sameVersion(record, event)) {
    if (event.type === 'purged') return record ?? freshRecord(event);
    record = freshRecord(event);
  }
  const current = rank(record.stage);
  switch (event.type) {
    case 'staged': {
      if (current >= stageRank.staged && event.again !== true) return record;
      const next = progressed(record, 'staged');
      next.volume = event.volume;
      next.verifiedBy = event.verifiedBy;
      if (event.md5 === undefined) delete next.md5;
      else next.md5 = event.md5;
      if (event.etagComparable === undefined) delete next.etagComparable;
      else next.etagComparable = event.etagComparable;
      delete next.skipReason;
      return next;
    }
    case 'delivered': {
      if (current >= stageRank.delivered && event.again !== true) return record;
      const next = progressed(record, 'delivered');
      // A delivered record keeps its volume until the purge: that copy still exists.
      // Delivered again after a purge: the copy is gone, so there is no volume to keep.
      if (record.stage === 'purged') delete next.volume;
      next.verifiedBy = event.verifiedBy;
      delete next.skipReason;
      return next;
    }
    case 'purged': {
      if (record.stage !== 'delivered') return record;
      const next = progressed(record, 'purged');
      delete next.volume;
      return next;
    }
    case 'failed':
      return { ...record, attempts: record.attempts + 1, lastError: `${event.hop}: ${event.error}` };
    case 'skipped':
      return { ...record, skipReason: event.reason };
  }
}
