/**
 * A Snowball-Edge-like S3 front for a real MinIO: it forwards every request to MinIO and bends
 * the answers the way the device's S3 adapter does (DESIGN, "Snowball Edge and other edge
 * endpoints"), so that dualsync and s5cmd can be tested against those behaviours end to end:
 *
 * - ListObjects (v1) is answered whole and shuffled in one page: IsTruncated false, no markers,
 *   whatever marker or max-keys the client sent.
 * - ListObjectsV2 is cut: one page of at most 1,000 keys that says IsTruncated false and has no
 *   continuation token, however many keys there are.
 * - At most `maxConnections` TCP connections at once (the device: 1,000); a connection over the
 *   cap is destroyed on arrival and counted in `dropped`.
 * - Requests must be signed for region `snow` (as the device wants); others get the 400 a
 *   region mismatch gets from S3, counted in `wrongRegion`.
 * - `opaqueEtags`: ETags that are not MD5 digests, in listings and in GET/HEAD headers (the
 *   device's ETag "might or might not be an MD5").
 * - `tls`: HTTPS with a certificate of the test's own making (the device's is self-made too).
 * - `ignoresEncodingType`: listings answer as a server that never reads `encoding-type=url`:
 *   keys as XML text, no `<EncodingType>`, and a character XML 1.0 cannot carry written as
 *   U+FFFD, as MinIO itself writes it when not asked to encode (whether the real device's
 *   adapter honours the parameter is not documented).
 *
 * Signatures. SigV4 signs the Host header, so a client signs for the simulator's host:port.
 * MinIO checks a signature against the Host header it receives and does not care whether that
 * is its own address, so the simulator forwards the client's requests byte for byte with the
 * Host header unchanged, and MinIO verifies the client's own signature (tried: it does, for any
 * signing region while MinIO's site region is unset). Only the extra pages the simulator
 * fetches itself to make a v1 answer whole are signed by the simulator, with MinIO's keys, and
 * only after MinIO has accepted the client's own request for the first page.
 */
import { afterAll } from 'vitest';
import { seededRandom } from './random.ts';
import type { MinioServer } from './minio.ts';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export type RequestKind = 'listV1' | 'listV2' | 'get' | 'head' | 'put' | 'post' | 'delete' | 'other';

export interface DeviceSimOptions {
  /** The MinIO behind the simulator: http://127.0.0.1:PORT. */
  upstream: string;
  /** MinIO's keys, for the pages the simulator fetches itself to answer ListObjects whole. */
  accessKeyId: string;
  secretAccessKey: string;
  /** Connections accepted at once; more are dropped. Default 1,000, the device's limit. */
  maxConnections?: number;
  /** The signing region requests must use; default `snow`. */
  region?: string;
  /** Replace every ETag by a stable value that is not an MD5 digest. */
  opaqueEtags?: boolean;
  /** Seed of the v1 shuffle, so a failing test can be replayed. */
  shuffleSeed?: number;
  /** Answer listings as if `encoding-type=url` had not been asked for (see above). */
  ignoresEncodingType?: boolean;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * How long an idle client connection is kept open. Long by default (60 s), so that a client
   * that leaves sockets idle is seen holding them, as a device that does not hurry to close would.
   */
  keepAliveTimeoutMs?: number;
}

export interface DeviceCounters {
  /** Connections accepted (not counting dropped ones). */
  accepted: number;
  /** Connections destroyed on arrival because `maxConnections` were already open. */
  dropped: number;
  /** Connections open right now. */
  open: number;
  /** The most connections clients held (or tried to hold) at once, dropped ones included. */
  maxConcurrent: number;
  /** Requests refused because they were not signed for the device's region. */
  wrongRegion: number;
  requests: Record<RequestKind, number>;
  /**
   * The same counts split by client, named by the first product of its User-Agent: s5cmd's
   * requests come as `aws-sdk-go`, dualsync's own (listings, checks) as `aws-sdk-js`.
   */
  byClient: Record<string, Record<RequestKind, number>>;
}

export interface DeviceSim {
  /** http(s)://127.0.0.1:PORT — give this to the hop as its endpoint. */
  endpoint: string;
  /** Live counters; read them after the work is done. */
  readonly counters: DeviceCounters;
  /** Zeroes the counters (open connections stay counted as open). */
  resetCounters(): void;
  /** Stops listening and closes every connection, client and upstream. */
  close(): Promise<void>;
}

/** The most keys the device's ListObjectsV2 returns, and then says the listing is complete. */
const V2_CUT = 1000;
/** Query parameters of a bucket listing; any other one names a sub-resource (?location, ?uploads...). */
const LIST_PARAMS = new Set(['prefix', 'marker', 'max-keys', 'delimiter', 'encoding-type', 'list-type', 'continuation-token', 'start-after', 'fetch-owner', 'x-id']);

