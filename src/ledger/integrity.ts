/**
 * Telling an emptied or lost ledger from a fresh one (DESIGN invariant 12). SQLite cannot tell:
 * a ledger.db truncated to 0 bytes, or one whose `-wal` (holding every commit since the last
 * checkpoint) was deleted after a kill, opens as a valid database at an older serial, often 0.
 * Two facts beside it can:
 *
 * - `ledger.db-high-water`: the highest serial the ledger is known to have committed. The writer
 *   rewrites it after each commit batch (after the commit, so it is never ahead of the ledger).
 *   It is not synced on every batch (that would double the fsyncs of a run): after a power cut it
 *   may be behind the ledger, which only weakens the check, never makes it refuse a good ledger;
 *   a kill -9 loses nothing of it. Its name starts with `ledger.`, so a reset moves it into the
 *   backup with the ledger it belongs to, and a restored backup brings it back.
 * - Without that file (state directories of earlier versions): the state directory's `id`
 *   (written when apply first claims volumes, which it does only after creating the ledger) or a
 *   `last-run.json` that records work. Claims on volumes name that id, so the id stands for them.
 *
 * `started-over` is what `dualsync reset` leaves: the state directory starts again with no
 * ledger although it keeps its id; the first ledger created afterwards removes it.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { userError } from '../errors.ts';
import { fsyncDirectory } from '../files/fsync.ts';
import { STATE_ID_FILE } from './identity.ts';

export const HIGH_WATER_FILE = 'ledger.db-high-water';
/** Left by `dualsync reset`; not `ledger.*`, so that the state directory shows no ledger after a reset. */
export const STARTED_OVER_FILE = 'started-over';
/**
 * A reset under way, in the state directory: written (durably) before the first move and removed
 * after the last claim is released, so that a reset killed half way is finished by the next one
 * (src/ops/reset-intent.ts). Not `ledger.*`: it never moves into the backup.
 */
export const RESET_INTENT_FILE = 'reset-unfinished.json';
/** Written by apply (src/apply/last-run.ts). */
const LAST_RUN_FILE = 'last-run.json';

/** Fixed width, so that a rewrite in place never needs a truncate (one pwrite, one sector). */
const SERIAL_DIGITS = 16;
const MARK_PATTERN = /^serial (\d{16})\n$/;

function markText(serial: number): string {
  return `serial ${String(serial).padStart(SERIAL_DIGITS, '0')}\n`;
}

/**
 * The serial `ledger.db-high-water` of `stateDir` records; undefined when there is none. A mark that
 * does not parse (damaged by hand, or zeros after a power cut) is reported and not believed.
 */
