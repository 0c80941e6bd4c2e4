/**
 * The ledger of one state directory: a SQLite database, `ledger.db` (with its `-wal` and `-shm`
 * files while it is in use), one row per relative key (schema.ts). SQLite's atomic commit is
 * what makes it crash-safe: a commit is on disk when it returns (WAL, synchronous=FULL), and a
 * power cut leaves the last commit, never half of one.
 *
 * - Reads (`get`, `state`, `records`, `summary`) use this process's connection and see the last
 *   commit, also while another process writes (WAL readers never wait).
 * - Writes (`append`) go to a writer in a worker thread (writer.ts), one transaction per batch,
 *   so fsync never stops the event loop and events that arrive meanwhile share the next commit.
 * - The first open of a state directory that holds the JSON ledger of earlier versions
 *   (`ledger.snapshot.json` + `ledger.journal.jsonl`) migrates it (legacy.ts): every record and
 *   the serial, in the same transaction that creates the tables, then the old files are renamed
 *   to `*.migrated`. A kill before the commit leaves the old files as they were and no schema;
 *   after it, a complete database, and the next open renames what is left.
 * - Opening a state directory without any ledger writes nothing: `plan` and `status` on a fresh
 *   directory leave it as it was. The database is created by the first append, or by
 *   `proveWritable()`, which apply calls before it moves anything.
 * - A ledger that is missing, emptied or behind the serial it had committed, in a state directory
 *   that was used, is refused (integrity.ts, invariant 12): never taken for a fresh one.
 * - A ledger this user cannot write (a backup, a read-only mount) is still read (db.ts).
 *
 * Over 400 lines: opening (integrity, migration, schema upgrade) and writing (the worker) share
 * one connection's life; the queries and the schema already live in queries.ts and schema.ts.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { HeapInfo } from 'node:v8';
import { join } from 'node:path';
import { describeError, isDualsyncError, opError, userError } from '../errors.ts';
import { fsyncDirectory } from '../files/fsync.ts';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord, LedgerState } from '../model/objects.ts';
import { connect, connectReadOnly, isCannotOpen, LEDGER_FILE, ledgerError, schemaIsCurrent, schemaVersion, upgradeSchema } from './db.ts';
import { HIGH_WATER_FILE, lostLedger, readHighWater, RESET_INTENT_FILE, unfinishedReset, usedStateEvidence } from './integrity.ts';
import { exists, legacyFiles, MIGRATED_SUFFIX, readLegacyLedger } from './legacy.ts';
import { applyEvent } from './merge.ts';
import { LedgerQueries, type LedgerSummary } from './queries.ts';
import { appendBaselines, COLUMN_NAMES } from './schema.ts';
import type { WriterReply, WriterRequest } from './writer.ts';
import { embeddedScript } from '../sea.ts';

export { LEDGER_FILE } from './db.ts';
export { HIGH_WATER_FILE, markStartedOver } from './integrity.ts';
export { JOURNAL_FILE, SNAPSHOT_FILE } from './legacy.ts';
export type { LedgerSummary } from './queries.ts';

export interface LedgerStoreOptions {
  /** Told about things that were recovered from, such as a torn last line of a migrated journal. */
  onWarning?: (message: string) => void;
  /** The clock that stamps stages reached (default: the system clock). */
  now?: () => Date;
  /**
   * Read what is left of a ledger that is missing, emptied or behind what it had committed,
   * instead of refusing it (invariant 12). Only for `reset`, which moves it into a backup.
   */
  allowLost?: boolean;
}

/** The meta row that says this database was migrated from the JSON ledger (its serial then). */
function legacySerial(db: DatabaseSync): number | undefined {
  const row = db.prepare(`SELECT value FROM meta WHERE name = 'legacy_serial'`).get() as { value: number } | undefined;
  return row?.value;
}

/**
 * Moves the JSON ledger's files aside once the database holds them, so they are kept as a
 * backup and never migrated twice.
 */
