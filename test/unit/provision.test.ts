import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commandLine, parseLsblk, partitionPath, planProvision, shellQuote, type ProvisionOptions } from '../../src/ops/provision.ts';
import { isDualsyncError } from '../../src/errors.ts';

const fixture = (name: string) => {
  const path = new URL(`../../fixtures/lsblk/${name}.json`, import.meta.url);
  return parseLsblk(readFileSync(path, 'utf8'), path.pathname);
};
const options: ProvisionOptions = { base: '/tmp/volume-', fs: 'ext4', force: false, owner: '1000:1000' };
const lines = (plan: ReturnType<typeof planProvision>) => plan.commands.map((c) => commandLine(c.argv));

describe('planProvision on a VM with a root disk and two empty disks', () => {
  const lsblk = fixture('vm-root-and-two-empty-disks');

  it('partitions, formats, mounts at /tmp/volume-01 and -02, and hands them to the operator', () => {
    const plan = planProvision(lsblk, ['/dev/vdb', '/dev/vdc'], options);
    expect(plan.refusals).toEqual([]);
    expect(plan.volumes).toEqual([
      { device: '/dev/vdb', partition: '/dev/vdb1', mountPoint: '/tmp/volume-01', sizeBytes: 107374182400 },
      { device: '/dev/vdc', partition: '/dev/vdc1', mountPoint: '/tmp/volume-02', sizeBytes: 107374182400 },
    ]);
    expect(lines(plan)).toEqual([
      'parted -s /dev/vdb mklabel gpt mkpart primary 0% 100%',
      'udevadm settle',
      'mkfs.ext4 -F /dev/vdb1',
      'mkdir -p /tmp/volume-01',
      'mount /dev/vdb1 /tmp/volume-01',
      'chown 1000:1000 /tmp/volume-01',
      'chmod 0750 /tmp/volume-01',
      'parted -s /dev/vdc mklabel gpt mkpart primary 0% 100%',
      'udevadm settle',
      'mkfs.ext4 -F /dev/vdc1',
      'mkdir -p /tmp/volume-02',
      'mount /dev/vdc1 /tmp/volume-02',
      'chown 1000:1000 /tmp/volume-02',
      'chmod 0750 /tmp/volume-02',
    ]);
    expect(plan.fstab).toEqual([
      'echo "UUID=$(blkid -s UUID -o value /dev/vdb1) /tmp/volume-01 ext4 defaults,nofail 0 2" | sudo tee -a /etc/fstab',
      'echo "UUID=$(blkid -s UUID -o value /dev/vdc1) /tmp/volume-02 ext4 defaults,nofail 0 2" | sudo tee -a /etc/fstab',
    ]);
  });

  it('xfs and another base: mkfs.xfs -f, the new base, fsck pass 0', () => {
    const plan = planProvision(lsblk, ['vdb'], { ...options, fs: 'xfs', base: '/srv/stage-' });
    expect(lines(plan)).toContain('mkfs.xfs -f /dev/vdb1');
    expect(lines(plan)).toContain('mount /dev/vdb1 /srv/stage-01');
    expect(plan.fstab[0]).toContain('/srv/stage-01 xfs defaults,nofail 0 0');
  });

  it.each([
    ['the root disk, even with --force', '/dev/vda', true, /holds the root filesystem/],
    ['a partition instead of its disk', '/dev/vda15', false, /is a partition of \/dev\/vda/],
    ['a device lsblk does not know', '/dev/sdz', false, /is not in lsblk/],
    ['a CD-ROM', '/dev/sr0', true, /is a rom device, not a disk/],
    ['a loop device', '/dev/loop0', true, /is a loop device, not a disk/],
  ])('refuses %s', (_situation, device, force, reason) => {
    const plan = planProvision(lsblk, [device], { ...options, force });
    expect(plan.commands).toEqual([]);
    expect(plan.refusals).toHaveLength(1);
    expect(plan.refusals[0]?.device).toBe(device);
    expect(plan.refusals[0]?.reason).toMatch(reason);
    expect(plan.refusals[0]?.hint).not.toBe('');
  });

  it('a device not in lsblk: the hint names only the disks it would accept (not the system disk)', () => {
    const plan = planProvision(lsblk, ['/dev/sdz'], options);
    expect(plan.refusals[0]?.hint).toBe('disks it would accept: /dev/vdb, /dev/vdc');
  });

  it('a device not in lsblk beside another: the hint leaves out the disk already named', () => {
    const plan = planProvision(lsblk, ['/dev/sdz', '/dev/vdb'], options);
    expect(plan.refusals[0]?.hint).toBe('disks it would accept: /dev/vdc');
  });

  it('a device not in lsblk when no other disk qualifies: it says so', () => {
    const plan = planProvision(lsblk, ['/dev/sdz', '/dev/vdb', '/dev/vdc'], options);
    expect(plan.refusals[0]?.hint).toBe(
      'no other disk lsblk lists qualifies (each is the system disk, in use, or has no medium): attach an empty disk, then run `lsblk` again',
    );
  });

  it('refuses a device named twice and prepares it once', () => {
    const plan = planProvision(lsblk, ['/dev/vdb', 'vdb'], options);
    expect(plan.volumes.map((v) => v.device)).toEqual(['/dev/vdb']);
    expect(plan.refusals).toEqual([{ device: 'vdb', reason: 'is given twice', hint: 'name each device once' }]);
  });

  it('keeps the accepted disks beside a refused one, so the operator sees both', () => {
    const plan = planProvision(lsblk, ['/dev/vda', '/dev/vdb'], options);
    expect(plan.refusals.map((r) => r.device)).toEqual(['/dev/vda']);
    expect(plan.volumes.map((v) => v.mountPoint)).toEqual(['/tmp/volume-01']);
  });
});

