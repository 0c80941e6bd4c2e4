/**
 * Which filesystem a directory lives on. A staging volume that is not its own mount point is
 * worth a warning: after a reboot without an /etc/fstab entry, /tmp/volume-01 is an empty
 * folder on the root disk, and staging would fill the system disk instead of the data disk.
 */
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import { promisify } from 'node:util';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  /** The device or source of the mount (/dev/vdb1, tmpfs, server:/export). */
  source: string;
}

/** `\040` (space), `\011` (tab), `\012` (newline), `\134` (backslash): how mountinfo escapes paths. */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Parses /proc/self/mountinfo: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS`.
 * Lines that do not have this shape are left out rather than guessed at.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    const source = fields[separator + 2];
    if (separator < 0 || mountPoint === undefined || fsType === undefined || source === undefined) continue;
    mounts.push({ mountPoint: unescapeOctal(mountPoint), fsType, source: unescapeOctal(source) });
  }
  return mounts;
}

function contains(mountPoint: string, path: string): boolean {
  return mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
}

/** The mount that holds `path` (absolute, symbolic links resolved): the deepest one, the last mounted if stacked. */
export function mountOf(path: string, mounts: readonly MountEntry[]): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const mount of mounts) {
    if (!contains(mount.mountPoint, path)) continue;
    if (best === undefined || mount.mountPoint.length >= best.mountPoint.length) best = mount;
  }
  return best;
}

/** The machine's mounts: /proc/self/mountinfo, else `findmnt --json --list`; empty when neither answers. */
export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => undefined);
  if (text !== undefined) return parseMountinfo(text);
  try {
    const { stdout } = await promisify(execFile)('findmnt', ['--json', '--list', '-o', 'TARGET,FSTYPE,SOURCE'], { timeout: 10_000 });
    const parsed = JSON.parse(stdout) as { filesystems?: { target?: string; fstype?: string; source?: string }[] };
    return (parsed.filesystems ?? []).map((f) => ({ mountPoint: f.target ?? '', fsType: f.fstype ?? '', source: f.source ?? '' }));
  } catch {
    return [];
  }
}

/** The mount holding `directory`, following symbolic links first; undefined when unknown. */
export async function mountOfDirectory(directory: string, mounts: readonly MountEntry[]): Promise<MountEntry | undefined> {
  const real = await realpath(directory).catch(() => directory);
  return mountOf(real, mounts);
}
