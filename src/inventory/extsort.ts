/**
 * An external sort of listing entries, for a listing that arrives unsorted and may hold more keys
 * than memory should (a Snowball's v1 answer: one unpaginated, unsorted document of every key).
 * The entries go into a temporary SQLite table in arrival order, then one covering index sorts
 * them, and a scan of that index hands them back in {@link compareKeys} order: SQLite's BINARY
 * collation compares the UTF-8 bytes of TEXT, which is that order.
 *
 * Why an append and one index rather than a `key PRIMARY KEY` table or sorted runs of our own:
 * measured at 3M shuffled keys on the 2-core box, inserting into a keyed B-tree took 29 s (each
 * insert lands at a random page); appending and building the index took 8 s (SQLite's own
 * merge sort, in C), at 160 MiB peak RSS for the whole process with the cache capped below.
 *
 * The file holds nothing that must survive: no journal, no syncs. It lives in a directory the
 * caller names, under a name no other run uses, and is removed on close.
 *
 * Small answers never reach it: up to {@link DEFAULT_MEMORY_ENTRIES} entries are held and sorted
 * in memory, and the file is made only when one more arrives (measured at 50,000 keys: the file's
 * inserts, index and read-back cost more than the rest of a steady plan's listing work).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { assert, describeError, isDualsyncError, opError, type DualsyncError } from '../errors.ts';
import type { ObjectEntry } from '../model/objects.ts';
import { sortableKey } from '../plan/keys.ts';
import { removeAtExit } from '../files/at-exit.ts';

/** Entries sorted in memory before the file is made (about 10 MB of keys and ETags): a small site pays nothing for large ones. */
export const DEFAULT_MEMORY_ENTRIES = 50_000;
/** Inserts per transaction: large enough that commits cost nothing, small enough to bound SQLite's dirty pages. */
const INSERTS_PER_TRANSACTION = 50_000;
/** Rows per INSERT statement: one call into SQLite for many rows (measured at 1M rows: 40% less CPU than a call per row). */
const ROWS_PER_INSERT = 128;
/** SQLite's page cache, which also bounds the index sort's memory (negative: KiB). */
const CACHE_KIB = 32 * 1024;

/**
 * A failure of the sort file itself (a full or read-only disk): an operational error naming the
 * file, never retryable, so that it stops the run rather than pass for a hop that is down.
 */
