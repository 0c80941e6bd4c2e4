/**
 * openListing: a hop's listing as a stream in key order. The synthetic listing server of
 * test/harness plays a device at scale (v1: one unpaginated, shuffled answer; v2: pages of 1,000)
 * and servers that misbehave (unsorted v2 pages, repeated keys); MinIO shows that a real server's
 * order (UTF-8 bytes) passes the order check, astral characters and U+E000-U+FFFF included.
 */
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamOrUnreachable } from '../../src/inventory/reach.ts';
import { READ_AHEAD_PAGES, createS3Client, listHop, openListing } from '../../src/inventory/s3.ts';
import type { HopConfig } from '../../src/model/config.ts';
import type { ListingStream, ObjectEntry } from '../../src/model/objects.ts';
import { compareKeys } from '../../src/plan/keys.ts';
import { cleanup, createBucket, dualsyncFailure, hopFor, putObjects, startMinio, tempDir } from '../harness/index.ts';
import { startListingServer, syntheticEtag, syntheticKey, syntheticSize, type ListingServer } from '../harness/listing-server.ts';

afterAll(cleanup);

const COUNT = 3_500;
let server: ListingServer;

beforeAll(async () => {
  server = await startListingServer({
    buckets: {
      edge: { count: COUNT, prefix: 'data/' },
      repeats: { count: COUNT, prefix: 'data/', v1Repeats: 3 },
      swapped: { count: COUNT, prefix: 'data/', v2SwapAt: 2_500 },
      'swapped-first': { count: COUNT, prefix: 'data/', v2SwapAt: 10 },
      cut: { count: 1_000, prefix: 'data/' },
    },
  });
});
afterAll(() => server.close());

function hop(bucket: string, listApi: 'v1' | 'v2', extra: Partial<HopConfig> = {}): HopConfig {
  return {
    bucket,
    prefix: 'data/',
    region: 'us-east-1',
    endpoint: server.endpoint,
    addressing: 'path',
    tls: { verify: true },
    listApi,
    credentials: { kind: 'static', accessKeyId: 'test', secretAccessKey: 'test-secret', inline: false },
    ...extra,
  };
}

/** The entries of a stream of pages, one at a time. */
async function* flatten<T>(pages: AsyncIterable<readonly T[]>): AsyncGenerator<T> {
  for await (const page of pages) yield* page;
}

async function readAll(listing: ListingStream): Promise<ObjectEntry[]> {
  const entries: ObjectEntry[] = [];
  for await (const page of listing.pages) entries.push(...page);
  return entries;
}


const synthetic = (index: number): ObjectEntry => ({ key: syntheticKey(index), size: syntheticSize(index), etag: syntheticEtag(index) });
const everyObject = Array.from({ length: COUNT }, (_, index) => synthetic(index));

/**
 * A server whose one ListObjects answer (all `keys`, not truncated) is cut off halfway on the
 * first request and sent whole on the retry; `attempts()` counts the requests.
 */
