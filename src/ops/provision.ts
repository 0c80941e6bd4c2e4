/**
 * Planning the preparation of staging disks: partition, format, mount at numbered mount points
 * (/tmp/volume-01, -02, ... as the transfer_v5 scripts did), and hand them to the operator's user.
 * Pure: it reads an `lsblk --json` answer and returns the commands and the refusals; running the
 * commands is provision-run.ts's job. Formatting erases a disk, so every doubt is a refusal that
 * says why: a disk that holds the root filesystem or anything mounted is never touched, one that
 * holds partitions or a filesystem only with --force.
 */
import { userError } from '../errors.ts';
import type { ProvisionedVolume, ProvisionPlan, Refusal } from '../model/provision.ts';
import { commandLine, shellQuote } from '../model/shell.ts';

export type { ProvisionCommand, ProvisionedVolume, ProvisionPlan, Refusal } from '../model/provision.ts';
export { commandLine, shellQuote };

/** One device of `lsblk --json -b -o NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINT,MOUNTPOINTS`. */
export interface LsblkDevice {
  name: string;
  /** Missing before util-linux 2.33; then it is /dev/NAME. */
  path?: string;
  type: string;
  /** Bytes; util-linux before 2.33 writes every JSON value as a string. */
  size: number | string | null;
  fstype?: string | null;
  mountpoint?: string | null;
  /** util-linux 2.37+: every mount point (a filesystem may be mounted at several). */
  mountpoints?: (string | null)[];
  children?: LsblkDevice[];
}

export interface Lsblk {
  blockdevices: LsblkDevice[];
}

export type Filesystem = 'ext4' | 'xfs';

export interface ProvisionOptions {
  /** Mount points are this plus a two-digit number: `/tmp/volume-` -> /tmp/volume-01. */
  base: string;
  fs: Filesystem;
  /** Erase disks that hold partitions or a filesystem. Never applies to mounted disks. */
  force: boolean;
  /** `chown` argument for the mount points: the operator who will run dualsync. */
  owner: string;
}

const DEFAULT_PERMISSIONS = '0750';

/**
 * Reads lsblk's JSON (from the command or a saved file) and checks its shape, so that a wrong
 * file is named rather than half understood.
 */
export function parseLsblk(text: string, source: string): Lsblk {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw userError('E_LSBLK', `${source} is not JSON: ${(error as Error).message}`, {
      hint: 'give the output of `lsblk --json -b -o NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINT,MOUNTPOINTS`',
    });
  }
  const devices = (value as { blockdevices?: unknown } | null)?.blockdevices;
  if (!Array.isArray(devices)) {
    throw userError('E_LSBLK', `${source} has no "blockdevices" list`, { hint: 'give the output of `lsblk --json -b -o NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINT,MOUNTPOINTS`' });
  }
  const check = (device: unknown, where: string): void => {
    const d = device as Partial<LsblkDevice> | null;
    if (typeof d !== 'object' || d === null || typeof d.name !== 'string' || typeof d.type !== 'string') {
      throw userError('E_LSBLK', `${source}: ${where} has no "name" and "type"`, { hint: 'run lsblk with -o NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINT,MOUNTPOINTS' });
    }
    (d.children ?? []).forEach((child, i) => check(child, `${where}.children[${i}]`));
  };
  devices.forEach((device, i) => check(device, `blockdevices[${i}]`));
  return value as Lsblk;
}

/** The device path lsblk reports, or /dev/NAME for an lsblk too old to report paths. */
export function devicePath(device: LsblkDevice): string {
  return device.path ?? `/dev/${device.name}`;
}

function sizeOf(device: LsblkDevice): number {
  const size = Number(device.size ?? 0);
  return Number.isFinite(size) ? size : 0;
}

function mountPointsOf(device: LsblkDevice): string[] {
  const points = [...(device.mountpoints ?? []), device.mountpoint ?? null];
  return [...new Set(points.filter((p): p is string => typeof p === 'string' && p !== ''))];
}

/** The device and everything below it (partitions, LVM volumes, crypt mappings). */
function subtree(device: LsblkDevice): LsblkDevice[] {
  return [device, ...(device.children ?? []).flatMap(subtree)];
}

/**
 * The first partition of a disk: a digit after the name needs a `p` (nvme0n1 -> nvme0n1p1,
 * mmcblk0 -> mmcblk0p1), otherwise the number follows directly (sdb -> sdb1).
 */