describe('planProvision on an NVMe box with root on LVM', () => {
  const lsblk = fixture('nvme-box');

  it('names partitions nvme1n1p1 and nvme2n1p1', () => {
    const plan = planProvision(lsblk, ['/dev/nvme1n1', '/dev/nvme2n1'], options);
    expect(plan.refusals).toEqual([]);
    expect(plan.volumes.map((v) => [v.partition, v.mountPoint])).toEqual([
      ['/dev/nvme1n1p1', '/tmp/volume-01'],
      ['/dev/nvme2n1p1', '/tmp/volume-02'],
    ]);
  });

  it('refuses the disk whose LVM volume holds /, even with --force', () => {
    const plan = planProvision(lsblk, ['/dev/nvme0n1'], { ...options, force: true });
    expect(plan.refusals[0]?.reason).toBe('holds the root filesystem (/)');
  });
});

describe('planProvision with a disk already mounted', () => {
  const lsblk = fixture('disk-already-mounted');

  it('refuses the mounted disk even with --force, and says how to unmount it', () => {
    const plan = planProvision(lsblk, ['/dev/sdb'], { ...options, force: true });
    expect(plan.commands).toEqual([]);
    expect(plan.refusals[0]?.reason).toBe('is in use: /dev/sdb1 at /tmp/volume-01');
    expect(plan.refusals[0]?.hint).toMatch(/umount \/tmp\/volume-01/);
  });

  it('numbers the new disk after the mount point already in use', () => {
    const plan = planProvision(lsblk, ['/dev/sdc'], options);
    expect(plan.volumes.map((v) => v.mountPoint)).toEqual(['/tmp/volume-02']);
  });
});

