/**
 * Listing a hop's bucket. A listing is complete or it is an error: a failed or cut-short listing
 * must never look like "these objects are gone" (invariant 8), so every failure throws and
 * every doubt about completeness is reported in `complete` and `warnings`.
 *
 * Where each listing job lives:
 * - {@link HopListing} (here): the one listing loop. Only it asks for pages (v1 or v2, markers or
 *   continuation tokens), and checks what comes back (prefix, undecodable keys, v2's order and
 *   duplicates, paging that stops short or repeats) and maps errors. Each job below is a stop
 *   condition on it.
 * - {@link openListing} (here): the plan's listing, every page; v1 through extsort.ts.
 * - {@link listedObjects} (here), used by readback.ts: the delivery read-back, a range of keys.
 * - {@link firstObject} (here), used by ops/doctor.ts: the first object, to prove the hop lists.
 * - list-stream.ts: one request, `encoding-type=url`, its answer parsed as it streams and decoded.
 * - reach.ts: whether a hop can be reached (the run's probe and doctor's reachable row).
 * - s3-client.ts: the hop's S3 client, and what its errors mean.
 *
 * Over 400 lines: this is the one owner of listing, and the loop is kept beside the
 * three stop conditions it serves, so that a change to paging or checks is seen by all of them.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { assert, isDualsyncError, opError } from '../errors.ts';
import type { DualsyncError } from '../errors.ts';
import type { HopConfig } from '../model/config.ts';
import type { Listing, ListingFlaws, ListingStream, ObjectEntry } from '../model/objects.ts';
import { classifyS3Error, unquote, where } from './s3-client.ts';
import { ExternalSort } from './extsort.ts';
import { listPage, type ListedObject, type ListedPage, type ListingSink } from './list-stream.ts';
import { compareKeys } from '../plan/keys.ts';

// The client is s3-client.ts's; re-exported so that callers of a hop's S3 find it in one place.
export { classifyS3Error, createS3Client, headObject } from './s3-client.ts';

/** ListObjectsV2 pages read ahead of the merge at most (about 200 KB each as entries). */
export const READ_AHEAD_PAGES = 8;

/** The most keys a Snowball's S3 adapter returns from ListObjectsV2, complete or not. */
const SNOWBALL_V2_CUT = 1000;

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
  /** A `listApi: v1` answer of up to this many entries is sorted in memory, no file made (default: extsort's). */
  sortInMemoryUpTo?: number;
  /** Entries per sorted run of a `listApi: v1` answer past that (default: extsort's; tests make it small to merge many runs). */
  sortRunEntries?: number;
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

export interface HopListingOptions {
  /** A stop: a listing stopped by it fails with E_ABORTED. */
  signal?: AbortSignal;
  /** A deadline over all its requests: a listing not done in time fails as the server's fault, not as a stop. */
  timeoutMs?: number;
  /** Keys per page to ask for (the server may return fewer); the server's default when unset. */
  maxKeys?: number;
  /** Where to begin: just after this key (relative to the prefix); from the first key when unset. */
  startAfter?: string;
}

/** Where one page's entries go while its answer streams in. */
export interface EntrySink {
  /** One entry; `false` ends the listing here, and the rest of the answer is not read. */
  entry(entry: ObjectEntry): boolean | void;
  /** Drops what this page handed on so far: the SDK is sending the request again. */
  restart(): void;
}

/** One page, as {@link HopListing.page} read it. */
export interface ReadPage {
  /** The page's entries, in the answer's order (empty when they went into a sink). */
  entries: ObjectEntry[];
  /** Objects the answer held: decodable or not, inside the prefix or not. */
  answered: number;
  /** Whether another page follows (false: the listing has ended, or a sink ended it). */
  more: boolean;
}

/**
 * The one listing loop: every listing of a hop's bucket goes through it, page after page, each
 * caller with its own stop (the plan's listing: every page; the delivery read-back: a range;
 * doctor: the first object). It alone decides what a request asks (ListObjects v1 with markers
 * for `listApi: v1`, ListObjectsV2 with continuation tokens otherwise; the hop's prefix;
 * `encoding-type=url` through {@link listPage}, which decodes) and what an answer must be:
 *
 * - Each entry is relative to the prefix; keys outside it (a server that ignored it) and the
 *   prefix's own "folder" object are left out, the first counted for {@link warnings}.
 * - Keys that do not decode are left out and counted in {@link flaws} (not in sync).
 * - ListObjectsV2 is sorted by the server: each key is checked against the one before it; a
 *   repeated key is dropped and counted, a key below it fails with E_S3_LIST_ORDER. A v1 answer
 *   may come unsorted (a Snowball's), so its caller sorts it or only looks keys up.
 * - A truncated answer without a way on fails (E_S3_LIST_TRUNCATED), one that repeats its
 *   marker or token fails (E_S3_LIST_LOOP), and every other failure becomes an operational
 *   error ({@link listingFailure}): never a shorter listing.
 */
