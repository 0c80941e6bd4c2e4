import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { createS3Client, headObject, listedObjects, listHop } from '../../src/inventory/s3.ts';
import { explainUnlisted, readBackListed } from '../../src/inventory/readback.ts';
import type { HopConfig } from '../../src/model/config.ts';
import { cleanup, createBucket, dualsyncFailure, hopFor, md5, putMultipart, putObjects, startMinio, tempDir } from '../harness/index.ts';
import type { MinioServer } from '../harness/index.ts';

afterAll(cleanup);

const MANY = 2_500;
/** Keys that must come back byte-exact: spaces, quotes, wildcards, unicode twins, leading dashes. */
const HOSTILE = [
  'with space/file name.txt',
  'quote\'s "double".bin',
  'glob*star?.log',
  'brackets[0]/x[1-2].csv',
  'braces{a,b}(paren)!.dat',
  'back\\slash.txt',
  'ünïcödé/日本語.txt',
  'caf\u00e9-nfc.txt',
  'cafe\u0301-nfd.txt',
  'Case.txt',
  'case.txt',
  '-leading-dash',
  '%+#&=;|$`.weird',
  'empty-object',
];

let edge: MinioServer;
let bucket: string;
const bodies = new Map<string, string>();

function keysOf(entries: { key: string }[]): string[] {
  return entries.map((entry) => entry.key).sort();
}

beforeAll(async () => {
  edge = await startMinio('edge');
  bucket = await createBucket(edge);
  const objects: { key: string; body: string }[] = [];
  for (let i = 0; i < MANY; i++) objects.push({ key: `data/d${i % 10}/obj-${String(i).padStart(5, '0')}`, body: `body ${i}` });
  for (const key of HOSTILE) objects.push({ key: `data/${key}`, body: key === 'empty-object' ? '' : `hostile ${key}` });
  objects.push({ key: 'data/', body: '' }); // a "folder" object: the prefix itself
  objects.push({ key: 'other/outside.txt', body: 'not under data/' });
  for (const { key, body } of objects) bodies.set(key, body);
  await putObjects(edge, bucket, objects);
});

function expectedUnder(prefix: string): string[] {
  return [...bodies.keys()].filter((key) => key.startsWith(prefix) && key !== prefix).map((key) => key.slice(prefix.length)).sort();
}

