/**
 * Opening the ledger database: one connection with the settings every user of it needs, the
 * schema brought up to date, and SQLite's failures turned into dualsync's errors.
 *
 * - WAL: readers (`plan`, `status`) read the last commit while `apply` writes, and never wait
 *   for it; a writer never waits for readers.
 * - synchronous=FULL: a commit is on disk when it returns. With NORMAL, sqlite.org says a commit
 *   "might roll back following a power loss", and the ledger would forget a delivery.
 * - busy_timeout: a second writer (a migration by another process, a checkpoint) is waited for
 *   rather than failed at once. Runs that write hold the state directory's lock anyway.
 */
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { describeError, isDualsyncError, opError, userError } from '../errors.ts';
import { MIGRATIONS, READABLE_FROM, SCHEMA_VERSION } from './schema.ts';

export const LEDGER_FILE = 'ledger.db';
/** How long a connection waits for another's write lock before it gives up. */
export const BUSY_TIMEOUT_MS = 60_000;

const NEVER_DELETE =
  'The ledger is the only record of what was delivered: never delete it blindly. Keep a copy of the state directory ' +
  '(ledger.db with its -wal file), try `sqlite3 ledger.db ".recover"` on the copy, or restore the directory from a backup.';

interface SqliteError extends Error {
  errcode?: number;
  errstr?: string;
}

/** SQLite's primary result codes that dualsync tells apart. */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

/** What was being done when SQLite failed: it decides whether the failure is a read or a write. */
export type LedgerDoing = 'cannot open' | 'cannot read' | 'cannot write' | 'cannot create' | 'cannot update the schema of';

const WRITES: ReadonlySet<LedgerDoing> = new Set(['cannot write', 'cannot create', 'cannot update the schema of']);

/**
 * A SQLite failure on `file` as a dualsync error with a code, a hint and whether a retry can help.
 * The code says what failed: E_LEDGER_WRITE when a write did (a read-only database always means
 * one), E_LEDGER_READ when an open or a read did.
 */
export function ledgerError(file: string, doing: LedgerDoing, error: unknown): Error {
  const code = ((error as SqliteError).errcode ?? -1) & 0xff;
  const message = `${doing} ${file}: ${describeError(error)}`;
  if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB) {
    return userError('E_LEDGER_CORRUPT', `ledger ${file} is damaged: ${describeError(error)}`, { hint: NEVER_DELETE, cause: error });
  }
  if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
    return opError('E_LEDGER_BUSY', message, { hint: 'Another dualsync holds the ledger for a long write (a migration?); retry in a moment.', retryable: true, cause: error });
  }
  if (code === SQLITE_READONLY || (WRITES.has(doing) && code === SQLITE_CANTOPEN)) {
    return opError('E_LEDGER_WRITE', message, {
      hint: 'The ledger cannot be written: check that the state directory and its ledger.db* files are writable by this user and not on a read-only mount.',
      cause: error,
    });
  }
  if (WRITES.has(doing)) {
    const hint = code === SQLITE_FULL || code === SQLITE_IOERR ? 'Check free space and the health of the disk that holds the state directory.' : 'Check the state directory; the ledger is unchanged by the failed operation.';
    return opError('E_LEDGER_WRITE', message, { hint, retryable: code === SQLITE_FULL || code === SQLITE_IOERR, cause: error });
  }
  const hint =
    code === SQLITE_CANTOPEN
      ? 'Check that the state directory and its ledger.db* files are readable by this user.'
      : code === SQLITE_IOERR
        ? 'Check the health of the disk that holds the state directory; nothing was changed.'
        : 'Check the state directory; nothing was changed.';
  return opError('E_LEDGER_READ', message, { hint, retryable: code === SQLITE_IOERR, cause: error });
}

/** The schema step `db` is at; 0 for a database without dualsync's tables (new, or emptied). */
export function schemaVersion(db: DatabaseSync): number {
  return (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
}

function refuseNewer(file: string, version: number): never {
  throw userError('E_LEDGER_NEWER', `ledger ${file} was written by a newer dualsync (schema ${version}; this one knows schema ${SCHEMA_VERSION})`, {
    hint: 'Upgrade dualsync to the version that wrote this state directory; an older one must not rewrite it.',
  });
}

/** Opens (creating if need be) the database at `file` with WAL and synchronous=FULL. */
export function connect(file: string): DatabaseSync {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    throw ledgerError(file, 'cannot open', error);
  }
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) refuseNewer(file, version);
    return db;
  } catch (error) {
    db.close();
    throw isDualsyncError(error) ? error : ledgerError(file, 'cannot open', error);
  }
}

/** Whether `error` says that SQLite could not open or write the file (a read-only mount, no permission). */
export function isCannotOpen(error: unknown): boolean {
  const cause = isDualsyncError(error) ? error.cause : error;
  const code = ((cause as SqliteError | undefined)?.errcode ?? -1) & 0xff;
  return code === SQLITE_CANTOPEN || code === SQLITE_READONLY;
}

/**
 * Opens the database at `file` for reading only, for a state directory this user cannot write (a
 * backup, a snapshot, a read-only mount), where {@link connect} fails. SQLite reads a WAL database
 * read-only only when it can use the `-shm` index (it could not create it here). Without a `-wal`
 * holding commits, the database file alone is the ledger and is opened as immutable (no -shm
 * needed). With one, immutable would ignore its commits and read an older ledger: refused.
 */
export function connectReadOnly(file: string, walBytes: number): DatabaseSync {
  if (walBytes > 0) {
    throw opError('E_LEDGER_READ', `cannot open ${file} read-only: its write-ahead log ${file}-wal holds commits that SQLite reads only with write access to the folder (for ${file}-shm)`, {
      hint: 'Copy the whole state directory (ledger.db with its -wal) to a writable place and run there, or make it writable; never read ledger.db without its -wal.',
    });
  }
  const url = pathToFileURL(file);
  url.searchParams.set('immutable', '1');
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(url, { readOnly: true });
  } catch (error) {
    throw ledgerError(file, 'cannot open', error);
  }
  try {
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) refuseNewer(file, version);
    if (version < READABLE_FROM) {
      throw opError('E_LEDGER_READ', `cannot read ${file}: its schema (${version}) needs an update that a read-only state directory cannot take`, {
        hint: 'Run dualsync once where the state directory is writable.',
      });
    }
    return db;
  } catch (error) {
    db.close();
    throw isDualsyncError(error) ? error : ledgerError(file, 'cannot open', error);
  }
}

/** True when the schema of `db` needs no step. */
export function schemaIsCurrent(db: DatabaseSync): boolean {
  return schemaVersion(db) === SCHEMA_VERSION;
}

/**
 * Brings the schema of `db` up to date in one transaction. `alsoInside` runs inside that same
 * transaction, after the schema steps: the legacy migration uses it, so that the tables and
 * their contents commit together or not at all. On failure nothing is committed.
 */
export async function upgradeSchema(db: DatabaseSync, file: string, alsoInside?: (db: DatabaseSync) => Promise<void>): Promise<void> {
  try {
    // IMMEDIATE takes the write lock first, so that two processes opening a new ledger at once
    // do not both run the steps: the second waits, then finds the schema current.
    db.exec('BEGIN IMMEDIATE');
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) refuseNewer(file, version);
    for (let step = version; step < SCHEMA_VERSION; step++) {
      const migration = MIGRATIONS[step]!;
      if (typeof migration === 'string') db.exec(migration);
      else migration(db);
    }
    if (version < SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    await alsoInside?.(db);
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw isDualsyncError(error) ? error : ledgerError(file, 'cannot update the schema of', error);
  }
}
