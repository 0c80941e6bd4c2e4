/** What `dualsync report` shows: the chain of custody, its totals, and the event log's verdict. Types only. */
import type { RecordedFailure } from './failure.ts';
import type { SkipReason } from './objects.ts';

/** One row of the chain of custody: one object version as the ledger holds it. */
export interface CustodyRow {
  key: string;
  size: number;
  sourceEtag: string;
  localMd5?: string;
  destinationEtag?: string;
  /** staged, delivered, purged, failing, skipped, or none. */
  stage: string;
  /** How each hop was verified (size, md5, multipart-etag, size+local-md5), and the rule when adopted. */
  verifiedBy?: string;
  adoptedBy?: string;
  volume?: string;
  stagedAt?: string;
  deliveredAt?: string;
  purgedAt?: string;
  attempts: number;
  /** The last failure since the version last moved forward: its code, hop and facts (the CSV words it). */
  lastFailure?: RecordedFailure;
  /** Why the key is skipped: its code and facts (the CSV words it). */
  skipReason?: SkipReason;
}

/** Totals for the human summary, gathered as the rows pass. */
export interface ReportTotals {
  rows: number;
  bytes: number;
  stages: Record<string, { objects: number; bytes: number }>;
  firstDelivery?: string;
  lastDelivery?: string;
  failures: number;
  /** The event log's last hash (the one for the handover form), and its number of events. */
  headHash: string;
  events: number;
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  headHash: string;
  /**
   * Records no event wrote, in a ledger whose schema predates step 5 and that cannot be upgraded
   * (read-only): rows written before its event log started. From step 5 on, such a row fails verify.
   */
  uncovered: number;
  /** The first thing that does not match, in words. */
  problem?: string;
}
