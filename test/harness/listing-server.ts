/**
 * An S3 listing server of synthetic objects, for benchmarks at device scale: it answers listings
 * of N objects without storing any. ListObjectsV2 is paginated in S3 order (1,000 keys a page,
 * the continuation token is the next index); ListObjects (v1) is one unpaginated answer of every
 * key in a shuffled order, the way a Snowball's S3 adapter answers. Answers are written as they
 * are generated, so the server's own memory does not grow with N. Requests are not
 * authenticated: it serves loopback benchmarks only.
 *
 * Object i has the key `prefix + obj/NNNNNNNNNN` (zero-padded, so index order is key order), a
 * size of 1 MiB + (i mod 4096) bytes, and the MD5-shaped ETag of its index.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListingServerOptions {
  /** Objects per bucket name. */
  buckets: Record<string, BucketSpec>;
}

export interface BucketSpec {
  count: number;
  prefix: string;
  /** ListObjectsV2 lists the objects at positions `v2SwapAt` and `v2SwapAt + 1` the other way round: a server that does not sort. */
  v2SwapAt?: number;
  /** The v1 answer repeats objects 0 to `v1Repeats - 1` at its end, each with another ETag: a listing with duplicates. */
  v1Repeats?: number;
}

/** The ETag object `index` has when the v1 answer repeats it. */
export function repeatedEtag(index: number): string {
  return createHash('md5').update(`repeat ${index}`).digest('hex');
}

export interface ListingServer {
  endpoint: string;
  /** Requests answered, by kind. */
  requests: { listV1: number; listV2: number; other: number };
  /** v1 answers written to their end (a client that stops reading early leaves one unfinished). */
  wholeV1Answers: () => number;
  close(): Promise<void>;
}

/** The relative key of object `index` (without the bucket prefix). */
export function syntheticKey(index: number): string {
  return `obj/${index.toString().padStart(10, '0')}`;
}

/** The size of object `index`. */
export function syntheticSize(index: number): number {
  return 1024 * 1024 + (index % 4096);
}

/** The ETag (quotes not included) of object `index`: the MD5 of its index, so a plain-MD5 shape. */
export function syntheticEtag(index: number): string {
  return createHash('md5').update(String(index)).digest('hex');
}

const LAST_MODIFIED = '2026-01-01T00:00:00.000Z';

function contents(prefix: string, index: number, etag = syntheticEtag(index)): string {
  return `<Contents><Key>${prefix}${syntheticKey(index)}</Key><LastModified>${LAST_MODIFIED}</LastModified><ETag>&quot;${etag}&quot;</ETag><Size>${syntheticSize(index)}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
}

/** A multiplier coprime with `count`, so that i -> (i * step + offset) mod count visits every index once. */
function shuffleStep(count: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let step = Math.floor(count * 0.618) + 1;
  while (count > 1 && gcd(step, count) !== 1) step++;
  return step;
}

/**
 * Writes `parts` to the response, waiting for the socket to drain between large pieces; true
 * once all was written, false when the client closed the connection first (it stopped reading).
 */
async function writeAll(response: http.ServerResponse, parts: Iterable<string>): Promise<boolean> {
  let chunk = '';
  let closed = false;
  let wake: (() => void) | undefined;
  response.once('close', () => {
    closed = true;
    wake?.();
  });
  for (const part of parts) {
    chunk += part;
    if (chunk.length >= 256 * 1024) {
      if (!response.write(chunk) && !closed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          response.once('drain', resolve);
        });
        wake = undefined;
      }
      if (closed || response.destroyed) return false;
      chunk = '';
    }
  }
  response.end(chunk);
  return true;
}

function* v1Answer(bucket: string, { prefix, count, v1Repeats = 0 }: BucketSpec): Generator<string> {
  yield `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><Prefix>${prefix}</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`;
  const step = shuffleStep(count);
  for (let i = 0; i < count; i++) yield contents(prefix, (i * step + 7) % count);
  for (let i = 0; i < Math.min(v1Repeats, count); i++) yield contents(prefix, i, repeatedEtag(i));
  yield '</ListBucketResult>';
}

function* v2Answer(bucket: string, { prefix, count, v2SwapAt }: BucketSpec, start: number, maxKeys: number): Generator<string> {
  const end = Math.min(count, start + maxKeys);
  const at = (position: number) => (position === v2SwapAt ? position + 1 : v2SwapAt !== undefined && position === v2SwapAt + 1 ? v2SwapAt : position);
  const truncated = end < count;
  yield `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyCount>${end - start}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>`;
  if (truncated) yield `<NextContinuationToken>${end}</NextContinuationToken>`;
  for (let i = start; i < end; i++) yield contents(prefix, at(i));
  yield '</ListBucketResult>';
}

/** Starts the server on a free loopback port. */
export async function startListingServer(options: ListingServerOptions): Promise<ListingServer> {
  const requests = { listV1: 0, listV2: 0, other: 0 };
  let wholeV1 = 0;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const bucket = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    const spec = options.buckets[bucket];
    const fail = (status: number, code: string) => {
      requests.other++;
      response.writeHead(status, { 'content-type': 'application/xml' });
      response.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`);
    };
    if (spec === undefined) return fail(404, 'NoSuchBucket');
    if (request.method === 'HEAD' && url.pathname.split('/').filter(Boolean).length === 1) {
      requests.other++;
      response.writeHead(200);
      return response.end();
    }
    if (request.method !== 'GET' || url.pathname.split('/').filter(Boolean).length !== 1) return fail(501, 'NotImplemented');
    const prefix = url.searchParams.get('prefix') ?? '';
    if (prefix !== '' && !spec.prefix.startsWith(prefix) && !prefix.startsWith(spec.prefix)) return fail(501, 'NotImplemented');
    response.writeHead(200, { 'content-type': 'application/xml' });
    if (url.searchParams.get('list-type') === '2') {
      requests.listV2++;
      const start = Number(url.searchParams.get('continuation-token') ?? '0');
      const maxKeys = Math.min(1000, Number(url.searchParams.get('max-keys') ?? '1000'));
      void writeAll(response, v2Answer(bucket, spec, start, maxKeys));
    } else {
      requests.listV1++;
      void writeAll(response, v1Answer(bucket, spec)).then((whole) => (wholeV1 += whole ? 1 : 0));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    wholeV1Answers: () => wholeV1,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
