import { link, mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { opError, userError } from '../errors.ts';
import { fsyncDirectory } from '../files/fsync.ts';
import { asIdentity, bootId, ownIdentity, stillRunning } from './proc.ts';
import { stateDiskFull } from './state-disk.ts';

export interface LockHolder {
  pid: number;
  /**
   * The holder's start time (/proc/PID/stat field 22) and the boot it ran in: with the pid, they
   * name that one process, so a pid reused by another process (pid 1 of a restarted container)
   * is not mistaken for the holder. Absent in locks of older versions and where there is no /proc.
   */
  startTime?: string;
  bootId?: string;
  host: string;
  startedAt: string;
  command: string;
  /** `watch` holds the lock for its whole life and notes here how its last cycle ended. */
  lastCycle?: { number: number; endedAt: string; result: string };
}

export interface Lock {
  readonly path: string;
  /** Rewrites the holder's record (temporary file, renamed into place); the lock stays held throughout. */
  update(changes: Pick<LockHolder, 'lastCycle'>): Promise<void>;
  release(): Promise<void>;
}

/** Numbers this process's temporary lock files, so that two locks taken in one process never share one. */
let temporaries = 0;

/** True when a process with this pid exists on this host (EPERM means it exists, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process a lock names still holds it (same host assumed). With a start time and a
 * boot id, only that very process counts (invariant 13). A lock of an older version names a pid
 * alone: our own pid is then not us (this version always writes its start time), and any other
 * live pid is taken to be the holder, as nothing proves otherwise. Without /proc, a live pid is
 * all there is to go by.
 */
export function holderRunning(holder: LockHolder): boolean {
  const identity = asIdentity(holder);
  if (identity !== undefined) {
    const running = stillRunning(identity);
    if (running !== undefined) return running;
  }
  if (bootId() !== undefined && holder.pid === process.pid) return false;
  return processAlive(holder.pid);
}

function parseHolder(text: string | undefined): LockHolder | undefined {
  if (text === undefined) return undefined;
  try {
    const holder = JSON.parse(text) as LockHolder;
    return typeof holder === 'object' && holder !== null && Number.isInteger(holder.pid) && typeof holder.host === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  return parseHolder(await readFile(path, 'utf8').catch(() => undefined));
}

function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * The processes of this host that have `path` open, from /proc/PID/fd; undefined where there is
 * no /proc to ask. Every holder keeps its lock file open for as long as it holds it, so this
 * is what tells a lock in use from one left empty or torn by a crash. Processes of other users
 * are not readable without root; a holder is always the state directory's own user.
 */
export async function processesHolding(path: string): Promise<number[] | undefined> {
  let target: { dev: number; ino: number };
  let entries: string[];
  try {
    target = await stat(path);
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const holders: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      // By inode, not by name: a holder opened it under its temporary name.
      const open = await stat(`/proc/${entry}/fd/${fd}`).catch(() => undefined);
      if (open && open.ino === target.ino && open.dev === target.dev) {
        holders.push(Number(entry));
        break;
      }
    }
  }
  return holders;
}

/** The command line of a process, for naming it in an error. */
async function commandOf(pid: number): Promise<string> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.split('\0').filter(Boolean).join(' ') || '?';
}

/**
 * Writes the holder's record to a temporary file, fsyncs it, and keeps it open. Linking it into
 * place (`link` fails when the name exists, like O_EXCL) then publishes a lock that is complete
 * or absent, never empty: a full disk or a power cut mid-write leaves only the temporary file.
 */
