/**
 * Device behaviours MinIO cannot show: a Snowball's single unsorted v1 answer, v1 pages without
 * NextMarker, servers that repeat a marker or token forever, ignore the prefix, or answer 503.
 * A small scripted HTTP server on 127.0.0.1 plays each device; the real AWS SDK talks to it, so
 * request signing, XML parsing and retries are the real ones. (MinIO-backed cases live in
 * inventory.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createS3Client, firstObject, headObject, listedObjects, listHop } from '../../src/inventory/s3.ts';
import type { HopConfig } from '../../src/model/config.ts';
import { compareKeys } from '../../src/plan/keys.ts';
import { cleanup, dualsyncFailure, tempDir } from '../harness/index.ts';

afterAll(cleanup);

interface Page {
  keys: string[];
  truncated: boolean;
  nextMarker?: string;
  nextToken?: string;
  /** Keys (and NextMarker) are already URL-encoded: say so with <EncodingType>url</EncodingType>, after the objects as MinIO does. */
  urlEncoded?: boolean;
}

type Script = (request: { query: URLSearchParams; headers: IncomingMessage['headers']; method: string }) => Page | { status: number; code: string } | 'head';

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function pageXml(page: Page, v2: boolean): string {
  const contents = page.keys
    .map((key) => `<Contents><Key>${escapeXml(key)}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;etag-${escapeXml(key)}&quot;</ETag><Size>${key.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`)
    .join('');
  const paging = v2
    ? `<KeyCount>${page.keys.length}</KeyCount>${page.nextToken === undefined ? '' : `<NextContinuationToken>${escapeXml(page.nextToken)}</NextContinuationToken>`}`
    : page.nextMarker === undefined
      ? ''
      : `<NextMarker>${escapeXml(page.nextMarker)}</NextMarker>`;
  const encoding = page.urlEncoded === true ? '<EncodingType>url</EncodingType>' : '';
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>${page.truncated}</IsTruncated>${paging}${contents}${encoding}</ListBucketResult>`;
}

interface Device {
  endpoint: string;
  requests: { query: URLSearchParams; headers: IncomingMessage['headers'] }[];
  maxConcurrent: number;
}

const devices: Server[] = [];
afterAll(() => Promise.all(devices.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))));

async function device(script: Script, delayMs = 0, tls?: { key: Buffer; cert: Buffer }): Promise<Device> {
  const state: Device = { endpoint: '', requests: [], maxConcurrent: 0 };
  let open = 0;
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://device');
    state.requests.push({ query: url.searchParams, headers: request.headers });
    request.resume();
    const answer = script({ query: url.searchParams, headers: request.headers, method: request.method ?? 'GET' });
    setTimeout(() => {
      if (answer === 'head') {
        response.writeHead(200, { 'content-length': '3', etag: '"abc"' }).end();
      } else if ('status' in answer) {
        response.writeHead(answer.status, { 'content-type': 'application/xml' });
        response.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${answer.code}</Code><Message>scripted</Message></Error>`);
      } else {
        response.writeHead(200, { 'content-type': 'application/xml' });
        response.end(pageXml(answer, url.searchParams.get('list-type') === '2'));
      }
    }, delayMs);
  };
  const server = tls === undefined ? createServer(handler) : createTlsServer(tls, handler);
  server.on('connection', (socket) => {
    open++;
    state.maxConcurrent = Math.max(state.maxConcurrent, open);
    socket.on('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  devices.push(server);
  state.endpoint = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function hop(endpoint: string, extra: Partial<HopConfig> = {}): HopConfig {
  return {
    bucket: 'bucket',
    prefix: '',
    region: 'snow',
    endpoint,
    addressing: 'path',
    tls: { verify: true },
    listApi: 'v1',
    credentials: { kind: 'static', accessKeyId: 'AKIDSNOW', secretAccessKey: 'snow-secret', inline: false },
    ...extra,
  };
}


describe('the delivery read-back and doctor list through the same loop as the plan', () => {
  it('read-back from a v2 server that does not sort: E_S3_LIST_ORDER, as the plan\'s listing says', async () => {
    const server = await device(() => ({ keys: ['b', 'a'], truncated: false }));
    const config = hop(server.endpoint, { listApi: 'v2' });
    expect((await dualsyncFailure(listHop(createS3Client(config), config))).code).toBe('E_S3_LIST_ORDER');
    expect((await dualsyncFailure(listedObjects(createS3Client(config), config, ['a']))).code).toBe('E_S3_LIST_ORDER');
  });

  it('read-back from a v2 page truncated without a continuation token: E_S3_LIST_TRUNCATED, never "not listed"', async () => {
    const server = await device(() => ({ keys: ['a'], truncated: true }));
    const config = hop(server.endpoint, { listApi: 'v2' });
    expect((await dualsyncFailure(listedObjects(createS3Client(config), config, ['a', 'b']))).code).toBe('E_S3_LIST_TRUNCATED');
  });

  for (const listApi of ['v1', 'v2'] as const) {
    it(`${listApi}: doctor's first object is the listing's: not the prefix's folder, a foreign key or a key that does not decode`, async () => {
      const pages: Page[] = [
        { keys: ['sensors/bad%FF', 'other/b', 'sensors/'], truncated: true, nextToken: '1', urlEncoded: true },
        { keys: ['sensors/x%2By'], truncated: false, urlEncoded: true },
      ];
      const server = await device(({ query }) => pages[query.has('marker') || query.has('continuation-token') ? 1 : 0]!);
      const config = hop(server.endpoint, { listApi, prefix: 'sensors/' });
      expect(await firstObject(createS3Client(config), config)).toEqual({ key: 'x+y', size: 13, etag: 'etag-sensors/x%2By' });
      expect(server.requests.map((request) => request.query.get('max-keys'))).toEqual(['1', '1']);
    });
  }

  it('a device that answers every key at once: doctor\'s first object is the answer\'s first; a prefix holding only its folder has none', async () => {
    const keys = Array.from({ length: 200_000 }, (_, i) => `k${i}`);
    const snow = await device(() => ({ keys, truncated: false }));
    const config = hop(snow.endpoint);
    expect((await firstObject(createS3Client(config), config))?.key).toBe('k0');
    const empty = await device(() => ({ keys: ['sensors/', 'other/b'], truncated: false }));
    const emptyConfig = hop(empty.endpoint, { prefix: 'sensors/' });
    expect(await firstObject(createS3Client(emptyConfig), emptyConfig)).toBeUndefined();
  });
});

describe('listHop against scripted devices', () => {
  it('Snowball v1: one unsorted, unpaginated answer is taken whole and handed out in key order', async () => {
    const keys = Array.from({ length: 1500 }, (_, i) => `k${(i * 7919) % 1500}`);
    const snow = await device(() => ({ keys, truncated: false }));
    const config = hop(snow.endpoint);
    const listing = await listHop(createS3Client(config), config);
    expect(listing.entries.map((entry) => entry.key)).toEqual([...keys].sort(compareKeys));
    expect(listing.complete).toBe(true);
    expect(listing.entries[0]).toEqual({ key: 'k0', size: 2, etag: 'etag-k0' });
    expect(snow.requests).toHaveLength(1);
    // Signed for the Snowball's region as configured.
    expect(String(snow.requests[0]?.headers.authorization)).toContain('/snow/s3/aws4_request');
  });

  it('v1 pages without NextMarker: the last key of each page is the next marker', async () => {
    const pages = [['a', 'b'], ['c', 'd'], ['e']];
    const server = await device(({ query }) => {
      const index = ['', 'b', 'd'].indexOf(query.get('marker') ?? '');
      return { keys: pages[index] ?? [], truncated: index < 2 };
    });
    const config = hop(server.endpoint);
    const listing = await listHop(createS3Client(config), config);
    expect(listing.entries.map((entry) => entry.key)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(server.requests.map((request) => request.query.get('marker'))).toEqual([null, 'b', 'd']);
  });

  it('v2 pages that repeat a key at their seam: kept once, counted as a flaw of the listing', async () => {
    const pages = [['a', 'b'], ['b', 'c'], ['c', 'c', 'd']];
    const server = await device(({ query }) => {
      const index = Number(query.get('continuation-token') ?? '0');
      return { keys: pages[index] ?? [], truncated: index < 2, nextToken: String(index + 1) };
    });
    const config = hop(server.endpoint, { listApi: 'v2' });
    const listing = await listHop(createS3Client(config), config);
    expect(listing.entries.map((entry) => entry.key)).toEqual(['a', 'b', 'c', 'd']);
    expect(listing.warnings).toEqual([]);
    expect(listing.flaws).toEqual({ duplicates: 3, firstDuplicate: 'b', undecodable: 0 });
  });

  for (const listApi of ['v1', 'v2'] as const) {
    it(`${listApi}: asks for encoding-type=url, decodes what the answer says is encoded (NextMarker too), and counts a key that does not decode`, async () => {
      const pages: Page[] = [
        { keys: ['a%EF%BF%BF', 'b+c%2B'], truncated: true, nextMarker: 'b+c%2B', nextToken: '1', urlEncoded: true },
        { keys: ['bad%FF', 'd%25'], truncated: false, urlEncoded: true },
      ];
      const server = await device(({ query }) => pages[query.get('marker') === 'b c+' || query.get('continuation-token') === '1' ? 1 : 0]!);
      const config = hop(server.endpoint, { listApi });
      const listing = await listHop(createS3Client(config), config);
      expect(listing.entries.map((entry) => entry.key)).toEqual(['a\uFFFF', 'b c+', 'd%']);
      expect(listing.flaws).toEqual({ duplicates: 0, undecodable: 1, firstUndecodable: 'bad%FF' });
      expect(server.requests.map((request) => request.query.get('encoding-type'))).toEqual(['url', 'url']);
    });
  }

  it('a device that ignores encoding-type: keys holding % and + are taken as they are listed', async () => {
    const server = await device(() => ({ keys: ['a%41', 'b+c', 'e%zz'], truncated: false }));
    const config = hop(server.endpoint, { listApi: 'v1' });
    const listing = await listHop(createS3Client(config), config);
    expect(listing.entries.map((entry) => entry.key)).toEqual(['a%41', 'b+c', 'e%zz']);
    expect(listing.flaws).toEqual({ duplicates: 0, undecodable: 0 });
  });

  const loops: { name: string; listApi: HopConfig['listApi']; page: Page }[] = [
    { name: 'v1 repeating the same NextMarker', listApi: 'v1', page: { keys: ['a'], truncated: true, nextMarker: 'a' } },
    { name: 'v2 repeating the same continuation token', listApi: 'v2', page: { keys: ['a'], truncated: true, nextToken: 'same-token' } },
  ];
  for (const { name, listApi, page } of loops) {
    it(`${name}: stopped with E_S3_LIST_LOOP instead of looping`, async () => {
      const server = await device(() => page);
      const config = hop(server.endpoint, { listApi });
      const error = await dualsyncFailure(listHop(createS3Client(config), config));
      expect(error.code).toBe('E_S3_LIST_LOOP');
      expect(server.requests.length).toBeLessThanOrEqual(3);
    });
  }

  it('v2 truncated without a continuation token: E_S3_LIST_TRUNCATED suggesting listApi v1', async () => {
    const server = await device(() => ({ keys: ['a'], truncated: true }));
    const config = hop(server.endpoint, { listApi: 'v2' });
    const error = await dualsyncFailure(listHop(createS3Client(config), config));
    expect(error.code).toBe('E_S3_LIST_TRUNCATED');
    expect(error.hint).toMatch(/listApi: v1/);
  });

  it('a server that ignores the prefix: foreign keys left out, with a warning', async () => {
    const server = await device(() => ({ keys: ['sensors/a', 'other/b', 'sensors/', 'sensors/c/d'], truncated: false }));
    const config = hop(server.endpoint, { prefix: 'sensors/' });
    const listing = await listHop(createS3Client(config), config);
    expect(listing.entries.map((entry) => entry.key)).toEqual(['a', 'c/d']);
    expect(listing.warnings.join('\n')).toMatch(/1 keys outside the prefix/);
  });

  const statuses: { status: number; code: string; retryable: boolean }[] = [
    { status: 503, code: 'SlowDown', retryable: true },
    { status: 500, code: 'InternalError', retryable: true },
    { status: 400, code: 'InvalidArgument', retryable: false },
  ];
  for (const { status, code, retryable } of statuses) {
    it(`${status} ${code} on a page after the first: an error (retryable ${retryable}), never the first page alone`, async () => {
      const server = await device(({ query }) => (query.get('marker') === null ? { keys: ['a'], truncated: true } : { status, code }));
      const config = hop(server.endpoint);
      const error = await dualsyncFailure(listHop(createS3Client(config), config));
      expect(error.code).toBe('E_S3_FAILED');
      expect(error.retryable).toBe(retryable);
      expect(error.message).toContain(code);
    });
  }
});

describe('createS3Client', () => {
  describe('a device with its own certificate (as a Snowball has)', () => {
    async function selfSigned(): Promise<{ key: Buffer; cert: Buffer; pem: string }> {
      const dir = await tempDir('cert-');
      const [key, pem] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', pem], { stdio: 'ignore' });
      return { key: readFileSync(key), cert: readFileSync(pem), pem };
    }

    it('untrusted certificate: E_S3_TLS, not retryable, hint names caBundle', async () => {
      const cert = await selfSigned();
      const server = await device(() => ({ keys: ['a'], truncated: false }), 0, cert);
      const config = hop(server.endpoint);
      const error = await dualsyncFailure(listHop(createS3Client(config), config));
      expect(error.code).toBe('E_S3_TLS');
      expect(error.retryable).toBe(false);
      expect(error.hint).toMatch(/caBundle/);
    });

    const trusted: { name: string; tls: (pem: string) => HopConfig['tls'] }[] = [
      { name: 'its certificate as caBundle: listed', tls: (pem) => ({ verify: true, caBundle: pem }) },
      { name: 'verify: false: listed', tls: () => ({ verify: false }) },
    ];
    for (const { name, tls } of trusted) {
      it(name, async () => {
        const cert = await selfSigned();
        const server = await device(() => ({ keys: ['a'], truncated: false }), 0, cert);
        const config = hop(server.endpoint, { tls: tls(cert.pem) });
        expect((await listHop(createS3Client(config), config)).entries.map((entry) => entry.key)).toEqual(['a']);
      });
    }
  });

  it("sends the hop's requests through the hop's proxy", async () => {
    // The scripted device plays the proxy; the endpoint itself is a port where nothing listens.
    const proxy = await device(() => ({ keys: ['via-proxy'], truncated: false }));
    const config = hop('http://127.0.0.1:9', { proxy: proxy.endpoint });
    const listing = await listHop(createS3Client(config), config);
    expect(listing.entries.map((entry) => entry.key)).toEqual(['via-proxy']);
    expect(proxy.requests).toHaveLength(1);
  });

  it("caps the client's sockets at the hop's connection budget", async () => {
    const server = await device(() => 'head', 150);
    const config = hop(server.endpoint, { maxConnections: 3 });
    const client = createS3Client(config, { maxSockets: 64 });
    const heads = await Promise.all(Array.from({ length: 12 }, (_, i) => headObject(client, config, `k${i}`)));
    expect(heads.every((head) => head?.etag === 'abc' && head.size === 3)).toBe(true);
    expect(server.maxConcurrent).toBeLessThanOrEqual(3);
    expect(server.maxConcurrent).toBeGreaterThan(1);
  });
});