function emptyCounters(): DeviceCounters {
  return {
    accepted: 0,
    dropped: 0,
    open: 0,
    maxConcurrent: 0,
    wrongRegion: 0,
    requests: noRequests(),
    byClient: {},
  };
}

function noRequests(): Record<RequestKind, number> {
  return { listV1: 0, listV2: 0, get: 0, head: 0, put: 0, post: 0, delete: 0, other: 0 };
}

/** The client a request comes from: the name of the first product of its User-Agent ("aws-sdk-go/1.44 (go1.26)" -> "aws-sdk-go"). */
export function clientOf(headers: IncomingHttpHeaders): string {
  const agent = String(headers['user-agent'] ?? '').trim();
  return agent === '' ? 'unknown' : (agent.split(/[\s/]/)[0] ?? 'unknown');
}

/** What a request is, from its method, path and query. */
export function classifyRequest(method: string, url: URL): RequestKind {
  const segments = url.pathname.split('/').filter((segment) => segment !== '');
  const bucketLevel = segments.length === 1;
  if (method === 'GET' && bucketLevel && [...url.searchParams.keys()].every((name) => LIST_PARAMS.has(name))) {
    return url.searchParams.get('list-type') === '2' ? 'listV2' : 'listV1';
  }
  switch (method) {
    case 'GET':
      return segments.length >= 2 ? 'get' : 'other';
    case 'HEAD':
      return 'head';
    case 'PUT':
      return 'put';
    case 'POST':
      return 'post';
    case 'DELETE':
      return 'delete';
    default:
      return 'other';
  }
}

/** The region a request is signed for (Authorization header or presigned query), if signed. */
export function signingRegion(headers: IncomingHttpHeaders, url: URL): string | undefined {
  const credential = /Credential=([^,\s]+)/.exec(String(headers.authorization ?? ''))?.[1] ?? url.searchParams.get('X-Amz-Credential') ?? undefined;
  return credential?.split('/')[2];
}

/** A stable ETag that is not an MD5 digest nor a multipart ETag, derived from the real one. */
export function opaqueEtag(etag: string): string {
  return `snow-${createHash('sha256').update(etag).digest('hex').slice(0, 20)}`;
}

function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_whole, entity: string) => {
    switch (entity.toLowerCase()) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(entity[1] === 'x' || entity[1] === 'X' ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10));
    }
  });
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;');
}

