/**
 * Listing a hop's bucket. A listing is complete or it is an error: a failed or cut-short listing
 * must never look like "these objects are gone" (invariant 8), so every failure throws and
 * every doubt about completeness is reported in `complete` and `warnings`.
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { describeError, isDualsyncError, opError, userError } from '../errors.ts';
import type { DualsyncError } from '../errors.ts';
import type { HopConfig } from '../model/config.ts';
import type { Listing, ListingFlaws, ListingStream, ObjectEntry } from '../model/objects.ts';
import { requireCredentials } from '../config/credentials.ts';
import { ExternalSort } from './extsort.ts';
import { listPage, type ListedObject, type ListedPage, type ListingSink } from './list-stream.ts';
import { compareKeys } from '../plan/keys.ts';

/** The most keys a Snowball's S3 adapter returns from ListObjectsV2, complete or not. */
const SNOWBALL_V2_CUT = 1000;
const DEFAULT_MAX_SOCKETS = 50;

/**
 * An S3 client for one hop: its endpoint, addressing, region (`snow` is the Snowball's signing
 * region and is used as it is), credentials, TLS trust and proxy. Sockets are capped by the
 * hop's connection budget, since a Snowball drops connections beyond 1,000. On a hop with a
 * budget the client also keeps no idle connection: the listing is done before s5cmd starts, and
 * a kept-alive socket would hold one of the device's connections while s5cmd uses the whole
 * budget (measured: one over the budget, and dropped connections, at a device capped at it).
 */
export function createS3Client(hop: HopConfig, options: { maxSockets?: number } = {}): S3Client {
  requireCredentials(hop);
  const maxSockets = Math.max(1, Math.min(options.maxSockets ?? DEFAULT_MAX_SOCKETS, hop.maxConnections ?? Number.POSITIVE_INFINITY));
  const keepAlive = hop.maxConnections === undefined;
  const agentOptions: https.AgentOptions & { proxyEnv?: Record<string, string> } = { keepAlive, maxSockets };
  if (hop.tls.caBundle !== undefined) {
    try {
      agentOptions.ca = readFileSync(hop.tls.caBundle);
    } catch (error) {
      throw userError('E_CA_BUNDLE', `cannot read the CA bundle ${hop.tls.caBundle} of bucket ${hop.bucket}: ${describeError(error)}`, {
        hint: 'Point tls.caBundle at the PEM file (for a Snowball: the output of `snowballEdge get-certificate`).',
      });
    }
  }
  if (!hop.tls.verify) agentOptions.rejectUnauthorized = false;
  // Node's agents take a proxy from proxyEnv (Node 24.5+), so each hop can have its own.
  if (hop.proxy !== undefined) agentOptions.proxyEnv = { HTTPS_PROXY: hop.proxy, HTTP_PROXY: hop.proxy };

  const config: S3ClientConfig = {
    region: hop.region,
    forcePathStyle: hop.addressing === 'path',
    // A link that silently drops packets must end in a (retryable) error, not hang a run that
    // holds the lock: connecting may take 15 s, a request may sit idle 60 s, then the SDK retries.
    // The idle limit is socketTimeout: this SDK's requestTimeout only logs a warning unless
    // throwOnRequestTimeout is set (measured: a listing of a server that accepts the connection
    // and never answers hung for good; with socketTimeout it fails after 189 s, three attempts).
    requestHandler: { httpAgent: new http.Agent(agentOptions), httpsAgent: new https.Agent(agentOptions), connectionTimeout: 15_000, socketTimeout: 60_000 },
    // The hop's endpoint, or AWS's: never one picked up from AWS_ENDPOINT_URL* in the shell.
    ignoreConfiguredEndpointUrls: true,
    // Devices such as the Snowball adapter reject the newer flexible checksum headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (hop.endpoint !== undefined) config.endpoint = hop.endpoint;
  const credentials = hop.credentials;
  if (credentials.kind === 'static') {
    config.credentials = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken };
  } else if (credentials.kind === 'profile') {
    config.profile = credentials.profile;
  }
  return new S3Client(config);
}