async function cuttingServer(keys: readonly string[], options: { always?: boolean } = {}): Promise<{ cutting: Server; attempts: () => number }> {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>cut</Name><IsTruncated>false</IsTruncated>${keys.map((key) => `<Contents><Key>${key}</Key><ETag>&quot;e&quot;</ETag><Size>1</Size></Contents>`).join('')}</ListBucketResult>`;
  let attempts = 0;
  const cutting = createServer((request, response) => {
    attempts++;
    response.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
    if (attempts > 1 && options.always !== true) return response.end(xml);
    response.write(xml.slice(0, xml.length / 2), () => setTimeout(() => response.destroy(), 50));
  });
  await new Promise<void>((resolve) => cutting.listen(0, '127.0.0.1', resolve));
  return { cutting, attempts: () => attempts };
}

describe('openListing, ListObjectsV2: page by page', () => {
  it('opens after the first page, reads ahead without waiting for the consumer but no more than READ_AHEAD_PAGES, and hands out every key in order', async () => {
    const before = server.requests.listV2;
    const pages = Math.ceil(COUNT / 100);
    expect(pages).toBeGreaterThan(READ_AHEAD_PAGES + 2);
    const listing = await openListing(createS3Client(hop('edge', 'v2')), hop('edge', 'v2'), { maxKeys: 100 });
    expect(listing.complete).toBe(true);
    // Nobody reads yet: the chain goes on by itself until READ_AHEAD_PAGES pages wait.
    const deadline = Date.now() + 30_000;
    while (server.requests.listV2 - before < READ_AHEAD_PAGES && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(server.requests.listV2 - before, 'pages read before anything was consumed').toBe(READ_AHEAD_PAGES);
    const reader = flatten(listing.pages)[Symbol.asyncIterator]();
    const firstPage: ObjectEntry[] = [];
    for (let i = 0; i < 100; i++) firstPage.push((await reader.next()).value as ObjectEntry);
    expect(server.requests.listV2 - before, 'one page consumed: at most one more read').toBeLessThanOrEqual(READ_AHEAD_PAGES + 1);
    expect(listing.listed).toBe(100);
    const rest: ObjectEntry[] = [];
    for (let next = await reader.next(); next.done !== true; next = await reader.next()) rest.push(next.value);
    expect([...firstPage, ...rest]).toEqual(everyObject);
    expect(server.requests.listV2 - before).toBe(pages);
    expect(listing.warnings).toEqual([]);
    await listing.close();
    await listing.close();
  });

  it('an answer cut off halfway and sent again by the retry: the order and duplicate checks start the page over', async () => {
    const sorted = Array.from({ length: 4_000 }, (_, i) => `k/${String(i).padStart(5, '0')}`);
    const keys = [sorted[0]!, ...sorted];
    const { cutting, attempts } = await cuttingServer(keys);
    try {
      const config = { ...hop('cut', 'v2'), prefix: '', endpoint: `http://127.0.0.1:${(cutting.address() as AddressInfo).port}` };
      const listing = await openListing(createS3Client(config), config);
      expect(attempts()).toBe(2);
      expect((await readAll(listing)).map((entry) => entry.key)).toEqual(sorted);
      expect(listing.flaws).toEqual({ duplicates: 1, firstDuplicate: sorted[0], undecodable: 0 });
    } finally {
      cutting.closeAllConnections();
      await new Promise<void>((resolve) => cutting.close(() => resolve()));
    }
  });

  it('a page out of key order: E_S3_LIST_ORDER from the iteration, naming both keys and suggesting listApi: v1', async () => {
    const listing = await openListing(createS3Client(hop('swapped', 'v2')), hop('swapped', 'v2'));
    const error = await dualsyncFailure(readAll(listing));
    expect(error.code).toBe('E_S3_LIST_ORDER');
    expect(error.message).toContain(`${JSON.stringify(syntheticKey(2_500))} came after ${JSON.stringify(syntheticKey(2_501))}`);
    expect(error.message).toContain('s3://swapped/data/');
    expect(error.hint).toMatch(/listApi: v1/);
    expect(error.retryable).toBe(false);
  });

  it('out of order in the first page: refused at open, so the hop never looks listed', async () => {
    const error = await dualsyncFailure(openListing(createS3Client(hop('swapped-first', 'v2')), hop('swapped-first', 'v2')));
    expect(error.code).toBe('E_S3_LIST_ORDER');
  });

  it('a Snowball hop answering exactly 1,000 keys on one v2 page: incomplete, with the warning, known at open', async () => {
    const snow = hop('cut', 'v2', { region: 'snow' });
    const listing = await openListing(createS3Client(snow), snow);
    expect(listing.complete).toBe(false);
    expect(listing.warnings.join('\n')).toMatch(/exactly 1,000 keys: it was probably cut at 1,000 keys by the Snowball S3 adapter.*set listApi: v1/);
    expect(await readAll(listing)).toHaveLength(1_000);
    expect(listing.complete).toBe(false);
  });
});

