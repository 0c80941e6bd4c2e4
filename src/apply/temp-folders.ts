/**
 * Apply's first step on the volumes: their temporary folders emptied before anything moves.
 */
import { describeError } from '../errors.ts';
import { TEMP_DIR } from '../model/volume-layout.ts';
import { isLinkRefusal, resetTempFolder, VolumeRoots } from './safe-path.ts';
import { stopOrphanedTransfers } from './orphans.ts';

/**
 * Empties each volume's temporary folder before anything moves: files of interrupted downloads
 * are never counted as staged, and the folders that earlier downloads left behind must go too.
 * A folder `.dualsync-tmp/a` left by the download of `a/b` would make s5cmd treat the later
 * download of `a` as a copy into that folder (`.dualsync-tmp/a/a`), a path the key mapping never
 * yields. Only volumes this state directory has just claimed are passed here, and under its lock
 * nothing else uses their temporary folders: another config's run refuses these volumes, so its
 * in-flight downloads live on volumes of its own. A `.dualsync-tmp` that is a symbolic link is
 * neither followed nor removed: a warning says so, and apply fails that volume's downloads.
 */
export async function clearTempFolders(roots: string[], deps: { warn: (message: string) => void }): Promise<void> {
  const volumeRoots = new VolumeRoots();
  for (const root of roots) {
    try {
      const volume = await volumeRoots.resolve(root);
      // A killed run's s5cmd may still be writing there: stopped first, or it would leave a partial file behind.
      const orphans = await stopOrphanedTransfers(`${volume.real}/${TEMP_DIR}`);
      if (orphans.length > 0) deps.warn(`stopped ${orphans.length} s5cmd process(es) that a killed run left writing into ${root}/${TEMP_DIR} (pid ${orphans.join(', ')})`);
      await resetTempFolder(volume);
    } catch (error) {
      // Only a link (or a file) in its place is left for apply to refuse volume by volume; anything else stops the run as before.
      if (!isLinkRefusal(error) && (error as { code?: string }).code !== 'E_PATH_NOT_FOLDER') throw error;
      deps.warn(`${describeError(error)}; its interrupted downloads in ${TEMP_DIR}/ were not removed`);
    }
  }
}
