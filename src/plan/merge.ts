/**
 * The merged pass over sorted inputs (rclone's march, s5cmd's compareObjects): the source and
 * destination listings as pages, the ledger as a cursor, the local files as a sorted array
 * (bounded by the staging space). One cursor per input, never the inputs: memory does not follow
 * the number of keys. Pure: async iterables in, rows out.
 *
 * Every input arrives in {@link compareKeys} order (UTF-8 bytes), each key once: the listing
 * layer sorts and checks the listings (a ListObjectsV2 page out of order is the server's fault,
 * E_S3_LIST_ORDER where it is read; a v1 answer is sorted on disk, its duplicates counted as the
 * listing's flaws), SQLite hands out the ledger in key order, and {@link sortLocals} sorts the
 * volume scan. So an input that reaches the merge out of order is a bug of ours: the merge checks
 * each input's order as it reads it (one comparison per entry) and stops with an internal error
 * naming the input and the two keys, rather than pair the wrong entries.
 */
import { assert } from '../errors.ts';
import type { LedgerRecord, LocalFile, ObjectEntry } from '../model/objects.ts';
import { compareKeys, compareSortableKeys, sortableKey } from './keys.ts';

/** What the inputs say about one key. Reused between keys: read it inside the visitor only. */
export interface KeyRow {
  key: string;
  source: ObjectEntry | undefined;
  destination: ObjectEntry | undefined;
  /** `locals[localStart..localEnd)` are this key's local files, one per volume, in volume order. */
  localStart: number;
  localEnd: number;
  record: LedgerRecord | undefined;
}

/** What the merged pass reads. */
export interface SortedStreams {
  source: AsyncIterable<readonly ObjectEntry[]>;
  destination: AsyncIterable<readonly ObjectEntry[]>;
  /** Sorted, one per key and volume (see {@link sortLocals}). */
  locals: readonly LocalFile[];
  /** The ledger in key order (its cursor). */
  records: Iterable<LedgerRecord>;
}

/** Sees each page of the listings as the merge reads it (the inventory's fingerprint). */
export interface PageObserver {
  source?(page: readonly ObjectEntry[]): void;
  destination?(page: readonly ObjectEntry[]): void;
}

/** Stops the merge on an input out of order: our bug, since every input was sorted and checked before it came here. */
function outOfOrder(what: string, previous: string, key: string): never {
  const problem = key === previous ? 'repeats' : 'comes after';
  assert(false, `the ${what} reached the merge out of key order (UTF-8 bytes) or with a key twice: ${JSON.stringify(key)} ${problem} ${JSON.stringify(previous)}`);
}

/** A cursor over pages of one listing: its next entry, checked against the one before. */
class PageCursor {
  readonly #what: string;
  readonly #pages: AsyncIterator<readonly ObjectEntry[]>;
  readonly #observe: ((page: readonly ObjectEntry[]) => void) | undefined;
  #page: readonly ObjectEntry[] = [];
  #index = 0;
  #done = false;
  #previous: string | undefined;

  constructor(what: string, pages: AsyncIterable<readonly ObjectEntry[]>, observe?: (page: readonly ObjectEntry[]) => void) {
    this.#what = what;
    this.#pages = pages[Symbol.asyncIterator]();
    this.#observe = observe;
  }

  /** Whether the next entry needs a page read first (the only time the merge awaits). */
  get empty(): boolean {
    return this.#index >= this.#page.length && !this.#done;
  }

  async fill(): Promise<void> {
    while (this.#index >= this.#page.length && !this.#done) {
      const next = await this.#pages.next();
      if (next.done === true) {
        this.#done = true;
        return;
      }
      this.#page = next.value;
      this.#index = 0;
      this.#observe?.(next.value);
    }
  }

  /** The next entry's key; undefined at the end. Call {@link fill} first when {@link empty}. */
  peek(): ObjectEntry | undefined {
    return this.#page[this.#index];
  }

