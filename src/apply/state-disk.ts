import { readFileSync, realpathSync, statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatBytes } from '../config/units.ts';
import { isDualsyncError, opError, type DualsyncError } from '../errors.ts';

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** The errno error inside `error` (itself, or a cause of it) when it says the disk is full. */
function diskFullCause(error: unknown): NodeJS.ErrnoException | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && DISK_FULL_CODES.has(code)) return current as NodeJS.ErrnoException;
  }
  return undefined;
}

/** Below this much free space, a ledger that cannot write is taken to have met a full disk (SQLite's -shm alone takes 32 KiB). */
const LOW_ROOM_BYTES = 256 * 1024;

const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;

/** Whether a cause of `error` is SQLite's "disk I/O error" or "database or disk is full". */
function sqliteWriteFailure(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = ((current as { errcode?: number }).errcode ?? -1) & 0xff;
    if (code === SQLITE_IOERR || code === SQLITE_FULL) return true;
  }
  return false;
}

/** Bytes free for this user on the filesystem of `dir`; infinite when it cannot be told. */
function roomLeft(dir: string): number {
  try {
    const space = statfsSync(dir);
    return space.bavail * space.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** True when `path` is `dir` or lies below it. */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The mount point and filesystem type that hold `path`, from /proc/self/mountinfo (Linux). */
export function mountOf(path: string): { mountPoint: string; fsType: string } | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    real = resolve(path);
  }
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  let best: { mountPoint: string; fsType: string } | undefined;
  for (const line of text.split('\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (fields.length < 5 || separator < 0) continue;
    const mountPoint = fields[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    // The last one listed wins on a tie: it is mounted over the earlier ones.
    if (within(real, mountPoint) && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, fsType: fields[separator + 1] ?? '?' };
  }
  return best;
}

/**
 * When `error` is a full disk in the state directory (a ledger write, the lock, the last-run
 * record), the one clear error an operator needs: which directory, on which filesystem, and
 * what to free. Any other error is returned as it is.
 */
export function stateDiskFullOr(stateDir: string, error: unknown): unknown {
  const cause = diskFullCause(error);
  if (cause === undefined) {
    // SQLite does not always say "full": on a full disk it may fail to grow its shared-memory
    // file or write-ahead log with a plain "disk I/O error". A ledger write that fails so while
    // the state disk has next to no room left is that same full disk.
    if (isDualsyncError(error) && error.code === 'E_LEDGER_WRITE' && sqliteWriteFailure(error) && roomLeft(stateDir) < LOW_ROOM_BYTES) return stateDiskFull(stateDir, error.cause ?? error);
    return error;
  }
  const aboutStateDir = (isDualsyncError(error) && (error.code === 'E_LEDGER_WRITE' || error.code === 'E_STATE_DISK_FULL')) || (typeof cause.path === 'string' && within(resolve(cause.path), resolve(stateDir)));
  if (!aboutStateDir) return error;
  if (isDualsyncError(error) && error.code === 'E_STATE_DISK_FULL') return error;
  return stateDiskFull(stateDir, cause);
}

/** The state directory's filesystem is full: its path, its mount, and what is free there. */
export function stateDiskFull(stateDir: string, cause: unknown): DualsyncError {
  const mount = mountOf(stateDir);
  // Its size, not its free space: by now the run has ended and given some room back.
  let size = '';
  try {
    const space = statfsSync(stateDir);
    size = `${formatBytes(space.blocks * space.bsize)}`;
  } catch {
    // the figure is a courtesy
  }
  const described = [mount?.fsType, size && `of ${size}`].filter(Boolean).join(' ');
  const on = `${mount?.mountPoint ?? 'its filesystem'}${described ? ` (${described})` : ''}`;
  const quota = (cause as NodeJS.ErrnoException).code === 'EDQUOT' ? ' (the disk quota is used up)' : '';
  return opError('E_STATE_DISK_FULL', `the state directory's disk is full${quota}: ${stateDir} on ${on}; free space there`, {
    hint: `free space on ${mount?.mountPoint ?? 'that filesystem'} (or move stateDir to a larger disk), then run again: what was not recorded is redone, nothing was purged without a recorded delivery`,
    retryable: true,
    cause,
  });
}
