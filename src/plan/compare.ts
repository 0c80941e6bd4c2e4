/**
 * Sort what may arrive unsorted, then walk the four sorted listings (source, destination, local
 * files, ledger) in one merged pass, key by key. Pure. Listings are never assumed to be sorted or
 * free of duplicates (a Snowball's v1 listing is neither guaranteed): duplicates are dropped here,
 * keeping the first in sorted order, and reported as warnings.
 */
import type { LedgerRecord, LocalFile, ObjectEntry } from '../model/objects.ts';
import { compareKeys } from './keys.ts';

/** A sorted copy of `items` (the input is never mutated); skips the sort when already in order. */
export function sortedCopy<T>(items: readonly T[], compare: (a: T, b: T) => number): T[] {
  const copy = items.slice();
  for (let i = 1; i < copy.length; i++) {
    if (compare(copy[i - 1] as T, copy[i] as T) > 0) return copy.sort(compare);
  }
  return copy;
}

/** Key order, then a total order on the rest so that duplicates resolve the same way whatever the input order. */
export function compareEntries(a: ObjectEntry, b: ObjectEntry): number {
  return compareKeys(a.key, b.key) || a.size - b.size || compareKeys(a.etag, b.etag);
}

/** Key order, then volume: one key's copies on several volumes sit together. */
export function compareLocalFiles(a: LocalFile, b: LocalFile): number {
  return compareKeys(a.key, b.key) || compareKeys(a.volume, b.volume) || a.size - b.size;
}

const stageOrder = { staged: 1, delivered: 2, purged: 3 } as const;

/** Key order, then a total order on the record's fields. */
export function compareRecords(a: LedgerRecord, b: LedgerRecord): number {
  return (
    compareKeys(a.key, b.key) ||
    a.size - b.size ||
    compareKeys(a.etag, b.etag) ||
    (a.stage === undefined ? 0 : stageOrder[a.stage]) - (b.stage === undefined ? 0 : stageOrder[b.stage]) ||
    compareKeys(a.volume ?? '', b.volume ?? '')
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

/** The sorted, de-duplicated listings the merged pass walks. */
export interface SortedInputs {
  source: ObjectEntry[];
  destination: ObjectEntry[];
  locals: LocalFile[];
  records: LedgerRecord[];
  warnings: string[];
}

function duplicateWarning(what: string, count: number, first: string): string {
  return `${what} lists ${count} duplicate ${count === 1 ? 'entry' : 'entries'} (first: ${JSON.stringify(first)}); kept the first of each in key order`;
}

/** Sorted copy with later entries for an equal identity dropped; reports how many were dropped. */
function dedupe<T>(items: T[], same: (a: T, b: T) => boolean, keyOf: (item: T) => string, what: string, warnings: string[]): T[] {
  let write = 0;
  let dropped = 0;
  let firstDropped = '';
  for (let read = 0; read < items.length; read++) {
    const item = items[read] as T;
    if (write > 0 && same(items[write - 1] as T, item)) {
      if (dropped === 0) firstDropped = keyOf(item);
      dropped++;
      continue;
    }
    items[write++] = item;
  }
  items.length = write;
  if (dropped > 0) warnings.push(duplicateWarning(what, dropped, firstDropped));
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
  const keyOf = (item: { key: string }): string => item.key;
  return {
    source: dedupe(sortedCopy(source, compareEntries), sameKey, keyOf, 'the source listing', warnings),
    destination: dedupe(sortedCopy(destination, compareEntries), sameKey, keyOf, 'the destination listing', warnings),
    locals: dedupe(
      sortedCopy(locals, compareLocalFiles),
      (a, b) => a.key === b.key && a.volume === b.volume,
      keyOf,
      'the volume scan',
      warnings,
    ),
    records: dedupe(sortedCopy(records, compareRecords), sameKey, keyOf, 'the ledger', warnings),
    warnings,
  };
}

/**
 * Calls `visit` once per distinct key across the four sorted listings, in key order (rclone's
 * march, s5cmd's compareObjects): one pass, no per-key map, so tens of millions of keys fit.
 */
export function mergeListings(inputs: SortedInputs, visit: (row: KeyRow) => void): void {
  const { source, destination, locals, records } = inputs;
  let s = 0;
  let d = 0;
  let l = 0;
  let r = 0;
  const row: KeyRow = { key: '', source: undefined, destination: undefined, localStart: 0, localEnd: 0, record: undefined };
  for (;;) {
    let key: string | undefined;
    const sourceKey = source[s]?.key;
    const destinationKey = destination[d]?.key;
    const localKey = locals[l]?.key;
    const recordKey = records[r]?.key;
    if (sourceKey !== undefined) key = sourceKey;
    if (destinationKey !== undefined && (key === undefined || destinationKey < key)) key = destinationKey;
    if (localKey !== undefined && (key === undefined || localKey < key)) key = localKey;
    if (recordKey !== undefined && (key === undefined || recordKey < key)) key = recordKey;
    if (key === undefined) return;
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
