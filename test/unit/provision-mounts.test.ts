import { describe, expect, it } from 'vitest';
import { mountOf, parseMountinfo } from '../../src/ops/mounts.ts';

const MOUNTINFO = [
  '22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard,errors=remount-ro',
  '25 22 0:23 / /tmp rw,nosuid,nodev shared:12 - tmpfs tmpfs rw,size=8155212k',
  '95 25 252:17 / /tmp/volume-01 rw,relatime shared:50 - ext4 /dev/vdb1 rw',
  '96 25 252:33 / /tmp/volume-02 rw,relatime shared:51 master:3 - xfs /dev/vdc1 rw,attr2,inode64',
  '97 22 8:17 / /mnt/with\\040space rw,relatime - ext4 /dev/sdb1 rw',
  '98 25 252:49 / /tmp/volume-03 rw,relatime - ext4 /dev/vdd1 rw',
  '99 25 0:60 / /tmp/volume-03 rw,relatime - tmpfs tmpfs rw',
  'not a mountinfo line',
  '',
].join('\n');

describe('parseMountinfo and mountOf', () => {
  const mounts = parseMountinfo(MOUNTINFO);

  it('reads mount point, type and source, unescaping \\040 and skipping broken lines', () => {
    expect(mounts).toHaveLength(7);
    expect(mounts[3]).toEqual({ mountPoint: '/tmp/volume-02', fsType: 'xfs', source: '/dev/vdc1' });
    expect(mounts[4]?.mountPoint).toBe('/mnt/with space');
  });

  it.each([
    ['a volume that is its own mount point', '/tmp/volume-01', '/tmp/volume-01', 'ext4'],
    ['a folder inside a mounted volume', '/tmp/volume-02/site-7', '/tmp/volume-02', 'xfs'],
    ['a folder whose name only starts like a mount point', '/tmp/volume-011', '/tmp', 'tmpfs'],
    ['a folder on the root filesystem', '/srv/stage', '/', 'ext4'],
    ['a path with a space', '/mnt/with space/x', '/mnt/with space', 'ext4'],
    ['a mount point mounted over twice: the last one shows', '/tmp/volume-03', '/tmp/volume-03', 'tmpfs'],
  ])('%s', (_situation, path, mountPoint, fsType) => {
    const mount = mountOf(path, mounts);
    expect(mount?.mountPoint).toBe(mountPoint);
    expect(mount?.fsType).toBe(fsType);
  });
});
