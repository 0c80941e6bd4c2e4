import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { candidatePartSizes, etagShape, expectsMultipart, MAX_UPLOAD_PARTS, uploadPartSize } from '../../src/plan/etag.ts';
import { fileDigests, verifyDownloaded, verifyUploaded } from '../../src/apply/verify.ts';

const MIB = 1024 * 1024;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** The ETag S3 gives a multipart upload of `body` in parts of `partSize`. */
function multipartEtag(body: Buffer, partSize: number): string {
  const digests: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += partSize) digests.push(createHash('md5').update(body.subarray(offset, offset + partSize)).digest());
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}

async function fileWith(body: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'verify-'));
  const path = join(dir, 'object');
  await writeFile(path, body);
  return path;
}

describe('ETag comparability', () => {
  it.each([
    ['plain MD5', 'd41d8cd98f00b204e9800998ecf8427e', 'md5'],
    ['upper-case MD5', 'D41D8CD98F00B204E9800998ECF8427E', 'md5'],
    ['multipart', '0123456789abcdef0123456789abcdef-12', 'multipart'],
    ['non-hex (a Snowball may return anything)', 'not-an-md5-at-all', 'opaque'],
    ['too short', 'abc123', 'opaque'],
    ['multipart with zero parts', '0123456789abcdef0123456789abcdef-0', 'opaque'],
  ])('%s', (_name, etag, kind) => {
    expect(etagShape(etag).kind).toBe(kind);
  });

  it('candidate part sizes are those that give the same part count, the known one first', () => {
    expect(candidatePartSizes(11 * MIB, 3, 5 * MIB)[0]).toBe(5 * MIB);
    expect(candidatePartSizes(11 * MIB, 3)).toContain(5 * MIB);
    expect(candidatePartSizes(11 * MIB, 1)).toContain(16 * MIB);
    expect(candidatePartSizes(11 * MIB, 500)).toEqual([]);
  });
});

describe('digests', () => {
  it('computes the MD5 and the multipart ETag in one read, matching S3 arithmetic', async () => {
    const body = Buffer.alloc(11 * MIB + 123, 3);
    body.write('different start');
    const digests = await fileDigests(await fileWith(body), [5 * MIB, 8 * MIB]);
    expect(digests.md5).toBe(md5(body));
    expect(digests.multipart.get(5 * MIB)).toBe(multipartEtag(body, 5 * MIB));
    expect(digests.multipart.get(8 * MIB)).toBe(multipartEtag(body, 8 * MIB));
  });

  it('an exact multiple of the part size has no empty last part', async () => {
    const body = Buffer.alloc(10 * MIB, 9);
    expect((await fileDigests(await fileWith(body), [5 * MIB])).multipart.get(5 * MIB)).toBe(multipartEtag(body, 5 * MIB));
  });
});

describe('verifying a download', () => {
  const body = Buffer.from('the content of one object');

  it('size mode: same size passes, without reading the content', async () => {
    expect(await verifyDownloaded(await fileWith(body), { size: body.length, etag: 'whatever' }, 'size')).toMatchObject({ ok: true, verifiedBy: 'size' });
  });

  it('size mode: one byte short fails and says so', async () => {
    const check = await verifyDownloaded(await fileWith(body.subarray(1)), { size: body.length, etag: md5(body) }, 'size');
    expect(check.ok).toBe(false);
    expect(check.failure).toEqual({ code: 'size-mismatch', copy: 'local', actual: body.length - 1, expected: body.length });
  });

  it('etag mode: a matching MD5 passes as md5', async () => {
    expect(await verifyDownloaded(await fileWith(body), { size: body.length, etag: md5(body) }, 'etag')).toMatchObject({ ok: true, verifiedBy: 'md5', etagComparable: true });
  });

  it('etag mode: same size but different bytes fails (never a silent pass)', async () => {
    const other = Buffer.from(body);
    other[0] = 0;
    const check = await verifyDownloaded(await fileWith(other), { size: body.length, etag: md5(body) }, 'etag');
    expect(check.ok).toBe(false);
    expect(check.failure).toEqual({ code: 'etag-mismatch', copy: 'local', actual: md5(other), expected: md5(body) });
  });

  it('etag mode: a multipart ETag of a common part size is recomputed and compared', async () => {
    const big = Buffer.alloc(17 * MIB, 5);
    expect(await verifyDownloaded(await fileWith(big), { size: big.length, etag: multipartEtag(big, 8 * MIB) }, 'etag')).toMatchObject({ ok: true, verifiedBy: 'multipart-etag' });
  });

  it('etag mode: an ETag that is not comparable is recorded so, verified by size, and the MD5 carried on', async () => {
    const check = await verifyDownloaded(await fileWith(body), { size: body.length, etag: 'snowball-opaque-etag' }, 'etag');
    expect(check).toMatchObject({ ok: true, verifiedBy: 'size+local-md5', etagComparable: false, md5: md5(body) });
  });

  it('etag mode: a multipart ETag with an unknown part size is not comparable, not a failure', async () => {
    const big = Buffer.alloc(3 * MIB, 1);
    const check = await verifyDownloaded(await fileWith(big), { size: big.length, etag: multipartEtag(big, 1 * MIB + 7) }, 'etag');
    expect(check).toMatchObject({ ok: true, etagComparable: false });
  });
});

