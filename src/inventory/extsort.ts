/**
 * An external sort of listing entries, for a listing that arrives unsorted and may hold more keys
 * than memory should (a Snowball's v1 answer: one unpaginated, unsorted document of every key).
 *
 * Sorted runs made while the answer arrives, merged at the end: entries are held in memory until
 * a run's worth ({@link DEFAULT_RUN_ENTRIES}; the first, all that memory held) has come, then sorted there and appended to one
 * temporary file in a compact binary form; once the answer ends, a k-way merge (a small heap)
 * reads every run of the file, one buffered page of each, together with the last run still in
 * memory, and hands the entries out in {@link compareKeys} order. Memory stays bounded at any
 * count: one run being filled, one page per run written (10M keys: 1,000 runs of 32 KiB).
 *
 * Why not SQLite (what this replaced): appending to a temporary table, indexing it and reading
 * the index back took 1.8 s of a 200k-key plan (inserts, read-back, conversions); runs sorted in
 * memory as the answer arrives leave only the merge after it ends.
 *
 * Order: each run is sorted by {@link sortableKey} (whose code-unit order is compareKeys' order:
 * UTF-8 bytes, S3's and SQLite BINARY's) and the merge compares the same sortable keys. Each
 * key's first added entry is kept: a run is sorted stably, and on equal keys the merge takes the
 * earlier run (runs are made in the order of adding; the run still in memory is the last).
 *
 * The file holds nothing that must survive: no syncs. It lives in a directory the caller names,
 * under a name no other run uses (and that a later run recognises as a dead run's, see
 * files/spool.ts), and is removed on close, on error and at exit.
 *
 * Small answers never reach it: up to {@link DEFAULT_MEMORY_ENTRIES} entries are held and sorted
 * in memory, and the file is made only when one more arrives.
 *
 * Over 400 lines: the run format's writer and reader, the merge's heap and the rollback into a
 * written run share the entry layout; apart, each would restate it.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, describeError, isDualsyncError, opError, type DualsyncError } from '../errors.ts';
import type { ObjectEntry } from '../model/objects.ts';
import { sortableKey } from '../plan/keys.ts';
import { removeAtExit } from '../files/at-exit.ts';

/** Entries sorted in memory before the file is made (about 10 MB of keys and ETags): a small site pays nothing for large ones. */
export const DEFAULT_MEMORY_ENTRIES = 50_000;
/**
 * Entries per sorted run past the first (1,000 runs at 10M keys). Small on purpose: entries held
 * longer outlive V8's young generation and are copied into the old one; measured at 200k keys,
 * runs of 10k cost 0.48 s of CPU while the answer arrived against 0.70 s for runs of 100k.
 */
export const DEFAULT_RUN_ENTRIES = 10_000;
/** Bytes of a run read at a time during the merge: the merge's memory is this times the runs (32 MiB at 10M keys). */
const PAGE_BYTES = 32 * 1024;
/** Bytes encoded before one write to the file. */
const WRITE_BYTES = 1024 * 1024;

/**
 * One entry in a run: key bytes (u32), ETag bytes (u32), size (f64), arrival index within its run
 * (u32), flags (u8), then the key and the ETag as UTF-8. The index lets a rollback keep the
 * entries of a run added before its mark; the flag says the key's sortable form differs from it.
 */
const HEADER_BYTES = 21;
/** The key holds a unit of D800-FFFF: its sortable form must be computed (else it is the key). */
const FLAG_REMAPPED = 1;

/**
 * A failure of the sort file itself (a full or read-only disk): an operational error naming the
 * file, never retryable, so that it stops the run rather than pass for a hop that is down.
 */
function spoolFailure(file: string, doing: string, error: unknown): DualsyncError {
  if (isDualsyncError(error)) return error;
  return opError('E_LISTING_SPOOL', `${doing} ${file} failed: ${describeError(error)}`, {
    hint: 'A ListObjects v1 listing is sorted in a temporary file of about 100 bytes per key: free space in that directory, or make sure dualsync may write there.',
    retryable: false,
    cause: error,
  });
}

/** Duplicates met while the sorted entries were read: how many, and the first in key order. */
export interface SortDuplicates {
  count: number;
  first?: string;
}

/**
 * Node's Buffer methods behind `write` and `toString` for UTF-8, without their argument checks
 * (present on every Buffer of the Node versions dualsync runs on): called once per key and ETag.
 */
interface FastBuffer extends Buffer {
  utf8Write(text: string, offset: number): number;
  utf8Slice(start: number, end: number): string;
}