async function writeTemporary(temporary: string, holder: LockHolder): Promise<FileHandle> {
  const handle = await open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(holder)}\n`);
    await handle.sync();
    return handle;
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Takes the state directory's lock, so two runs can never interleave (invariant 7).
 *
 * The lock is written to a temporary file and linked into place, so it is never seen half-written.
 * A lock whose holder is dead (same host, and no process with its pid and start time: see
 * `holderRunning`) is taken over. So is an empty or
 * unreadable one (left by a crash, or by an older dualsync that wrote the file in place), once
 * /proc shows that no process has it open: every holder keeps its lock open while it holds it.
 * Any other holder is named in the error.
 */
export async function acquireLock(stateDir: string, command: string, now: () => Date = () => new Date(), warn: (message: string) => void = () => {}): Promise<Lock> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, 'lock');
  const temporary = join(stateDir, `lock.${process.pid}.${++temporaries}.tmp`);
  const identity = ownIdentity();
  const me: LockHolder = { pid: process.pid, ...(identity && { startTime: identity.startTime, bootId: identity.bootId }), host: hostname(), startedAt: now().toISOString(), command };
  let handle: FileHandle;
  try {
    handle = await writeTemporary(temporary, me);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    if (isDiskFull(error)) throw stateDiskFull(stateDir, error);
    throw opError('E_LOCK_WRITE', `cannot write the lock ${temporary}: ${(error as Error).message}`, { hint: 'check the permissions of the state directory', cause: error });
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(temporary, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        await clearStaleLock(stateDir, path, me.host, warn);
        continue;
      }
      await unlink(temporary);
      await fsyncDirectory(stateDir);
      await removeDeadTemporaries(stateDir, me.pid);
      return heldLock(stateDir, path, temporary, me, handle);
    }
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    if (isDiskFull(error)) throw stateDiskFull(stateDir, error);
    throw error;
  }
  await handle.close();
  await unlink(temporary).catch(() => undefined);
  throw userError('E_LOCKED', `could not take the lock ${path}`, { hint: 'retry; if it persists, check the state directory' });
}

/**
 * Runs `action` holding the state directory's lock, released however it ends. A command that
 * reads the state directory to show what it will do (reset, volumes release) takes the lock
 * before that first read: read outside it, a state another run is changing can look like a
 * conflict, or a plan can be shown that is no longer true when it is carried out.
 */
export async function withLock<T>(stateDir: string, command: string, now: () => Date, action: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(stateDir, command, now);
  try {
    return await action();
  } finally {
    await lock.release();
  }
}

/** Temporary lock files of runs killed before they could link theirs (kill -9 between write and link). */
async function removeDeadTemporaries(stateDir: string, ownPid: number): Promise<void> {
  const names = await readdir(stateDir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(/^lock\.(\d+)\.\d+\.tmp$/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== ownPid && !processAlive(pid)) await unlink(join(stateDir, name)).catch(() => undefined);
  }
}

function heldLock(stateDir: string, path: string, temporary: string, me: LockHolder, first: FileHandle): Lock {
  let handle = first;
  let holder = me;
  let released = false;
  return {
    path,
    async update(changes) {
      if (released) return;
      const next = { ...holder, ...changes };
      let fresh: FileHandle | undefined;
      try {
        fresh = await writeTemporary(temporary, next);
        // Renamed over our own lock: the name never disappears, so no other run can slip in.
        await rename(temporary, path);
      } catch (error) {
        await fresh?.close().catch(() => undefined);
        await unlink(temporary).catch(() => undefined);
        if (isDiskFull(error)) throw stateDiskFull(stateDir, error);
        throw error;
      }
      await handle.close().catch(() => undefined);
      handle = fresh;
      holder = next;
    },
    async release() {
      if (released) return;
      released = true;
      // Only our own lock goes: compare the file at the path with the one we hold open.
      const [ours, there] = await Promise.all([handle.stat(), stat(path).catch(() => undefined)]);
      if (there && there.ino === ours.ino && there.dev === ours.dev) await unlink(path).catch(() => undefined);
      await handle.close().catch(() => undefined);
    },
  };
}

/** The file whose guard takers of a dead run's lock hold one at a time (see `underTakeoverGuard`). */
export const TAKEOVER_GUARD_FILE = 'lock.takeover';

/** How long a taker waits for another one's takeover to end before it gives up. */
const TAKEOVER_WAIT_MS = 10_000;

const SQLITE_BUSY = 5;

/**
 * Runs `action` while no other process (and no other taker in this one) may take over the lock.
 * Judging a lock dead and removing it are two steps: without a guard, two takers can both judge
 * the same dead lock, one remove it and link its own, and the other then remove that live lock,
 * and both run (invariant 7). The guard is an exclusive SQLite transaction on `lock.takeover`: a
 * POSIX record lock that the kernel drops when its process ends, kill -9 included, so it can never
 * be left behind by a crash, and no pid has to be trusted to judge it. SQLite also keeps two
 * connections of one process apart, which a bare record lock would not.
 */
async function underTakeoverGuard<T>(stateDir: string, action: () => Promise<T>): Promise<T> {
  const path = join(stateDir, TAKEOVER_GUARD_FILE);
  const cannot = (error: unknown) =>
    opError('E_LOCK_WRITE', `cannot take the guard ${path} to recover a dead run's lock: ${(error as Error).message}`, {
      hint: 'check the permissions of the state directory and that its disk has room',
      cause: error,
    });
  let guard: DatabaseSync;
  try {
    guard = new DatabaseSync(path, { timeout: 0 });
  } catch (error) {
    throw cannot(error);
  }
  try {
    const deadline = Date.now() + TAKEOVER_WAIT_MS;
    for (;;) {
      try {
        guard.exec('BEGIN EXCLUSIVE');
        break;
      } catch (error) {
        if ((((error as { errcode?: number }).errcode ?? -1) & 0xff) !== SQLITE_BUSY) throw cannot(error);
        if (Date.now() >= deadline) {
          throw userError('E_LOCKED', `another dualsync has been recovering the lock on ${stateDir} for ${TAKEOVER_WAIT_MS / 1000} s (it holds ${path})`, {
            hint: 'retry; if it persists, a process that holds that file open is stuck (stopped?): find it with `fuser` and end it',
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
      }
    }
    try {
      return await action();
    } finally {
      guard.exec('ROLLBACK');
    }
  } finally {
    guard.close();
  }
}

/** Removes the file at `path` only if it is still the one `seen` described. */
async function unlinkIfSame(path: string, seen: { ino: number; dev: number }): Promise<void> {
  const there = await stat(path).catch(() => undefined);
  if (there && there.ino === seen.ino && there.dev === seen.dev) await unlink(path).catch(() => undefined);
}

/**
 * Removes the lock at `path` when nothing holds it any more, or throws naming who does. Judged
 * and removed under the takeover guard, so the lock removed is the very one judged dead.
 */
function clearStaleLock(stateDir: string, path: string, host: string, warn: (message: string) => void): Promise<void> {
  return underTakeoverGuard(stateDir, () => clearIfStale(stateDir, path, host, warn));
}

async function clearIfStale(stateDir: string, path: string, host: string, warn: (message: string) => void): Promise<void> {
  const seen = await stat(path).catch(() => undefined);
  if (seen === undefined) return; // gone meanwhile
  let holder = await readHolder(path);
  if (!holder) {
    // An older dualsync may be writing it this instant: give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    holder = await readHolder(path);
  }
  if (holder) {
    if (holder.host === host && !holderRunning(holder)) {
      // Left by a process that died (kill -9, power cut, a container restarted): nothing holds it any more, whoever has its pid now.
      await unlinkIfSame(path, seen);
      return;
    }
    const watching = holder.command.startsWith('dualsync watch');
    throw userError('E_LOCKED', `another dualsync holds the lock on ${stateDir}: ${describeHolder(holder)}`, {
      hint: watching
        ? 'watch holds the lock between its cycles too; stop it first (Ctrl-C where it runs, systemctl stop, or kill -TERM the pid): it finishes its cycle and releases the lock'
        : 'wait for it to finish, or stop it (Ctrl-C, or kill -TERM the pid); a lock of a dead process on this host is recovered automatically',
    });
  }
  const contents = await stat(path).then((s) => (s.size === 0 ? 'empty' : 'unreadable'), () => undefined);
  if (contents === undefined) return; // gone meanwhile
  const holders = await processesHolding(path);
  if (holders === undefined) {
    throw userError('E_LOCKED', `the state directory ${stateDir} is locked by an ${contents} lock file ${path}, and this system has no /proc to check that no process holds it`, {
      hint: 'if no other dualsync runs, remove that file',
    });
  }
  if (holders.length > 0) {
    const named = await Promise.all(holders.map(async (pid) => `pid ${pid} (${await commandOf(pid)})`));
    throw userError('E_LOCKED', `the state directory ${stateDir} is locked by an ${contents} lock file ${path} that ${named.join(', ')} holds open`, {
      hint: 'wait for that process to finish, or stop it',
    });
  }
  warn(`took over the ${contents} lock file ${path}: no process holds it (left by a crash or a full disk)`);
  await unlinkIfSame(path, seen);
}

/** The holder of a lock as a refusal names it: command, pid, host and since when. */
export function describeHolder(holder: LockHolder): string {
  return `${holder.command}, pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}`;
}

/** Who holds the lock now, if anyone (for status and reset). */
export async function lockHolder(stateDir: string): Promise<LockHolder | undefined> {
  const holder = await readHolder(join(stateDir, 'lock'));
  if (!holder) return undefined;
  if (holder.host === hostname() && !holderRunning(holder)) return undefined;
  return holder;
}
