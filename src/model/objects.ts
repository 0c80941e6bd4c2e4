/** What the listings, the volumes and the ledger say about objects. Types only. */

/** One object in a bucket listing, keyed relative to the hop's prefix. */
export interface ObjectEntry {
  /** Relative key: the bucket key minus the hop prefix. */
  key: string;
  size: number;
  /** ETag without surrounding quotes, as the server returned it. */
  etag: string;
}

/** The result of listing one hop. A listing that failed is an error, never an empty listing. */
export interface Listing {
  entries: ObjectEntry[];
  /** False when the listing is known or suspected to be cut short (e.g. ListObjectsV2 on a Snowball). */
  complete: boolean;
  warnings: string[];
}

export interface VolumeInfo {
  /** Absolute path of the volume root. */
  root: string;
  totalBytes: number;
  freeBytes: number;
  /** Bytes that must stay free (reserve resolved against totalBytes). */
  reserveBytes: number;
}

/** A regular file found under a volume root (outside dualsync's temporary folder). */
export interface LocalFile {
  volume: string;
  /** Relative key: the path under the volume root, with '/' separators. */
  key: string;
  size: number;
}

export type Stage = 'staged' | 'delivered' | 'purged';

/** How an object's content was checked. */
export type VerifiedBy = 'size' | 'md5' | 'multipart-etag' | 'size+local-md5';

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
  attempts: number;
  lastError?: string;
  skipReason?: string;
  /** When this version was recorded as staged, delivered, purged, and when it last failed (ISO 8601, UTC). */
  stagedAt?: string;
  deliveredAt?: string;
  purgedAt?: string;
  failedAt?: string;
}

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
  ledger: LedgerState;
}
