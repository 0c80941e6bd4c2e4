/**
 * When an object can be taken as a version without moving it (invariants 9 and 10). Pure.
 *
 * Two questions, both about proof rather than likelihood:
 * - The destination already holds an object of the source's size: is it this version? Equal
 *   plain MD5 ETags or equal multipart ETags say yes; the ledger knowing that the destination's
 *   copy was made from another source version says no, whatever the ETags look like; otherwise
 *   `transfer.adopt` decides: compare the content (apply streams both objects through MD5),
 *   transfer it again, or trust the size because the operator chose to.
 * - A local copy the ledger does not know: can apply prove it is this version before uploading
 *   it? Only against a comparable source ETag (a plain MD5, or a multipart ETag whose part size
 *   can be found); otherwise it is downloaded again.
 */
import type { AdoptMode } from '../model/config.ts';
import type { AdoptRule, DeliveredVersion, LedgerRecord } from '../model/objects.ts';
import type { ActionReason } from '../model/plan.ts';
import { candidatePartSizes, etagShape } from './etag.ts';

interface Version {
  size: number;
  etag: string;
}

/** Either the rule that adopts the destination's object, or why it must be transferred (undefined: it plainly differs). */
export type Adoption = { adopt: AdoptRule } | { transfer: ActionReason | undefined };

/**
 * The version the destination's copy was made from, as far as the ledger knows: the record's
 * own version when it was delivered and the source now lists another, else the version its
 * record remembers delivering before the current one began.
 */
export function deliveredOrigin(record: LedgerRecord | undefined, version: Version): DeliveredVersion | undefined {
  if (record === undefined) return undefined;
  const sameVersion = record.size === version.size && record.etag === version.etag;
  if (!sameVersion && (record.stage === 'delivered' || record.stage === 'purged')) {
    const origin: DeliveredVersion = { size: record.size, etag: record.etag };
    if (record.destinationEtag !== undefined) origin.destinationEtag = record.destinationEtag;
    return origin;
  }
  return record.lastDelivered;
}

/** Whether the destination's object is still the copy made from `origin` (by its ETag then, else by its size). */
function stillFrom(origin: DeliveredVersion, destination: Version): boolean {
  if (origin.destinationEtag !== undefined) return origin.destinationEtag === destination.etag;
  return origin.size === destination.size;
}

/**
 * Whether the destination's object (of any size) is `version`, and by which rule; `record` is
 * the key's ledger record whatever version it is for.
 */
export function adoption(version: Version, destination: Version, record: LedgerRecord | undefined, mode: AdoptMode): Adoption {
  if (version.size !== destination.size) return { transfer: undefined };
  const origin = deliveredOrigin(record, version);
  if (origin !== undefined && (origin.size !== version.size || origin.etag !== version.etag) && stillFrom(origin, destination)) {
    return { transfer: { code: 'new-version-at-destination' } };
  }
  const source = etagShape(version.etag);
  const there = etagShape(destination.etag);
  if (source.kind === 'md5' && there.kind === 'md5') return source.md5 === there.md5 ? { adopt: 'md5' } : { transfer: undefined };
  if (source.kind === 'multipart' && there.kind === 'multipart' && source.digest === there.digest && source.parts === there.parts) {
    return { adopt: 'multipart-etag' };
  }
  const known = record !== undefined && record.size === version.size && record.etag === version.etag;
  if (known && record.destinationDiffers === destination.etag) {
    return { transfer: { code: 'destination-content-differs' } };
  }
  if (mode === 'content') return { adopt: 'content' };
  if (mode === 'size') return { adopt: 'size' };
  return { transfer: { code: 'destination-unproven' } };
}

/**
 * The digest of a local copy that can prove it is the version with this source ETag: the MD5
 * for a plain MD5 ETag, the multipart ETag when some usual part size yields its part count;
 * undefined when nothing can (a Snowball's opaque ETag).
 */
export function localProofFor(version: Version): 'md5' | 'multipart-etag' | undefined {
  const shape = etagShape(version.etag);
  if (shape.kind === 'md5') return 'md5';
  if (shape.kind === 'multipart' && candidatePartSizes(version.size, shape.parts).length > 0) return 'multipart-etag';
  return undefined;
}
