/**
 * A full disk under a staging volume: a small tmpfs is mounted for the volume (the tests run as
 * root; where mounting is not permitted, a reserve that leaves almost no room stands in, and the
 * test names say so). Expected: objects that do not fit are deferred, not failed; a disk that
 * fills during a download gives a clear error, its partial files are never counted as staged and
 * are removed, the ledger stays intact, and the transfer resumes once there is room (a purge, a
 * larger filesystem, or the space given back).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { md5, md5OfBucket, putObjects } from '../harness/index.ts';
import { canMountTmpfs, mountTmpfs, unmount } from '../harness/tmpfs.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { TEMP_DIR } from '../../src/model/volume-layout.ts';
import { makeSite, type Site } from './site.ts';

const MiB = 1024 * 1024;

/** Whether this machine lets the tests mount a tmpfs; decides the tests' names, so it runs at load. */
const CAN_MOUNT = canMountTmpfs();

const mounted = new Set<string>();
const report: string[] = [];
const { pair, edge } = useProxiedPair(() => [`full disk (${CAN_MOUNT ? '8 MiB tmpfs volumes' : 'no mount permitted: reserves that leave almost no room'}):`, ...report]);
// Registered after the pair's: after-hooks run in reverse, so the volumes are unmounted first.
afterAll(() => {
  for (const dir of mounted) unmount(dir);
});

interface DiskSite {
  site: Site;
  /** The small filesystem; the volume is a folder on it, so a filler file beside it takes room without being staged. */
  disk: string;
  volume: string;
}

/** A site whose one volume is `disk/volume` on an 8 MiB filesystem of its own. */
async function diskSite(options: { throughProxy?: boolean; purge?: boolean } = {}): Promise<DiskSite> {
  const site = await makeSite(pair, {
    volumes: 1,
    ...(options.throughProxy ? { sourceEndpoint: edge.endpoint } : {}),
    transfer: ['workers: 4', 'verify: etag', `purgeAfterUpload: ${options.purge ?? true}`],
  });
  const disk = join(site.dir, 'disk');
  await mkdir(disk);
  if (CAN_MOUNT) {
    expect(mountTmpfs(disk, '8m'), `mount -t tmpfs on ${disk}`).toBe(true);
    mounted.add(disk);
  }
  const volume = join(disk, 'volume');
  await mkdir(volume);
  let config = (await readFile(site.configPath, 'utf8')).replace(/volumes: \[.*\]/, `volumes: ["${volume}"]`);
  if (!CAN_MOUNT) {
    // Leave 8 MiB above the reserve, as the tmpfs would.
    const space = await statfs(volume);
    config = config.replace(/reserve: .*/, `reserve: ${space.bavail * space.bsize - 8 * MiB}B`);
  }
  await writeFile(site.configPath, config);
  return { site, disk, volume };
}

/** Fills the disk's filesystem until only `leave` bytes are free, with a file beside the volume. */
async function fill(disk: string, leave: number): Promise<void> {
  const space = await statfs(disk);
  const free = space.bavail * space.bsize;
  await writeFile(join(disk, 'filler'), Buffer.alloc(Math.max(0, free - leave)));
}

async function filesIn(dir: string): Promise<string[]> {
  // A volume's claim (.dualsync-volume in its root) is not a staged file.
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => !e.isDirectory() && !(e.parentPath === dir && e.name === '.dualsync-volume'))
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

function objects(count: number, size: number): { key: string; body: Buffer }[] {
  return Array.from({ length: count }, (_, i) => ({ key: `full/part-${i}.bin`, body: randomBytes(size) }));
}

interface PlanJson {
  summary: { noChanges: boolean; download: { count: number; bytes: number }; deferred: { count: number; bytes: number } };
  messages: string[];
  notes: { code: string; count: number; bytes?: number; examples: string[] }[];
}

async function applyUntilNoChanges(site: Site, limit: number): Promise<number> {
  for (let applies = 0; applies <= limit; applies++) {
    const plan = JSON.parse((await site.cli('plan', '--json')).stdout) as PlanJson;
    if (plan.summary.noChanges) return applies;
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  }
  throw new Error(`still changes after ${limit} applies`);
}

async function expectInSync(site: Site, seeded: { key: string; body: Buffer }[]): Promise<void> {
  expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
}

const volumeKind = CAN_MOUNT ? 'an 8 MiB tmpfs volume' : 'a volume whose reserve leaves 8 MiB (no mount permitted here, so only deferral is tried)';

