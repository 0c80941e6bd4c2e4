/**
 * ListObjectsV2 pages asked for ahead: the next page's request goes out as soon as the page being
 * read has said its continuation token (servers send it before the objects), so the server
 * prepares it while this one streams in. Nothing else changes: the pages are still checked in
 * turn, a page that the SDK retries still counts once, and a page asked with a token that the
 * finished page does not end with is dropped for a request with the right one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createS3Client, openListing } from '../../src/inventory/s3.ts';
import type { HopConfig } from '../../src/model/config.ts';
import type { ListingStream } from '../../src/model/objects.ts';
import { dualsyncFailure } from '../harness/index.ts';

const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Three pages of five keys; page N's continuation token is `t-N+1` (or what `tokenOf` says). */
const PAGES = [0, 1, 2].map((page) => Array.from({ length: 5 }, (_, i) => `k/${page}-${i}`));
const EVERY_KEY = PAGES.flat();

function head(token: string | undefined): string {
  const truncated = token !== undefined;
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>5</KeyCount><MaxKeys>5</MaxKeys><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${token}</NextContinuationToken>` : ''}`;
}

function contents(keys: readonly string[]): string {
  return keys.map((key) => `<Contents><Key>${key}</Key><ETag>&quot;e&quot;</ETag><Size>1</Size></Contents>`).join('');
}

interface PagingServer {
  endpoint: string;
  /** Continuation tokens asked for, in order (`-` for the first page). */
  asked: string[];
}

/**
 * A ListObjectsV2 server of {@link PAGES}. `answer` may take over a request: it gets the page
 * index, the attempt at that page, and the response, and returns true when it answered.
 */
async function pagingServer(answer?: (page: number, attempt: number, response: ServerResponse, tokenOf: (page: number) => string) => boolean | Promise<boolean>, tokenOf = (page: number) => `t-${page}`): Promise<PagingServer> {
  const asked: string[] = [];
  const attempts = new Map<number, number>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const token = new URL(request.url ?? '/', 'http://localhost').searchParams.get('continuation-token');
    asked.push(token ?? '-');
    const page = token === null ? 0 : Number(/^[a-z]+-(\d+)$/.exec(token)?.[1]);
    const attempt = (attempts.get(page) ?? 0) + 1;
    attempts.set(page, attempt);
    void (async () => {
      if (answer !== undefined && (await answer(page, attempt, response, tokenOf))) return;
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.end(`${head(page < PAGES.length - 1 ? tokenOf(page + 1) : undefined)}${contents(PAGES[page]!)}</ListBucketResult>`);
    })();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

function hopAt(endpoint: string): HopConfig {
  return {
    bucket: 'b',
    prefix: '',
    region: 'us-east-1',
    endpoint,
    addressing: 'path',
    tls: { verify: true },
    listApi: 'v2',
    credentials: { kind: 'static', accessKeyId: 'test', secretAccessKey: 'test-secret', inline: false },
  };
}

async function keysOf(listing: ListingStream): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of listing.pages) for (const entry of page) keys.push(entry.key);
  await listing.close();
  return keys;
}