describe('planProvision with disks that hold a filesystem', () => {
  const lsblk = fixture('disk-with-ext4');

  it.each([
    ['an ext4 partition', '/dev/sdb', /^holds a filesystem \(ext4 on \/dev\/sdb1\)$/],
    ['ext4 on the whole disk', '/dev/sdc', /^holds a filesystem \(ext4 on \/dev\/sdc\)$/],
  ])('refuses %s without --force', (_situation, device, reason) => {
    const plan = planProvision(lsblk, [device], options);
    expect(plan.commands).toEqual([]);
    expect(plan.refusals[0]?.reason).toMatch(reason);
    expect(plan.refusals[0]?.hint).toMatch(/--force/);
  });

  it('with --force, prepares them and says what it erases', () => {
    const plan = planProvision(lsblk, ['/dev/sdb', '/dev/sdc', '/dev/sdd'], { ...options, force: true });
    expect(plan.refusals).toEqual([]);
    expect(plan.volumes.map((v) => v.erases)).toEqual(['a filesystem (ext4 on /dev/sdb1)', 'a filesystem (ext4 on /dev/sdc)', undefined]);
    expect(lines(plan)).toContain('mkfs.ext4 -F /dev/sdc1');
  });

  it('a device not in lsblk when only disks with data are left: names them for --force', () => {
    const plan = planProvision(lsblk, ['/dev/sdz', '/dev/sdd'], options);
    expect(plan.refusals[0]?.hint).toBe('no blank disk qualifies; with --force, which erases them: /dev/sdb, /dev/sdc');
  });
});

describe('planProvision on an old lsblk (strings for sizes, no PATH or MOUNTPOINTS)', () => {
  const lsblk = fixture('old-lsblk-strings');

  it('derives /dev paths and reads sizes from strings', () => {
    const plan = planProvision(lsblk, ['/dev/sdb'], options);
    expect(plan.volumes).toEqual([{ device: '/dev/sdb', partition: '/dev/sdb1', mountPoint: '/tmp/volume-01', sizeBytes: 4000787030016 }]);
  });

  it('still finds root and swap on LVM through the single MOUNTPOINT column', () => {
    const plan = planProvision(lsblk, ['/dev/sda'], { ...options, force: true });
    expect(plan.refusals[0]?.reason).toBe('holds the root filesystem (/)');
  });
});

describe('planProvision options and lsblk input', () => {
  const lsblk = fixture('vm-root-and-two-empty-disks');

  it.each([
    ['a relative base', 'volume-'],
    ['a base with a space', '/tmp/my volume-'],
  ])('refuses %s', (_situation, base) => {
    expect(() => planProvision(lsblk, ['/dev/vdb'], { ...options, base })).toThrow(/--base/);
  });

  it.each([
    ['not JSON', 'lsblk: unknown column', /is not JSON/],
    ['JSON without blockdevices', '{"devices": []}', /no "blockdevices" list/],
    ['a device without a type', '{"blockdevices": [{"name": "sda"}]}', /blockdevices\[0\] has no "name" and "type"/],
  ])('names the file when lsblk output is %s', (_situation, text, message) => {
    try {
      parseLsblk(text, 'saved.json');
      expect.unreachable();
    } catch (error) {
      expect(isDualsyncError(error) && error.kind).toBe('user');
      expect((error as Error).message).toMatch(/^saved\.json/);
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe('partition names and shell quoting', () => {
  it.each([
    ['/dev/sdb', '/dev/sdb1'],
    ['/dev/vdc', '/dev/vdc1'],
    ['/dev/nvme0n1', '/dev/nvme0n1p1'],
    ['/dev/mmcblk0', '/dev/mmcblk0p1'],
    ['/dev/xvdf', '/dev/xvdf1'],
  ])('%s -> %s', (disk, partition) => {
    expect(partitionPath(disk)).toBe(partition);
  });

  it.each([
    ['/tmp/volume-01', '/tmp/volume-01'],
    ['0%', '0%'],
    ['it has spaces', "'it has spaces'"],
    ["it's", "'it'\\''s'"],
    ['$(reboot)', "'$(reboot)'"],
  ])('quotes %s as %s', (word, quoted) => {
    expect(shellQuote(word)).toBe(quoted);
  });
});