describe(`full disk: ${volumeKind}`, () => {
  it('18 MiB for 8 MiB of room: what does not fit is deferred, never failed, and follows as purges free the room', async () => {
    const { site, volume } = await diskSite();
    const seeded = objects(6, 3 * MiB);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    const first = JSON.parse((await site.cli('plan', '--json')).stdout) as PlanJson;
    expect(first.summary.download.bytes).toBeLessThanOrEqual(8 * MiB);
    expect(first.summary.deferred.count).toBeGreaterThan(0);
    expect(first.notes.map((note) => note.code)).toContain('deferred-download-no-room');
    // The same deferral as data, for a script: a code, the counts, a few keys.
    const noRoom = first.notes.find((note) => note.code === 'deferred-download-no-room');
    expect(noRoom).toMatchObject({ count: first.summary.deferred.count, bytes: first.summary.deferred.bytes });
    expect(noRoom?.examples.length).toBe(Math.min(3, first.summary.deferred.count));
    const applies = await applyUntilNoChanges(site, 6);
    expect(applies).toBeGreaterThanOrEqual(3);
    await expectInSync(site, seeded);
    expect(await filesIn(volume)).toEqual([]);
    report.push(`  18 MiB through 8 MiB of room: ${applies} applies, each within the room, no failure`);
  });

  // Filling the disk needs a filesystem of our own: on the machine's disk the filler would take
  // all its space. Where mounting is not permitted these two show as skipped, never as passed.
  it.skipIf(!CAN_MOUNT)('the disk fills during the downloads: a clear error per object, partial files never staged and removed, the ledger intact; resumes once the filesystem grows', async () => {
    const { site, disk, volume } = await diskSite({ throughProxy: true });
    const seeded = objects(2, 3 * MiB);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    // Slow downloads (1 MB/s) so that the disk can fill while they run.
    await edge.addToxic({ name: 'slow', type: 'bandwidth', stream: 'downstream', attributes: { rate: 1000 } });
    let result;
    try {
      const child = site.spawn('apply', '--auto-approve');
      const tempFolder = join(volume, TEMP_DIR);
      for (let i = 0; ; i++) {
        expect(i, 'the downloads did not start').toBeLessThan(3000);
        if ((await filesIn(tempFolder).catch(() => [])).length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await fill(disk, 512 * 1024);
      result = await child;
    } finally {
      await edge.reset();
    }
    const output = `${String(result.stdout)}\n${String(result.stderr)}`;
    expect(result.exitCode, output).toBe(1);
    expect(output).not.toMatch(/\n\s+at |Internal error|assertion failed/);
    expect(String(result.stdout)).toMatch(/no space left on device/i);
    expect(String(result.stdout)).toMatch(/Apply finished with 2 failure\(s\)/);
    for (const object of seeded) expect(String(result.stdout)).toContain(object.key);

    // Nothing counted as staged, no partial file left, the ledger loads and says why.
    const ledger = await LedgerStore.open(site.stateDir);
    for (const object of seeded) {
      const record = ledger.get(object.key);
      expect(record?.stage, object.key).toBeUndefined();
      expect(record?.lastFailure, object.key).toMatchObject({ hop: 'download', cause: expect.stringMatching(/no space left on device/i) });
    }
    await ledger.close();
    expect(await filesIn(volume)).toEqual([]);
    const status = JSON.parse((await site.cli('status', '--json')).stdout) as { volumes: { stagedFiles: number }[]; failing: unknown[] };
    expect(status.volumes[0]?.stagedFiles).toBe(0);
    expect(status.failing.length).toBe(2);

    // Room comes back: the filesystem grows (the filler stays).
    expect(spawnSync('mount', ['-o', 'remount,size=64m', disk]).status).toBe(0);
    const applies = await applyUntilNoChanges(site, 3);
    await expectInSync(site, seeded);
    expect(await filesIn(volume)).toEqual([]);
    report.push(`  disk filled mid-download: exit 1, 2 objects failed with "no space left on device", nothing staged; ${applies} apply(s) after the filesystem grew`);
  });

  it.skipIf(!CAN_MOUNT)('a saved plan that no longer fits its volume is refused before anything moves, and applies once the room is back', async () => {
    const { site, disk, volume } = await diskSite();
    const seeded = objects(2, 3 * MiB);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    const planPath = join(site.dir, 'plan.json');
    expect((await site.cli('plan', '--out', planPath)).exitCode).toBe(0);
    await fill(disk, 1 * MiB);
    const serialBefore = (await LedgerStore.open(site.stateDir).then(async (l) => [l.serial, await l.close()]))[0];
    const refused = await site.cli('apply', planPath);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stderr).toContain(volume);
    expect(refused.stderr).toMatch(/no longer fits/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map());
    expect(await filesIn(volume)).toEqual([]);
    expect((await LedgerStore.open(site.stateDir).then(async (l) => [l.serial, await l.close()]))[0]).toBe(serialBefore);

    await rm(join(disk, 'filler'));
    const applied = await site.cli('apply', planPath);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    await expectInSync(site, seeded);
    report.push('  a saved plan that no longer fit: refused naming the volume, nothing moved; applied once the room was back');
  });
});
