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
  // An aws-sdk-go uploader (s5cmd's) raises the part size of objects over 10,000 parts.
  for (const partSize of [...sizes]) sizes.add(uploadPartSize(size, partSize));
  return [...sizes].filter((partSize) => Math.max(1, Math.ceil(size / partSize)) === parts);
}

/** S3's (and aws-sdk-go's s3manager.MaxUploadParts) limit on the parts of one upload. */
export const MAX_UPLOAD_PARTS = 10_000;

/**
 * The part size s5cmd 2.2.2 really uploads `size` bytes with when told `partSize`. Its
 * aws-sdk-go 1.44.256 (s3manager/upload.go, initSize) raises the part size to
 * `size / 10000 + 1` (integer division) once `size / partSize >= 10000`, so that the parts fit
 * S3's limit; note the `>=`: exactly 10,000 full parts are raised too. Above 48.8 GiB at
 * 5 MiB parts (488 GiB at 50 MiB) the multipart ETag is built from that size, not the configured one.
 */
export function uploadPartSize(size: number, partSize: number): number {
  return Math.floor(size / partSize) >= MAX_UPLOAD_PARTS ? Math.floor(size / MAX_UPLOAD_PARTS) + 1 : partSize;
}

/**
 * Whether s5cmd uploads `size` bytes in parts when told `partSize`: aws-sdk-go sends one
 * PutObject (a plain MD5 ETag) when the whole file fits one part of the size it uses.
 */
export function expectsMultipart(size: number, partSize: number): boolean {
  return size > uploadPartSize(size, partSize);
}