async function retireLegacy(stateDir: string, files: string[]): Promise<void> {
  for (const file of files) {
    try {
      await rename(file, `${file}${MIGRATED_SUFFIX}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // another process renamed it first
    }
  }
  await fsyncDirectory(stateDir);
}

/** How big a file is; 0 when it is not there. */
async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/**
 * Why a ledger of `serial` (0 and no rows when missing or without tables, `found` says which)
 * cannot be believed, or undefined when it can: the high-water mark, when there is one, says what
 * it had committed; without one, a used state directory must not have an empty ledger.
 */
async function lostLedgerProblem(stateDir: string, file: string, mark: number | undefined, found: string, serial: number, empty: boolean): Promise<Error | undefined> {
  const problem = await ledgerDoubt(stateDir, file, mark, found, serial, empty);
  if (problem === undefined) return undefined;
  // A reset killed after it moved the ledger leaves exactly this: it is no loss, and the way out is
  // to finish the reset, whichever command (status, report, check, watch) met it first.
  const intent = join(stateDir, RESET_INTENT_FILE);
  return (await stat(intent).catch(() => undefined)) !== undefined ? unfinishedReset(stateDir, intent, 'dualsync') : problem;
}

/** {@link lostLedgerProblem} before it looks for an interrupted reset. */
async function ledgerDoubt(stateDir: string, file: string, mark: number | undefined, found: string, serial: number, empty: boolean): Promise<Error | undefined> {
  if (mark !== undefined) {
    if (serial >= mark) return undefined;
    const how = serial > 0 ? `its write-ahead log ${file}-wal was lost, or an older copy replaced it` : `it was emptied or deleted, or its write-ahead log ${file}-wal was lost`;
    return lostLedger(file, found, `${join(stateDir, HIGH_WATER_FILE)} records that it had committed serial ${mark} (${how})`, serial > 0);
  }
  if (!empty) return undefined;
  const evidence = await usedStateEvidence(stateDir);
  if (evidence.length === 0) return undefined;
  return lostLedger(file, found, `the state directory has been used: it holds ${evidence.join(' and ')}`);
}

/**
 * Opens the database of `stateDir`, migrating the JSON ledger if it is there; undefined when there
 * is no ledger at all. A ledger that is missing, empty or behind what it committed in a used state
 * directory is refused (invariant 12), unless `allowLost` (reset) asks for what is left of it.
 * A database this user cannot write is opened read-only, unless `create` (the writer) needs it.
 */
async function openDatabase(stateDir: string, warn: (message: string) => void, create: boolean, allowLost = false): Promise<DatabaseSync | undefined> {
  const file = join(stateDir, LEDGER_FILE);
  // The mark is read before the ledger: it only ever follows a commit, so a serial read after it is at least as high.
  const mark = await readHighWater(stateDir, warn);
  const legacy = await legacyFiles(stateDir);
  const existed = await exists(file);
  if (!existed && legacy.length === 0) {
    const lost = await lostLedgerProblem(stateDir, file, mark, 'is missing', 0, true);
    if (lost !== undefined) {
      if (allowLost) return undefined;
      throw lost;
    }
    if (!create) return undefined;
  }
  if (!existed) {
    await mkdir(stateDir, { recursive: true });
    await setAsideOrphanWal(file, warn);
  }
  // A file of 0 bytes is not opened before it is judged: SQLite would write a header into it.
  if (existed && legacy.length === 0 && (await sizeOf(file)) === 0) {
    const lost = await lostLedgerProblem(stateDir, file, mark, 'is empty (0 bytes)', 0, true);
    if (lost !== undefined) {
      if (allowLost) return undefined;
      throw lost;
    }
  }
  let db: DatabaseSync;
  let readOnly = false;
  try {
    db = connect(file);
  } catch (error) {
    if (!existed || create || !isCannotOpen(error)) throw error;
    db = connectReadOnly(file, await sizeOf(`${file}-wal`));
    readOnly = true;
  }
  try {
    // The new file's name must survive a power cut as well as its contents.
    if (!existed) await fsyncDirectory(stateDir);
    if (legacy.length === 0) {
      if (existed) {
        const hasTables = schemaVersion(db) > 0;
        const serial = hasTables ? new LedgerQueries(db, file).serial() : 0;
        const empty = !hasTables || (serial === 0 && db.prepare('SELECT 1 FROM objects LIMIT 1').get() === undefined);
        const found = hasTables ? `is at serial ${serial}` : `is empty (${await sizeOf(file)} bytes, no tables)`;
        const lost = await lostLedgerProblem(stateDir, file, mark, found, serial, empty);
        if (lost !== undefined) {
          if (!allowLost) throw lost;
          if (!hasTables) {
            db.close();
            return undefined;
          }
          return db;
        }
      }
      // Read-only, the schema is one connectReadOnly reads as it is (READABLE_FROM): no step can run, none is needed.
      if (!schemaIsCurrent(db) && !readOnly) await upgradeSchema(db, file);
      return db;
    }
    await upgradeSchema(db, file, async (inside) => {
      if (legacySerial(inside) !== undefined) return; // migrated before; the old files were not yet renamed
      const queries = new LedgerQueries(inside, file);
      if (queries.serial() !== 0 || inside.prepare('SELECT 1 FROM objects LIMIT 1').get() !== undefined) {
        throw userError('E_LEDGER_CONFLICT', `the state directory ${stateDir} holds both ${LEDGER_FILE} and the older JSON ledger (${legacy.join(', ')}), which was never migrated into it`, {
          hint: `Keep a copy of the state directory. If ${LEDGER_FILE} is the ledger in use, move the JSON files out of the way; if they are, move ${LEDGER_FILE}* out instead.`,
        });
      }
      // The sizes of all records, which the counts table sums: past 2^53 a sum reads back as no number.
      let totalBytes = 0;
      const addBytes = (bytes: number) => {
        totalBytes += bytes;
        if (!Number.isSafeInteger(totalBytes)) throw new Error(`the sizes of the records sum past 2^53 - 1 bytes (${totalBytes}), which no ledger can count`);
      };
      const serial = await readLegacyLedger(
        stateDir,
        {
          addRecord: (record) => {
            addBytes(record.size);
            return queries.insert(record);
          },
          applyEvent: (event) => {
            const before = queries.get(event.key);
            const after = applyEvent(before, event);
            addBytes(after.size - (before?.size ?? 0));
            queries.put(after);
          },
        },
        warn,
      );
      queries.setSerial(serial);
      inside.prepare(`INSERT INTO meta (name, value) VALUES ('legacy_serial', ?)`).run(serial);
      // The JSON ledger had no event log: one baseline event per record, so that every row is covered (schema.ts, step 5).
      appendBaselines(inside, inside.prepare(`SELECT ${COLUMN_NAMES.join(', ')} FROM objects ORDER BY key`), new Date().toISOString(), 'json-ledger');
    });
    await retireLegacy(stateDir, legacy);
    return db;
  } catch (error) {
    db.close();
    // Whatever failed (a JSON ledger that cannot be trusted, or anything else before the commit),
    // the empty database this open created goes again, so the directory is left as it was.
    if (!existed) {
      for (const suffix of ['', '-wal', '-shm']) await rm(`${file}${suffix}`, { force: true });
    }
    throw error;
  }
}

/**
 * A `-wal` file without its database (a reset or a hand copy that stopped half-way) must not be
 * replayed into a new database of the same name: it is renamed aside and reported.
 */
async function setAsideOrphanWal(file: string, warn: (message: string) => void): Promise<void> {
  for (const suffix of ['-wal', '-shm']) {
    const orphan = `${file}${suffix}`;
    if (!(await exists(orphan))) continue;
    const aside = `${orphan}.orphaned-${Date.now()}`;
    await rename(orphan, aside);
    warn(`found ${orphan} without ${file}; renamed it to ${aside} rather than replay it into a new ledger`);
  }
}

/** The ledger of one state directory: read it, append events durably. */
export class LedgerStore {
  readonly stateDir: string;
  readonly file: string;
  readonly #warn: (message: string) => void;
  readonly #now: () => Date;
  #db: DatabaseSync | undefined;
  #queries: LedgerQueries | undefined;
  #writer: Worker | undefined;
  #writerFailure: Error | undefined;
  #requests = new Map<number, { resolve: (serial: number) => void; reject: (error: Error) => void }>();
  #nextRequest = 1;
  /** Appends run one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #markWarned = false;

  private constructor(stateDir: string, db: DatabaseSync | undefined, options: LedgerStoreOptions) {
    this.stateDir = stateDir;
    this.file = join(stateDir, LEDGER_FILE);
    this.#warn = options.onWarning ?? (() => {});
    this.#now = options.now ?? (() => new Date());
    this.#db = db;
    this.#queries = db === undefined ? undefined : new LedgerQueries(db, this.file);
  }

  /**
   * Opens the ledger of `stateDir`, migrating the JSON ledger of earlier versions on first open.
   * A directory without any ledger reads as an empty one, and nothing is written.
   */
  static async open(stateDir: string, options: LedgerStoreOptions = {}): Promise<LedgerStore> {
    try {
      return new LedgerStore(stateDir, await openDatabase(stateDir, options.onWarning ?? (() => {}), false, options.allowLost === true), options);
    } catch (error) {
      if (isDualsyncError(error)) throw error;
      throw opError('E_LEDGER_READ', `cannot read the ledger in ${stateDir}: ${describeError(error)}`, {
        hint: 'Check that the state directory is readable and writable by this user.',
        cause: error,
      });
    }
  }

  /** The statements of this process's connection; undefined while there is no database. */
  #reader(): LedgerQueries | undefined {
    if (this.#closed) throw new Error('ledger store used after close()');
    return this.#queries;
  }

  /** Runs `read` in one read transaction, so everything it sees belongs to one commit. */
  #snapshot<T>(read: (queries: LedgerQueries) => T, empty: () => T): T {
    const queries = this.#reader();
    if (queries === undefined) return empty();
    const db = this.#db!;
    try {
      db.exec('BEGIN');
      try {
        return read(queries);
      } finally {
        db.exec('COMMIT');
      }
    } catch (error) {
      throw isDualsyncError(error) ? error : ledgerError(this.file, 'cannot read', error);
    }
  }

  /** Increases by one with every event; a plan remembers the serial it saw. */
  get serial(): number {
    return this.#snapshot((queries) => queries.serial(), () => 0);
  }

  /**
   * The whole ledger in memory: the serial and every record, in key order (UTF-8 bytes, S3's
   * order), read from one commit. For tests and the pure planner's in-memory inventories only:
   * dualsync itself reads the ledger through `snapshot()` and `records()`, which hold one row.
   */
  state(): LedgerState {
    return this.#snapshot(
      (queries) => ({ serial: queries.serial(), records: [...queries.records()] }),
      () => ({ serial: 0, records: [] }),
    );
  }

  /**
   * Every record in key order, one row at a time: the cursor a merge of sorted streams reads.
   * It reads the last commit as of its first row; finish or return it before appending.
   */
  *records(): Generator<LedgerRecord> {
    const queries = this.#reader();
    if (queries === undefined) return;
    const db = this.#db!;
    db.exec('BEGIN');
    try {
      yield* queries.records();
    } finally {
      db.exec('COMMIT');
    }
  }

  /**
   * The serial and every record in key order, from one commit, one row at a time: what the
   * merged pass reads. The read transaction stays open until the records are read to the end or
   * the iteration is returned; read them before appending. `forPlan`: without the fields the
   * planner never reads (queries.ts FIELDS_THE_PLAN_SKIPS).
   */
  snapshot(options: { forPlan?: boolean } = {}): { serial: number; records: Iterable<LedgerRecord> } {
    const reader = this.#reader();
    if (reader === undefined) return { serial: 0, records: [] };
    const queries: LedgerQueries = reader;
    const db = this.#db!;
    const file = this.file;
    let serial: number;
    try {
      db.exec('BEGIN');
      try {
        serial = queries.serial();
      } catch (error) {
        db.exec('COMMIT');
        throw error;
      }
    } catch (error) {
      throw isDualsyncError(error) ? error : ledgerError(file, 'cannot read', error);
    }
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      db.exec('COMMIT');
    };
    function* records(): Generator<LedgerRecord> {
      try {
        yield* queries.records(options);
      } finally {
        end();
      }
    }
    const iterator = records();
    // Ended even when never read (a listing failed first): the iterator is returned by the merge.
    return { serial, records: { [Symbol.iterator]: () => ({ next: () => iterator.next(), return: (value?: unknown) => (end(), iterator.return(value as undefined)) }) } };
  }

  /**
   * Runs `read` on the database in one read transaction (report's cursors and the event log's
   * walk, which hold one row at a time); `empty` when there is no ledger yet.
   */
  read<T>(read: (db: DatabaseSync) => T, empty: () => T): T {
    return this.#snapshot(() => read(this.#db!), empty);
  }

  /** The record of one relative key. */
  get(key: string): LedgerRecord | undefined {
    const queries = this.#reader();
    if (queries === undefined) return undefined;
    try {
      return queries.get(key);
    } catch (error) {
      throw isDualsyncError(error) ? error : ledgerError(this.file, 'cannot read', error);
    }
  }

  /** Counts by stage from the database's indexes, and the first `limit` failing and skipped keys. */
  summary(limit: number): LedgerSummary {
    return this.#snapshot(
      (queries) => queries.summary(limit),
      () => ({
        serial: 0,
        records: 0,
        stages: { staged: { objects: 0, bytes: 0 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 0, bytes: 0 } },
        verifiedBy: {},
        etagNotComparable: 0,
        failingCount: 0,
        failing: [],
        stoppedCount: 0,
        stopped: [],
        skippedCount: 0,
        skipped: [],
      }),
    );
  }

  /**
   * Records events in one transaction; durable (committed with fsync) when the promise
   * resolves. Callers batch (apply's Recorder gathers what arrives during a commit).
   */
  append(events: LedgerEvent[]): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new Error('ledger store used after close()');
      if (events.length === 0) return;
      const writer = await this.#startWriter();
      await this.#request(writer, { id: 0, events, at: this.#now().toISOString() });
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Proves that the ledger can be written, before a run moves anything it would have to record: a
   * write transaction that changes nothing is committed through the writer, which also brings the
   * high-water mark up to date. Creates the ledger of a fresh state directory. Fails with
   * E_LEDGER_WRITE (a read-only file or mount, a full disk) and then nothing was changed.
   */
  proveWritable(): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new Error('ledger store used after close()');
      const writer = await this.#startWriter();
      await this.#request(writer, { id: 0, probe: true });
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Records the `reset` event of a ledger that replaced another (`dualsync reset`): an event
   * after this ledger's last (the first of a new one) naming the head hash of the one replaced
   * and where it went, so that the chain of custody shows the break and links both.
   */
  recordReset(previousHead: string, backup?: string): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new Error('ledger store used after close()');
      const writer = await this.#startWriter();
      await this.#request(writer, { id: 0, reset: { previousHead, backup }, at: this.#now().toISOString() });
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Folds the write-ahead log back into ledger.db and empties it, so that the database file
   * alone holds the ledger (before it is moved). Returns false when readers kept it from finishing.
   */
  checkpoint(): boolean {
    const queries = this.#reader();
    if (queries === undefined) return true;
    const row = this.#db!.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    return row.busy === 0;
  }

  /** The writer thread's V8 heap, or undefined while no writer runs (watch's memory trace). */
  async writerHeapStatistics(): Promise<HeapInfo | undefined> {
    const writer = this.#writer;
    if (writer === undefined) return undefined;
    // The writer is unref'd between requests, and so is its answer: without the ref, a watch
    // with nothing else pending (no metrics server) would end silently, exit 0, while it waits.
    writer.ref();
    try {
      return await writer.getHeapStatistics();
    } catch {
      return undefined;
    } finally {
      if (this.#requests.size === 0) writer.unref();
    }
  }

  /** Waits for pending writes, stops the writer and closes the database. */
  async close(): Promise<void> {
    await this.#queue;
    if (this.#closed) return;
    this.#closed = true;
    if (this.#writer) await this.#request(this.#writer, { id: 0, close: true }).catch(() => {});
    this.#db?.close();
  }

  async #startWriter(): Promise<Worker> {
    if (this.#writerFailure) throw this.#writerFailure;
    if (this.#writer) return this.#writer;
    if (this.#db === undefined) {
      try {
        this.#db = await openDatabase(this.stateDir, this.#warn, true);
      } catch (error) {
        throw isDualsyncError(error) ? error : ledgerError(this.file, 'cannot create', error);
      }
      this.#queries = new LedgerQueries(this.#db!, this.file);
    }
    // No execArgv of the parent: flags such as --input-type or --eval do not apply to a worker's module.
    // The release executable has no writer.ts to load: it carries the writer bundled as an asset (src/sea.ts).
    const embedded = embeddedScript('ledger-writer.js');
    const writer = new Worker(embedded ?? new URL('./writer.ts', import.meta.url), { eval: embedded !== undefined, workerData: { ledgerWriter: this.file }, execArgv: [] });
    writer.on('message', (reply: WriterReply) => {
      const pending = this.#requests.get(reply.id);
      if (pending === undefined) return;
      this.#requests.delete(reply.id);
      if ('error' in reply) {
        pending.reject(ledgerError(this.file, 'cannot write', Object.assign(new Error(reply.error.message), { errcode: reply.error.errcode })));
        return;
      }
      if (reply.warning !== undefined && !this.#markWarned) {
        this.#markWarned = true;
        this.#warn(reply.warning);
      }
      pending.resolve(reply.serial);
    });
    const fail = (error: Error) => {
      this.#writerFailure = opError('E_LEDGER_WRITE', `the ledger writer of ${this.file} stopped: ${describeError(error)}`, { cause: error });
      for (const pending of this.#requests.values()) pending.reject(this.#writerFailure);
      this.#requests.clear();
    };
    writer.on('error', fail);
    writer.on('exit', (code) => {
      if (this.#requests.size > 0) fail(new Error(`exit code ${code}`));
    });
    // The writer never keeps the process alive by itself: apply and watch end when their work does.
    writer.unref();
    this.#writer = writer;
    return writer;
  }

  #request(writer: Worker, request: WriterRequest): Promise<number> {
    const id = this.#nextRequest++;
    return new Promise<number>((resolve, reject) => {
      this.#requests.set(id, { resolve, reject });
      writer.ref();
      writer.postMessage({ ...request, id });
    }).finally(() => {
      if (this.#requests.size === 0) writer.unref();
    });
  }
}
