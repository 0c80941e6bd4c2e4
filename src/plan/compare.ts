/**
 * Sort what may arrive unsorted, then walk the four sorted listings (source, destination, local
 * files, ledger) in one merged pass, key by key. Pure. Listings are never assumed to be sorted or
 * free of duplicates (a Snowball's v1 listing is neither guaranteed): each is checked in
 * {@link compareKeys} order (UTF-8 bytes, the order S3 and the ledger hand them out in) and
 * sorted only when it is not; duplicates are dropped here, keeping the first in sorted order, and
 * reported as warnings. The merged pass checks the order again as it walks.
 */
import { assert } from '../errors.ts';
import type { LedgerRecord, LocalFile, ObjectEntry } from '../model/objects.ts';
import { compareKeys, compareSortableKeys, sortableKey } from './keys.ts';

/** A listing in key order, and whether two of its entries share a key (only then can it hold duplicates). */
export interface SortedListing<T> {
  items: T[];
  sharedKeys: boolean;
  /** The order to merge it in: {@link compareSortableKeys} when no key of it holds a unit of D800-FFFF (the same order, faster), else {@link compareKeys}. */
  compare: (a: string, b: string) => number;
}

/**
 * A copy of `items` sorted by key ({@link compareKeys}), then by `tieBreak` (the input is never
 * mutated); skips the sort when already in order, as a ListObjectsV2 listing and the ledger are.
 * Sorts an index array against an array of the keys rather than the objects themselves: at a
 * million entries that is several times faster, because each comparison then touches two
 * strings instead of two objects and their strings. Those strings are {@link sortableKey}s, so
 * each comparison is a plain `<`. A comparison sort compares every pair that ends up adjacent,
 * so if no comparison met two equal keys, no key repeats and the duplicate pass can be skipped.
 */
export function sortedByKey<T extends { key: string }>(items: readonly T[], tieBreak: (a: T, b: T) => number): SortedListing<T> {
  const count = items.length;
  // Pushed, not preallocated: V8 makes `new Array(n)` beyond 100,000 elements a slow hash table.
  const keys: string[] = [];
  let remapped = false;
  for (let i = 0; i < count; i++) {
    const key = (items[i] as T).key;
    const sortable = sortableKey(key);
    if (sortable !== key) remapped = true;
    keys.push(sortable);
  }
  const compare = remapped ? compareKeys : compareSortableKeys;
  let sorted = true;
  let sharedKeys = false;
  for (let i = 1; i < count && sorted; i++) {
    const order = compareSortableKeys(keys[i - 1] as string, keys[i] as string);
    if (order < 0) continue;
    if (order === 0) {
      sharedKeys = true;
      if (tieBreak(items[i - 1] as T, items[i] as T) > 0) sorted = false;
    } else {
      sorted = false;
    }
  }
  if (sorted) return { items: items.slice(), sharedKeys, compare };
  sharedKeys = false;
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((a, b) => {
    const byKey = compareSortableKeys(keys[a] as string, keys[b] as string);
    if (byKey !== 0) return byKey;
    sharedKeys = true;
    return tieBreak(items[a] as T, items[b] as T) || a - b;
  });
  const result: T[] = [];
  for (let i = 0; i < count; i++) result.push(items[order[i] as number] as T);
  return { items: result, sharedKeys, compare };
}

/** Among entries of one key: a total order, so duplicates resolve the same way whatever the input order. */
function entryTieBreak(a: ObjectEntry, b: ObjectEntry): number {
  return a.size - b.size || compareKeys(a.etag, b.etag);
}

/** Among one key's local files: volume order, so its copies on several volumes sit together. */
function localTieBreak(a: LocalFile, b: LocalFile): number {
  return compareKeys(a.volume, b.volume) || a.size - b.size;
}

const stageOrder = { staged: 1, delivered: 2, purged: 3 } as const;

/** Among ledger records of one key: a total order on the record's fields. */
function recordTieBreak(a: LedgerRecord, b: LedgerRecord): number {
  return (
    a.size - b.size ||
    compareKeys(a.etag, b.etag) ||
    (a.stage === undefined ? 0 : stageOrder[a.stage]) - (b.stage === undefined ? 0 : stageOrder[b.stage]) ||
    compareKeys(a.volume ?? '', b.volume ?? '') ||
    a.attempts - b.attempts
  );
}

/** What the four listings say about one key. Reused between keys: read it inside the visitor only. */
export interface KeyRow {
  key: string;
  source: ObjectEntry | undefined;
  destination: ObjectEntry | undefined;
  /** `locals[localStart..localEnd)` are this key's local files, one per volume, in volume order. */
  localStart: number;
  localEnd: number;
  record: LedgerRecord | undefined;
}

/** Entries of a listing dropped because they repeated a key: how many, and the first such key. */
export interface DroppedDuplicates {
  count: number;
  first?: string;
}

/** The sorted, de-duplicated listings the merged pass walks. */
export interface SortedInputs {
  source: ObjectEntry[];
  destination: ObjectEntry[];
  locals: LocalFile[];
  records: LedgerRecord[];
  /** Warnings about the volume scan and the ledger; a bucket listing's duplicates are in {@link duplicates}. */
  warnings: string[];
  /** What the bucket listings repeated: the planner's notes (a listing that repeats a key is not in sync). */
  duplicates?: { source: DroppedDuplicates; destination: DroppedDuplicates };
  /** The key order to walk them in: {@link compareKeys} unless a faster equal one holds for all four (default: compareKeys). */
  compare?: (a: string, b: string) => number;
}

