/** What `dualsync check` says of each object, and of the whole site. Types only. */
import type { ActionReason } from './plan.ts';
import type { RecordedFailure } from './failure.ts';

/**
 * One state per object version: `delivered` (the destination holds it, proven by size and the
 * ETag recorded at delivery, equal plain ETags, or equal content); `different` (the destination
 * holds another size, another ETag than recorded, or other bytes); `unverified` (same size, but
 * nothing proves the content: not recorded as delivered and the ETags cannot be compared);
 * `missing`, `staged-only`, `failing`, `skipped`; `destination-only` (no source object).
 */
export type CheckCode = 'delivered' | 'different' | 'unverified' | 'missing' | 'staged-only' | 'failing' | 'skipped' | 'destination-only';

export const CHECK_CODES: readonly CheckCode[] = ['delivered', 'different', 'unverified', 'missing', 'staged-only', 'failing', 'skipped', 'destination-only'];

/** rclone check's combined marks: `=` same, `-` only on the source, `+` only on the destination, `*` differs, `!` error. */
export const COMBINED_MARK: Readonly<Record<CheckCode, '=' | '-' | '+' | '*' | '!'>> = {
  delivered: '=',
  different: '*',
  unverified: '!',
  missing: '-',
  'staged-only': '-',
  failing: '!',
  skipped: '-',
  'destination-only': '+',
};

/**
 * What the listings, with the ledger's record, proved or disproved about a source object at the
 * destination: a code and its facts (the words are in view/check.ts).
 */
export type ListingWhy =
  /** Recorded as delivered (at `deliveredAt` when known), but the destination does not list it. */
  | { code: 'delivered-not-listed'; deliveredAt?: string }
  /** The destination's size is not the source's. */
  | { code: 'size-differs'; destinationSize: number; sourceSize: number }
  /** Same size, and the destination ETag is the one recorded at delivery. */
  | { code: 'recorded-etag-matches' }
  /** The destination ETag is not the one recorded at delivery: rewritten since. */
  | { code: 'etag-rewritten'; destinationEtag: string; recordedEtag: string }
  /** Same size and equal ETags that prove the bytes by themselves (plain MD5s or multipart ETags). */
  | { code: 'etags-equal'; recordedAsDelivered: boolean }
  /** Same size, but the ETags cannot be compared and no destination ETag was recorded at delivery. */
  | { code: 'etags-not-comparable'; recordedAsDelivered: boolean };

/** Why an object is in its state: what the listings found, then what the bytes said with `--content`. */
export type CheckWhy =
  | ListingWhy
  /** The MD5s of the bytes differ (both are on the entry). */
  | { code: 'content-differs' }
  /** The MD5s of the bytes are equal: they decide, whatever the listings found (`listings`). */
  | { code: 'content-same'; listings: ListingWhy }
  /** A side's bytes could not be read: nothing is proven either way. */
  | { code: 'content-not-read'; cause: string; errorCode?: string };

export type CheckWhyCode = CheckWhy['code'];

/** The facts behind one object's state: the listings decide it, the ledger explains it. */
export interface CheckEntry {
  code: CheckCode;
  key: string;
  /** The source's size and ETag (absent for destination-only). */
  size?: number;
  etag?: string;
  /** The destination's size and ETag when it lists the key. */
  destinationSize?: number;
  destinationEtag?: string;
  /** What proved or disproved it, or why it is in this state. */
  why?: CheckWhy;
  /** Why a skipped key is never moved: the planner's own skip reason, as a code and its facts. */
  skip?: ActionReason;
  /** From the ledger: when it was delivered and the destination ETag recorded then. */
  deliveredAt?: string;
  recordedDestinationEtag?: string;
  /** Failing: attempts since it last moved, the last failure (a code and facts), the next try (ISO 8601) when it backs off. */
  attempts?: number;
  lastFailure?: RecordedFailure;
  nextTryAt?: string;
  /** Staged only: the volume holding the copy. */
  volume?: string;
  /** With --content: the MD5 of each side's bytes. */
  sourceMd5?: string;
  destinationMd5?: string;
}

/** The count, bytes and first keys of one state. */
export interface CheckGroup {
  count: number;
  bytes: number;
  examples: string[];
  /** Why the first example is in this state (its why, last failure or skip reason), for the summary. */
  first?: Pick<CheckEntry, 'why' | 'lastFailure' | 'skip'>;
}

export interface CheckSummary {
  groups: Record<CheckCode, CheckGroup>;
  /** True when every source object is delivered and verified, and nothing else is at the destination. */
  safe: boolean;
  /** Why the listings cannot prove it (an incomplete listing, keys it could not tell apart). */
  listingProblems: string[];
  /** With --content: bytes read on both sides, and how long it took. */
  content?: { objects: number; bytes: number; seconds: number };
  seconds: number;
}

/**
 * Objects `check --content` reads at once (each on both sides) when `--concurrency` is not given.
 * At 8, a 40 MB/s site link carried 0.79-0.89 of what raw s5cmd got through it; at 16, 0.92
 * (`npm run bench -- check link`). The bytes a side may run ahead stay one budget (ops/check.ts).
 */
export const CONTENT_CONCURRENCY = 16;
