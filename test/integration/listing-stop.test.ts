/**
 * A listing stops at once when asked (Ctrl-C, a watch cycle's stop), even in the middle of a page
 * on a link that still moves: the request in flight is aborted, not read to its end, and the
 * listing fails with E_ABORTED (retryable), never a shorter listing. A deadline (`timeoutMs`,
 * doctor's first object) ends it the same way but as the server's fault (E_S3_FAILED), since
 * nobody asked it to stop. Real MinIO behind a Toxiproxy bandwidth toxic: every page crawls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, firstObject, listHop, openListing } from '../../src/inventory/s3.ts';
import type { HopConfig } from '../../src/model/config.ts';
import { cleanup, createBucket, dualsyncFailure, hopFor, putObjects, startMinio, type MinioServer } from '../harness/index.ts';
import { startToxiproxy, type ToxiProxy, type ToxiproxyServer } from '../harness/toxiproxy.ts';

/** Keys per page: a page of MinIO's answer is then about 4 KB. */
const PAGE_KEYS = 10;
const OBJECTS = 60;
/** The link's rate in KB/s: a page takes seconds, so a stop that waited for it would be seen. */
const RATE_KBPS = 1;

let minio: MinioServer;
let toxiproxy: ToxiproxyServer;
let proxy: ToxiProxy;
/** A link whose answers wait 20 s before their first byte: only a deadline ends a request on it. */
let lateProxy: ToxiProxy;
let bucket: string;

beforeAll(async () => {
  minio = await startMinio('listing-stop');
  toxiproxy = await startToxiproxy();
  proxy = await toxiproxy.proxy('listing-stop', minio.endpoint);
  bucket = await createBucket(minio);
  await putObjects(
    minio,
    bucket,
    Array.from({ length: OBJECTS }, (_, index) => ({ key: `data/some/longer/folder/name/object-${String(index).padStart(6, '0')}.bin`, body: 'x' })),
  );
  await proxy.addToxic({ name: 'crawl', type: 'bandwidth', stream: 'downstream', attributes: { rate: RATE_KBPS } });
  lateProxy = await toxiproxy.proxy('listing-late', minio.endpoint);
  await lateProxy.addToxic({ name: 'late', type: 'latency', stream: 'downstream', attributes: { latency: 20_000 } });
});
afterAll(async () => {
  await toxiproxy?.stop();
  await minio?.stop();
  await cleanup();
});

function slowHop(listApi: 'v1' | 'v2'): HopConfig {
  return { ...hopFor(minio, bucket, { prefix: 'data/', listApi }), endpoint: proxy.endpoint };
}

/** Milliseconds from `stop()` until `settled` rejects; the rejection is returned with it. */
async function stopTime(stop: () => void, settled: Promise<unknown>): Promise<{ ms: number; error: Awaited<ReturnType<typeof dualsyncFailure>> }> {
  const failure = dualsyncFailure(settled);
  const started = performance.now();
  stop();
  const error = await failure;
  return { ms: performance.now() - started, error };
}

describe('a listing asked to stop in the middle of a page on a crawling link', () => {
  it('ListObjectsV2: the page being read ahead is aborted, and the iteration fails with E_ABORTED well before that page could end', async () => {
    const hop = slowHop('v2');
    const controller = new AbortController();
    const opened = performance.now();
    const listing = await openListing(createS3Client(hop), hop, { signal: controller.signal, maxKeys: PAGE_KEYS });
    // The first page's time is what any page takes on this link: the bound below is a fraction of it.
    const pageMs = performance.now() - opened;
    expect(pageMs).toBeGreaterThan(1_500);
    const pages = listing.pages[Symbol.asyncIterator]();
    expect((await pages.next()).value).toHaveLength(PAGE_KEYS);
    // The second page is being read ahead now (nothing else is waiting): stop in the middle of it.
    const { ms, error } = await stopTime(
      () => controller.abort(),
      (async () => {
        for (let next = await pages.next(); next.done !== true; next = await pages.next());
      })(),
    );
    expect(error.code).toBe('E_ABORTED');
    expect(error.retryable).toBe(true);
    expect(ms).toBeLessThan(pageMs / 2);
    await listing.close();
  });

  it('ListObjects v1: the answer streaming into the sort is aborted; E_ABORTED, not a shorter listing', async () => {
    const hop = slowHop('v1');
    const controller = new AbortController();
    let pagesRead = 0;
    let firstPageMs = 0;
    const started = performance.now();
    let pageDone: () => void = () => {};
    const firstPage = new Promise<void>((resolve) => (pageDone = resolve));
    const listed = listHop(createS3Client(hop), hop, {
      signal: controller.signal,
      maxKeys: PAGE_KEYS,
      onPage: () => {
        pagesRead++;
        if (pagesRead === 1) {
          firstPageMs = performance.now() - started;
          pageDone();
        }
      },
    });
    await firstPage;
    expect(firstPageMs).toBeGreaterThan(1_500);
    // The loop has sent the second page's request: stop while it crawls in.
    const { ms, error } = await stopTime(() => controller.abort(), listed);
    expect(error.code).toBe('E_ABORTED');
    expect(ms).toBeLessThan(firstPageMs / 2);
    expect(pagesRead).toBe(1);
  });

  it('a deadline (doctor): the request is cut at the deadline, as a retryable failure of the server, not a stop', async () => {
    const hop = { ...slowHop('v2'), endpoint: lateProxy.endpoint };
    const started = performance.now();
    const error = await dualsyncFailure(firstObject(createS3Client(hop), hop, { timeoutMs: 800 }));
    const ms = performance.now() - started;
    expect(error.code).toBe('E_S3_FAILED');
    expect(error.retryable).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(790);
    expect(ms).toBeLessThan(5_000);
  });
});