function where(hop: HopConfig, key?: string): string {
  const at = hop.endpoint === undefined ? `region ${hop.region}` : hop.endpoint;
  return `s3://${hop.bucket}/${hop.prefix}${key ?? ''} (${at})`;
}

const ACCESS_ERRORS = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'AllAccessDisabled', 'Forbidden']);
const TLS_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const FETCH_CERTIFICATE =
  'fetch the device certificate (`snowballEdge list-certificates`, then `snowballEdge get-certificate --certificate-arn ARN`) and save it as a PEM file';

/**
 * What to do about a certificate the hop does not trust. A Snowball's certificate is made by the
 * device and names its IP, so it is new after the IP changes (or the device is unlocked after the
 * old one was deleted or expired): a CA bundle that worked yesterday can be the cause today.
 */
function tlsHint(hop: HopConfig, tlsCode: string): string {
  if (tlsCode === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `The server's certificate does not name the host of ${hop.endpoint ?? 'this endpoint'}. Use the address the certificate was made for; a Snowball Edge's certificate names its IP, so if the device's IP changed, ${FETCH_CERTIFICATE} over tls.caBundle.`;
  }
  if (hop.tls.caBundle !== undefined) {
    return `The server's certificate is not signed by tls.caBundle (${hop.tls.caBundle}). A Snowball Edge makes a new certificate when its IP changes or it is unlocked after the old one was deleted or expired: ${FETCH_CERTIFICATE} over ${hop.tls.caBundle}.`;
  }
  return `The server's certificate is not trusted. For a Snowball Edge, ${FETCH_CERTIFICATE}, then set tls.caBundle to that file (docs/snowball.md). Use tls.verify: false only on a network you trust.`;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
}

/** Turns an SDK or network error into an operational error that says whether a retry can help. */
export function classifyS3Error(error: unknown, hop: HopConfig, doing: string): DualsyncError {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = shape.name ?? '';
  const status = shape.$metadata?.httpStatusCode;
  const detail = describeError(error) || name;
  const message = `${doing} ${where(hop)} failed: ${name && !detail.includes(name) ? `${name}: ` : ''}${detail}`;
  const tlsCode = shape.code ?? (error as { cause?: { code?: string } })?.cause?.code ?? '';
  if (ACCESS_ERRORS.has(name) || status === 403) {
    return opError('E_S3_ACCESS', message, {
      hint: `The credentials of this hop are wrong or may not list bucket ${hop.bucket}: check the access key, secret and profile, and s3:ListBucket / s3:GetObject permissions.`,
      cause: error,
    });
  }
  if (name === 'NoSuchBucket') {
    const hint =
      hop.region === 'snow'
        ? `The Snowball's S3 adapter has no bucket ${hop.bucket}. Check the bucket name; if the device was reset or replaced, re-provision it as docs/snowball.md describes.`
        : `Bucket ${hop.bucket} was not found at this endpoint: check the bucket name, endpoint and region of this hop.`;
    return opError('E_S3_NO_BUCKET', message, { hint, cause: error });
  }
  if (TLS_ERRORS.has(tlsCode)) {
    return opError('E_S3_TLS', message, { hint: tlsHint(hop, tlsCode), cause: error });
  }
  const retryable = status === undefined || status >= 500 || status === 429 || status === 408 || name === 'SlowDown' || name === 'RequestTimeout';
  return opError('E_S3_FAILED', message, {
    hint: retryable ? 'The server or the network failed; a later run retries.' : undefined,
    retryable,
    cause: error,
  });
}