describe('openListing, ListObjects v1: one unsorted answer, sorted on disk', () => {
  it('a shuffled answer comes out in key order, and the spool file is gone once it is read', async () => {
    const spoolDir = join(await tempDir('spool-'), 'listings');
    const before = server.requests.listV1;
    const listing = await openListing(createS3Client(hop('edge', 'v1')), hop('edge', 'v1'), { spoolDir, sortInMemoryUpTo: 0 });
    expect(server.requests.listV1 - before).toBe(1);
    expect(listing.complete).toBe(true);
    expect(readdirSync(spoolDir)).toHaveLength(1);
    expect(await readAll(listing)).toEqual(everyObject);
    expect(listing.listed).toBe(COUNT);
    expect(listing.warnings).toEqual([]);
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('a small answer is sorted in memory: the same entries, and no file at all', async () => {
    const spoolDir = join(await tempDir('spool-'), 'listings');
    const listing = await openListing(createS3Client(hop('edge', 'v1')), hop('edge', 'v1'), { spoolDir, sortInMemoryUpTo: COUNT });
    expect(readdirSync(spoolDir)).toEqual([]);
    expect(await readAll(listing)).toEqual(everyObject);
    expect(listing.listed).toBe(COUNT);
  });

  it('repeated keys: the first listed of each is kept, counted as a flaw of the listing at the end', async () => {
    const spoolDir = await tempDir('spool-');
    const listing = await openListing(createS3Client(hop('repeats', 'v1')), hop('repeats', 'v1'), { spoolDir, sortInMemoryUpTo: 0 });
    expect(listing.warnings).toEqual([]);
    expect(await readAll(listing)).toEqual(everyObject);
    // Flaws, which the plan shows as a note that keeps it from "in sync" (invariant 12), not warnings.
    expect(listing.warnings).toEqual([]);
    expect(listing.flaws).toEqual({ duplicates: 3, firstDuplicate: 'obj/0000000000', undecodable: 0 });
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('closed halfway: the spool file is gone', async () => {
    const spoolDir = await tempDir('spool-');
    const listing = await openListing(createS3Client(hop('edge', 'v1')), hop('edge', 'v1'), { spoolDir, sortInMemoryUpTo: 0 });
    const reader = flatten(listing.pages)[Symbol.asyncIterator]();
    expect((await reader.next()).value).toEqual(synthetic(0));
    await listing.close();
    await listing.close();
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('a listing that fails: an error, and no spool file left behind', async () => {
    const spoolDir = await tempDir('spool-');
    const error = await dualsyncFailure(openListing(createS3Client(hop('no-such-bucket', 'v1')), hop('no-such-bucket', 'v1'), { spoolDir }));
    expect(error.code).toBe('E_S3_NO_BUCKET');
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('an answer cut off halfway and sent again by the retry: what the cut attempt gave is dropped, nothing counts twice', async () => {
    const keys = Array.from({ length: 4_000 }, (_, i) => `k/${String((i * 7919) % 4_000).padStart(5, '0')}`);
    const { cutting, attempts } = await cuttingServer(keys);
    try {
      const spoolDir = await tempDir('spool-');
      const config = { ...hop('cut', 'v1'), prefix: '', endpoint: `http://127.0.0.1:${(cutting.address() as AddressInfo).port}` };
      const listing = await openListing(createS3Client(config), config, { spoolDir });
      expect(attempts()).toBe(2);
      expect((await readAll(listing)).map((entry) => entry.key)).toEqual([...keys].sort(compareKeys));
      expect(listing.warnings).toEqual([]);
    } finally {
      cutting.closeAllConnections();
      await new Promise<void>((resolve) => cutting.close(() => resolve()));
    }
  });

  it('an answer cut off after several runs were written, and sent again: the runs of the cut attempt are dropped', async () => {
    const keys = Array.from({ length: 4_000 }, (_, i) => `k/${String((i * 7919) % 4_000).padStart(5, '0')}`);
    const { cutting, attempts } = await cuttingServer(keys);
    try {
      const spoolDir = await tempDir('spool-');
      const config = { ...hop('cut', 'v1'), prefix: '', endpoint: `http://127.0.0.1:${(cutting.address() as AddressInfo).port}` };
      const listing = await openListing(createS3Client(config), config, { spoolDir, sortInMemoryUpTo: 0, sortRunEntries: 100 });
      expect(attempts()).toBe(2);
      expect((await readAll(listing)).map((entry) => entry.key)).toEqual([...keys].sort(compareKeys));
      expect(listing.flaws?.duplicates).toBe(0);
      expect(readdirSync(spoolDir)).toEqual([]);
    } finally {
      cutting.closeAllConnections();
      await new Promise<void>((resolve) => cutting.close(() => resolve()));
    }
  });

  it('an answer cut off every time after runs were written: the listing fails, and no sort file is left', async () => {
    const keys = Array.from({ length: 4_000 }, (_, i) => `k/${String((i * 7919) % 4_000).padStart(5, '0')}`);
    const { cutting, attempts } = await cuttingServer(keys, { always: true });
    try {
      const spoolDir = await tempDir('spool-');
      const config = { ...hop('cut', 'v1'), prefix: '', endpoint: `http://127.0.0.1:${(cutting.address() as AddressInfo).port}` };
      const error = await dualsyncFailure(openListing(createS3Client(config), config, { spoolDir, sortInMemoryUpTo: 0, sortRunEntries: 100 }));
      expect(error.code).not.toBe('E_LISTING_SPOOL');
      expect(attempts()).toBeGreaterThan(1);
      expect(readdirSync(spoolDir)).toEqual([]);
    } finally {
      cutting.closeAllConnections();
      await new Promise<void>((resolve) => cutting.close(() => resolve()));
    }
  });

  it('many runs of a few entries merged: every key once, in order, the repeats counted', async () => {
    const spoolDir = await tempDir('spool-');
    const listing = await openListing(createS3Client(hop('repeats', 'v1')), hop('repeats', 'v1'), { spoolDir, sortInMemoryUpTo: 0, sortRunEntries: 7 });
    expect(await readAll(listing)).toEqual(everyObject);
    expect(listing.flaws).toEqual({ duplicates: 3, firstDuplicate: 'obj/0000000000', undecodable: 0 });
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('listHop collects the same stream: every key once, in order', async () => {
    const spoolDir = await tempDir('spool-');
    const listing = await listHop(createS3Client(hop('repeats', 'v1')), hop('repeats', 'v1'), { spoolDir, sortInMemoryUpTo: 0 });
    expect(listing.entries).toEqual(everyObject);
    expect(listing.flaws?.duplicates).toBe(3);
    expect(readdirSync(spoolDir)).toEqual([]);
  });
});

describe('streamOrUnreachable on a real endpoint', () => {
  it('an endpoint where nothing listens: unreachable, with the cause, and an empty incomplete stream', async () => {
    const down = { ...hop('edge', 'v2'), endpoint: 'http://127.0.0.1:9' };
    const result = await streamOrUnreachable(openListing(createS3Client(down), down));
    expect(result.error?.retryable).toBe(true);
    expect(result.listing.unreachable).toMatch(/listing s3:\/\/edge\/data\/ \(http:\/\/127\.0\.0\.1:9\) failed/);
    expect(result.listing.complete).toBe(false);
    expect(await readAll(result.listing)).toEqual([]);
  });
});

describe('openListing against MinIO: its order is UTF-8 bytes, and passes the check', () => {
  // UTF-16 `<` puts the astral keys (surrogates) before U+E000-U+FFFD; UTF-8 and S3 put them after.
  const KEYS = ['k/\u{1F600}', 'k/\uE000', 'k/\uFFFD', 'k/\u{10000}', 'k/z', 'k/\u00E9', 'k/a/b'];
  for (const listApi of ['v2', 'v1'] as const) {
    it(`${listApi}, two keys a page: every key, in compareKeys order`, async () => {
      const minio = await startMinio('order');
      const bucket = await createBucket(minio);
      await putObjects(minio, bucket, KEYS.map((key) => ({ key, body: key })));
      const config = hopFor(minio, bucket, { prefix: 'k/', listApi });
      const listing = await openListing(createS3Client(config), config, { maxKeys: 2, spoolDir: await tempDir('spool-') });
      const keys = (await readAll(listing)).map((entry) => entry.key);
      expect(keys).toEqual(KEYS.map((key) => key.slice(2)).sort(compareKeys));
      expect(keys.indexOf('\u{1F600}')).toBeGreaterThan(keys.indexOf('\uFFFD'));
      expect(listing.warnings).toEqual([]);
    });
  }
});
