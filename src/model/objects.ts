/** What the listings, the volumes and the ledger say about objects. Types only. */
import type { RecordedFailure } from './failure.ts';
import type { ActionReason } from './plan.ts';

/** One object in a bucket listing, keyed relative to the hop's prefix. */
export interface ObjectEntry {
  /** Relative key: the bucket key minus the hop prefix. */
  key: string;
  size: number;
  /** ETag without surrounding quotes, as the server returned it. */
  etag: string;
}

/**
 * Keys a listing could not tell apart or read (invariant 12: such a listing is not in sync):
 * entries that repeated a key already listed (two keys the server wrote as one, or a server
 * that repeats), and URL-encoded keys that do not decode. Each count with its first key.
 */
export interface ListingFlaws {
  duplicates: number;
  firstDuplicate?: string;
  undecodable: number;
  /** As the server sent it (URL-encoded). */
  firstUndecodable?: string;
}

/** The result of listing one hop. A listing that failed is an error, never an empty listing. */
export interface Listing {
  entries: ObjectEntry[];
  /** False when the listing is known or suspected to be cut short (e.g. ListObjectsV2 on a Snowball). */
  complete: boolean;
  warnings: string[];
  /**
   * Set when the hop could not be listed at all (connection refused, a timeout, a server
   * error): the cause, secret-free. Its entries are then empty and `complete` is false; the
   * planner keeps the other hop working and decides nothing that needs this listing.
   */
  unreachable?: string;
  /** What the listing could not tell apart or read (in-memory listings: undecodable keys; duplicates are counted by the planner). */
  flaws?: ListingFlaws;
}

/**
 * A hop's listing as a stream, for a merge of sorted streams: the entries come in
 * {@link compareKeys} order (UTF-8 bytes), each key once. `complete` and `unreachable` are known
 * when the stream is opened (a hop that cannot be reached fails before its first entry);
 * `warnings` may grow while the entries are read, and is final once they end. A failure after
 * the first entry throws from the iteration: an incomplete listing never means "gone".
 */
export interface ListingStream {
  /**
   * The entries in pages (a listing page, or a run of a sorted file), iterated once. Pages, not
   * single entries: an await per entry costs about 0.25 µs, seconds at tens of millions of keys.
   */
  pages: AsyncIterable<readonly ObjectEntry[]>;
  complete: boolean;
  warnings: string[];
  unreachable?: string;
  /** What the listing could not tell apart or read; final once the entries end. */
  flaws?: ListingFlaws;
  /** Entries the stream has handed out so far (for progress and figures). */
  readonly listed?: number;
  /** Releases what the stream holds (a temporary sort file); safe to call twice, and before the end. */
  close(): Promise<void>;
}

export interface VolumeInfo {
  /** Absolute path of the volume root. */
  root: string;
  totalBytes: number;
  freeBytes: number;
  /** Bytes that must stay free (reserve resolved against totalBytes). */
  reserveBytes: number;
  /**
   * The filesystem holding the root (`st_dev`): volumes on one device share its free space.
   * Undefined: a device of its own.
   */
  device?: string;
}

/** A regular file found under a volume root (outside dualsync's temporary folder). */
export interface LocalFile {
  volume: string;
  /** Relative key: the path under the volume root, with '/' separators. */
  key: string;
  size: number;
}

/** A symbolic link met below a volume root: never followed, never a staged copy. */
export interface LocalLink {
  volume: string;
  /** The link's path under the volume root, with '/' separators. */
  path: string;
}

export type Stage = 'staged' | 'delivered' | 'purged';

/** How an object's content was checked. */
export type VerifiedBy = 'size' | 'md5' | 'multipart-etag' | 'size+local-md5';

/**
 * Why an object the destination already holds was taken as this version without a transfer:
 * equal plain MD5 ETags, equal multipart ETags, equal content (both objects streamed through
 * MD5 by apply), or equal size alone because the operator chose `transfer.adopt: size`.
 */
export type AdoptRule = 'md5' | 'multipart-etag' | 'content' | 'size';

/** A version that was delivered: what the destination's copy was made from. */
export interface DeliveredVersion {
  size: number;
  etag: string;
  /** The destination's ETag when it was delivered (unknown in ledgers older than this field). */
  destinationEtag?: string;
}

/** The ledger's word on one relative key: its current version and the stage it reached. */
export interface LedgerRecord {
  key: string;
  size: number;
  etag: string;
  /** Undefined while the version has reached no stage yet (only failures or a skip recorded). */
  stage?: Stage;
  /** Volume root holding the staged copy (stage 'staged', or 'delivered' before the purge). */
  volume?: string;
  /** MD5 (hex) of the local copy when it was computed. */
  md5?: string;
  verifiedBy?: VerifiedBy;
  /** Whether the source ETag could be compared (false: not an MD5 and no known part size). */
  etagComparable?: boolean;
  /** The destination's ETag when this version was delivered or adopted. */
  destinationEtag?: string;
  /** How this version was adopted, when it was adopted rather than uploaded. */
  adoptedBy?: AdoptRule;
  /**
   * While this version is not delivered: the version delivered before it, whose copy the
   * destination may still hold. A same-size object there is then the old version, not this one.
   */
  lastDelivered?: DeliveredVersion;
  /** A destination ETag whose content a comparison found to differ from this version: transfer, do not compare again. */
  destinationDiffers?: string;
  /** A volume whose local copy (unknown to the ledger) was found not to be this version: download again. */
  localDiffers?: string;
  attempts: number;
  /** The last failure since the version last moved forward: its code and facts (the ledger's last_error, as JSON). */
  lastFailure?: RecordedFailure;
  /**
   * When the last of those `attempts` failed (ISO 8601, UTC, from the `failed` event's `at`):
   * the object backs off from it. Absent when no failure time is known (no failure since the
   * version last moved forward, or one recorded before failures carried a time).
   */
  lastFailedAt?: string;
  /** Why the key is skipped: a code and its facts (the views word it). */
  skipReason?: SkipReason;
  /** When this version was recorded as staged, delivered, purged, and when it last failed (ISO 8601, UTC). */
  stagedAt?: string;
  deliveredAt?: string;
  purgedAt?: string;
  failedAt?: string;
}

/**
 * Why a key is skipped, as the ledger keeps it: the plan's reason (a code and its facts);
 * `unsafe-key` for a skip the plan gave no reason; `legacy` for a text an earlier dualsync stored
 * that names no known reason (schema step 5 kept it as `text`).
 */
export type SkipReason = ActionReason | { code: 'unsafe-key' } | { code: 'legacy'; text: string };

export interface LedgerState {
  /** Increases with every change; a plan remembers the serial it saw. */
  serial: number;
  records: LedgerRecord[];
}

/** Everything the planner looks at. Arrays may arrive in any order. */
export interface Inventory {
  source: Listing;
  destination: Listing;
  volumes: VolumeInfo[];
  local: LocalFile[];
  /** Symbolic links the volume scan met (not followed): no download is placed through one. */
  links?: LocalLink[];
  ledger: LedgerState;
}