/** A run written to the file: where it lies, and which entries (by order of adding) it holds. */
interface Run {
  offset: number;
  bytes: number;
  /** The count of entries added before its first. */
  firstEntry: number;
  entries: number;
}

/** One input of the merge, positioned on its current entry (`key` undefined: exhausted). */
interface Source {
  key: string | undefined;
  sortKey: string;
  size: number;
  etag: string;
  /** Order of the run among all: on equal keys the lower (earlier added) wins. */
  rank: number;
  advance(): void;
}

/** Entries added in any order, read back once in key order, each key once (the first added of each). */
export class ExternalSort {
  /** The temporary file of runs (exposed for tests and diagnostics); made only past the memory limit. */
  readonly file: string;
  #fd: number | undefined;
  readonly #memoryEntries: number;
  readonly #runEntries: number;
  /** The run being filled, in the order added: three arrays, no object per entry. */
  #keys: string[] = [];
  #sizes: number[] = [];
  #etags: string[] = [];
  readonly #runs: Run[] = [];
  #fileBytes = 0;
  #added = 0;
  #sorted = false;
  #closed = false;
  readonly duplicates: SortDuplicates = { count: 0 };
  /** Cancels the removal of the file at exit, once it is gone. */
  readonly #forget: () => void;

  /**
   * Sorts in `dir` (created now when missing; the OS's temporary folder by default), in memory up
   * to `memoryEntries` entries (0: the file from the start), in runs of `runEntries` past that.
   */
  constructor(dir: string = tmpdir(), options: { memoryEntries?: number; runEntries?: number } = {}) {
    this.file = join(dir, `dualsync-sort-${process.pid}-${randomUUID()}.runs`);
    this.#memoryEntries = options.memoryEntries ?? DEFAULT_MEMORY_ENTRIES;
    this.#runEntries = Math.max(1, options.runEntries ?? DEFAULT_RUN_ENTRIES);
    this.#forget = removeAtExit(() => this.close());
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      this.#drop();
      throw spoolFailure(this.file, 'creating the listing sort file', error);
    }
    if (this.#memoryEntries <= 0) this.#spill();
  }