export async function readHighWater(stateDir: string, warn: (message: string) => void): Promise<number | undefined> {
  const path = join(stateDir, HIGH_WATER_FILE);
  let text: string;
  try {
    text = await readFile(path, 'latin1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const match = MARK_PATTERN.exec(text);
  const serial = match === null ? undefined : Number(match[1]);
  if (serial === undefined || !Number.isSafeInteger(serial)) {
    warn(`${path} does not hold a serial (${JSON.stringify(text.slice(0, 40))}); the ledger is checked without it`);
    return undefined;
  }
  return serial;
}

/**
 * Keeps `ledger.db-high-water` in step with the ledger's commits; used by the one writer (a worker
 * thread, so the synchronous calls stop no event loop). The file is created durably (synced and
 * renamed into place) once; later serials overwrite it in place.
 */
export class HighWaterMark {
  readonly #path: string;
  #fd: number | undefined;
  #last = -1;

  constructor(stateDir: string) {
    this.#path = join(stateDir, HIGH_WATER_FILE);
  }

  /** Records that the ledger has committed `serial`; call it after the commit returns. */
  record(serial: number): void {
    if (serial === this.#last) return;
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(this.#path, 'r+');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.#create(serial);
      }
    }
    writeSync(this.#fd!, markText(serial), 0);
    this.#last = serial;
  }

  #create(serial: number): void {
    // One name, overwritten: only the writer under the state directory's lock creates the mark, and a kill leaves no litter.
    const temporary = `${this.#path}.tmp`;
    const fd = openSync(temporary, 'w', 0o644);
    try {
      writeSync(fd, markText(serial), 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.#path);
    // The ledger it describes exists now: a reset's note that the directory started over is done with.
    try {
      unlinkSync(join(dirname(this.#path), STARTED_OVER_FILE));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const dir = openSync(dirname(this.#path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.#fd = openSync(this.#path, 'r+');
    this.#last = serial;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

async function present(path: string): Promise<boolean> {
  try {
    await open(path, 'r').then((handle) => handle.close());
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Whether last-run.json records any work (every piece of work is also a ledger event). */
async function lastRunRecordsWork(stateDir: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(join(stateDir, LAST_RUN_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    const run = JSON.parse(text) as Record<string, unknown>;
    const count = (value: unknown) => (typeof value === 'object' && value !== null ? Number((value as { count?: unknown }).count) || 0 : Number(value) || 0);
    return ['downloaded', 'uploaded', 'purged', 'adopted', 'failures'].some((field) => count(run[field]) > 0);
  } catch {
    return true; // damaged: it was written by a run, so count it
  }
}

/**
 * What in `stateDir` shows that it was used (runs recorded something) when it has no high-water
 * mark: the names of those files, none for a fresh state directory or one a reset started over.
 */
export async function usedStateEvidence(stateDir: string): Promise<string[]> {
  if (await present(join(stateDir, STARTED_OVER_FILE))) return [];
  const evidence: string[] = [];
  if (await present(join(stateDir, STATE_ID_FILE))) evidence.push(`${STATE_ID_FILE} (it has claimed staging volumes)`);
  if (await lastRunRecordsWork(stateDir)) evidence.push(`${LAST_RUN_FILE} (a run recorded work)`);
  return evidence;
}

/**
 * Notes that `stateDir` starts over without a ledger (`dualsync reset`, once it has moved the
 * ledger into its backup): the next run creates a new, empty ledger rather than refusing.
 */
export async function markStartedOver(stateDir: string, now: Date): Promise<void> {
  const path = join(stateDir, STARTED_OVER_FILE);
  await writeFile(`${path}.tmp`, `${now.toISOString()}: dualsync reset moved the ledger into a backup; the next run starts a new one\n`);
  const handle = await open(`${path}.tmp`, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(`${path}.tmp`, path);
  await fsyncDirectory(stateDir);
}

const WAY_OUT =
  'Nothing was changed. The ledger is the only record of what was delivered. Restore the state directory (ledger.db with its ' +
  'ledger.db-wal and ledger.db-high-water) from a backup, or run `dualsync reset` to start over: it moves what is left of the ' +
  'ledger into a backup folder, and the next plan compares the source with the destination again (objects it can prove ' +
  'delivered are adopted, the rest moves again).';

/**
 * The error for a state directory whose reset was interrupted (its record at `path`): `command`
 * will not use it, and the way out is the reset itself.
 */
export function unfinishedReset(stateDir: string, path: string, command: string): Error {
  return userError('E_RESET_UNFINISHED', `a reset of ${stateDir} was interrupted (${path} records it): ${command} will not use a half-reset state directory`, {
    hint: 'run `dualsync reset` again: it finishes the interrupted reset from that record, then plan and apply work again',
  });
}

/**
 * The error for a ledger that is missing, empty or behind what it had committed: what was found,
 * why it cannot be believed, and the way out.
 */
export function lostLedger(file: string, found: string, because: string, restoredOnPurpose = false): Error {
  const extra = restoredOnPurpose
    ? ` If you restored an older copy of the ledger on purpose and accept that it forgets what happened since, delete ${join(dirname(file), HIGH_WATER_FILE)}.`
    : '';
  return userError('E_LEDGER_LOST', `the ledger ${file} ${found}, but ${because}: refusing to take it for a fresh start`, { hint: `${WAY_OUT}${extra}` });
}
