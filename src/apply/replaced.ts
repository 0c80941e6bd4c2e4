/**
 * The copy a re-download replaced. A re-download goes back to the volume of its partial or stale
 * copy when that volume has room; when it lands on another volume, the old copy would stay
 * behind, counted as a local file of the key for ever. It is removed here, once the new copy is
 * verified and recorded, and only when it is still a regular file at the key's own path on that
 * volume (the file the plan saw there). This is the one place apply deletes such a copy.
 */
import { lstat } from 'node:fs/promises';
import { removeFile, type ResolvedRoot } from './safe-path.ts';

export type ReplacedCopy = { removed: true; size: number } | { removed: false; why: string };

/**
 * Deletes the key's file on `volume` if it is a regular file; says what it removed, or why not.
 * Through safe-path: a link on the way or in its place is refused (invariant 4), never followed.
 */
export async function removeReplacedCopy(volume: ResolvedRoot, key: string): Promise<ReplacedCopy> {
  let info;
  try {
    info = await lstat(`${volume.real}/${key}`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { removed: false, why: 'already gone' };
    throw error;
  }
  // Never remove a folder or a link: only the file the scan counted as the key's copy.
  if (!info.isFile()) return { removed: false, why: 'not a regular file; left as it is' };
  if ((await removeFile(volume, key)) === 'absent') return { removed: false, why: 'already gone' };
  return { removed: true, size: info.size };
}