describe('verifying an upload', () => {
  const body = Buffer.alloc(12 * MIB, 2);

  it('fails when the destination does not list the object', async () => {
    expect((await verifyUploaded(await fileWith(body), undefined, { size: body.length }, 'size', 5 * MIB)).ok).toBe(false);
  });

  it('size mode: compares sizes', async () => {
    const path = await fileWith(body);
    expect((await verifyUploaded(path, { size: body.length, etag: 'x' }, { size: body.length }, 'size', 5 * MIB)).ok).toBe(true);
    expect((await verifyUploaded(path, { size: 1, etag: 'x' }, { size: body.length }, 'size', 5 * MIB)).ok).toBe(false);
  });

  it('etag mode: the multipart ETag for the part size used must match', async () => {
    const path = await fileWith(body);
    const good = await verifyUploaded(path, { size: body.length, etag: multipartEtag(body, 5 * MIB) }, { size: body.length, md5: md5(body) }, 'etag', 5 * MIB);
    expect(good).toMatchObject({ ok: true, verifiedBy: 'multipart-etag' });
    const bad = await verifyUploaded(path, { size: body.length, etag: multipartEtag(Buffer.alloc(12 * MIB, 3), 5 * MIB) }, { size: body.length }, 'etag', 5 * MIB);
    expect(bad.ok).toBe(false);
  });

  it('etag mode: a staged copy that changed since its download verified is caught', async () => {
    const path = await fileWith(body);
    const check = await verifyUploaded(path, { size: body.length, etag: multipartEtag(body, 5 * MIB) }, { size: body.length, md5: 'f'.repeat(32) }, 'etag', 5 * MIB);
    expect(check.ok).toBe(false);
    expect(check.failure).toEqual({ code: 'staged-copy-changed', actual: md5(body), expected: 'f'.repeat(32) });
  });
});

describe('uploadPartSize: the part size s5cmd (aws-sdk-go 1.44.256) really uses', () => {
  const parts = (size: number, partSize: number) => Math.max(1, Math.ceil(size / partSize));
  const P = 5 * MIB;
  it.each<[string, number, number, number]>([
    ['one byte under 10,000 full parts: as configured (10,000 parts, the last one short)', 10_000 * P - 1, P, P],
    ['exactly 10,000 full parts: raised all the same (the SDK tests size / partSize >= 10000)', 10_000 * P, P, Math.floor((10_000 * P) / 10_000) + 1],
    ['one byte over 10,000 full parts: raised to size / 10000 + 1', 10_000 * P + 1, P, Math.floor((10_000 * P + 1) / 10_000) + 1],
    ['9,999 full parts and a bit: as configured', 9_999 * P + 17, P, P],
    ['50 MiB parts, 600 GiB: raised', 600 * 1024 * 1024 * MIB, 50 * MIB, Math.floor((600 * 1024 * 1024 * MIB) / 10_000) + 1],
    ['50 MiB parts, 488 GiB: as configured', 488 * 1024 * MIB, 50 * MIB, 50 * MIB],
    ['a small object: as configured', 10, P, P],
  ])('%s', (_name, size, partSize, expected) => {
    expect(uploadPartSize(size, partSize)).toBe(expected);
    expect(parts(size, uploadPartSize(size, partSize))).toBeLessThanOrEqual(MAX_UPLOAD_PARTS);
  });

  it('exactly 10,000 full parts of 5 MiB become 10,000 parts of 5 MiB + 1 byte, the last one short', () => {
    const size = 10_000 * P;
    const used = uploadPartSize(size, P);
    expect(used).toBe(P + 1);
    expect(parts(size, used)).toBe(10_000);
    expect(size - 9_999 * used).toBe(P - 9_999);
  });

  it('never more than 10,000 parts, from the boundary to 5 TiB', () => {
    for (const partSize of [P, 8 * MIB, 50 * MIB, 5 * 1024 * MIB]) {
      for (const size of [10_000 * partSize - 1, 10_000 * partSize, 10_000 * partSize + 1, 10_001 * partSize, 5 * 1024 * 1024 * MIB, 5 * 1024 * 1024 * MIB - 1]) {
        expect(parts(size, uploadPartSize(size, partSize)), `${size} at ${partSize}`).toBeLessThanOrEqual(MAX_UPLOAD_PARTS);
      }
    }
  });

  it('an object of one part or less is a single PutObject (plain MD5)', () => {
    expect(expectsMultipart(P, P)).toBe(false);
    expect(expectsMultipart(P + 1, P)).toBe(true);
    expect(expectsMultipart(10_000 * P + 1, P)).toBe(true);
  });

  it('a source ETag from such an upload finds its part size among the candidates', () => {
    const size = 10_000 * P + 1;
    expect(candidatePartSizes(size, 10_000)).toContain(uploadPartSize(size, P));
  });
});

describe('verifyUploaded over 10,000 parts', () => {
  it('expects the ETag of the raised part size, not the configured one', async () => {
    // The SDK's rule is the same arithmetic at any scale: 1 KiB parts put the boundary at 10,000 KiB,
    // so a 10 MiB file crosses it without a 48.8 GiB one.
    const configured = 1024;
    const body = Buffer.alloc(10 * MIB + 5);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
    const used = uploadPartSize(body.length, configured);
    expect(used).toBe(Math.floor(body.length / 10_000) + 1);
    const path = await fileWith(body);
    const etag = multipartEtag(body, used);
    const check = await verifyUploaded(path, { size: body.length, etag }, { size: body.length, md5: md5(body) }, 'etag', configured);
    expect(check).toMatchObject({ ok: true, verifiedBy: 'multipart-etag' });
    const wrong = await verifyUploaded(path, { size: body.length, etag: multipartEtag(body, configured + 1) }, { size: body.length }, 'etag', configured);
    expect(wrong).toMatchObject({ ok: false, failure: { code: 'etag-mismatch', copy: 'destination', actual: multipartEtag(body, configured + 1), expected: etag } });
  });
});
