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
 * - `failed` adds one attempt and keeps the failure (its code and facts, with the hop), its time (`lastFailedAt`, from the event's
 *   `at`; a failure without a time drops an older time rather than keep a wrong one) and which
 *   copy a comparison found to differ (the destination's ETag, or a local copy's volume);
 *   `skipped` keeps the reason. Neither moves the stage. Moving forward clears `lastFailedAt` too.
 * - A `failed` event of code `stopped` (the operator stopped the transfers while the object was in
 *   flight) keeps that as the last failure but is no attempt: `attempts`, `lastFailedAt` and
 *   `failedAt` stay as they were, so the object does not back off for it.
 * - A new version remembers the version delivered before it (`lastDelivered`) until it is
 *   delivered itself: the destination's copy is that older version until then (invariant 9).
 * - `delivered` keeps the destination's ETag and the adoption rule, and forgets what differed.
 * - `purged` applies only to a delivered record: purging a copy that was never delivered would
 *   break invariant 1, so such an event is ignored rather than believed.
 * - With a time `at`, an event that moves the record stamps it: `stagedAt`, `deliveredAt`,
 *   `purgedAt`, and `failedAt` for a failure. A new version starts without stamps.
 */
import { assert } from '../errors.ts';
import type { RecordedFailure } from '../model/failure.ts';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord, LedgerState, SkipReason, Stage } from '../model/objects.ts';

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

/**
 * The record a new version starts with. It remembers the version delivered before it (the one
 * the record it replaces delivered, or that record's own memory), because until the new version
 * is delivered the destination's copy is that one (invariant 9).
 */
function freshRecord(event: LedgerEvent, previous: LedgerRecord | undefined): LedgerRecord {
  const record: LedgerRecord = { key: event.key, size: event.size, etag: event.etag, attempts: 0 };
  if (previous?.stage === 'delivered' || previous?.stage === 'purged') {
    record.lastDelivered = { size: previous.size, etag: previous.etag };
    if (previous.destinationEtag !== undefined) record.lastDelivered.destinationEtag = previous.destinationEtag;
  } else if (previous?.lastDelivered !== undefined) {
    record.lastDelivered = previous.lastDelivered;
  }
  return record;
}

/** A record moved to `stage`, with the failure history of the previous stage dropped. */
function progressed(record: LedgerRecord, stage: Stage): LedgerRecord {
  const next: LedgerRecord = { ...record, stage, attempts: 0 };
  delete next.lastFailure;
  delete next.lastFailedAt;
  return next;
}

/** Sets an optional field of a record, or removes it when the event carries no value: never a stale one kept. */
function setOrClear<F extends keyof LedgerRecord>(record: LedgerRecord, field: F, value: LedgerRecord[F] | undefined): void {
  if (value === undefined) delete record[field];
  else record[field] = value;
}

/** Folds one event into the record for its key (undefined when the key is new); never mutates its input. */
export function applyEvent(record: LedgerRecord | undefined, event: LedgerEvent, at?: string): LedgerRecord {
  const next = foldEvent(record, event);
  if (at === undefined || next === record) return next;
  if (event.type === 'failed') {
    if (event.failure.code !== 'stopped') next.failedAt = at;
  }
  else if (event.type !== 'skipped' && next.stage === event.type) next[`${event.type}At`] = at;
  return next;
}

function foldEvent(record: LedgerRecord | undefined, event: LedgerEvent): LedgerRecord {
  assert(record === undefined || record.key === event.key, `ledger event for ${JSON.stringify(event.key)} applied to another key's record`);
  if (record === undefined || !sameVersion(record, event)) {
    if (event.type === 'purged') return record ?? freshRecord(event, undefined);
    record = freshRecord(event, record);
  }
  const current = rank(record.stage);
  switch (event.type) {
    case 'staged': {
      if (current >= stageRank.staged && event.again !== true) return record;
      const next = progressed(record, 'staged');
      next.volume = event.volume;
      next.verifiedBy = event.verifiedBy;
      setOrClear(next, 'md5', event.md5);
      setOrClear(next, 'etagComparable', event.etagComparable);
      delete next.skipReason;
      // A verified download replaced whatever local copy was found to differ.
      delete next.localDiffers;
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
      setOrClear(next, 'destinationEtag', event.destinationEtag);
      setOrClear(next, 'adoptedBy', event.adoptedBy);
      // The destination's copy is now this version: what was there before no longer matters.
      delete next.lastDelivered;
      delete next.destinationDiffers;
      delete next.localDiffers;
      return next;
    }
    case 'purged': {
      if (record.stage !== 'delivered') return record;
      const next = progressed(record, 'purged');
      delete next.volume;
      return next;
    }
    case 'failed': {
      const next: LedgerRecord = { ...record, lastFailure: { ...event.failure, hop: event.hop } };
      if (event.failure.code === 'stopped') return next; // the operator's stop: no attempt, no backoff
      next.attempts = record.attempts + 1;
      if (event.destinationDiffers !== undefined) next.destinationDiffers = event.destinationDiffers;
      if (event.localDiffers !== undefined) next.localDiffers = event.localDiffers;
      setOrClear(next, 'lastFailedAt', event.at);
      return next;
    }
    case 'skipped':
      return { ...record, skipReason: event.reason };
  }
}

/**
 * A last error that an earlier dualsync recorded as text ("upload: why"): code `legacy`, with
 * the hop it names and the rest as its cause, so that it reads as it did.
 */
export function legacyFailure(text: string): RecordedFailure {
  for (const hop of ['download', 'upload'] as const) {
    if (text.startsWith(`${hop}: `)) return { code: 'legacy', hop, cause: text.slice(hop.length + 2) };
  }
  return { code: 'legacy', cause: text };
}

/**
 * Whether two skip reasons are the same: the same code and the same facts, whatever order their
 * fields were built in (one read back from the ledger's JSON, one from the plan). Absent and
 * undefined facts are alike.
 */
export function sameSkipReason(a: SkipReason, b: SkipReason): boolean {
  const facts = (reason: SkipReason) => Object.entries(reason).filter(([, value]) => value !== undefined);
  const left = facts(a);
  const right = new Map(facts(b));
  return left.length === right.size && left.every(([name, value]) => right.get(name) === value);
}
