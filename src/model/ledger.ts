/** Ledger events: the only way a record changes (folded in by ledger/merge.ts). Types only. */
import type { VerifiedBy } from './objects.ts';

interface VersionRef {
  key: string;
  size: number;
  etag: string;
}

export type LedgerEvent =
  /** A verified local copy now exists on `volume`. `again`: the same version is staged anew (destination lost it). */
  | (VersionRef & { type: 'staged'; volume: string; verifiedBy: VerifiedBy; md5?: string; etagComparable?: boolean; again?: boolean })
  /** The destination holds a verified copy. `adopted`: it was already there, nothing moved. */
  | (VersionRef & { type: 'delivered'; verifiedBy: VerifiedBy; adopted?: boolean; again?: boolean })
  /** The staged copy was deleted after delivery. */
  | (VersionRef & { type: 'purged' })
  /** A transfer or verification failed; `attempts` grows. */
  | (VersionRef & { type: 'failed'; hop: 'download' | 'upload'; error: string })
  /** The key cannot be staged safely; kept so status can show it. */
  | (VersionRef & { type: 'skipped'; reason: string });

export type LedgerEventType = LedgerEvent['type'];