  /** Makes the (empty) file: the entries held stay in memory until a run is full. */
  #spill(): void {
    try {
      this.#fd = openSync(this.file, 'wx+', 0o600);
    } catch (error) {
      this.#drop();
      throw spoolFailure(this.file, 'creating the listing sort file', error);
    }
  }

  /** Entries added so far (duplicates included), less any dropped by {@link rollback}. */
  get added(): number {
    return this.#added;
  }

  /** Adds one entry. */
  add(entry: ObjectEntry): void {
    assert(!this.#sorted && !this.#closed, 'an entry was added to an external sort after it was sorted or closed');
    this.#keys.push(entry.key);
    this.#sizes.push(entry.size);
    this.#etags.push(entry.etag);
    this.#added++;
    if (this.#fd === undefined && this.#added > this.#memoryEntries) this.#spill();
    if (this.#fd !== undefined && this.#keys.length >= this.#runEntries) this.#writeRun();
  }

  /** The held entries' indexes in key order (stable: the first added of a key first), and their sortable keys. */
  #sortHeld(): { order: Uint32Array; sortKeys: string[] } {
    const keys = this.#keys;
    const sortKeys: string[] = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) sortKeys[i] = sortableKey(keys[i] as string);
    const order = new Uint32Array(keys.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => {
      const x = sortKeys[a] as string;
      const y = sortKeys[b] as string;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    return { order, sortKeys };
  }

  /** Sorts the held entries and appends them to the file as one run. */
  #writeRun(): void {
    const fd = this.#openFd();
    const { order, sortKeys } = this.#sortHeld();
    const keys = this.#keys;
    const etags = this.#etags;
    const sizes = this.#sizes;
    const offset = this.#fileBytes;
    let buffer = Buffer.allocUnsafe(WRITE_BYTES);
    let used = 0;
    const flush = (): void => {
      let done = 0;
      while (done < used) done += writeSync(fd, buffer, done, used - done, this.#fileBytes + done);
      this.#fileBytes += used;
      used = 0;
    };
    try {
      for (const index of order) {
        const key = keys[index] as string;
        const etag = etags[index] as string;
        const most = HEADER_BYTES + 3 * (key.length + etag.length);
        if (used + most > buffer.length) {
          flush();
          if (most > buffer.length) buffer = Buffer.allocUnsafe(most);
        }
        const keyBytes = (buffer as FastBuffer).utf8Write(key, used + HEADER_BYTES);
        const etagBytes = (buffer as FastBuffer).utf8Write(etag, used + HEADER_BYTES + keyBytes);
        buffer.writeUInt32LE(keyBytes, used);
        buffer.writeUInt32LE(etagBytes, used + 4);
        buffer.writeDoubleLE(sizes[index] as number, used + 8);
        buffer.writeUInt32LE(index, used + 16);
        buffer[used + 20] = sortKeys[index] === key ? 0 : FLAG_REMAPPED;
        used += HEADER_BYTES + keyBytes + etagBytes;
      }
      flush();
    } catch (error) {
      throw spoolFailure(this.file, 'writing the listing sort file', error);
    }
    this.#runs.push({ offset, bytes: this.#fileBytes - offset, firstEntry: this.#added - keys.length, entries: keys.length });
    this.#keys = [];
    this.#sizes = [];
    this.#etags = [];
  }

  #openFd(): number {
    assert(this.#fd !== undefined && !this.#closed, 'the external sort was used after it was closed');
    return this.#fd;
  }

  /** A point to come back to with {@link rollback}: the count of entries added so far. */
  mark(): number {
    return this.#added;
  }

  /** Drops every entry added after `mark` (a listing page whose request is retried starts over). */
  rollback(mark: number): void {
    if (mark >= this.#added) return;
    const held = this.#added - this.#keys.length;
    if (mark >= held) {
      this.#keys.length = this.#sizes.length = this.#etags.length = mark - held;
      this.#added = mark;
      return;
    }
    // The mark lies in a written run: that run's entries added before it come back into memory,
    // in the order added, and the file is cut where that run began.
    let at = this.#runs.length - 1;
    while ((this.#runs[at] as Run).firstEntry > mark) at--;
    const run = this.#runs[at] as Run;
    const keep = mark - run.firstEntry;
    const kept: { index: number; key: string; size: number; etag: string }[] = [];
    const reader = new RunReader(this.#openFd(), run, 0, this.file);
    for (reader.advance(); reader.key !== undefined; reader.advance()) {
      if (reader.index < keep) kept.push({ index: reader.index, key: reader.key, size: reader.size, etag: reader.etag });
    }
    kept.sort((a, b) => a.index - b.index);
    this.#keys = kept.map((item) => item.key);
    this.#sizes = kept.map((item) => item.size);
    this.#etags = kept.map((item) => item.etag);
    this.#runs.length = at;
    this.#fileBytes = run.offset;
    try {
      ftruncateSync(this.#openFd(), run.offset);
    } catch (error) {
      throw spoolFailure(this.file, 'writing the listing sort file', error);
    }
    this.#added = mark;
  }

  /** Ends the adding; the merge happens as {@link pages} is read. */
  sort(): void {
    this.#sorted = true;
  }

  /**
   * The entries in key order, the first added of each key, in pages of `size` (an await per
   * page, not per entry); {@link duplicates} counts the others once the iteration has ended. The
   * temporary file is removed when the iteration ends or throws.
   */
  async *pages(size = 1000): AsyncGenerator<ObjectEntry[]> {
    try {
      this.sort();
      const sources: Source[] = [];
      for (const [rank, run] of this.#runs.entries()) sources.push(new RunReader(this.#openFd(), run, rank, this.file));
      if (this.#keys.length > 0) sources.push(this.#heldSource(this.#runs.length));
      yield* this.#merge(sources, size);
    } finally {
      this.close();
    }
  }

  /** The run still in memory, sorted, as a source of the merge. */
  #heldSource(rank: number): Source {
    const { order, sortKeys } = this.#sortHeld();
    const keys = this.#keys;
    const sizes = this.#sizes;
    const etags = this.#etags;
    let at = 0;
    const source: Source = {
      key: undefined,
      sortKey: '',
      size: 0,
      etag: '',
      rank,
      advance() {
        if (at >= order.length) {
          source.key = undefined;
          return;
        }
        const index = order[at++] as number;
        source.key = keys[index] as string;
        source.sortKey = sortKeys[index] as string;
        source.size = sizes[index] as number;
        source.etag = etags[index] as string;
      },
    };
    return source;
  }

  /** The k-way merge of sorted sources through a binary heap on (sortable key, rank). */
  *#merge(sources: Source[], size: number): Generator<ObjectEntry[]> {
    const before = (a: Source, b: Source): boolean => (a.sortKey < b.sortKey ? true : a.sortKey > b.sortKey ? false : a.rank < b.rank);
    const heap: Source[] = [];
    const down = (from: number): void => {
      const item = heap[from] as Source;
      let at = from;
      for (;;) {
        let child = 2 * at + 1;
        if (child >= heap.length) break;
        if (child + 1 < heap.length && before(heap[child + 1] as Source, heap[child] as Source)) child++;
        if (!before(heap[child] as Source, item)) break;
        heap[at] = heap[child] as Source;
        at = child;
      }
      heap[at] = item;
    };
    for (const source of sources) {
      source.advance();
      if (source.key !== undefined) heap.push(source);
    }
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    let previous: string | undefined;
    let page: ObjectEntry[] = [];
    while (heap.length > 0) {
      const top = heap[0] as Source;
      const key = top.key as string;
      if (key === previous) {
        this.duplicates.count++;
        this.duplicates.first ??= key;
      } else {
        previous = key;
        page.push({ key, size: top.size, etag: top.etag });
        if (page.length >= size) {
          yield page;
          page = [];
        }
      }
      top.advance();
      if (top.key === undefined) {
        const last = heap.pop() as Source;
        if (heap.length === 0) break;
        heap[0] = last;
      }
      down(0);
    }
    if (page.length > 0) yield page;
  }

  /** Closes and removes the temporary file; safe to call twice, and while the entries are read. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#keys = [];
    this.#sizes = [];
    this.#etags = [];
    this.#drop();
  }

  #drop(): void {
    this.#forget();
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      if (fd !== undefined) closeSync(fd);
    } finally {
      try {
        rmSync(this.file, { force: true });
      } catch (error) {
        // A spool path under a file never held one; anything else is worth an error.
        if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
      }
    }
  }
}

/** A run of the file read entry by entry, one page of it in memory at a time. */
class RunReader implements Source {
  key: string | undefined;
  sortKey = '';
  size = 0;
  etag = '';
  /** The current entry's order of adding within its run. */
  index = 0;
  readonly rank: number;
  readonly #fd: number;
  readonly #file: string;
  /** The next byte of the run to read from the file, and the run's end. */
  #position: number;
  readonly #end: number;
  #page: Buffer = Buffer.allocUnsafe(PAGE_BYTES);
  #at = 0;
  #filled = 0;

  constructor(fd: number, run: Run, rank: number, file: string) {
    this.#fd = fd;
    this.#file = file;
    this.rank = rank;
    this.#position = run.offset;
    this.#end = run.offset + run.bytes;
  }

  /** At least `bytes` unread bytes in the page (the rest of the page moved to its front, the page grown if needed). */
  #ensure(bytes: number): void {
    if (this.#filled - this.#at >= bytes) return;
    const left = this.#filled - this.#at;
    if (bytes > this.#page.length) {
      const grown = Buffer.allocUnsafe(Math.max(bytes, 2 * this.#page.length));
      this.#page.copy(grown, 0, this.#at, this.#filled);
      this.#page = grown;
    } else {
      this.#page.copy(this.#page, 0, this.#at, this.#filled);
    }
    this.#at = 0;
    this.#filled = left;
    while (this.#filled < bytes) {
      const want = Math.min(this.#page.length - this.#filled, this.#end - this.#position);
      assert(want > 0, `the listing sort file ${this.#file} ended inside a run`);
      let read: number;
      try {
        read = readSync(this.#fd, this.#page, this.#filled, want, this.#position);
      } catch (error) {
        throw spoolFailure(this.#file, 'reading the listing sort file', error);
      }
      assert(read > 0, `the listing sort file ${this.#file} is shorter than its runs`);
      this.#filled += read;
      this.#position += read;
    }
  }

  advance(): void {
    if (this.#at === this.#filled && this.#position >= this.#end) {
      this.key = undefined;
      return;
    }
    this.#ensure(HEADER_BYTES);
    const page = this.#page;
    const keyBytes = page.readUInt32LE(this.#at);
    const etagBytes = page.readUInt32LE(this.#at + 4);
    this.#ensure(HEADER_BYTES + keyBytes + etagBytes);
    const at = this.#at;
    const buffer = this.#page;
    this.size = buffer.readDoubleLE(at + 8);
    this.index = buffer.readUInt32LE(at + 16);
    const keyStart = at + HEADER_BYTES;
    const key = (buffer as FastBuffer).utf8Slice(keyStart, keyStart + keyBytes);
    this.key = key;
    this.sortKey = (buffer[at + 20] as number) & FLAG_REMAPPED ? sortableKey(key) : key;
    this.etag = (buffer as FastBuffer).utf8Slice(keyStart + keyBytes, keyStart + keyBytes + etagBytes);
    this.#at = keyStart + keyBytes + etagBytes;
  }
}
