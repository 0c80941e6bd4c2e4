/**
 * The s5cmd processes a run started, recorded in the state directory (`children/`), so that the
 * next run can stop any that outlived it (invariant 13).
 *
 * s5cmd runs in a process group of its own (see HopRunner), so a kill -9 of dualsync, the OOM
 * killer or a container runtime that signals the main process only leaves it running; with its
 * input closed it still finishes the transfers it holds. An upload so left over can finish after
 * the next run delivered a newer version of the same key, and put the older one back. Its open
 * files do not give it away (it reads the staged copy, not a temporary file), so each child is
 * recorded when it is spawned, by pid, start time and boot id (src/apply/proc.ts), and the record
 * is removed when it exits. A run, under the lock and before it moves anything, stops every
 * recorded child that is still that very process, waits until it is gone, and clears the records.
 *
 * The record is written and fsynced before the child is given its first line: a child that dies
 * unrecorded never had anything to move (its input closes with its parent and it exits).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { opError } from '../errors.ts';
import { asIdentity, identityOf, ownIdentity, processStat, stillRunning, type ProcessIdentity } from './proc.ts';

/** The folder of the state directory that holds one record per running s5cmd. */
export const CHILDREN_DIR = 'children';

/** How long a stopped child may take to be gone (SIGKILL; a process in an uninterruptible disk wait takes a moment). */
const GONE_WITHIN_MS = 15_000;

/** What the state directory keeps of one s5cmd child. */
export interface ChildRecord extends ProcessIdentity {
  /** The name the kernel gives it (`comm`, at most 15 bytes): checked before it is stopped. */
  comm: string;
  hop: string;
  /** The dualsync process that started it. */
  parent?: ProcessIdentity;
  startedAt: string;
}

/** A recorded child: `remove` drops its record once it has exited. */
export interface RecordedChild {
  remove(): void;
}

/** The name /proc gives a process that runs `file` (its base name, cut to 15 bytes). */
export function commOf(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1);
  return Buffer.from(base).subarray(0, 15).toString('utf8');
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Records a just-spawned child durably (temporary file, fsync, rename, fsync of the folder),
 * synchronously so that it lands before the child gets any work. Returns undefined when the
 * child cannot be named (gone already, or no /proc): there is then nothing to record.
 * Throws the file system's error (a full state disk) after which the caller must stop the child.
 */
export function recordChild(stateDir: string, pid: number, details: { comm: string; hop: string }): RecordedChild | undefined {
  const identity = identityOf(pid);
  if (identity === undefined) return undefined;
  const dir = join(stateDir, CHILDREN_DIR);
  const path = join(dir, `${pid}-${identity.startTime}.json`);
  const temporary = `${path}.tmp`;
  const record: ChildRecord = { ...identity, comm: details.comm, hop: details.hop, parent: ownIdentity(), startedAt: new Date().toISOString() };
  mkdirSync(dir, { recursive: true });
  try {
    const fd = openSync(temporary, 'w', 0o644);
    try {
      const bytes = Buffer.from(`${JSON.stringify(record)}\n`);
      // A short write is an error too: a torn record would fail to name the child.
      if (writeSync(fd, bytes) !== bytes.length) throw Object.assign(new Error(`short write to ${temporary}`), { code: 'ENOSPC' });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    fsyncPath(dir);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // not written
    }
    throw error;
  }
  let removed = false;
  return {
    remove() {
      if (removed) return;
      removed = true;
      try {
        unlinkSync(path);
      } catch {
        // gone already (the next run's clearing, or a reset)
      }
    },
  };
}

function readRecord(path: string): ChildRecord | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const identity = asIdentity(value);
    if (identity === undefined || typeof value.comm !== 'string') return undefined;
    return { ...identity, comm: value.comm, hop: String(value.hop ?? '?'), parent: asIdentity(value.parent), startedAt: String(value.startedAt ?? '?') };
  } catch {
    return undefined;
  }
}

function sameProcess(a: ProcessIdentity | undefined, b: ProcessIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.pid === b.pid && a.startTime === b.startTime && a.bootId === b.bootId;
}

/**
 * Whether the recorded child still runs as that very process: pid, start time and boot id
 * match, and its name is the recorded one (or `setpriv`, which execs s5cmd under the same pid
 * and may not have done so yet).
 */
function recordedChildRunning(record: ChildRecord): boolean {
  if (stillRunning(record) !== true) return false;
  const comm = processStat(record.pid)?.comm;
  return comm === record.comm || comm === 'setpriv';
}

/**
 * Stops every s5cmd that an earlier run of this state directory started and that still runs
 * (SIGKILL: what it had in flight is redone by this run), waits until each is gone, and clears
 * the records. Records of children of this very process (watch between cycles) are left alone.
 * Call it under the lock, before anything is moved or a temporary folder is emptied. Returns
 * the children it stopped; throws E_ORPHAN_ALIVE when one outlives the wait.
 */
export async function stopEarlierChildren(stateDir: string, warn: (message: string) => void = () => {}): Promise<ChildRecord[]> {
  const dir = join(stateDir, CHILDREN_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const me = ownIdentity();
  const stopped: ChildRecord[] = [];
  const clear: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    // A temporary record is one whose child never got a line (the run died between spawn and rename).
    if (!name.endsWith('.json')) {
      clear.push(path);
      continue;
    }
    const record = readRecord(path);
    if (record !== undefined && sameProcess(record.parent, me) && recordedChildRunning(record)) continue;
    if (record !== undefined && recordedChildRunning(record)) {
      try {
        process.kill(record.pid, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
          throw opError('E_ORPHAN_ALIVE', `cannot stop s5cmd pid ${record.pid}, left running by an earlier run (${record.hop} hop, since ${record.startedAt}): ${(error as Error).message}`, {
            hint: `stop that process (kill -9 ${record.pid}) and run again; its record is ${path}`,
            cause: error,
          });
        }
      }
      stopped.push(record);
    }
    clear.push(path);
  }
  const deadline = Date.now() + GONE_WITHIN_MS;
  for (const record of stopped) {
    while (recordedChildRunning(record)) {
      if (Date.now() > deadline) {
        throw opError('E_ORPHAN_ALIVE', `s5cmd pid ${record.pid}, left running by an earlier run (${record.hop} hop), is still alive ${GONE_WITHIN_MS / 1000}s after SIGKILL`, {
          hint: 'it may hang in the kernel (a stuck disk or network file system); nothing was moved; run again once it is gone',
          retryable: true,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  for (const path of clear) {
    try {
      unlinkSync(path);
    } catch {
      // gone already
    }
  }
  if (stopped.length > 0) {
    const named = stopped.map((c) => `pid ${c.pid}, ${c.hop} hop, since ${c.startedAt}`).join('; ');
    warn(`stopped ${stopped.length} s5cmd process(es) that an earlier run left running (${named}); what they had in flight is redone`);
  }
  return stopped;
}
