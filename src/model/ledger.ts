/** Ledger events: the only way a record changes (folded in by ledger/merge.ts). Types only. */
import type { FailureFacts } from './failure.ts';
import type { AdoptRule, SkipReason, VerifiedBy } from './objects.ts';
import type { Hop } from './apply.ts';

interface VersionRef {
  key: string;
  size: number;
  etag: string;
}

export type LedgerEvent =
  /** A verified local copy now exists on `volume`. `again`: the same version is staged anew (destination lost it). */
  | (VersionRef & { type: 'staged'; volume: string; verifiedBy: VerifiedBy; md5?: string; etagComparable?: boolean; again?: boolean })
  /**
   * The destination holds a verified copy. `adopted`: it was already there, nothing moved, and
   * `adoptedBy` says which rule proved it. `destinationEtag`: the ETag the destination listed.
   */
  | (VersionRef & { type: 'delivered'; verifiedBy: VerifiedBy; adopted?: boolean; adoptedBy?: AdoptRule; destinationEtag?: string; again?: boolean })
  /**
   * The staged copy was deleted after delivery. `replaced`: a partial or stale copy on `volume`
   * that a re-download elsewhere replaced was deleted; it names that copy's own version (its
   * size), never the current one, so the record does not change.
   */
  | (VersionRef & { type: 'purged'; replaced?: boolean; volume?: string })
  /**
   * A transfer or verification failed (`failure`: its code and facts); `attempts` grows, but for
   * an object the operator's stop cut short (code `stopped`), which is no attempt. A comparison that proved a copy is not
   * this version says which: `destinationDiffers` (the destination's ETag: transfer instead of
   * adopting) or `localDiffers` (the volume of a local copy: download again instead of uploading it).
   * `at`: when it was recorded (ISO 8601, UTC), from which the object backs off; absent in
   * journals written before it existed.
   */
  | (VersionRef & { type: 'failed'; hop: Hop; failure: FailureFacts; destinationDiffers?: string; localDiffers?: string; at?: string })
  /** The key cannot be staged safely; kept (its reason's code and facts) so status can show it. */
  | (VersionRef & { type: 'skipped'; reason: SkipReason });

export type LedgerEventType = LedgerEvent['type'];
