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
 *   directory leave it as it was. The database is created by the first append.
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { describeError, isDualsyncError, opError, userError } from '../errors.ts';
import type { LedgerEvent } from '../model/ledger.ts';
import type { LedgerRecord, LedgerState } from '../model/objects.ts';
import { connect, LEDGER_FILE, ledgerError, schemaIsCurrent, upgradeSchema } from './db.ts';
import { exists, legacyFiles, MIGRATED_SUFFIX, readLegacyLedger } from './legacy.ts';
import { applyEvent } from './merge.ts';
import { LedgerQueries, type LedgerSummary } from './queries.ts';
import type { WriterReply, WriterRequest } from './writer.ts';
import { embeddedScript } from '../sea.ts';

export { LEDGER_FILE } from './db.ts';
export { JOURNAL_FILE, SNAPSHOT_FILE } from './legacy.ts';
export type { LedgerSummary } from './queries.ts';

export interface LedgerStoreOptions {
  /** Told about things that were recovered from, such as a torn last line of a migrated journal. */
  onWarning?: (message: string) => void;
  /** The clock that stamps stages reached (default: the system clock). */
  now?: () => Date;
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
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

/** Opens the database of `stateDir`, migrating the JSON ledger if it is there; undefined when there is no ledger at all. */
async function openDatabase(stateDir: string, warn: (message: string) => void, create: boolean): Promise<DatabaseSync | undefined> {
  const file = join(stateDir, LEDGER_FILE);
  const legacy = await legacyFiles(stateDir);
  const existed = await exists(file);
  if (!existed && legacy.length === 0 && !create) return undefined;
  if (!existed) {
    await mkdir(stateDir, { recursive: true });
    await setAsideOrphanWal(file, warn);
  }
  const db = connect(file);
  try {
    // The new file's name must survive a power cut as well as its contents.
    if (!existed) await fsyncDirectory(stateDir);
    if (legacy.length === 0) {
      if (!schemaIsCurrent(db)) await upgradeSchema(db, file);
      return db;
    }
    await upgradeSchema(db, file, async (inside) => {
      if (legacySerial(inside) !== undefined) return; // migrated before; the old files were not yet renamed
      const queries = new LedgerQueries(inside);
      if (queries.serial() !== 0 || inside.prepare('SELECT 1 FROM objects LIMIT 1').get() !== undefined) {
        throw userError('E_LEDGER_CONFLICT', `the state directory ${stateDir} holds both ${LEDGER_FILE} and the older JSON ledger (${legacy.join(', ')}), which was never migrated into it`, {
          hint: `Keep a copy of the state directory. If ${LEDGER_FILE} is the ledger in use, move the JSON files out of the way; if they are, move ${LEDGER_FILE}* out instead.`,
        });
      }
      const serial = await readLegacyLedger(
        stateDir,
        {
          addRecord: (record) => queries.insert(record),
          applyEvent: (event) => queries.put(applyEvent(queries.get(event.key), event)),
        },
        warn,
      );
      queries.setSerial(serial);
      inside.prepare(`INSERT INTO meta (name, value) VALUES ('legacy_serial', ?)`).run(serial);
    });
    await retireLegacy(stateDir, legacy);
    return db;
  } catch (error) {
    db.close();
    // A JSON ledger that cannot be trusted was refused before anything was committed: the
    // empty database this open created goes again, so the directory is left as it was.
    if (!existed && isDualsyncError(error) && error.kind === 'user') {
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

  private constructor(stateDir: string, db: DatabaseSync | undefined, options: LedgerStoreOptions) {
    this.stateDir = stateDir;
    this.file = join(stateDir, LEDGER_FILE);
    this.#warn = options.onWarning ?? (() => {});
    this.#now = options.now ?? (() => new Date());
    this.#db = db;
    this.#queries = db === undefined ? undefined : new LedgerQueries(db);
  }

  /**
   * Opens the ledger of `stateDir`, migrating the JSON ledger of earlier versions on first open.
   * A directory without any ledger reads as an empty one, and nothing is written.
   */
  static async open(stateDir: string, options: LedgerStoreOptions = {}): Promise<LedgerStore> {
    try {
      return new LedgerStore(stateDir, await openDatabase(stateDir, options.onWarning ?? (() => {}), false), options);
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
   * the iteration is returned; read them before appending.
   */
  snapshot(): { serial: number; records: Iterable<LedgerRecord> } {
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
      throw ledgerError(file, 'cannot read', error);
    }
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      db.exec('COMMIT');
    };
    function* records(): Generator<LedgerRecord> {
      try {
        yield* queries.records();
      } finally {
        end();
      }
    }
    const iterator = records();
    // Ended even when never read (a listing failed first): the iterator is returned by the merge.
    return { serial, records: { [Symbol.iterator]: () => ({ next: () => iterator.next(), return: (value?: unknown) => (end(), iterator.return(value as undefined)) }) } };
  }

  /** The record of one relative key. */
  get(key: string): LedgerRecord | undefined {
    const queries = this.#reader();
    if (queries === undefined) return undefined;
    try {
      return queries.get(key);
    } catch (error) {
      throw ledgerError(this.file, 'cannot read', error);
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
   * Folds the write-ahead log back into ledger.db and empties it, so that the database file
   * alone holds the ledger (before it is moved). Returns false when readers kept it from finishing.
   */
  checkpoint(): boolean {
    const queries = this.#reader();
    if (queries === undefined) return true;
    const row = this.#db!.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    return row.busy === 0;
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
      this.#queries = new LedgerQueries(this.#db!);
    }
    // No execArgv of the parent: flags such as --input-type or --eval do not apply to a worker's module.
    // The release executable has no writer.ts to load: it carries the writer bundled as an asset (src/sea.ts).
    const embedded = embeddedScript('ledger-writer.js');
    const writer = new Worker(embedded ?? new URL('./writer.ts', import.meta.url), { eval: embedded !== undefined, workerData: { ledgerWriter: this.file }, execArgv: [] });
    writer.on('message', (reply: WriterReply) => {
      const pending = this.#requests.get(reply.id);
      if (pending === undefined) return;
      this.#requests.delete(reply.id);
      if ('error' in reply) pending.reject(ledgerError(this.file, 'cannot write', Object.assign(new Error(reply.error.message), { errcode: reply.error.errcode })));
      else pending.resolve(reply.serial);
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