describe('ListObjectsV2: the next page is asked for while the page before it streams in', () => {
  it('page 2 is requested before page 1 has ended; every key once, in order', async () => {
    let askedWhileOpen = false;
    let pageTwoAsked: () => void = () => {};
    const asked = new Promise<void>((resolve) => (pageTwoAsked = resolve));
    const server = await pagingServer(async (page, _attempt, response, tokenOf) => {
      if (page === 1) pageTwoAsked();
      if (page !== 0) return false;
      // Page 1 sends its token and two objects, then holds the rest until page 2 is asked for
      // (or 10 s: a client that waits for the end of each page never asks while it holds).
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.write(`${head(tokenOf(1))}${contents(PAGES[0]!.slice(0, 2))}`);
      askedWhileOpen = await Promise.race([asked.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))]);
      response.end(`${contents(PAGES[0]!.slice(2))}</ListBucketResult>`);
      return true;
    });
    const hop = hopAt(server.endpoint);
    const listing = await openListing(createS3Client(hop), hop);
    expect(askedWhileOpen, 'the second page was asked for while the first was still open').toBe(true);
    expect(await keysOf(listing)).toEqual(EVERY_KEY);
    expect(server.asked).toEqual(['-', 't-1', 't-2']);
    expect(listing.flaws).toEqual({ duplicates: 0, undecodable: 0 });
  });

  it('a hop with a connection budget (maxConnections): one request at a time, as before', async () => {
    let askedWhileOpen = false;
    let pageOneEnded = false;
    const server = await pagingServer(async (page, _attempt, response, tokenOf) => {
      if (page === 1) askedWhileOpen = !pageOneEnded;
      if (page !== 0) return false;
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.write(`${head(tokenOf(1))}${contents(PAGES[0]!.slice(0, 2))}`);
      // Held long enough for a page asked ahead to arrive (it comes within milliseconds when it does).
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      pageOneEnded = true;
      response.end(`${contents(PAGES[0]!.slice(2))}</ListBucketResult>`);
      return true;
    });
    const hop = { ...hopAt(server.endpoint), maxConnections: 8 };
    const listing = await openListing(createS3Client(hop), hop);
    expect(await keysOf(listing)).toEqual(EVERY_KEY);
    expect(askedWhileOpen, 'the second page was asked for only once the first had ended').toBe(false);
    expect(server.asked).toEqual(['-', 't-1', 't-2']);
  });

  it('a page cut off after its token and sent again by the retry: the page asked ahead is used, nothing counts twice', async () => {
    const server = await pagingServer((page, attempt, response, tokenOf) => {
      if (page !== 0 || attempt > 1) return false;
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.write(`${head(tokenOf(1))}${contents(PAGES[0]!.slice(0, 3))}`, () => setTimeout(() => response.destroy(), 50));
      return true;
    });
    const hop = hopAt(server.endpoint);
    const listing = await openListing(createS3Client(hop), hop);
    expect(await keysOf(listing)).toEqual(EVERY_KEY);
    expect(listing.flaws).toEqual({ duplicates: 0, undecodable: 0 });
    // The first page twice (cut, then whole); the second once: asked ahead from the cut attempt's token.
    expect(server.asked).toEqual(['-', 't-1', '-', 't-2']);
  });

  it('the retry of a page ends with another token: the page asked with the first is dropped, the right one asked for', async () => {
    // Both tokens lead to the same page, as a server's opaque tokens may; only the one the page ended with is used.
    let cut = false;
    const server = await pagingServer(
      (page, attempt, response) => {
        if (page !== 0 || attempt > 1) return false;
        cut = true;
        response.writeHead(200, { 'content-type': 'application/xml' });
        response.write(`${head('old-1')}${contents(PAGES[0]!.slice(0, 3))}`, () => setTimeout(() => response.destroy(), 50));
        return true;
      },
      (page) => (cut ? `new-${page}` : `old-${page}`),
    );
    const hop = hopAt(server.endpoint);
    const listing = await openListing(createS3Client(hop), hop);
    expect(await keysOf(listing)).toEqual(EVERY_KEY);
    expect(listing.flaws).toEqual({ duplicates: 0, undecodable: 0 });
    // The page asked ahead with the cut attempt's token went out, and was not used.
    expect(server.asked).toContain('old-1');
    expect(server.asked.filter((token) => token !== 'old-1')).toEqual(['-', '-', 'new-1', 'new-2']);
  });

  it('a listing closed while pages are held open by the server: every such request is cut, none left open', async () => {
    let held = 0;
    let closed = 0;
    let heldTwo: () => void = () => {};
    const twoHeld = new Promise<void>((resolve) => (heldTwo = resolve));
    const server = await pagingServer((page, _attempt, response, tokenOf) => {
      if (page === 0) return false;
      // Every later page sends its token and one object, then never ends: only the client can close it.
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.write(`${head(tokenOf(page + 1))}${contents(PAGES[page]!.slice(0, 1))}`);
      response.once('close', () => closed++);
      if (++held === 2) heldTwo();
      return true;
    });
    const hop = hopAt(server.endpoint);
    const listing = await openListing(createS3Client(hop), hop);
    const pages = listing.pages[Symbol.asyncIterator]();
    expect((await pages.next()).value).toHaveLength(5);
    // The page being read (2) and the one asked ahead from its token (3) are both open at the server.
    await twoHeld;
    await listing.close();
    const deadline = Date.now() + 10_000;
    while (closed < held && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect({ held, closed }).toEqual({ held: 2, closed: 2 });
  });

  it('a page asked ahead that the server refuses: the listing fails with that page\'s error, classified as before', async () => {
    const server = await pagingServer((page, _attempt, response) => {
      if (page !== 1) return false;
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
      return true;
    });
    const hop = hopAt(server.endpoint);
    const listing = await openListing(createS3Client(hop), hop);
    const error = await dualsyncFailure(keysOf(listing));
    expect(error.code).toBe('E_S3_ACCESS');
    expect(server.asked).toEqual(['-', 't-1']);
  });
});