export function partitionPath(diskPath: string, number = 1): string {
  return /\d$/.test(diskPath) ? `${diskPath}p${number}` : `${diskPath}${number}`;
}

interface Found {
  device: LsblkDevice;
  parent?: LsblkDevice;
}

function findDevice(lsblk: Lsblk, wanted: string): Found | undefined {
  const name = wanted.startsWith('/dev/') ? undefined : wanted;
  const visit = (device: LsblkDevice, parent: LsblkDevice | undefined): Found | undefined => {
    if (devicePath(device) === wanted || device.name === name) return { device, parent };
    for (const child of device.children ?? []) {
      const found = visit(child, device);
      if (found) return found;
    }
    return undefined;
  };
  for (const device of lsblk.blockdevices) {
    const found = visit(device, undefined);
    if (found) return found;
  }
  return undefined;
}

/** Why a disk cannot be prepared at all, or what --force would erase; undefined when it is blank. */
function judge(found: Found, wanted: string, force: boolean): { refusal?: Omit<Refusal, 'device'>; erases?: string } {
  const { device, parent } = found;
  if (device.type === 'part') {
    const disk = parent ? devicePath(parent) : 'its disk';
    return { refusal: { reason: `is a partition of ${disk}, not a whole disk`, hint: `give the disk itself (--device ${disk}); provisioning repartitions the whole disk` } };
  }
  if (device.type !== 'disk') {
    return { refusal: { reason: `is a ${device.type} device, not a disk`, hint: 'give a whole disk (TYPE "disk" in `lsblk`)' } };
  }
  const all = subtree(device);
  const mounted = all.flatMap((d) => mountPointsOf(d).map((point) => ({ device: devicePath(d), point })));
  if (mounted.some((m) => m.point === '/')) {
    return { refusal: { reason: 'holds the root filesystem (/)', hint: 'this is the system disk; give an empty data disk instead' } };
  }
  if (mounted.length > 0) {
    const list = mounted.map((m) => (m.point === '[SWAP]' ? `${m.device} as swap` : `${m.device} at ${m.point}`)).join(', ');
    const undo = mounted.map((m) => (m.point === '[SWAP]' ? `swapoff ${m.device}` : `umount ${shellQuote(m.point)}`)).join('; ');
    return {
      refusal: {
        reason: `is in use: ${list}`,
        hint: `a mounted disk is never formatted, even with --force; if its data is no longer needed, run \`${undo}\` first (and remove it from /etc/fstab)`,
      },
    };
  }
  if (sizeOf(device) <= 0) return { refusal: { reason: 'has no medium (size 0)', hint: 'check the disk is attached, or give another device' } };
  const filesystems = all.filter((d) => d.fstype).map((d) => `${d.fstype} on ${devicePath(d)}`);
  const partitions = (device.children ?? []).map(devicePath);
  const holds = filesystems.length > 0 ? `a filesystem (${filesystems.join(', ')})` : partitions.length > 0 ? `partitions (${partitions.join(', ')})` : undefined;
  if (holds === undefined) return {};
  if (force) return { erases: holds };
  return {
    refusal: {
      reason: `holds ${holds}`,
      hint: `provisioning erases it; if nothing on ${wanted} is needed any more, add --force`,
    },
  };
}

/**
 * The hint for a device lsblk does not list: the disks this command would accept (whole, not
 * the system disk, nothing mounted, blank unless --force) and that were not named already, or
 * that none qualifies. Listing every disk sent the operator to disks that are then refused.
 */
function acceptableDisksHint(lsblk: Lsblk, named: string[], force: boolean): string {
  const namedPaths = new Set(named.map((wanted) => findDevice(lsblk, wanted)).filter((f) => f !== undefined).map((f) => devicePath(f.device)));
  const acceptable = lsblk.blockdevices
    .filter((d) => d.type === 'disk' && !namedPaths.has(devicePath(d)) && judge({ device: d }, devicePath(d), force).refusal === undefined)
    .map(devicePath);
  if (acceptable.length > 0) return `disks it would accept: ${acceptable.join(', ')}`;
  const withForce = force ? [] : lsblk.blockdevices.filter((d) => d.type === 'disk' && !namedPaths.has(devicePath(d)) && judge({ device: d }, devicePath(d), true).refusal === undefined);
  if (withForce.length > 0) return `no blank disk qualifies; with --force, which erases them: ${withForce.map(devicePath).join(', ')}`;
  return 'no other disk lsblk lists qualifies (each is the system disk, in use, or has no medium): attach an empty disk, then run `lsblk` again';
}

