/**
 * The copy a re-download replaced. A re-download goes back to the volume of its partial or stale
 * copy when that volume has room; when it lands on another volume, the old copy would stay
 * behind, counted as a local file of the key for ever. It is removed here, once the new copy is
 * verified and recorded, and only when it is still a regular file at the key's own path on that
 * volume (the file the plan saw there). This is the one place apply deletes such a copy.
 */
import { lstat, unlink } from 'node:fs/promises';
import { localPath } from '../plan/keys.ts';

export type ReplacedCopy = { removed: true; size: number } | { removed: false; why: string };

/** Deletes the key's file on `volume` if it is a regular file; says what it removed, or why not. */
export async function removeReplacedCopy(volume: string, key: string): Promise<ReplacedCopy> {
  const path = localPath(volume, key);
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { removed: false, why: 'already gone' };
    throw error;
  }
  // Never follow a link or remove a folder: only the file the scan counted as the key's copy.
  if (!info.isFile()) return { removed: false, why: 'not a regular file; left as it is' };
  await unlink(path);
  return { removed: true, size: info.size };
}
