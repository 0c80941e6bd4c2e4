/**
 * The merged pass over sorted streams (rclone's march): the source and destination listings as
 * pages, the ledger as a cursor, the local files as a sorted array (bounded by the staging
 * space). One cursor per stream, never the streams: memory does not follow the number of keys.
 * Each stream's order is checked as it is read ({@link compareKeys}, UTF-8 bytes, the order S3
 * and SQLite hand keys out in); a stream out of order is refused, naming it and the two keys,
 * rather than walked (it would pair the wrong entries). Pure: async iterables in, rows out.
 */
import { userError } from '../errors.ts';
import type { LedgerRecord, LocalFile, ObjectEntry } from '../model/objects.ts';
import type { KeyRow } from './compare.ts';
import { compareKeys } from './keys.ts';

/** What the merged pass reads. */
export interface SortedStreams {
  source: AsyncIterable<readonly ObjectEntry[]>;
  destination: AsyncIterable<readonly ObjectEntry[]>;
  /** Sorted, one per key and volume (see sortInputs). */
  locals: readonly LocalFile[];
  /** The ledger in key order (its cursor). */
  records: Iterable<LedgerRecord>;
}

/** Sees each page of the listings as the merge reads it (the inventory's fingerprint). */
export interface PageObserver {
  source?(page: readonly ObjectEntry[]): void;
  destination?(page: readonly ObjectEntry[]): void;
}

function outOfOrder(what: string, previous: string, key: string): never {
  const problem = key === previous ? 'repeats' : 'comes after';
  throw userError('E_LISTING_ORDER', `the ${what} is not in key order (UTF-8 bytes) with one entry per key: ${JSON.stringify(key)} ${problem} ${JSON.stringify(previous)}`, {
    hint: 'the merge needs every input sorted; for a server that does not sort its listings, set `listApi: v1` on that hop (dualsync then sorts the listing itself)',
  });
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
 * reused between keys: read it inside the visitor only. Throws when an input is out of order, and
 * passes on an error a listing throws (a listing that fails half-way never means "gone").
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
