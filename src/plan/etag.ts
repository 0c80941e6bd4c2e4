/**
 * ETag arithmetic. S3 ETags are the MD5 of the content for single-part uploads and
 * MD5(concat(part MD5s)) + "-N" for multipart uploads; a Snowball's "might or might not be
 * an MD5". This module says when an ETag can be compared and what a file's ETag would be.
 */

const MIB = 1024 * 1024;

export type EtagShape =
  | { kind: 'md5'; md5: string }
  | { kind: 'multipart'; digest: string; parts: number }
  | { kind: 'opaque' };

/** Classifies an ETag (quotes already stripped). */
export function etagShape(etag: string): EtagShape {
  const lower = etag.toLowerCase();
  if (/^[0-9a-f]{32}$/.test(lower)) return { kind: 'md5', md5: lower };
  const multipart = /^([0-9a-f]{32})-(\d+)$/.exec(lower);
  if (multipart && Number(multipart[2]) >= 1) return { kind: 'multipart', digest: multipart[1]!, parts: Number(multipart[2]) };
  return { kind: 'opaque' };
}

/** Part sizes tried for a multipart ETag whose part size nobody recorded (common tool defaults). */
const COMMON_PART_SIZES_MIB = [5, 8, 15, 16, 32, 50, 64, 100, 128, 256, 512];

/**
 * The part sizes that could have produced `parts` parts for an object of `size` bytes,
 * the known part size first. Several candidates can fit; each is checked against the digest.
 */
export function candidatePartSizes(size: number, parts: number, knownPartSize?: number): number[] {
  const sizes = new Set<number>();
  if (knownPartSize) sizes.add(knownPartSize);
  for (const mib of COMMON_PART_SIZES_MIB) sizes.add(mib * MIB);
  return [...sizes].filter((partSize) => Math.max(1, Math.ceil(size / partSize)) === parts);
}

/** The ETag an upload of `size` bytes with `partSize` parts gets: plain MD5 below one part. */
export function expectsMultipart(size: number, partSize: number): boolean {
  return size > partSize;
}
