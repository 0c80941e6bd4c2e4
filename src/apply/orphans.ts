/**
 * s5cmd processes left writing into a volume's temporary folder by a run that was killed
 * (kill -9, the OOM killer). s5cmd runs in a process group of its own, so it outlives such a
 * kill; with its input closed it finishes the transfers it has in hand and only then exits. A
 * new run empties the temporary folder before it starts, so an orphan still writing there
 * would leave a partial file behind it, or write into the folder the new run uses. Before the
 * folder is emptied, such orphans are stopped.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { processAlive } from './lock.ts';

/** How long to wait for stopped orphans to be gone. */
const GONE_WITHIN_MS = 5000;

/**
 * The s5cmd processes of this host that have a file open under `folder` (a real path); empty
 * where there is no /proc to ask. Processes of other users are not readable without root; an
 * orphan is always the state directory's own user's.
 */
export async function s5cmdWritingUnder(folder: string): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const prefix = folder.endsWith('/') ? folder : `${folder}/`;
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const name = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (name.trim() !== 's5cmd') continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
      if (target.startsWith(prefix)) {
        found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}

/** Stops (SIGKILL) the s5cmd orphans writing under `folder` and waits until they are gone; returns their pids. */
export async function stopOrphanedTransfers(folder: string): Promise<number[]> {
  const orphans = await s5cmdWritingUnder(folder);
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + GONE_WITHIN_MS;
  for (const pid of orphans) {
    while (Date.now() < deadline && processAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return orphans;
}