export class HopListing {
  readonly hop: HopConfig;
  readonly flaws: ListingFlaws = { duplicates: 0, undecodable: 0 };
  /** Pages read so far. */
  pages = 0;
  #outsidePrefix = 0;
  readonly #client: S3Client;
  readonly #v2: boolean;
  readonly #prefix: string | undefined;
  readonly #maxKeys: number | undefined;
  readonly #startAfter: string | undefined;
  /** The caller's stop, which makes a failure E_ABORTED. */
  readonly #stop: AbortSignal | undefined;
  /** What the requests are sent with: the stop, the deadline and the end a sink asked for. */
  readonly #requestSignal: AbortSignal;
  readonly #enough = new AbortController();
  /** A sink said it has enough (a plain flag: it is read once per object). */
  #stopped = false;
  /** v2: the last key handed on, and the first that came below it in this page. */
  #previous: string | undefined;
  #disorder: { key: string; previous: string } | undefined;
  /** The continuation token (v2) or marker (v1) of the next page, and those used before. */
  #next: string | undefined;
  readonly #used = new Set<string>();
  #ended = false;

  constructor(client: S3Client, hop: HopConfig, options: HopListingOptions = {}) {
    this.#client = client;
    this.hop = hop;
    this.#v2 = hop.listApi !== 'v1';
    this.#prefix = hop.prefix === '' ? undefined : hop.prefix;
    this.#maxKeys = options.maxKeys;
    this.#startAfter = options.startAfter === undefined ? undefined : hop.prefix + options.startAfter;
    this.#stop = options.signal;
    const signals = [this.#enough.signal];
    if (options.signal !== undefined) signals.push(options.signal);
    if (options.timeoutMs !== undefined) signals.push(AbortSignal.timeout(options.timeoutMs));
    this.#requestSignal = AbortSignal.any(signals);
  }

  /**
   * Reads the next page: its entries into `sink` as they stream in, or collected and returned.
   * Throws (an operational error) rather than return less than the page held.
   */
  async page(sink?: EntrySink): Promise<ReadPage> {
    assert(!this.#ended, 'a listing was read past its end');
    const hop = this.hop;
    const collected: ObjectEntry[] = [];
    const into = sink ?? { entry: (entry: ObjectEntry) => void collected.push(entry), restart: () => (collected.length = 0) };
    const start = { outsidePrefix: this.#outsidePrefix, previous: this.#previous, duplicates: this.flaws.duplicates, firstDuplicate: this.flaws.firstDuplicate };
    this.#disorder = undefined;
    const listed: ListingSink = {
      restart: () => {
        this.#outsidePrefix = start.outsidePrefix;
        this.#previous = start.previous;
        this.flaws.duplicates = start.duplicates;
        if (start.firstDuplicate === undefined) delete this.flaws.firstDuplicate;
        this.#disorder = undefined;
        into.restart();
      },
      object: (object) => {
        if (this.#stopped) return;
        const entry = this.#relative(object);
        if (entry === undefined || (this.#v2 && !this.#inOrder(entry.key))) return;
        if (into.entry(entry) === false) {
          this.#stopped = true;
          this.#enough.abort();
        }
      },
      // A v1 answer may come unsorted anyway: no key need wait behind another for the answer's encoding.
      unordered: !this.#v2,
    };
    let page: ListedPage;
    try {
      page = await listPage(this.#client, this.#request(), listed, this.#requestSignal);
    } catch (error) {
      if (this.#stopped) return this.#end({ entries: collected, answered: 0, more: false });
      throw listingFailure(error, hop, this.#stop);
    }
    this.pages++;
    if (page.undecodable.count > 0) {
      this.flaws.undecodable += page.undecodable.count;
      this.flaws.firstUndecodable ??= page.undecodable.first;
    }
    if (this.#disorder !== undefined) {
      const { key, previous } = this.#disorder;
      throw opError('E_S3_LIST_ORDER', `listing ${where(hop)} is not in key order: ${JSON.stringify(key)} came after ${JSON.stringify(previous)}, so the server does not sort its ListObjectsV2 pages`, {
        hint: 'Set `listApi: v1` for this hop: dualsync then sorts the listing itself.',
      });
    }
    const read = { entries: collected, answered: page.objects + page.undecodable.count, more: page.isTruncated };
    if (!page.isTruncated || this.#stopped) return this.#end({ ...read, more: false });
    this.#next = this.#continuation(page);
    return read;
  }

  /** The warnings of what was left out (flaws are notes of the plan instead). */
  warnings(): string[] {
    if (this.#outsidePrefix === 0) return [];
    return [`listing ${where(this.hop)} returned ${this.#outsidePrefix} keys outside the prefix (the server ignored it); they were left out`];
  }

  #end(read: ReadPage): ReadPage {
    this.#ended = true;
    return read;
  }

  /** The next page's request: v2 from its continuation token (the first from `startAfter`), v1 from its marker. */
  #request(): Parameters<typeof listPage>[1] {
    const base = { Bucket: this.hop.bucket, Prefix: this.#prefix, MaxKeys: this.#maxKeys };
    if (!this.#v2) return { v2: false, input: { ...base, Marker: this.pages === 0 ? this.#startAfter : this.#next } };
    if (this.pages === 0) return { v2: true, input: this.#startAfter === undefined ? base : { ...base, StartAfter: this.#startAfter } };
    return { v2: true, input: { ...base, ContinuationToken: this.#next } };
  }

  /** Where a truncated page says the next one starts; a page without one, or one seen before, fails. */
  #continuation(page: ListedPage): string {
    const hop = this.hop;
    let next: string | undefined;
    if (this.#v2) {
      next = page.nextContinuationToken;
      if (next === undefined || next === '') {
        throw opError('E_S3_LIST_TRUNCATED', `listing ${where(hop)} was truncated without a continuation token`, {
          hint: 'The server may not support ListObjectsV2 paging; try `listApi: v1` for this hop.',
          retryable: true,
        });
      }
      if (this.#used.has(next)) throw loopError(hop, 'a continuation token');
    } else {
      // v1 gives NextMarker only with a delimiter; otherwise the last key is the marker.
      next = page.nextMarker ?? page.lastKey;
      if (next === undefined) throw opError('E_S3_LIST_TRUNCATED', `listing ${where(hop)} was truncated without a marker to continue from`, { retryable: true });
      if (this.#used.has(next)) throw loopError(hop, `the marker ${JSON.stringify(next)}`);
    }
    this.#used.add(next);
    return next;
  }

  /** The entry relative to the prefix, or undefined when it is left out. */
  #relative(object: ListedObject): ObjectEntry | undefined {
    if (!object.key.startsWith(this.hop.prefix)) {
      this.#outsidePrefix++;
      return undefined;
    }
    if (object.key.length === this.hop.prefix.length) return undefined;
    // The listed object becomes the entry, in place: one object per key through the merge.
    const entry = object as ObjectEntry;
    entry.key = object.key.slice(this.hop.prefix.length);
    entry.etag = unquote(object.etag);
    return entry;
  }

  /** Whether a v2 key comes after the one before it; a repeat is counted, the first key below it kept for the error. */
  #inOrder(key: string): boolean {
    const previous = this.#previous;
    const order = previous === undefined ? -1 : compareKeys(previous, key);
    if (order < 0) {
      this.#previous = key;
      return true;
    }
    if (order === 0) {
      this.flaws.duplicates++;
      this.flaws.firstDuplicate ??= key;
    } else {
      this.#disorder ??= { key, previous: previous! };
    }
    return false;
  }
}

/**
 * Opens the listing of every object under the hop's prefix as a stream in {@link compareKeys}
 * order (UTF-8 bytes), each key once, relative to the prefix, the prefix's own "folder" object
 * left out. A failure throws, from here or from the iteration: never a shorter listing.
 *
 * - ListObjectsV2: resolves once the first page is read (a hop that is down fails here, and a
 *   Snowball's one page of exactly 1,000 keys is taken as incomplete here), then hands out page
 *   after page, reading on meanwhile: at most {@link READ_AHEAD_PAGES} pages waiting in memory.
 *   The order and duplicate checks are {@link HopListing}'s.
 * - ListObjects v1 (`listApi: v1`): every page (a Snowball's one unsorted answer of every key)
 *   goes, as it streams in, into an {@link ExternalSort} (sorted runs on disk, in `spoolDir`);
 *   resolves once all is read, and hands the entries out in key order as it merges the runs.
 */
export async function openListing(client: S3Client, hop: HopConfig, options: ListOptions = {}): Promise<ListingStream> {
  return hop.listApi === 'v1' ? openSortedV1(client, hop, options) : openPagedV2(client, hop, options);
}

/** ListObjectsV2 pages, each handed out as it is read, in the server's order. */
async function openPagedV2(client: S3Client, hop: HopConfig, options: ListOptions): Promise<ListingStream> {
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  const listing = new HopListing(client, hop, { signal, maxKeys: options.maxKeys });
  let kept = 0;
  const readPage = async (): Promise<ReadPage> => {
    const read = await listing.page();
    kept += read.entries.length;
    options.onPage?.(kept);
    return read;
  };

  const first = await readPage();
  const warnings: string[] = [];
  let complete = true;
  if (hop.region === 'snow' && listing.pages === 1 && !first.more && first.answered === SNOWBALL_V2_CUT) {
    complete = false;
    warnings.push(
      `listing ${where(hop)} returned exactly 1,000 keys: it was probably cut at 1,000 keys by the Snowball S3 adapter, which does not page ListObjectsV2; set listApi: v1 for this hop`,
    );
  }
  let listed = 0;
  // Pages are read ahead of the merge, one request after the other (each needs the token of the
  // one before), up to READ_AHEAD_PAGES waiting: the chain keeps going while a v1 source is still
  // sorted and while the merge works, instead of one round trip per page once the merge asks.
  const ahead: ReadPage[] = [first];
  let more = first.more;
  let reading = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const pump = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      while (more && ahead.length < READ_AHEAD_PAGES && failure === undefined && !stop.signal.aborted) {
        const read = await readPage();
        ahead.push(read);
        more = read.more;
        wake?.();
      }
    } catch (error) {
      // Thrown when the merge reaches it (or dropped on close): never a shorter listing.
      failure = { error };
      wake?.();
    } finally {
      reading = false;
    }
  };
  void pump();
  async function* listedPages(): AsyncGenerator<ObjectEntry[]> {
    try {
      for (;;) {
        const current = ahead.shift();
        if (current === undefined) {
          if (failure !== undefined) throw failure.error;
          if (!more && !reading) break;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        void pump();
        listed += current.entries.length;
        if (current.entries.length > 0) yield current.entries;
      }
      warnings.push(...listing.warnings());
    } finally {
      stop.abort();
    }
  }
  return {
    pages: listedPages(),
    complete,
    warnings,
    flaws: listing.flaws,
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
  const listing = new HopListing(client, hop, { signal: options.signal, maxKeys: options.maxKeys });
  const sort = new ExternalSort(options.spoolDir, { memoryEntries: options.sortInMemoryUpTo, runEntries: options.sortRunEntries });
  try {
    for (;;) {
      const mark = sort.mark();
      const read = await listing.page({
        entry: (entry) => {
          sort.add(entry);
        },
        restart: () => sort.rollback(mark),
      });
      options.onPage?.(sort.added);
      if (!read.more) break;
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
    listing.flaws.duplicates = sort.duplicates.count;
    if (sort.duplicates.first !== undefined) listing.flaws.firstDuplicate = sort.duplicates.first;
    warnings.push(...listing.warnings());
  }
  return {
    pages: listedPages(),
    complete: true,
    warnings,
    flaws: listing.flaws,
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
 * callers that need every entry anyway (tests); the planner reads the stream.
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

/**
 * The first object under the hop's prefix (undefined: there is none), for doctor's check that
 * the hop can be listed. One key is asked for, and the answer is dropped at its first object: a
 * Snowball ignores MaxKeys on v1 and answers every key in one document. `timeoutMs` bounds the
 * whole; a failure throws as any listing's does.
 */
export async function firstObject(client: S3Client, hop: HopConfig, options: { timeoutMs?: number } = {}): Promise<ObjectEntry | undefined> {
  const listing = new HopListing(client, hop, { maxKeys: 1, timeoutMs: options.timeoutMs });
  let first: ObjectEntry | undefined;
  const sink: EntrySink = {
    entry: (entry) => {
      first = entry;
      return false;
    },
    restart: () => {},
  };
  let read = await listing.page(sink);
  while (first === undefined && read.more) read = await listing.page(sink);
  return first;
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
 * list (MinIO hides `a/b` when `a` is an object). It is the plan's own listing ({@link HopListing}:
 * the hop's prefix, the hop's list API), started just before the first key and read until it
 * passes the last one: one request per thousand objects instead of one each. Keys the walk did
 * not reach within a few pages (other objects in between) get a walk of their own from just
 * before them. Not even that is a listing with the key itself as prefix: MinIO lists `a/b` for
 * the prefix `a/b`, though not in the listing of the hop. A key no walk reached counts as not
 * listed: a failed upload that the next run retries, never a delivery.
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
  const last = sorted[sorted.length - 1]!;
  const listing = new HopListing(client, hop, { startAfter: justBefore(sorted[0]!), maxKeys: sorted.length === 1 ? 100 : undefined });
  let covered = false;
  for (let page = 0; page < maxPages && !covered; page++) {
    // The page's entries are looked at as they stream by: a device may answer everything at once.
    let passed = false;
    let foundHere: string[] = [];
    const read = await listing.page({
      restart: () => {
        for (const key of foundHere) found.delete(key);
        foundHere = [];
        passed = false;
      },
      entry: (entry) => {
        if (compareKeys(entry.key, last) > 0) passed = true;
        if (wanted.has(entry.key) && !found.has(entry.key)) {
          found.set(entry.key, entry);
          foundHere.push(entry.key);
        }
      },
    });
    // Sorted pages (every server but a device's v1 answer, which comes whole) pass the last key at their end.
    covered = !read.more || passed;
  }
  return { found, covered };
}