describe('listHop against MinIO', () => {
  const variants: { name: string; listApi: HopConfig['listApi']; maxKeys?: number; minPages: number }[] = [
    { name: 'ListObjectsV2, 300 keys a page: every continuation page', listApi: 'v2', maxKeys: 300, minPages: 9 },
    { name: 'ListObjectsV2, server page size', listApi: 'v2', minPages: 3 },
    { name: 'ListObjects v1, 300 keys a page: marker paging', listApi: 'v1', maxKeys: 300, minPages: 9 },
  ];
  for (const { name, listApi, maxKeys, minPages } of variants) {
    it(`${name}: all ${MANY} + hostile keys, relative, folder object left out`, async () => {
      const hop = hopFor(edge, bucket, { prefix: 'data/', listApi });
      const progress: number[] = [];
      const listing = await listHop(createS3Client(hop), hop, { maxKeys, onPage: (listed) => progress.push(listed) });
      expect(listing.complete).toBe(true);
      expect(listing.warnings).toEqual([]);
      expect(keysOf(listing.entries)).toEqual(expectedUnder('data/'));
      expect(progress.length).toBeGreaterThanOrEqual(minPages);
      expect(progress.at(-1)).toBe(MANY + HOSTILE.length);
      expect(new Set(listing.entries.map((entry) => entry.key)).size).toBe(listing.entries.length);
    });
  }

  it('keys with spaces, quotes, wildcards, unicode twins come back byte-exact with unquoted MD5 ETags', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/' });
    const listing = await listHop(createS3Client(hop), hop);
    const byKey = new Map(listing.entries.map((entry) => [entry.key, entry]));
    for (const key of HOSTILE) {
      const entry = byKey.get(key);
      expect(entry, key).toBeDefined();
      const body = bodies.get(`data/${key}`) ?? '';
      expect(entry?.etag, key).toBe(md5(body));
      expect(entry?.size, key).toBe(Buffer.byteLength(body));
    }
    expect(byKey.has('caf\u00e9-nfc.txt') && byKey.has('cafe\u0301-nfd.txt')).toBe(true);
  });

  it('a narrower prefix: only its keys, relative to it', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/d3/' });
    const listing = await listHop(createS3Client(hop), hop, { maxKeys: 100 });
    expect(listing.entries).toHaveLength(MANY / 10);
    expect(keysOf(listing.entries)).toEqual(expectedUnder('data/d3/'));
    expect(listing.entries.every((entry) => !entry.key.startsWith('data/'))).toBe(true);
  });

  it('no prefix: the whole bucket, the folder object included as "data/"', async () => {
    const hop = hopFor(edge, bucket);
    const listing = await listHop(createS3Client(hop), hop);
    expect(listing.entries).toHaveLength(bodies.size);
  });

  it('multipart object: its "-N" ETag, unquoted', async () => {
    const mp = await createBucket(edge);
    const body = Buffer.alloc(6 * 1024 * 1024, 3);
    const etag = await putMultipart(edge, mp, 'big/one.bin', body, 5 * 1024 * 1024);
    const hop = hopFor(edge, mp, { prefix: 'big/' });
    const listing = await listHop(createS3Client(hop), hop);
    expect(listing.entries).toEqual([{ key: 'one.bin', size: body.length, etag }]);
    expect(etag).toMatch(/^[0-9a-f]{32}-2$/);
  });

  it('profile credentials: read from the shared credentials file, the right profile only', async () => {
    const dir = await tempDir('aws-');
    await writeFile(
      join(dir, 'credentials'),
      `[edge-site]\naws_access_key_id = ${edge.accessKeyId}\naws_secret_access_key = ${edge.secretAccessKey}\n\n[stale]\naws_access_key_id = ${edge.accessKeyId}\naws_secret_access_key = outdated-secret\n`,
    );
    await writeFile(join(dir, 'config'), '');
    const saved = { credentials: process.env.AWS_SHARED_CREDENTIALS_FILE, config: process.env.AWS_CONFIG_FILE };
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    try {
      const good = hopFor(edge, bucket, { prefix: 'data/d1/', credentials: { kind: 'profile', profile: 'edge-site' } });
      expect((await listHop(createS3Client(good), good)).entries).toHaveLength(MANY / 10);
      const stale = hopFor(edge, bucket, { prefix: 'data/d1/', credentials: { kind: 'profile', profile: 'stale' } });
      expect((await dualsyncFailure(listHop(createS3Client(stale), stale))).code).toBe('E_S3_ACCESS');
    } finally {
      for (const [name, value] of [['AWS_SHARED_CREDENTIALS_FILE', saved.credentials], ['AWS_CONFIG_FILE', saved.config]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('an empty bucket: an empty, complete listing', async () => {
    const hop = hopFor(edge, await createBucket(edge));
    expect(await listHop(createS3Client(hop), hop)).toEqual({ entries: [], complete: true, warnings: [], flaws: { duplicates: 0, undecodable: 0 } });
  });

  describe('Snowball ListObjectsV2 cut at 1,000 keys', () => {
    let exactly1000: string;
    let fewer: string;
    beforeAll(async () => {
      exactly1000 = await createBucket(edge);
      fewer = await createBucket(edge);
      await putObjects(edge, exactly1000, Array.from({ length: 1000 }, (_, i) => ({ key: `k/${i}`, body: 'x' })));
      await putObjects(edge, fewer, Array.from({ length: 999 }, (_, i) => ({ key: `k/${i}`, body: 'x' })));
    });

    it('region snow, v2, exactly 1,000 keys in one answer: incomplete, warning names cause and fix', async () => {
      const hop = hopFor(edge, exactly1000, { region: 'snow' });
      const listing = await listHop(createS3Client(hop), hop);
      expect(listing.entries).toHaveLength(1000);
      expect(listing.complete).toBe(false);
      expect(listing.warnings.join('\n')).toMatch(/cut at 1,000 keys by the Snowball S3 adapter.*set listApi: v1/);
    });

    const fine: { name: string; bucket: () => string; overrides: Partial<HopConfig> }[] = [
      { name: 'region snow, v1: complete', bucket: () => exactly1000, overrides: { region: 'snow', listApi: 'v1' } },
      { name: 'region snow, v2, 999 keys: complete', bucket: () => fewer, overrides: { region: 'snow' } },
      { name: 'an ordinary region, v2, 1,000 keys: complete', bucket: () => exactly1000, overrides: {} },
    ];
    for (const { name, bucket: which, overrides } of fine) {
      it(name, async () => {
        const hop = hopFor(edge, which(), overrides);
        const listing = await listHop(createS3Client(hop), hop);
        expect(listing.complete).toBe(true);
        expect(listing.warnings).toEqual([]);
      });
    }
  });

  describe('failures are errors, never short listings', () => {
    it('wrong secret: E_S3_ACCESS, not retryable, hint about credentials', async () => {
      const hop = hopFor(edge, bucket, { credentials: { kind: 'static', accessKeyId: edge.accessKeyId, secretAccessKey: 'wrong-secret', inline: false } });
      const error = await dualsyncFailure(listHop(createS3Client(hop), hop));
      expect(error.code).toBe('E_S3_ACCESS');
      expect(error.retryable).toBe(false);
      expect(error.hint).toMatch(/credentials/);
      expect(`${error.message} ${error.hint}`).not.toContain('wrong-secret');
    });

    it('unknown access key: E_S3_ACCESS', async () => {
      const hop = hopFor(edge, bucket, { credentials: { kind: 'static', accessKeyId: 'cloud-admin', secretAccessKey: 'whatever1', inline: false } });
      expect((await dualsyncFailure(listHop(createS3Client(hop), hop))).code).toBe('E_S3_ACCESS');
    });

    const missing: { name: string; region: string; hint: RegExp }[] = [
      { name: 'missing bucket: E_S3_NO_BUCKET naming the bucket', region: 'us-east-1', hint: /bucket name/ },
      { name: 'missing bucket on a Snowball: hint to re-provision', region: 'snow', hint: /re-provision.*docs\/snowball\.md/ },
    ];
    for (const { name, region, hint } of missing) {
      for (const listApi of ['v1', 'v2'] as const) {
        it(`${name} (${listApi})`, async () => {
          const hop = hopFor(edge, 'no-such-bucket-here', { region, listApi });
          const error = await dualsyncFailure(listHop(createS3Client(hop), hop));
          expect(error.code).toBe('E_S3_NO_BUCKET');
          expect(error.retryable).toBe(false);
          expect(error.message).toContain('no-such-bucket-here');
          expect(error.hint).toMatch(hint);
        });
      }
    }

    it('a listing that was asked to stop: E_ABORTED', async () => {
      const hop = hopFor(edge, bucket, { prefix: 'data/' });
      const controller = new AbortController();
      controller.abort();
      expect((await dualsyncFailure(listHop(createS3Client(hop), hop, { signal: controller.signal }))).code).toBe('E_ABORTED');
    });

    it('a stopped server: retryable E_S3_FAILED', async () => {
      const gone = await startMinio('gone');
      const goneBucket = await createBucket(gone);
      const hop = hopFor(gone, goneBucket);
      const client = createS3Client(hop);
      expect((await listHop(client, hop)).complete).toBe(true);
      await gone.stop();
      const error = await dualsyncFailure(listHop(client, hop));
      expect(error.code).toBe('E_S3_FAILED');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain(gone.endpoint);
    });

    it('an unreadable CA bundle: a user error naming the file', () => {
      let error: unknown;
      try {
        createS3Client(hopFor(edge, bucket, { tls: { verify: true, caBundle: '/nonexistent/snowball.pem' } }));
      } catch (caught) {
        error = caught;
      }
      expect(isDualsyncError(error) && error.kind === 'user' && error.message).toMatch(/\/nonexistent\/snowball\.pem/);
    });
  });
});

describe('headObject against MinIO', () => {
  it('an existing key: its size and unquoted ETag, relative key', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/' });
    const key = 'with space/file name.txt';
    const body = bodies.get(`data/${key}`) ?? '';
    expect(await headObject(createS3Client(hop), hop, key)).toEqual({ key, size: Buffer.byteLength(body), etag: md5(body) });
  });

  it('a missing key: undefined', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/' });
    expect(await headObject(createS3Client(hop), hop, 'not/there')).toBeUndefined();
  });

  it('wrong credentials: an error, not "missing"', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/', credentials: { kind: 'static', accessKeyId: edge.accessKeyId, secretAccessKey: 'nope-nope', inline: false } });
    const error = await dualsyncFailure(headObject(createS3Client(hop), hop, 'Case.txt'));
    expect(error.code).toBe('E_S3_ACCESS');
  });
});

