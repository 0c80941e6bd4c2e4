import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { CheckFailure, VerifiedBy } from '../model/index.ts';
import { candidatePartSizes, etagShape, expectsMultipart, uploadPartSize } from '../plan/etag.ts';

/** MD5 of the whole file and the multipart ETags for the given part sizes, in one read. */
export async function fileDigests(path: string, partSizes: number[] = []): Promise<{ md5: string; multipart: Map<number, string> }> {
  const whole = createHash('md5');
  const perSize = partSizes.map((partSize) => ({ partSize, filled: 0, current: createHash('md5') as Hash, digests: [] as Buffer[] }));
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    whole.update(chunk);
    for (const state of perSize) {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(chunk.length - offset, state.partSize - state.filled);
        state.current.update(chunk.subarray(offset, offset + take));
        state.filled += take;
        offset += take;
        if (state.filled === state.partSize) {
          state.digests.push(state.current.digest());
          state.current = createHash('md5');
          state.filled = 0;
        }
      }
    }
  }
  const multipart = new Map<number, string>();
  for (const state of perSize) {
    if (state.filled > 0 || state.digests.length === 0) state.digests.push(state.current.digest());
    const combined = createHash('md5').update(Buffer.concat(state.digests)).digest('hex');
    multipart.set(state.partSize, `${combined}-${state.digests.length}`);
  }
  return { md5: whole.digest('hex'), multipart };
}

export interface LocalCheck {
  ok: boolean;
  /** Why it failed: its code and facts, for the ledger and the failure table. */
  failure?: CheckFailure;
  verifiedBy: VerifiedBy;
  md5?: string;
  /** False when the source ETag could not be compared (Snowball ETags, unknown part size). */
  etagComparable?: boolean;
}

/**
 * Checks a downloaded file against the version it should be: size always; with `etag`,
 * the MD5 or multipart ETag where the source ETag is comparable, else size plus a local MD5
 * that the destination check uses later. Never a silent pass, never a spurious failure.
 */
export async function verifyDownloaded(path: string, expected: { size: number; etag: string }, mode: 'size' | 'etag'): Promise<LocalCheck> {
  const actual = (await stat(path)).size;
  if (actual !== expected.size) {
    return { ok: false, verifiedBy: 'size', failure: { code: 'size-mismatch', copy: 'local', actual, expected: expected.size } };
  }
  if (mode === 'size') return { ok: true, verifiedBy: 'size' };
  const shape = etagShape(expected.etag);
  const partSizes = shape.kind === 'multipart' ? candidatePartSizes(expected.size, shape.parts) : [];
  const digests = await fileDigests(path, partSizes);
  if (shape.kind === 'md5') {
    return digests.md5 === shape.md5
      ? { ok: true, verifiedBy: 'md5', md5: digests.md5, etagComparable: true }
      : { ok: false, verifiedBy: 'md5', md5: digests.md5, etagComparable: true, failure: { code: 'etag-mismatch', copy: 'local', actual: digests.md5, expected: expected.etag } };
  }
  if (shape.kind === 'multipart') {
    const wanted = `${shape.digest}-${shape.parts}`;
    for (const etag of digests.multipart.values()) {
      if (etag === wanted) return { ok: true, verifiedBy: 'multipart-etag', md5: digests.md5, etagComparable: true };
    }
  }
  // Not an MD5, or a multipart ETag of unknown part size: say so and carry the MD5 onward.
  return { ok: true, verifiedBy: 'size+local-md5', md5: digests.md5, etagComparable: false };
}

/**
 * Checks the destination's copy after an upload: size always; with `etag`, the ETag the
 * upload must have produced from the local bytes (MD5, or multipart for the part size s5cmd
 * really used: `partSize`, raised for objects over 10,000 parts, see {@link uploadPartSize}).
 */
export async function verifyUploaded(
  localPath: string,
  remote: { size: number; etag: string } | undefined,
  expected: { size: number; md5?: string },
  mode: 'size' | 'etag',
  partSize: number,
): Promise<LocalCheck> {
  if (!remote) return { ok: false, verifiedBy: 'size', failure: { code: 'not-listed-after-put' } };
  if (remote.size !== expected.size) {
    return { ok: false, verifiedBy: 'size', failure: { code: 'size-mismatch', copy: 'destination', actual: remote.size, expected: expected.size } };
  }
  if (mode === 'size') return { ok: true, verifiedBy: 'size' };
  const shape = etagShape(remote.etag);
  const usedPartSize = uploadPartSize(expected.size, partSize);
  const multipart = expectsMultipart(expected.size, partSize);
  if (shape.kind === 'opaque') {
    return { ok: false, verifiedBy: 'md5', failure: { code: 'etag-not-comparable', etag: remote.etag } };
  }
  const digests = await fileDigests(localPath, multipart ? [usedPartSize] : []);
  if (expected.md5 && digests.md5 !== expected.md5) {
    return { ok: false, verifiedBy: 'md5', failure: { code: 'staged-copy-changed', actual: digests.md5, expected: expected.md5 } };
  }
  const want = multipart ? digests.multipart.get(usedPartSize)! : digests.md5;
  const got = shape.kind === 'md5' ? shape.md5 : `${shape.digest}-${shape.parts}`;
  return want === got
    ? { ok: true, verifiedBy: multipart ? 'multipart-etag' : 'md5', md5: digests.md5, etagComparable: true }
    : { ok: false, verifiedBy: 'md5', failure: { code: 'etag-mismatch', copy: 'destination', actual: remote.etag, expected: want } };
}
