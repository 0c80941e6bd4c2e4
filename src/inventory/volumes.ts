/**
 * What the staging volumes hold: size and free space of each, every regular file under it (its
 * key is the path under the root), and the leftovers of interrupted downloads in dualsync's
 * temporary folder.
 *
 * The tree is walked with opendir rather than a glob: fast-glob's `**` silently drops names that
 * hold U+2028/U+2029 (its patterns compile to regular expressions whose `.` stops at line
 * terminators), and a staged file the scan cannot see is a file that is never uploaded. Names
 * come from readdir, so `* ? [ ] { } ( ) !`, backslashes, leading dashes and unicode twins come
 * back byte-exact (test/unit/volumes.test.ts proves it).
 *
 * Each root is resolved once (`realpath`: a root may be a link to a mount) and walked from its real
 * path. Below it, symbolic links are never followed (invariant 4): each one is reported, so that
 * the plan can say so and place no download through it, and, like FIFOs and sockets, never counts
 * as a staged file.
 */
import { lstat, opendir, realpath, stat, statfs } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { describeError, opError, userError } from '../errors.ts';
import type { Reserve } from '../model/config.ts';
import type { LocalFile, LocalLink, VolumeInfo } from '../model/objects.ts';
import { CLAIM_FILE, TEMP_DIR } from '../model/volume-layout.ts';

export interface VolumeScan {
  volumes: VolumeInfo[];
  /** Regular files outside the temporary folder; symbolic links and special files are not staged copies. */
  local: LocalFile[];
  /** Absolute paths of every file under `<root>/.dualsync-tmp/`: interrupted downloads, never staged. */
  leftovers: string[];
  /** Symbolic links met below the roots (in the temporary folder too): never followed. */
  links: LocalLink[];
}

/** Bytes a volume must keep free: a percentage of its size (rounded up), or a fixed count. */
export function reserveBytes(reserve: Reserve, totalBytes: number): number {
  return reserve.kind === 'bytes' ? reserve.bytes : Math.ceil((totalBytes * reserve.percent) / 100);
}

/** Checks that the root is a directory; returns its filesystem's id (`st_dev`). */
async function checkRoot(root: string): Promise<string> {
  let info;
  try {
    info = await stat(root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw userError('E_VOLUME_MISSING', `staging volume ${root} does not exist`, {
        hint: 'Mount or create it (`dualsync volumes provision`), or remove it from staging.volumes.',
      });
    }
    throw opError('E_VOLUME_SCAN', `cannot read staging volume ${root}: ${describeError(error)}`, { cause: error });
  }
  if (!info.isDirectory()) {
    throw userError('E_VOLUME_NOT_DIR', `staging volume ${root} is not a directory`, { hint: 'List directories (or globs matching directories) in staging.volumes.' });
  }
  return String(info.dev);
}

/** Two roots where one contains the other (or the same root twice) would see the same files twice. */
function checkNesting(roots: string[]): void {
  roots.forEach((outer, i) => {
    roots.forEach((inner, j) => {
      if (i === j) return;
      const path = relative(outer, inner);
      if (path === '' && i < j) {
        throw userError('E_VOLUME_NESTED', `staging volume ${outer} is listed twice`, { hint: 'Remove the duplicate from staging.volumes.' });
      }
      if (path !== '' && path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path)) {
        throw userError('E_VOLUME_NESTED', `staging volume ${inner} lies inside staging volume ${outer}`, {
          hint: 'Each volume must be its own directory tree; remove one of them from staging.volumes.',
        });
      }
    });
  });
}

/**
 * Every regular file and symbolic link under `root/folder`, as a '/'-separated key relative to
 * the root. readdir's types come from the entry itself (never its target), so a link to a folder
 * is reported, not descended into.
 *
 * An entry that is gone by the time it is opened or measured is absent, not a failed scan:
 * `status` scans while `apply` renames finished downloads and purges delivered files (and
 * removes their emptied folders). Any other error still fails the scan.
 */
async function* walkFiles(root: string, folder: string): AsyncGenerator<{ key: string; size: number; link: boolean }> {
  const directory = await ifPresent(opendir(folder === '' ? root : join(root, folder)));
  if (directory === undefined) return;
  for await (const entry of directory) {
    const key = folder === '' ? entry.name : `${folder}/${entry.name}`;
    if (entry.isDirectory()) yield* walkFiles(root, key);
    else if (entry.isSymbolicLink()) yield { key, size: 0, link: true };
    else if (entry.isFile()) {
      const info = await ifPresent(lstat(join(root, key)));
      if (info?.isFile() === true) yield { key, size: info.size, link: false };
    }
  }
}

/** The value, or undefined when the path it was asked of no longer exists. */
async function ifPresent<T>(pending: Promise<T>): Promise<T | undefined> {
  try {
    return await pending;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function scanOne(root: string, reserve: Reserve, signal: AbortSignal | undefined): Promise<VolumeScan> {
  const device = await checkRoot(root);
  let space;
  try {
    space = await statfs(root);
  } catch (error) {
    throw opError('E_VOLUME_SCAN', `cannot read the free space of staging volume ${root}: ${describeError(error)}`, { cause: error });
  }
  const totalBytes = space.blocks * space.bsize;
  const volume: VolumeInfo = { root, totalBytes, freeBytes: space.bavail * space.bsize, reserveBytes: reserveBytes(reserve, totalBytes), device };
  const local: LocalFile[] = [];
  const leftovers: string[] = [];
  const links: LocalLink[] = [];
  const tempPrefix = `${TEMP_DIR}/`;
  try {
    const real = await realpath(root);
    for await (const file of walkFiles(real, '')) {
      signal?.throwIfAborted();
      if (file.link) links.push({ volume: root, path: file.key });
      else if (file.key === CLAIM_FILE) continue; // the volume's claim, not a staged object
      else if (file.key.startsWith(tempPrefix)) leftovers.push(join(root, file.key));
      else local.push({ volume: root, key: file.key, size: file.size });
    }
  } catch (error) {
    if (signal?.aborted === true) throw opError('E_ABORTED', `scan of staging volume ${root} was stopped`, { retryable: true, cause: error });
    throw opError('E_VOLUME_SCAN', `cannot scan staging volume ${root}: ${describeError(error)}`, {
      hint: 'Check that every folder under the volume is readable by this user.',
      cause: error,
    });
  }
  return { volumes: [volume], local, leftovers, links };
}

/**
 * Scans every volume root (in parallel: they are usually separate disks) and reports its space,
 * its files and its leftovers. A missing root is a user error naming it; a file that cannot be
 * read makes the scan fail rather than look absent.
 */
export async function scanVolumes(roots: string[], reserve: Reserve, options: { signal?: AbortSignal } = {}): Promise<VolumeScan> {
  const absolute = roots.map((root) => resolve(root));
  checkNesting(absolute);
  const scans = await Promise.all(absolute.map((root) => scanOne(root, reserve, options.signal)));
  return {
    volumes: scans.flatMap((scan) => scan.volumes),
    local: scans.flatMap((scan) => scan.local),
    leftovers: scans.flatMap((scan) => scan.leftovers),
    links: scans.flatMap((scan) => scan.links),
  };
}
