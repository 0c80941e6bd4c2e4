/**
 * The two ends of a sync: the bucket read from and the bucket written to. Not to be confused
 * with `Hop` (model/apply.ts), a transfer: download (source to volumes) or upload (volumes to
 * destination).
 */
export type Side = 'source' | 'destination';