function unquote(etag: string | undefined): string {
  if (etag === undefined) return '';
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

export interface ListOptions {
  signal?: AbortSignal;
  /** Called after each page with the number of entries listed so far (for progress). */
  onPage?: (listed: number) => void;
  /** Keys per page to ask for (the server may return fewer); the server's default when unset. */
  maxKeys?: number;
  /**
   * Where a `listApi: v1` listing is sorted on disk: a directory, created when missing (the OS's
   * temporary folder by default). The file in it is removed when the listing is closed or read to the end.
   */
  spoolDir?: string;
}

/** An error of the listing as an operational error: dualsync's own as they are, a stop as E_ABORTED, the rest classified. */
function listingFailure(error: unknown, hop: HopConfig, signal: AbortSignal | undefined): DualsyncError {
  if (isDualsyncError(error)) return error;
  if (signal?.aborted === true) return opError('E_ABORTED', `listing ${where(hop)} was stopped`, { retryable: true, cause: error });
  return classifyS3Error(error, hop, 'listing');
}

function loopError(hop: HopConfig, what: string): DualsyncError {
  return opError('E_S3_LIST_LOOP', `listing ${where(hop)} repeated ${what}: the server is not making progress, so the listing was stopped`, {
    hint: hop.listApi === 'v2' ? 'The server may not support ListObjectsV2 paging; try `listApi: v1` for this hop.' : 'Report this server behaviour; the listing cannot be trusted.',
  });
}

/**
 * What every listing leaves out and reports: keys outside the prefix (a server that ignored it),
 * the prefix's own "folder" object, and its flaws (duplicates, counted by the caller, and keys
 * that do not decode), which the plan shows as notes: such a listing is not in sync.
 */
class ListingFilter {
  outsidePrefix = 0;
  readonly flaws: ListingFlaws = { duplicates: 0, undecodable: 0 };
  readonly hop: HopConfig;

  constructor(hop: HopConfig) {
    this.hop = hop;
  }

  /** The entry relative to the prefix, or undefined when it is left out. */
  relative(object: ListedObject): ObjectEntry | undefined {
    if (!object.key.startsWith(this.hop.prefix)) {
      this.outsidePrefix++;
      return undefined;
    }
    const key = object.key.slice(this.hop.prefix.length);
    return key === '' ? undefined : { key, size: object.size, etag: unquote(object.etag) };
  }

  duplicate(key: string): void {
    this.flaws.duplicates++;
    this.flaws.firstDuplicate ??= key;
  }

  /** Counts a page's keys that did not decode (left out of the page). */
  undecodable(page: ListedPage): void {
    if (page.undecodable.count === 0) return;
    this.flaws.undecodable += page.undecodable.count;
    this.flaws.firstUndecodable ??= page.undecodable.first;
  }

  /** The warnings of what was left out, once the listing has ended (flaws are notes of the plan). */
  warnings(): string[] {
    const warnings: string[] = [];
    if (this.outsidePrefix > 0) {
      warnings.push(`listing ${where(this.hop)} returned ${this.outsidePrefix} keys outside the prefix (the server ignored it); they were left out`);
    }
    return warnings;
  }
}

/**
 * Opens the listing of every object under the hop's prefix as a stream in {@link compareKeys}
 * order (UTF-8 bytes), each key once, relative to the prefix, the prefix's own "folder" object
 * left out. A failure throws, from here or from the iteration: never a shorter listing.
 *
 * - ListObjectsV2: resolves once the first page is read (a hop that is down fails here, and a
 *   Snowball's one page of exactly 1,000 keys is taken as incomplete here), then hands out page
 *   after page, reading the next while the current one is consumed: about two pages in memory.
 *   Each key is checked against the one before it; a repeated key is dropped and counted, a key
 *   below it means the server does not sort, and the listing fails with E_S3_LIST_ORDER.
 * - ListObjects v1 (`listApi: v1`): every page (a Snowball's one unsorted answer of every key)
 *   is parsed as it streams in and goes into an {@link ExternalSort} on disk, in `spoolDir`;
 *   resolves once all is sorted, and hands the entries out in key order.
 */
export async function openListing(client: S3Client, hop: HopConfig, options: ListOptions = {}): Promise<ListingStream> {
  return hop.listApi === 'v1' ? openSortedV1(client, hop, options) : openPagedV2(client, hop, options);
}

/** ListObjectsV2 pages, each handed out as it is read, in the server's order, which is checked. */
async function openPagedV2(client: S3Client, hop: HopConfig, options: ListOptions): Promise<ListingStream> {
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  const filter = new ListingFilter(hop);
  const prefix = hop.prefix === '' ? undefined : hop.prefix;
  const tokens = new Set<string>();
  let previous: string | undefined;
  let kept = 0;
  let pages = 0;
  let rawKeys = 0;

  /** One page, checked for order and duplicates, and the token of the next (undefined: the last page). */
  const readPage = async (token: string | undefined): Promise<{ entries: ObjectEntry[]; next: string | undefined }> => {
    let entries: ObjectEntry[] = [];
    const outsideBefore = filter.outsidePrefix;
    const sink: ListingSink = {
      restart: () => {
        entries = [];
        filter.outsidePrefix = outsideBefore;
      },
      object: (object) => {
        const entry = filter.relative(object);
        if (entry !== undefined) entries.push(entry);
      },
    };
    let page: ListedPage;
    try {
      page = await listPage(client, { v2: true, input: { Bucket: hop.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: options.maxKeys } }, sink, signal);
    } catch (error) {
      throw listingFailure(error, hop, signal);
    }
    pages++;
    rawKeys += page.objects + page.undecodable.count;
    filter.undecodable(page);
    const ordered: ObjectEntry[] = [];
    for (const entry of entries) {
      const order = previous === undefined ? -1 : compareKeys(previous, entry.key);
      if (order === 0) {
        filter.duplicate(entry.key);
        continue;
      }
      if (order > 0) {
        throw opError('E_S3_LIST_ORDER', `listing ${where(hop)} is not in key order: ${JSON.stringify(entry.key)} came after ${JSON.stringify(previous)}, so the server does not sort its ListObjectsV2 pages`, {
          hint: 'Set `listApi: v1` for this hop: dualsync then sorts the listing itself.',
        });
      }
      previous = entry.key;
      ordered.push(entry);
    }
    kept += ordered.length;
    options.onPage?.(kept);
    if (!page.isTruncated) return { entries: ordered, next: undefined };
    const next = page.nextContinuationToken;
    if (next === undefined || next === '') {
      throw opError('E_S3_LIST_TRUNCATED', `listing ${where(hop)} was truncated without a continuation token`, {
        hint: 'The server may not support ListObjectsV2 paging; try `listApi: v1` for this hop.',
        retryable: true,
      });
    }
    if (tokens.has(next)) throw loopError(hop, 'a continuation token');
    tokens.add(next);
    return { entries: ordered, next };
  };

  const first = await readPage(undefined);
  const warnings: string[] = [];
  let complete = true;
  if (hop.region === 'snow' && pages === 1 && first.next === undefined && rawKeys === SNOWBALL_V2_CUT) {
    complete = false;
    warnings.push(
      `listing ${where(hop)} returned exactly 1,000 keys: it was probably cut at 1,000 keys by the Snowball S3 adapter, which does not page ListObjectsV2; set listApi: v1 for this hop`,
    );
  }
  let listed = 0;
  async function* listedPages(): AsyncGenerator<ObjectEntry[]> {
    try {
      let current = first;
      for (;;) {
        const ahead = current.next === undefined ? undefined : readPage(current.next);
        // Read while this page is consumed; its failure is thrown when it is reached (or dropped on close).
        ahead?.catch(() => undefined);
        listed += current.entries.length;
        if (current.entries.length > 0) yield current.entries;
        if (ahead === undefined) break;
        current = await ahead;
      }
      warnings.push(...filter.warnings());
    } finally {
      stop.abort();
    }
  }
  return {
    pages: listedPages(),
    complete,
    warnings,
    flaws: filter.flaws,
    get listed() {
      return listed;
    },
    close: async () => {
      stop.abort();
    },
  };
}

/** ListObjects v1, every page into an external sort, handed out in key order once all is read. */
async function openSortedV1(client: S3Client, hop: HopConfig, options: ListOptions): Promise<ListingStream> {
  const filter = new ListingFilter(hop);
  const prefix = hop.prefix === '' ? undefined : hop.prefix;
  const sort = new ExternalSort(options.spoolDir);
  try {
    const markers = new Set<string>();
    let marker: string | undefined;
    for (;;) {
      const start = { added: sort.mark(), outsidePrefix: filter.outsidePrefix };
      const sink: ListingSink = {
        restart: () => {
          sort.rollback(start.added);
          filter.outsidePrefix = start.outsidePrefix;
        },
        object: (object) => {
          const entry = filter.relative(object);
          if (entry !== undefined) sort.add(entry);
        },
        // The external sort orders them: no key need wait behind another for the answer's encoding.
        unordered: true,
      };
      let page: ListedPage;
      try {
        page = await listPage(client, { v2: false, input: { Bucket: hop.bucket, Prefix: prefix, Marker: marker, MaxKeys: options.maxKeys } }, sink, options.signal);
      } catch (error) {
        throw listingFailure(error, hop, options.signal);
      }
      filter.undecodable(page);
      options.onPage?.(sort.added);
      if (!page.isTruncated) break;
      // v1 gives NextMarker only with a delimiter; otherwise the last key is the marker.
      const next = page.nextMarker ?? page.lastKey;
      if (next === undefined) throw opError('E_S3_LIST_TRUNCATED', `listing ${where(hop)} was truncated without a marker to continue from`, { retryable: true });
      if (markers.has(next)) throw loopError(hop, `the marker ${JSON.stringify(next)}`);
      markers.add(next);
      marker = next;
    }
    sort.sort();
  } catch (error) {
    sort.close();
    throw error;
  }
  const warnings: string[] = [];
  let listed = 0;
  async function* listedPages(): AsyncGenerator<ObjectEntry[]> {
    for await (const page of sort.pages()) {
      listed += page.length;
      yield page;
    }
    filter.flaws.duplicates = sort.duplicates.count;
    if (sort.duplicates.first !== undefined) filter.flaws.firstDuplicate = sort.duplicates.first;
    warnings.push(...filter.warnings());
  }
  return {
    pages: listedPages(),
    complete: true,
    warnings,
    flaws: filter.flaws,
    get listed() {
      return listed;
    },
    close: async () => {
      sort.close();
    },
  };
}

/**
 * The whole listing of the hop at once, in key order: {@link openListing} read to the end. For
 * callers that need every entry anyway (doctor, tests); the planner reads the stream.
 */
export async function listHop(client: S3Client, hop: HopConfig, options: ListOptions = {}): Promise<Listing> {
  const stream = await openListing(client, hop, options);
  try {
    const entries: ObjectEntry[] = [];
    for await (const page of stream.pages) for (const entry of page) entries.push(entry);
    return { entries, complete: stream.complete, warnings: stream.warnings, ...(stream.flaws === undefined ? {} : { flaws: stream.flaws }) };
  } finally {
    await stream.close();
  }
}

/** One object's size and ETag by relative key; undefined only when the server says it does not exist. */
export async function headObject(client: S3Client, hop: HopConfig, key: string): Promise<ObjectEntry | undefined> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: hop.bucket, Key: hop.prefix + key }));
    return { key, size: head.ContentLength ?? 0, etag: unquote(head.ETag) };
  } catch (error) {
    const shape = error as SdkErrorShape;
    if (shape.name === 'NotFound' || shape.name === 'NoSuchKey' || shape.$metadata?.httpStatusCode === 404) return undefined;
    throw classifyS3Error(error, { ...hop, prefix: hop.prefix + key }, 'reading the header of');
  }
}

