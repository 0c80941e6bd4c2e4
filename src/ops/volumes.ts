/**
 * `dualsync volumes list`: each configured volume with the filesystem it lives on, its space
 * and what is staged on it. A volume that is missing or unreadable is a row with its problem,
 * not an error that hides the other volumes.
 */
import { expandVolumes } from '../config/load.ts';
import { describeError } from '../errors.ts';
import { claimStates, copyRefusal } from '../inventory/claims.ts';
import { scanVolumes } from '../inventory/volumes.ts';
import type { Config } from '../model/config.ts';
import type { VolumeList, VolumeRow } from '../model/volume-list.ts';
import { mountOfDirectory, readMounts, type MountEntry } from './mounts.ts';

/** The directories each staging.volumes entry names today; an entry that names none is returned with an empty list. */
export async function volumeEntries(config: Config): Promise<{ entry: string; roots: string[] }[]> {
  return Promise.all(config.staging.volumes.map(async (entry) => ({ entry, roots: await expandVolumes([entry]) })));
}

async function describeVolume(entry: string, root: string, config: Config, mounts: readonly MountEntry[]): Promise<VolumeRow> {
  try {
    // A copy of a state directory sees nothing of the original's volumes (invariant 14).
    const [claim] = await claimStates([root], config.stateDir);
    if (claim?.owner === 'copy') return { entry, root, problem: (await copyRefusal([claim], config)).message };
    const scan = await scanVolumes([root], config.staging.reserve);
    const volume = scan.volumes[0];
    const mount = await mountOfDirectory(root, mounts);
    return {
      entry,
      root,
      mountPoint: mount?.mountPoint,
      fsType: mount?.fsType,
      device: mount?.source,
      onRootFilesystem: mount?.mountPoint === '/',
      totalBytes: volume?.totalBytes,
      freeBytes: volume?.freeBytes,
      reserveBytes: volume?.reserveBytes,
      stagedFiles: scan.local.length,
      stagedBytes: scan.local.reduce((n, f) => n + f.size, 0),
      leftovers: scan.leftovers.length,
    };
  } catch (error) {
    return { entry, root, problem: describeError(error) };
  }
}

/** Every configured volume, in the order of staging.volumes. */
export async function listVolumes(config: Config): Promise<VolumeList> {
  const [entries, mounts] = await Promise.all([volumeEntries(config), readMounts()]);
  const rows = await Promise.all(
    entries.map(async ({ entry, roots }): Promise<VolumeRow[]> => {
      if (roots.length === 0) {
        return [{ entry, problem: `${entry} matches no directory: mount or create it (\`dualsync volumes provision\`), or fix staging.volumes` }];
      }
      return Promise.all(roots.map((root) => describeVolume(entry, root, config, mounts)));
    }),
  );
  return { volumes: rows.flat() };
}
