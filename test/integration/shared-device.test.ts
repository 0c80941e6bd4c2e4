/**
 * Volumes on one filesystem count its free space once (DESIGN.md; issue "one filesystem counted
 * once"). Two volumes are folders of one small tmpfs (the tests run as root; where mounting is
 * not permitted, two folders of the ordinary filesystem with a reserve that leaves 8 MiB stand
 * in, and the test names say so). And a re-download that lands on another volume removes the
 * partial copy it replaced there.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, statfs, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { md5, md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { canMountTmpfs, mountTmpfs, unmount } from '../harness/tmpfs.ts';
import { makeSite, type Site } from './site.ts';

const MiB = 1024 * 1024;

/** Whether this machine lets the tests mount a tmpfs; decides the tests' names, so it runs at load. */
const CAN_MOUNT = canMountTmpfs();

const pair = useMinioPair();
const mounted = new Set<string>();
afterAll(() => {
  for (const dir of mounted) unmount(dir);
});

/** Points the site's config at these volume roots (and, optionally, another reserve). */
async function useVolumes(site: Site, roots: string[], reserve?: string): Promise<void> {
  let config = (await readFile(site.configPath, 'utf8')).replace(/volumes: \[.*\]/, `volumes: [${roots.map((root) => JSON.stringify(root)).join(', ')}]`);
  if (reserve !== undefined) config = config.replace(/reserve: .*/, `reserve: ${reserve}`);
  await writeFile(site.configPath, config);
}

async function mountDisk(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  expect(mountTmpfs(dir, size), `mount -t tmpfs on ${dir}`).toBe(true);
  mounted.add(dir);
}

interface PlanJson {
  summary: { noChanges: boolean; download: { count: number; bytes: number }; deferred: { count: number } };
  volumes: { root: string; plannedDownloadBytes: number; device?: string }[];
  actions: { kind: string; key: string; volume?: string; replaces?: string }[];
}

const sharedKind = CAN_MOUNT ? 'two folders of one 8 MiB tmpfs' : 'two folders of one filesystem whose reserve leaves 8 MiB (no mount permitted here)';

describe('volumes on one filesystem', () => {
  it(`${sharedKind}: its room is booked once, the plan shows the sharing, and apply never fills the disk`, async () => {
    const site = await makeSite(pair, { volumes: 0, transfer: ['workers: 4', 'purgeAfterUpload: true'] });
    const disk = join(site.dir, 'disk');
    if (CAN_MOUNT) await mountDisk(disk, '8m');
    const roots = [join(disk, 'v1'), join(disk, 'v2')];
    for (const root of roots) await mkdir(root, { recursive: true });
    if (CAN_MOUNT) await useVolumes(site, roots);
    else {
      const space = await statfs(disk);
      await useVolumes(site, roots, `${space.bavail * space.bsize - 8 * MiB}B`);
    }
    const seeded = Array.from({ length: 4 }, (_, i) => ({ key: `shared/part-${i}.bin`, body: randomBytes(3 * MiB) }));
    await putObjects(pair.edge, site.sourceBucket, seeded);

    // 8 MiB of room for 12 MiB: two objects now, two later; counted per volume, all four would go.
    const plan = JSON.parse((await site.cli('plan', '--json')).stdout) as PlanJson;
    expect(plan.summary.download).toEqual({ count: 2, bytes: 6 * MiB });
    expect(plan.summary.deferred.count).toBe(2);
    expect(plan.volumes.map((v) => v.root)).toEqual(roots);
    expect(plan.volumes[0]!.device).toBeDefined();
    expect(plan.volumes[1]!.device).toBe(plan.volumes[0]!.device);
    const human = await site.cli('plan');
    expect(human.stdout).toContain('shared (filesystem 1)');
    expect(human.stdout).toContain(`filesystem 1: ${roots.join(', ')} are on one filesystem and share its`);

    const first = await site.cli('apply', '--auto-approve');
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Apply complete! 2 downloaded/);
    const second = await site.cli('apply', '--auto-approve');
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(/Apply complete! 2 downloaded/);
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
  });
});

describe('a re-download placed on another volume', () => {
  // Two filesystems are needed: a small tmpfs that has no room for the new copy, beside the ordinary one.
  it(`removes the partial copy it replaced on the old volume once the new copy is verified${CAN_MOUNT ? '' : ' (needs a tmpfs mount)'}`, async () => {
    expect(CAN_MOUNT, 'this test mounts a 1 MiB tmpfs as the old volume: run it as root').toBe(true);
    const site = await makeSite(pair, { volumes: 0, transfer: ['workers: 4', 'purgeAfterUpload: false'] });
    const small = join(site.dir, 'a-small');
    const large = join(site.dir, 'b-large');
    await mountDisk(small, '1m');
    await mkdir(large);
    await useVolumes(site, [small, large]);
    const body = randomBytes(2 * MiB);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'logs/k.bin', body }]);
    // A partial copy on the small volume, as an interrupted copy by hand or an older tool leaves it.
    await mkdir(join(small, 'logs'));
    await writeFile(join(small, 'logs/k.bin'), body.subarray(0, 100_000));

    const plan = JSON.parse((await site.cli('plan', '--json')).stdout) as PlanJson;
    expect(plan.actions.filter((a) => a.kind === 'redownload')).toEqual([
      expect.objectContaining({ key: 'logs/k.bin', volume: large, replaces: small }),
    ]);

    const applied = await site.cli('apply', '--auto-approve', '--json');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    const outcome = JSON.parse(applied.stdout) as { downloaded: { count: number }; replaced?: { count: number; bytes: number } };
    expect(outcome.downloaded.count).toBe(1);
    expect(outcome.replaced).toEqual({ count: 1, bytes: 100_000 });
    await expect(readFile(join(small, 'logs/k.bin'))).rejects.toThrow(/ENOENT/);
    expect(md5(await readFile(join(large, 'logs/k.bin')))).toBe(md5(body));

    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout).toBe(0);
  });
});