describe('listedObjects (batched read-back) against MinIO', () => {
  const expected = (key: string) => {
    const body = bodies.get(`data/${key}`);
    return body === undefined ? undefined : { key, size: Buffer.byteLength(body), etag: md5(body) };
  };

  it('gives exactly what the full listing gives: present, missing, hostile names, far apart, one key alone', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/' });
    const client = createS3Client(hop);
    const listing = new Map((await listHop(client, hop)).entries.map((entry) => [entry.key, entry]));
    const keys = ['d0/obj-00000', 'd0/obj-00010', 'd3/obj-00003', 'd9/obj-02499', 'not/there', 'zz-after-everything', ...HOSTILE];
    const batched = await listedObjects(client, hop, keys);
    expect([...batched.keys()].sort()).toEqual([...new Set(keys)].sort());
    for (const key of keys) expect(batched.get(key), key).toEqual(expected(key));
    for (const key of keys) expect(batched.get(key), key).toEqual(listing.get(key));
    for (const key of ['d0/obj-00000', 'not/there', HOSTILE[6]!]) expect((await listedObjects(client, hop, [key])).get(key), key).toEqual(listing.get(key));
  });

  it('a thousand neighbours in one go, with a missing one among them', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/' });
    const keys = Array.from({ length: 1000 }, (_, i) => `d1/obj-${String(i * 10 + 1).padStart(5, '0')}`).filter((key) => bodies.has(`data/${key}`));
    keys.push('d1/obj-00001-missing');
    const batched = await listedObjects(createS3Client(hop), hop, keys);
    for (const key of keys) expect(batched.get(key), key).toEqual(expected(key));
    expect(batched.get('d1/obj-00001-missing')).toBeUndefined();
  });

  it('a v1 hop lists each key by its own name (a device may ignore markers)', async () => {
    const hop = hopFor(edge, bucket, { prefix: 'data/', listApi: 'v1' });
    const keys = ['d0/obj-00000', 'd5/obj-00005', 'nope'];
    const batched = await listedObjects(createS3Client(hop), hop, keys);
    for (const key of keys) expect(batched.get(key), key).toEqual(expected(key));
  });

  it('an object MinIO accepts but does not list (`coll/a` hides `coll/a/b`) is not there, however few keys are asked, and its reason names `coll/a`', async () => {
    const own = await createBucket(edge);
    await putObjects(edge, own, [
      { key: 'p/coll/a', body: 'the parent' },
      { key: 'p/coll/a/b', body: 'the hidden child' },
    ]);
    for (const listApi of ['v2', 'v1'] as const) {
      const hop = hopFor(edge, own, { prefix: 'p/', listApi });
      const client = createS3Client(hop);
      expect(await headObject(client, hop, 'coll/a/b'), 'HEAD answers').toBeDefined();
      expect(keysOf((await listHop(client, hop)).entries), 'the listing a plan reads').toEqual(['coll/a']);
      for (const keys of [['coll/a/b'], ['coll/a', 'coll/a/b'], ['coll/a', 'coll/a/b', 'zz']]) {
        const batched = await listedObjects(client, hop, keys);
        expect(batched.get('coll/a/b'), `${listApi} ${keys.join(',')}`).toBeUndefined();
        if (keys.includes('coll/a')) expect(batched.get('coll/a'), `${listApi} ${keys.join(',')}`).toBeDefined();
      }
      // Why no listing with the key itself as prefix may stand in for the hop's listing: MinIO lists it there.
      const byName = await client.send(new ListObjectsV2Command({ Bucket: own, Prefix: 'p/coll/a/b', MaxKeys: 1 }));
      expect((byName.Contents ?? []).map((object) => object.Key)).toEqual(['p/coll/a/b']);
      const slept: number[] = [];
      const read = await readBackListed(client, hop, ['coll/a/b'], { sleep: async (ms) => void slept.push(ms) });
      expect(read.get('coll/a/b')).toBeUndefined();
      expect(slept.length, 'listed again a few times, then given up').toBe(3);
      expect(await explainUnlisted(client, hop, 'coll/a/b')).toMatch(/accepted the upload but does not list it: the object "coll\/a" is there too.*MinIO/);
    }
  });
});