/**
 * A string just below `key` in S3's order (UTF-8 bytes, which is code point order): its last
 * character one lower, then the highest code point four times. Only keys that start with that
 * string sort between it and `key`, and real keys do not, so a listing that starts after it
 * reaches `key` at once.
 */
function justBefore(key: string): string {
  const characters = Array.from(key);
  const last = characters.pop()?.codePointAt(0) ?? 0;
  if (last === 0) return characters.join('');
  const lower = last - 1 >= 0xd800 && last - 1 <= 0xdfff ? 0xd7ff : last - 1;
  return `${characters.join('')}${String.fromCodePoint(lower)}${'\u{10FFFF}'.repeat(4)}`;
}

/**
 * The listing's entries of many keys at once (undefined: the listing does not show it). This is
 * the one definition of "the destination holds this version" after an upload: what the next
 * `plan` will read, never a HEAD, which answers for objects that a server accepts but does not
 * list (MinIO hides `a/b` when `a` is an object). It is the plan's own listing (the hop's
 * prefix, the hop's list API), started just before the first key and read until it passes the
 * last one: one request per thousand objects instead of one each. Keys the walk did not reach
 * within a few pages (other objects in between) get a walk of their own from just before them.
 * Not even that is a listing with the key itself as prefix: MinIO lists `a/b` for the prefix
 * `a/b`, though not in the listing of the hop. A key no walk reached counts as not listed: a
 * failed upload that the next run retries, never a delivery.
 */
