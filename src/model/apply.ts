import type { ObjectFailure } from './failure.ts';
import type { VerifiedBy } from './objects.ts';

/** One of the two transfers: source to volumes, volumes to destination. */
export type Hop = 'download' | 'upload';

/** What apply reports as it goes; the view turns it into a progress line. */
export interface ProgressSink {
  start(hop: Hop, objects: number, bytes: number): void;
  /** A transfer was handed to s5cmd: the hop's rate is measured from the first one. */
  sent?(hop: Hop): void;
  done(hop: Hop, bytes: number): void;
  failed(hop: Hop): void;
}

/** One object that did not get where the plan meant it to go, on which step, and why (a code and its facts). */
export type Failure = ObjectFailure;

/** What one apply did: counts per step, the failures, and how each object was verified. */
export interface ApplyOutcome {
  downloaded: { count: number; bytes: number };
  uploaded: { count: number; bytes: number };
  purged: { count: number; bytes: number };
  /** Partial or stale copies removed because a re-download on another volume replaced them. */
  replaced?: { count: number; bytes: number };
  adopted: number;
  failures: Failure[];
  /** How many objects were verified which way (size, md5, multipart-etag, size+local-md5). */
  verifiedBy: Partial<Record<VerifiedBy, number>>;
}
