import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { userError } from '../errors.ts';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

/** True when a process with this pid exists on this host (EPERM means it exists, owned by another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Takes the state directory's lock, so two runs can never interleave (invariant 7).
 * The lock file is created with O_EXCL; a lock left by a dead process on this host is
 * recovered, any other holder is named in the error.
 */
export async function acquireLock(stateDir: string, command: string, now: () => Date = () => new Date()): Promise<Lock> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, 'lock');
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: now().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${JSON.stringify(me)}\n`);
      await handle.sync();
      await handle.close();
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readHolder(path);
      if (holder && holder.host === me.host && !processAlive(holder.pid)) {
        // Left by a process that died (kill -9, power cut): nothing holds it any more.
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (!holder) {
        // Being written this instant, or truncated by a crash: give the writer a moment.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const again = await readHolder(path);
        if (!again) {
          throw userError('E_LOCKED', `the state directory ${stateDir} is locked by an unreadable lock file ${path}`, {
            hint: 'if no other dualsync runs, remove that file',
          });
        }
        continue;
      }
      throw userError('E_LOCKED', `another dualsync holds the lock on ${stateDir}: ${holder.command}, pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}`, {
        hint: 'wait for it to finish, or stop it (Ctrl-C, or kill -TERM the pid); a lock of a dead process on this host is recovered automatically',
      });
    }
  }
  throw userError('E_LOCKED', `could not take the lock ${path}`, { hint: 'retry; if it persists, check the state directory' });
}

/** Who holds the lock now, if anyone (for status and reset). */
export async function lockHolder(stateDir: string): Promise<LockHolder | undefined> {
  const holder = await readHolder(join(stateDir, 'lock'));
  if (!holder) return undefined;
  if (holder.host === hostname() && !processAlive(holder.pid)) return undefined;
  return holder;
}