export async function listedObjects(client: S3Client, hop: HopConfig, keys: readonly string[]): Promise<Map<string, ObjectEntry | undefined>> {
  const found = new Map<string, ObjectEntry | undefined>();
  const sorted = [...new Set(keys)].sort(compareKeys);
  if (sorted.length === 0) return found;
  // v1: a key at a time (a device may ignore markers and answer everything, unsorted).
  const batch = hop.listApi === 'v1' ? undefined : await walkListing(client, hop, sorted, Math.ceil(sorted.length / 1000) + 3);
  for (const key of sorted) {
    if (batch?.found.has(key)) found.set(key, batch.found.get(key));
    else if (batch?.covered === true) found.set(key, undefined);
    else found.set(key, (await walkListing(client, hop, [key], 3)).found.get(key));
  }
  return found;
}

/**
 * Walks the hop's listing from just before `sorted[0]` until it passes the last key (`covered`),
 * the listing ends (`covered`), or `maxPages` pages were read. `found` holds the keys it saw.
 */
async function walkListing(client: S3Client, hop: HopConfig, sorted: readonly string[], maxPages: number): Promise<{ found: Map<string, ObjectEntry>; covered: boolean }> {
  const found = new Map<string, ObjectEntry>();
  const wanted = new Set(sorted);
  const last = hop.prefix + sorted[sorted.length - 1]!;
  const prefix = hop.prefix === '' ? undefined : hop.prefix;
  let after: string | undefined = hop.prefix + justBefore(sorted[0]!);
  let token: string | undefined;
  let covered = false;
  try {
    for (let page = 0; page < maxPages && !covered; page++) {
      // The page's objects are looked at as they stream by: a device may answer everything at once.
      let passed = false;
      let foundHere: string[] = [];
      const sink: ListingSink = {
        restart: () => {
          for (const key of foundHere) found.delete(key);
          foundHere = [];
          passed = false;
        },
        object: (object) => {
          if (compareKeys(object.key, last) > 0) passed = true;
          const key = object.key.slice(hop.prefix.length);
          if (object.key.startsWith(hop.prefix) && wanted.has(key) && !found.has(key)) {
            found.set(key, { key, size: object.size, etag: unquote(object.etag) });
            foundHere.push(key);
          }
        },
      };
      const maxKeys = sorted.length === 1 ? 100 : undefined;
      let truncated: boolean;
      if (hop.listApi === 'v1') {
        const answer = await listPage(client, { v2: false, input: { Bucket: hop.bucket, Prefix: prefix, Marker: after, MaxKeys: maxKeys } }, sink);
        after = answer.nextMarker ?? answer.lastKey;
        truncated = answer.isTruncated && after !== undefined;
      } else {
        const input = { Bucket: hop.bucket, Prefix: prefix, MaxKeys: maxKeys, ...(token === undefined ? { StartAfter: after } : { ContinuationToken: token }) };
        const answer = await listPage(client, { v2: true, input }, sink);
        token = answer.nextContinuationToken;
        truncated = answer.isTruncated && token !== undefined;
      }
      // Sorted pages (every server but a device's v1 answer, which comes whole) pass the last key at their end.
      covered = !truncated || passed;
    }
  } catch (error) {
    throw isDualsyncError(error) ? error : classifyS3Error(error, hop, 'listing');
  }
  return { found, covered };
}