/** Numbers already taken by mount points `<base>NN` that exist in lsblk's answer. */
function takenNumbers(lsblk: Lsblk, base: string): Set<number> {
  const taken = new Set<number>();
  for (const device of lsblk.blockdevices.flatMap(subtree)) {
    for (const point of mountPointsOf(device)) {
      if (!point.startsWith(base)) continue;
      const rest = point.slice(base.length);
      if (/^\d+$/.test(rest)) taken.add(Number(rest));
    }
  }
  return taken;
}

/** Mount point `<base>NN`, two digits as the seed's /tmp/volume-01. */
export function mountPointFor(base: string, number: number): string {
  return `${base}${String(number).padStart(2, '0')}`;
}

function mkfs(fs: Filesystem, partition: string): string[] {
  // -F / -f: the new partition may still carry an old signature at the same offset.
  return fs === 'ext4' ? ['mkfs.ext4', '-F', partition] : ['mkfs.xfs', '-f', partition];
}

function fstabSuggestion(volume: ProvisionedVolume, fs: Filesystem): string {
  // nofail: a missing disk must not stop the machine from booting at a remote site.
  const pass = fs === 'xfs' ? 0 : 2;
  const line = `UUID=$(blkid -s UUID -o value ${volume.partition}) ${volume.mountPoint} ${fs} defaults,nofail 0 ${pass}`;
  return `echo "${line}" | sudo tee -a /etc/fstab`;
}

/**
 * The commands that prepare `devices` as staging volumes, or the refusals that say why not.
 * Devices are numbered in the order given, skipping numbers whose mount point is already in use.
 */
export function planProvision(lsblk: Lsblk, devices: string[], options: ProvisionOptions): ProvisionPlan {
  if (!options.base.startsWith('/')) {
    throw userError('E_PROVISION_BASE', `--base ${options.base} is not an absolute path`, { hint: 'write it like /tmp/volume- or /srv/dualsync/volume-' });
  }
  if (/\s/.test(options.base)) {
    throw userError('E_PROVISION_BASE', `--base ${JSON.stringify(options.base)} contains white space`, { hint: '/etc/fstab cannot hold it as written; choose a path without spaces' });
  }
  const plan: ProvisionPlan = { volumes: [], commands: [], fstab: [], refusals: [] };
  const seen = new Set<string>();
  const taken = takenNumbers(lsblk, options.base);
  let next = 1;
  for (const wanted of devices) {
    const found = findDevice(lsblk, wanted);
    if (!found) {
      plan.refusals.push({ device: wanted, reason: 'is not in lsblk', hint: acceptableDisksHint(lsblk, devices, options.force) });
      continue;
    }
    const path = devicePath(found.device);
    if (seen.has(path)) {
      plan.refusals.push({ device: wanted, reason: 'is given twice', hint: 'name each device once' });
      continue;
    }
    seen.add(path);
    const verdict = judge(found, wanted, options.force);
    if (verdict.refusal) {
      plan.refusals.push({ device: wanted, ...verdict.refusal });
      continue;
    }
    while (taken.has(next)) next++;
    const volume: ProvisionedVolume = { device: path, partition: partitionPath(path), mountPoint: mountPointFor(options.base, next), sizeBytes: sizeOf(found.device) };
    if (verdict.erases) volume.erases = verdict.erases;
    next++;
    plan.volumes.push(volume);
    const command = (argv: string[]) => plan.commands.push({ device: path, argv });
    command(['parted', '-s', path, 'mklabel', 'gpt', 'mkpart', 'primary', '0%', '100%']);
    // The partition's device node appears through udev a moment after parted returns.
    command(['udevadm', 'settle']);
    command(mkfs(options.fs, volume.partition));
    command(['mkdir', '-p', volume.mountPoint]);
    command(['mount', volume.partition, volume.mountPoint]);
    command(['chown', options.owner, volume.mountPoint]);
    command(['chmod', DEFAULT_PERMISSIONS, volume.mountPoint]);
    plan.fstab.push(fstabSuggestion(volume, options.fs));
  }
  return plan;
}