function duplicateWarning(what: string, count: number, first: string): string {
  return `${what} lists ${count} duplicate ${count === 1 ? 'entry' : 'entries'} (first: ${JSON.stringify(first)}); kept the first of each in key order`;
}

/** The sorted listing with later entries of an equal identity dropped; counts them in `dropped`. */
function dedupe<T extends { key: string }>(listing: SortedListing<T>, same: (a: T, b: T) => boolean, dropped: DroppedDuplicates): T[] {
  const items = listing.items;
  if (!listing.sharedKeys) return items;
  let write = 0;
  for (let read = 0; read < items.length; read++) {
    const item = items[read] as T;
    if (write > 0 && same(items[write - 1] as T, item)) {
      dropped.first ??= item.key;
      dropped.count++;
      continue;
    }
    items[write++] = item;
  }
  items.length = write;
  return items;
}

/** Sorts and de-duplicates the listings, ready for {@link mergeListings}. */
export function sortInputs(
  source: readonly ObjectEntry[],
  destination: readonly ObjectEntry[],
  locals: readonly LocalFile[],
  records: readonly LedgerRecord[],
): SortedInputs {
  const warnings: string[] = [];
  const sameKey = (a: { key: string }, b: { key: string }): boolean => a.key === b.key;
  const listings = [sortedByKey(source, entryTieBreak), sortedByKey(destination, entryTieBreak), sortedByKey(locals, localTieBreak), sortedByKey(records, recordTieBreak)] as const;
  // A faster order found for each listing alone holds across them only if it holds for all four.
  const compare = listings.some((listing) => listing.compare === compareKeys) ? compareKeys : listings[0].compare;
  const duplicates = { source: { count: 0 }, destination: { count: 0 } };
  const warned = (what: string, dropped: DroppedDuplicates): void => {
    if (dropped.count > 0) warnings.push(duplicateWarning(what, dropped.count, dropped.first ?? ''));
  };
  const localDuplicates: DroppedDuplicates = { count: 0 };
  const recordDuplicates: DroppedDuplicates = { count: 0 };
  const sorted: SortedInputs = {
    source: dedupe(listings[0], sameKey, duplicates.source),
    destination: dedupe(listings[1], sameKey, duplicates.destination),
    locals: dedupe(listings[2], (a, b) => a.key === b.key && a.volume === b.volume, localDuplicates),
    records: dedupe(listings[3], sameKey, recordDuplicates),
    warnings,
    duplicates,
    compare,
  };
  warned('the volume scan', localDuplicates);
  warned('the ledger', recordDuplicates);
  return sorted;
}

/**
 * Calls `visit` once per distinct key across the four sorted listings, in key order (rclone's
 * march, s5cmd's compareObjects): one pass, no per-key map, so tens of millions of keys fit.
 * Each listing must be in {@link compareKeys} order with no repeated key (local files: one per
 * key and volume), as {@link sortInputs} leaves them. A listing out of that order would pair the
 * wrong entries (one key seen twice: an adopt turned into a download and an upload), so it is
 * refused with an assertion naming the listing and the key, never walked.
 */
export function mergeListings(inputs: SortedInputs, visit: (row: KeyRow) => void): void {
  const { source, destination, locals, records } = inputs;
  const compare = inputs.compare ?? compareKeys;
  let s = 0;
  let d = 0;
  let l = 0;
  let r = 0;
  let previous: string | undefined;
  const row: KeyRow = { key: '', source: undefined, destination: undefined, localStart: 0, localEnd: 0, record: undefined };
  for (;;) {
    let key: string | undefined;
    const sourceKey = source[s]?.key;
    const destinationKey = destination[d]?.key;
    const localKey = locals[l]?.key;
    const recordKey = records[r]?.key;
    if (sourceKey !== undefined) key = sourceKey;
    if (destinationKey !== undefined && (key === undefined || compare(destinationKey, key) < 0)) key = destinationKey;
    if (localKey !== undefined && (key === undefined || compare(localKey, key) < 0)) key = localKey;
    if (recordKey !== undefined && (key === undefined || compare(recordKey, key) < 0)) key = recordKey;
    if (key === undefined) return;
    // Every listing's next key is above the key just visited, so the smallest of them is too;
    // one comparison per key checks all four listings.
    if (previous !== undefined && compare(previous, key) >= 0) refuseOutOfOrder(inputs, previous, [s, d, l, r]);
    previous = key;
    row.key = key;
    row.source = sourceKey === key ? source[s++] : undefined;
    row.destination = destinationKey === key ? destination[d++] : undefined;
    row.localStart = l;
    while (locals[l]?.key === key) l++;
    row.localEnd = l;
    row.record = recordKey === key ? records[r++] : undefined;
    visit(row);
  }
}

/** Refuses a merge whose listing's next key is not above the key just visited, naming the listing and the key. */
function refuseOutOfOrder(inputs: SortedInputs, previous: string, next: readonly number[]): never {
  const listings = [
    ['source listing', inputs.source],
    ['destination listing', inputs.destination],
    ['volume scan', inputs.locals],
    ['ledger', inputs.records],
  ] as const;
  const where = Math.max(
    0,
    listings.findIndex(([, items], i) => {
      const key = items[next[i] as number]?.key;
      return key !== undefined && compareKeys(previous, key) >= 0;
    }),
  );
  const [what, items] = listings[where] as (typeof listings)[number];
  const key = items[next[where] as number]?.key;
  const problem = key === previous ? 'repeats' : 'comes after';
  assert(false, `the ${what} is not in key order (UTF-8 bytes) with one entry per key: ${JSON.stringify(key)} ${problem} ${JSON.stringify(previous)}; sort it with sortInputs before the merge`);
}