function spoolFailure(file: string, doing: string, error: unknown): DualsyncError {
  if (isDualsyncError(error)) return error;
  return opError('E_LISTING_SPOOL', `${doing} ${file} failed: ${describeError(error)}`, {
    hint: 'A ListObjects v1 listing is sorted in a temporary file of about 130 bytes per key: free space in that directory, or make sure dualsync may write there.',
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
 * Entries added in any order, read back once in key order, each key once (the first added of
 * each). Not safe for two readers; {@link close} at the end, or to give up early.
 */
export class ExternalSort {
  /** The temporary database file (exposed for tests and diagnostics); made only past the memory limit. */
  readonly file: string;
  #db: DatabaseSync | undefined;
  #insert: StatementSync | undefined;
  #insertBatch: StatementSync | undefined;
  /** Entries held in memory until the file is made, in the order added, flattened as {@link #pending}: no object per entry kept. */
  #memory: (string | number)[] | undefined = [];
  readonly #memoryEntries: number;
  /** Rows added but not yet written, flattened: key, size, etag, key, ... */
  #pending: (string | number)[] = [];
  #added = 0;
  #inTransaction = 0;
  #sorted = false;
  #closed = false;
  #reading: Iterator<unknown> | undefined;
  readonly duplicates: SortDuplicates = { count: 0 };
  /** Cancels the removal of the file at exit, once it is gone. */
  readonly #forget: () => void;

  /**
   * Sorts in `dir` (created now when missing; the OS's temporary folder by default), in memory up
   * to `memoryEntries` entries (0: in the file from the start).
   */
  constructor(dir: string = tmpdir(), options: { memoryEntries?: number } = {}) {
    this.file = join(dir, `dualsync-sort-${process.pid}-${randomUUID()}.sqlite`);
    this.#memoryEntries = options.memoryEntries ?? DEFAULT_MEMORY_ENTRIES;
    this.#forget = removeAtExit(() => this.close());
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      this.#drop();
      throw spoolFailure(this.file, 'creating the listing sort file', error);
    }
    if (this.#memoryEntries <= 0) this.#spill();
  }

  /** Makes the file and moves the entries held in memory into it, in the order added. */
  #spill(): void {
    const held = this.#memory ?? [];
    this.#memory = undefined;
    try {
      // Not defensive: that mode (Node's default) refuses journal_mode = OFF, and the file needs no journal.
      const db = new DatabaseSync(this.file, { defensive: false });
      this.#db = db;
      db.exec(`PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -${CACHE_KIB}; PRAGMA temp_store = FILE;`);
      // `seq` (the rowid) keeps the arrival order, so the first of a duplicated key is the one kept.
      db.exec('CREATE TABLE entries (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL)');
      this.#insert = db.prepare('INSERT INTO entries (key, size, etag) VALUES (?, ?, ?)');
      this.#insertBatch = db.prepare(`INSERT INTO entries (key, size, etag) VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?)').join(', ')}`);
    } catch (error) {
      this.#drop();
      throw spoolFailure(this.file, 'creating the listing sort file', error);
    }
    for (let at = 0; at < held.length; at += 3) {
      this.#pending.push(held[at] as string, held[at + 1] as number, held[at + 2] as string);
      if (this.#pending.length === ROWS_PER_INSERT * 3) this.#flush();
    }
  }

  /** Entries added so far (duplicates included), less any dropped by {@link rollback}. */
  get added(): number {
    return this.#added;
  }

  #open(): DatabaseSync {
    assert(this.#db !== undefined && !this.#closed, 'the external sort was used after it was closed');
    return this.#db;
  }

  /** Runs a step on the file, its failure as {@link spoolFailure}. */
  #step<T>(doing: string, step: (db: DatabaseSync) => T): T {
    const db = this.#open();
    try {
      return step(db);
    } catch (error) {
      throw spoolFailure(this.file, doing, error);
    }
  }

  /** Adds one entry. */
  add(entry: ObjectEntry): void {
    assert(!this.#sorted && !this.#closed, 'an entry was added to an external sort after it was sorted or closed');
    const memory = this.#memory;
    if (memory !== undefined) {
      memory.push(entry.key, entry.size, entry.etag);
      this.#added++;
      if (this.#added > this.#memoryEntries) this.#spill();
      return;
    }
    this.#pending.push(entry.key, entry.size, entry.etag);
    this.#added++;
    if (this.#pending.length === ROWS_PER_INSERT * 3) this.#flush();
  }

  /** Writes the pending rows, one statement for a full batch; commits every {@link INSERTS_PER_TRANSACTION}. */
  #flush(): void {
    const rows = this.#pending.length / 3;
    if (rows === 0) return;
    this.#step('writing the listing sort file', (db) => {
      if (this.#inTransaction === 0) db.exec('BEGIN');
      if (rows === ROWS_PER_INSERT) this.#insertBatch?.run(...this.#pending);
      else for (let row = 0; row < rows; row++) this.#insert?.run(...this.#pending.slice(row * 3, row * 3 + 3));
    });
    this.#pending.length = 0;
    this.#inTransaction += rows;
    if (this.#inTransaction >= INSERTS_PER_TRANSACTION) this.#commit();
  }

  #commit(): void {
    if (this.#inTransaction === 0) return;
    this.#step('writing the listing sort file', (db) => db.exec('COMMIT'));
    this.#inTransaction = 0;
  }

  /** Everything added so far written and committed. */
  #settle(): void {
    this.#flush();
    this.#commit();
  }

  /** A point to come back to with {@link rollback}: the count of entries added so far. */
  mark(): number {
    return this.#added;
  }

  /** Drops every entry added after `mark` (a listing page whose request is retried starts over). */
  rollback(mark: number): void {
    if (mark >= this.#added) return;
    if (this.#memory !== undefined) {
      this.#memory.length = mark * 3;
      this.#added = mark;
      return;
    }
    const written = this.#added - this.#pending.length / 3;
    if (mark >= written) {
      this.#pending.length = (mark - written) * 3;
    } else {
      this.#pending.length = 0;
      this.#commit();
      // Row ids follow the order of adding, so the entries after the mark are the ids above it.
      this.#step('writing the listing sort file', (db) => db.prepare('DELETE FROM entries WHERE seq > ?').run(mark));
    }
    this.#added = mark;
  }

  /** Sorts what was added (the index build); {@link entries} then reads without waiting on it. */
  sort(): void {
    if (this.#sorted) return;
    if (this.#memory !== undefined) {
      this.#sorted = true;
      return;
    }
    this.#settle();
    this.#step('sorting the listing in', (db) => db.exec('CREATE INDEX by_key ON entries (key, seq, size, etag)'));
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
      if (this.#memory !== undefined) {
        yield* this.#memoryPages(this.#memory, size);
        return;
      }
      const rows = this.#step('reading the listing sort file', (db) => {
        const select = db.prepare('SELECT key, size, etag FROM entries ORDER BY key, seq');
        // Rows as arrays: a third less CPU than an object per row (measured at 1M rows).
        select.setReturnArrays(true);
        return select.iterate() as IterableIterator<[string, number, string]>;
      });
      this.#reading = rows;
      let previous: string | undefined;
      let page: ObjectEntry[] = [];
      for (const [key, bytes, etag] of rows) {
        if (key === previous) {
          this.duplicates.count++;
          this.duplicates.first ??= key;
          continue;
        }
        previous = key;
        page.push({ key, size: bytes, etag });
        if (page.length >= size) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    } finally {
      this.close();
    }
  }

  /** The entries held in memory, in key order, the first added of each key: pages as {@link pages}. */
  *#memoryPages(rows: (string | number)[], size: number): Generator<ObjectEntry[]> {
    // Each key made sortable once, then a stable sort of indexes by plain `<` (the first added of a key stays first).
    const keys: string[] = [];
    for (let at = 0; at < rows.length; at += 3) keys.push(sortableKey(rows[at] as string));
    const order = new Uint32Array(keys.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => {
      const x = keys[a] as string;
      const y = keys[b] as string;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    let previous: string | undefined;
    let page: ObjectEntry[] = [];
    for (const index of order) {
      const entry: ObjectEntry = { key: rows[index * 3] as string, size: rows[index * 3 + 1] as number, etag: rows[index * 3 + 2] as string };
      if (entry.key === previous) {
        this.duplicates.count++;
        this.duplicates.first ??= entry.key;
        continue;
      }
      previous = entry.key;
      page.push(entry);
      if (page.length >= size) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  /** Closes and removes the temporary file; safe to call twice, and while the entries are read. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#memory = undefined;
    if (this.#db === undefined) {
      this.#forget();
      return;
    }
    try {
      this.#reading?.return?.();
    } catch {
      // The statement goes with the database either way.
    }
    this.#reading = undefined;
    this.#drop();
  }

  #drop(): void {
    this.#forget();
    try {
      this.#db?.close();
    } finally {
      this.#db = undefined;
      try {
        rmSync(this.file, { force: true });
      } catch (error) {
        // A spool path under a file never held one; anything else is worth an error.
        if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
      }
    }
  }
}