  take(): ObjectEntry {
    const entry = this.#page[this.#index++] as ObjectEntry;
    if (this.#previous !== undefined && compareKeys(this.#previous, entry.key) >= 0) outOfOrder(this.#what, this.#previous, entry.key);
    this.#previous = entry.key;
    return entry;
  }

  /** Stops the listing early (a failure elsewhere): its generator's finally runs. */
  async stop(): Promise<void> {
    await this.#pages.return?.();
  }
}

/**
 * Calls `visit` once per distinct key across the four sorted inputs, in key order. The row is
 * reused between keys: read it inside the visitor only. Stops with an internal error when an
 * input is out of order, and passes on an error a listing throws (a listing that fails half-way
 * never means "gone"); either way, and on an error of `visit`, the listings are stopped (their
 * `finally` runs).
 */
export async function mergeStreams(inputs: SortedStreams, visit: (row: KeyRow) => void, observe: PageObserver = {}): Promise<void> {
  const source = new PageCursor('source listing', inputs.source, observe.source);
  const destination = new PageCursor('destination listing', inputs.destination, observe.destination);
  const locals = inputs.locals;
  const records = inputs.records[Symbol.iterator]();
  let record = records.next();
  let previousRecord: string | undefined;
  let l = 0;
  const row: KeyRow = { key: '', source: undefined, destination: undefined, localStart: 0, localEnd: 0, record: undefined };
  try {
    for (;;) {
      if (source.empty) await source.fill();
      if (destination.empty) await destination.fill();
      const sourceKey = source.peek()?.key;
      const destinationKey = destination.peek()?.key;
      const localKey = locals[l]?.key;
      const recordKey = record.done === true ? undefined : record.value.key;
      let key: string | undefined = sourceKey;
      if (destinationKey !== undefined && (key === undefined || compareKeys(destinationKey, key) < 0)) key = destinationKey;
      if (localKey !== undefined && (key === undefined || compareKeys(localKey, key) < 0)) key = localKey;
      if (recordKey !== undefined && (key === undefined || compareKeys(recordKey, key) < 0)) key = recordKey;
      if (key === undefined) return;
      row.key = key;
      row.source = sourceKey === key ? source.take() : undefined;
      row.destination = destinationKey === key ? destination.take() : undefined;
      row.localStart = l;
      while (locals[l]?.key === key) l++;
      row.localEnd = l;
      if (l < locals.length && compareKeys(key, (locals[l] as LocalFile).key) > 0) outOfOrder('volume scan', key, (locals[l] as LocalFile).key);
      if (recordKey === key) {
        row.record = record.value as LedgerRecord;
        if (previousRecord !== undefined && compareKeys(previousRecord, key) >= 0) outOfOrder('ledger', previousRecord, key);
        previousRecord = key;
        record = records.next();
      } else {
        row.record = undefined;
      }
      visit(row);
    }
  } finally {
    await Promise.all([source.stop(), destination.stop()]);
    records.return?.();
  }
}

/** The volume scan sorted for the merge, one entry per key and volume; how many repeated entries were dropped, and the first. */
export interface SortedLocals {
  locals: LocalFile[];
  duplicates: { count: number; first?: string };
}

/**
 * The volume scan's files in the merge's order: by key ({@link compareKeys}), then volume, so a
 * key's copies on several volumes sit together; a file listed twice (a volume scanned twice) is
 * kept once and counted. The input is never mutated. Skips the sort when already in order, and
 * sorts an index array against {@link sortableKey}s otherwise (each comparison a plain `<`,
 * several times faster than comparing the objects at a million files).
 */
export function sortLocals(files: readonly LocalFile[]): SortedLocals {
  const count = files.length;
  // Pushed, not preallocated: V8 makes `new Array(n)` beyond 100,000 elements a slow hash table.
  const keys: string[] = [];
  for (let i = 0; i < count; i++) keys.push(sortableKey((files[i] as LocalFile).key));
  const order = (a: number, b: number): number => {
    const byKey = compareSortableKeys(keys[a] as string, keys[b] as string);
    if (byKey !== 0) return byKey;
    const x = files[a] as LocalFile;
    const y = files[b] as LocalFile;
    return compareKeys(x.volume, y.volume) || x.size - y.size || a - b;
  };
  let sorted = true;
  for (let i = 1; i < count && sorted; i++) if (order(i - 1, i) > 0) sorted = false;
  let items: LocalFile[];
  if (sorted) {
    items = files.slice();
  } else {
    const indices = new Uint32Array(count);
    for (let i = 0; i < count; i++) indices[i] = i;
    indices.sort(order);
    items = [];
    for (let i = 0; i < count; i++) items.push(files[indices[i] as number] as LocalFile);
  }
  const duplicates: SortedLocals['duplicates'] = { count: 0 };
  let write = 0;
  for (let read = 0; read < items.length; read++) {
    const item = items[read] as LocalFile;
    const kept = items[write - 1];
    if (write > 0 && kept !== undefined && kept.key === item.key && kept.volume === item.volume) {
      duplicates.first ??= item.key;
      duplicates.count++;
      continue;
    }
    items[write++] = item;
  }
  items.length = write;
  return { locals: items, duplicates };
}