/** RFC 3986 encoding as SigV4 wants it for query names and values. */
function sigv4Encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Signs a GET of `path?query` on `host` with SigV4 (the simulator's own requests to MinIO). */
function signedGetHeaders(host: string, path: string, query: [string, string][], keys: { accessKeyId: string; secretAccessKey: string }, now: Date): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const region = 'us-east-1';
  const payload = createHash('sha256').update('').digest('hex');
  const canonicalQuery = query
    .map(([name, value]) => [sigv4Encode(name), sigv4Encode(value)])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = `host:${host}\nx-amz-content-sha256:${payload}\nx-amz-date:${amzDate}\n`;
  const signedHeaders = 'host;x-amz-content-sha256;x-amz-date';
  const canonicalRequest = ['GET', path, canonicalQuery, canonicalHeaders, signedHeaders, payload].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${keys.secretAccessKey}`).update(day).digest();
  for (const part of [region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return {
    host,
    'x-amz-content-sha256': payload,
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${keys.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}


/** Whether XML 1.0 can carry the code point. */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || code >= 0x10000;
}

/**
 * A URL-encoded answer (MinIO's, to `encoding-type=url`) as a server that ignored the parameter
 * writes it: keys, markers and prefixes decoded into XML text (a character XML cannot carry
 * becomes U+FFFD, as Go's encoder writes it), and no `<EncodingType>`.
 */
function withoutUrlEncoding(xml: string): string {
  if (!/<EncodingType>url<\/EncodingType>/.test(xml)) return xml;
  const plain = (encoded: string): string => {
    const text = decodeURIComponent(xmlUnescape(encoded).replace(/\+/g, ' '));
    const carried = Array.from(text, (char) => (isXmlChar(char.codePointAt(0) ?? 0) ? char : '\uFFFD')).join('');
    return xmlEscape(carried);
  };
  return xml
    .replace(/<EncodingType>url<\/EncodingType>/, '')
    .replace(/<(Key|Prefix|Marker|NextMarker|StartAfter|Delimiter)>([\s\S]*?)<\/\1>/g, (_whole, tag: string, text: string) => `<${tag}>${plain(text)}</${tag}>`);
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const CONTENTS = /<Contents>[\s\S]*?<\/Contents>/g;
const COMMON_PREFIXES = /<CommonPrefixes>[\s\S]*?<\/CommonPrefixes>/g;

function rewriteEtags(xml: string): string {
  return xml.replace(/<ETag>([\s\S]*?)<\/ETag>/g, (_whole, text: string) => `<ETag>${xmlEscape(`"${opaqueEtag(xmlUnescape(text).replaceAll('"', ''))}"`)}</ETag>`);
}

/** Replaces a page's Contents and CommonPrefixes with the given ones, and says it is complete. */
function completePage(template: string, contents: string[], prefixes: string[]): string {
  const marker = '\u0000ENTRIES\u0000';
  let body = template.replace(CONTENTS, '').replace(COMMON_PREFIXES, '');
  body = body.replace(/<NextMarker>[\s\S]*?<\/NextMarker>/, '').replace(/<NextContinuationToken>[\s\S]*?<\/NextContinuationToken>/, '');
  body = body.replace(/<IsTruncated>true<\/IsTruncated>/, '<IsTruncated>false</IsTruncated>');
  body = body.replace('</ListBucketResult>', `${marker}</ListBucketResult>`);
  return body.replace(marker, () => contents.join('') + prefixes.join(''));
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Starts a simulated device in front of `options.upstream` on a free 127.0.0.1 port. */
export async function startDeviceSim(options: DeviceSimOptions): Promise<DeviceSim> {
  const upstream = new URL(options.upstream);
  const cap = options.maxConnections ?? 1000;
  const region = options.region ?? 'snow';
  const random = seededRandom(options.shuffleSeed ?? 20240601);
  const agent = new http.Agent({ keepAlive: true });
  let counters = emptyCounters();
  const sockets = new Set<Socket>();

  const forwardBuffered = (headers: IncomingHttpHeaders, path: string): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const outgoing = http.request({ host: upstream.hostname, port: upstream.port, method: 'GET', path, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end();
    });

  /** A v1 page of the bucket fetched with the simulator's own signature, the client's prefix, delimiter and encoding kept. */
  const ownV1Page = async (bucketPath: string, url: URL, marker?: string): Promise<string> => {
    const query: [string, string][] = marker === undefined ? [] : [['marker', marker]];
    for (const name of ['prefix', 'delimiter', 'encoding-type']) {
      const value = url.searchParams.get(name);
      if (value !== null) query.push([name, value]);
    }
    const headers = signedGetHeaders(upstream.host, bucketPath, query, options, new Date());
    const search = query.map(([name, value]) => `${sigv4Encode(name)}=${sigv4Encode(value)}`).join('&');
    const answer = await forwardBuffered(headers, search === '' ? bucketPath : `${bucketPath}?${search}`);
    if (answer.status !== 200) throw new Error(`MinIO answered ${answer.status} to a v1 page: ${answer.body.toString('utf8').slice(0, 300)}`);
    return answer.body.toString('utf8');
  };

  /** Every v1 page from `first` on, Contents and CommonPrefixes only. */
  const restOfV1 = async (bucketPath: string, url: URL, first: string): Promise<{ contents: string[]; prefixes: string[] }> => {
    const contents: string[] = [...(first.match(CONTENTS) ?? [])];
    const prefixes: string[] = [...(first.match(COMMON_PREFIXES) ?? [])];
    let page = first;
    const urlEncoded = url.searchParams.get('encoding-type') === 'url';
    while (/<IsTruncated>true<\/IsTruncated>/.test(page)) {
      const next = /<NextMarker>([\s\S]*?)<\/NextMarker>/.exec(page)?.[1] ?? [...page.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].at(-1)?.[1];
      if (next === undefined) throw new Error('a truncated v1 page without a key to continue from');
      let marker = xmlUnescape(next);
      if (urlEncoded) marker = decodeURIComponent(marker.replace(/\+/g, ' '));
      page = await ownV1Page(bucketPath, url, marker);
      contents.push(...(page.match(CONTENTS) ?? []));
      prefixes.push(...(page.match(COMMON_PREFIXES) ?? []));
    }
    return { contents, prefixes };
  };

  const sendXml = (response: ServerResponse, status: number, headers: IncomingHttpHeaders, xml: string) => {
    const body = Buffer.from(xml, 'utf8');
    const out: IncomingHttpHeaders = { ...headers, 'content-length': String(body.length) };
    delete out['transfer-encoding'];
    response.writeHead(status, out as http.OutgoingHttpHeaders).end(body);
  };

  const list = async (request: IncomingMessage, response: ServerResponse, url: URL, kind: 'listV1' | 'listV2') => {
    const headers = { ...request.headers };
    delete headers['accept-encoding'];
    // The client's own request first: MinIO checks its signature and rights.
    const first = await forwardBuffered(headers, request.url ?? '/');
    if (first.status !== 200) {
      response.writeHead(first.status, first.headers as http.OutgoingHttpHeaders).end(first.body);
      return;
    }
    let xml = first.body.toString('utf8');
    if (kind === 'listV2') {
      // The device's bug: one page of at most 1,000 keys that claims to be the whole listing.
      const contents = (xml.match(CONTENTS) ?? []).slice(0, V2_CUT);
      const prefixes = xml.match(COMMON_PREFIXES) ?? [];
      xml = completePage(xml, contents, prefixes).replace(/<KeyCount>\d+<\/KeyCount>/, `<KeyCount>${contents.length + prefixes.length}</KeyCount>`);
    } else {
      const bucketPath = `/${url.pathname.split('/').filter((segment) => segment !== '')[0] ?? ''}`;
      // The device has no markers and no page size: it always answers from the first key.
      const fromStart = url.searchParams.has('marker') || url.searchParams.has('max-keys');
      const template = fromStart ? await ownV1Page(bucketPath, url) : xml;
      const all = await restOfV1(bucketPath, url, template);
      xml = completePage(template, shuffle(all.contents, random), all.prefixes);
    }
    if (options.opaqueEtags === true) xml = rewriteEtags(xml);
    if (options.ignoresEncodingType === true) xml = withoutUrlEncoding(xml);
    sendXml(response, 200, first.headers, xml);
  };

  const proxy = (request: IncomingMessage, response: ServerResponse, kind: RequestKind) => {
    const outgoing = http.request(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers, agent },
      (answer) => {
        const headers = { ...answer.headers };
        if (options.opaqueEtags === true && (kind === 'get' || kind === 'head') && typeof headers.etag === 'string') {
          headers.etag = `"${opaqueEtag(headers.etag.replaceAll('"', ''))}"`;
        }
        response.writeHead(answer.statusCode ?? 502, headers as http.OutgoingHttpHeaders);
        answer.pipe(response);
        answer.on('error', () => response.destroy());
      },
    );
    outgoing.on('error', () => {
      if (!response.headersSent) response.writeHead(502).end();
      else response.destroy();
    });
    response.on('close', () => {
      if (!response.writableFinished) outgoing.destroy();
    });
    request.pipe(outgoing);
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://device');
    const kind = classifyRequest(request.method ?? 'GET', url);
    counters.requests[kind]++;
    const client = clientOf(request.headers);
    (counters.byClient[client] ??= noRequests())[kind]++;
    const signedFor = signingRegion(request.headers, url);
    if (signedFor !== undefined && signedFor !== region) {
      counters.wrongRegion++;
      request.resume();
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region '${xmlEscape(signedFor)}' is wrong; expecting '${xmlEscape(region)}'</Message></Error>`;
      sendXml(response, 400, { 'content-type': 'application/xml' }, xml);
      return;
    }
    if (kind === 'listV1' || kind === 'listV2') {
      request.resume();
      list(request, response, url, kind).catch((error: unknown) => {
        if (response.headersSent) response.destroy();
        else sendXml(response, 500, { 'content-type': 'application/xml' }, `<Error><Code>InternalError</Code><Message>${xmlEscape(String(error))}</Message></Error>`);
      });
      return;
    }
    proxy(request, response, kind);
  };

  const server = options.tls === undefined ? http.createServer(handle) : https.createServer({ key: options.tls.key, cert: options.tls.cert }, handle);
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 60_000;
  server.headersTimeout = server.keepAliveTimeout + 5_000;
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    counters.open = open;
    counters.maxConcurrent = Math.max(counters.maxConcurrent, open);
    socket.once('close', () => {
      open--;
      counters.open = open;
      sockets.delete(socket);
    });
    if (open > cap) {
      counters.dropped++;
      socket.destroy();
      return;
    }
    counters.accepted++;
    sockets.add(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    get counters() {
      return counters;
    },
    resetCounters() {
      counters = emptyCounters();
      counters.open = open;
      counters.maxConcurrent = open;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}

/**
 * For a test file: a function that starts a simulator in front of one MinIO server (its endpoint
 * and keys), and closes every one it started when the file ends.
 */
export function useDeviceSims(): (server: MinioServer, options?: Partial<DeviceSimOptions>) => Promise<DeviceSim> {
  const sims: DeviceSim[] = [];
  afterAll(async () => {
    await Promise.all(sims.map((sim) => sim.close()));
  });
  return async (server, options = {}) => {
    const sim = await startDeviceSim({ upstream: server.endpoint, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, ...options });
    sims.push(sim);
    return sim;
  };
}
