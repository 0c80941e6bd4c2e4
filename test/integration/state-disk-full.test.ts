/**
 * A full state directory: the state directory is a small tmpfs of its own (the tests run as
 * root; where mounting is not permitted these tests show as skipped, never as passed). Expected:
 * one clear error naming the state directory and its mount, no stack and no unhandled rejection,
 * no lock left behind (and never an empty one), nothing purged without a recorded delivery, and
 * the next run, once there is room, finishes the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { access, mkdir, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { ListObjectVersionsCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { cleanup, listAll, md5, md5OfBucket, putObjects, startPair, type MinioPair } from '../harness/index.ts';
import { canMountTmpfs, mountTmpfs, unmount } from '../harness/tmpfs.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { localPath } from '../../src/plan/volume-paths.ts';
import { DEFAULT_MEMORY_ENTRIES } from '../../src/files/spool.ts';
import { makeSite, type Site } from './site.ts';

/** Whether this machine lets the tests mount a tmpfs; decides whether the tests run, so it runs at load. */
const CAN_MOUNT = canMountTmpfs();

const mounted = new Set<string>();
let pair: MinioPair;
const report: string[] = [];

beforeAll(async () => {
  pair = await startPair();
});
afterAll(async () => {
  for (const dir of mounted) unmount(dir);
  console.log([`full state directory (${CAN_MOUNT ? 'small tmpfs' : 'no mount permitted: not tried'}):`, ...report].join('\n'));
  await pair?.stop();
  await cleanup();
});

/**
 * A site whose state directory is a tmpfs of its own, of `size`: the SQLite ledger's -shm alone
 * takes 32 KiB and its write-ahead log grows with every commit, so 512 KiB holds the first
 * deliveries of a 1,000-object apply and then fills; 1 MiB holds a whole small run.
 */
async function smallStateSite(size: string): Promise<Site> {
  const site = await makeSite(pair, { volumes: 1, transfer: ['workers: 8', 'purgeAfterUpload: true'] });
  await mkdir(site.stateDir);
  expect(mountTmpfs(site.stateDir, size), `mount -t tmpfs on ${site.stateDir}`).toBe(true);
  mounted.add(site.stateDir);
  return site;
}

function seed(count: number): { key: string; body: Buffer }[] {
  return Array.from({ length: count }, (_, i) => ({ key: `state/obj-${String(i).padStart(4, '0')}.bin`, body: randomBytes(1024) }));
}

async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

function expectOneClearError(output: string, site: Site): void {
  expect(output).toContain(`Error [E_STATE_DISK_FULL]: the state directory's disk is full: ${site.stateDir} on ${site.stateDir} (tmpfs`);
  expect(output).toMatch(/free space there/);
  expect(output).not.toMatch(/\n\s+at |Internal error|assertion failed|used after close|Unhandled|E_LEDGER_WRITE/);
}

describe.skipIf(!CAN_MOUNT)('a full state directory (a small tmpfs)', () => {
  it('the ledger fills mid-apply: one clear error, a clean stop, no lock left, nothing purged unrecorded; the next run finishes', async () => {
    // Enough rows that the ledger outgrows the disk however its commits are grouped: 1,000 keys
    // with their stamps are more than 512 KiB of write-ahead log once each is staged, delivered
    // and purged, while the first deliveries come within the first few commits. On a loaded
    // machine the downloads can run so far ahead of the uploads that 512 KiB fills before the
    // first delivery, which proves little: then the same run is tried on a larger disk, so that
    // the disk fills with deliveries recorded and copies purged.
    const seeded = seed(1000);
    let site: Site | undefined;
    let result: Awaited<ReturnType<Site['spawn']>> | undefined;
    let delivered = 0;
    for (const size of ['512k', '1m', '2m', '4m']) {
      site = await smallStateSite(size);
      await putObjects(pair.edge, site.sourceBucket, seeded);
      result = await site.spawn('apply', '--auto-approve');
      const output = `${String(result.stdout)}\n${String(result.stderr)}`;
      expect(result.exitCode, output).toBe(1);
      delivered = (await listAll(pair.cloud, site.destinationBucket)).length;
      report.push(`  a ${size} state disk filled with ${delivered} of ${seeded.length} delivered`);
      if (delivered > 0) break;
    }
    site = site!;
    result = result!;
    expectOneClearError(String(result.stderr), site);
    report.push(...String(result.stderr).split('\n').filter((line) => /^(Error|Hint):/.test(line)).map((line) => `  ${line}`));
    expect((await filesIn(site.stateDir)).filter((f) => f.startsWith('lock')), 'a lock or its temporary file was left behind').toEqual([]);

    // Every copy gone from the volume that the destination holds has its delivery recorded.
    const ledger = await LedgerStore.open(site.stateDir);
    const atDestination = new Set((await listAll(pair.cloud, site.destinationBucket)).map((o) => o.key));
    let purgedRecorded = 0;
    for (const object of seeded) {
      const staged = await access(localPath(site.volumes[0]!, object.key)).then(() => true, () => false);
      const stage = ledger.get(object.key)?.stage;
      if (!staged && atDestination.has(object.key)) {
        expect(['delivered', 'purged'], `${object.key}: purged without a recorded delivery`).toContain(stage);
        purgedRecorded++;
      }
    }
    await ledger.close();
    expect(atDestination.size, 'the ledger filled before anything was delivered: the test proves little').toBeGreaterThan(0);
    expect(atDestination.size, 'the state disk never filled').toBeLessThanOrEqual(seeded.length);

    // Room comes back: the next runs finish, and a last plan has nothing to do.
    expect(spawnSync('mount', ['-o', 'remount,size=64m', site.stateDir]).status).toBe(0);
    let applies = 0;
    for (; applies < 3; applies++) {
      const plan = JSON.parse((await site.cli('plan', '--json')).stdout) as { summary: { noChanges: boolean } };
      if (plan.summary.noChanges) break;
      const applied = await site.cli('apply', '--auto-approve');
      expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    }
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
    report.push(`  ledger full mid-apply: exit 1 with one clear error; ${atDestination.size} of ${seeded.length} at the destination, ${purgedRecorded} of them purged and all recorded; ${applies} apply(s) after the room came back`);
  });

  // A spool written near a full disk once lost the end of a short write without a word: apply read
  // back a smaller plan ("9000 to download, 4823 to upload"), moved part of it, and stopped on a
  // NaN size. 9,000 actions of a kind are more than a spool holds in memory, and their three
  // spool files (downloads, uploads, purges) do not fit beside the ledger in 2 MiB.
  it('spools that do not fit: apply does the whole plan or stops before moving anything; with room, one apply does it all, no key PUT twice', async () => {
    const site = await smallStateSite('2m');
    await pair.cloud.client.send(new PutBucketVersioningCommand({ Bucket: site.destinationBucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const count = 9000;
    expect(count).toBeGreaterThan(DEFAULT_MEMORY_ENTRIES);
    const seeded = Array.from({ length: count }, (_, i) => ({ key: `tiny/${String(i).padStart(5, '0')}`, body: `${i}\n` }));
    await putObjects(pair.edge, site.sourceBucket, seeded);

    const first = await site.spawn('apply', '--auto-approve');
    const output = `${String(first.stdout)}\n${String(first.stderr)}`;
    const said = /(\d+) to download, (\d+) to upload/.exec(String(first.stdout));
    report.push(`  ${count} tiny objects, 2 MiB state disk: apply exit ${first.exitCode}; ${said ? `its plan said ${said[0]}` : 'it printed no plan'}; ${String(first.stderr).split('\n').find((line) => line.startsWith('Error')) ?? 'no error'}`);
    expect(output).not.toMatch(/NaN|E_LEDGER_WRITE|E_SPOOL_CORRUPT|Internal error|\n\s+at /);
    if (said) expect([Number(said[1]), Number(said[2])], 'the plan apply printed is not the whole plan').toEqual([count, count]);
    const delivered = await listAll(pair.cloud, site.destinationBucket);
    const staged = await filesIn(site.volumes[0]!);
    if (first.exitCode === 0) {
      expect(delivered.length, 'apply said it was done').toBe(count);
    } else {
      expect(first.exitCode, output).toBe(1);
      expectOneClearError(String(first.stderr), site);
      expect(delivered.map((o) => o.key), 'a plan that could not be written whole moved objects').toEqual([]);
      expect(staged.filter((file) => file !== '.dualsync-volume'), 'a plan that could not be written whole downloaded objects').toEqual([]);
      expect((await filesIn(site.stateDir)).filter((f) => f.startsWith('spool/run-') || f.startsWith('lock')), 'spools or a lock left behind').toEqual([]);
    }

    // The disk grows: one apply finishes everything, and the destination holds one version of each key.
    expect(spawnSync('mount', ['-o', 'remount,size=64m', site.stateDir]).status).toBe(0);
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
    const versions = new Map<string, number>();
    let KeyMarker: string | undefined;
    let VersionIdMarker: string | undefined;
    for (;;) {
      const page = await pair.cloud.client.send(new ListObjectVersionsCommand({ Bucket: site.destinationBucket, KeyMarker, VersionIdMarker }));
      for (const version of page.Versions ?? []) versions.set(version.Key!, (versions.get(version.Key!) ?? 0) + 1);
      if (!page.IsTruncated) break;
      KeyMarker = page.NextKeyMarker;
      VersionIdMarker = page.NextVersionIdMarker;
    }
    expect(versions.size).toBe(count);
    expect([...versions].filter(([, n]) => n !== 1), 'keys PUT more than once').toEqual([]);
    const last = await site.cli('plan', '--detailed-exitcode');
    expect(last.exitCode, last.stdout).toBe(0);
  }, 600_000);

  it('no room even for the lock: one clear error and no empty lock left, so the next run starts once there is room', async () => {
    const site = await smallStateSite('1m');
    const seeded = seed(3);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    const space = await statfs(site.stateDir);
    await writeFile(join(site.stateDir, 'filler'), Buffer.alloc(space.bavail * space.bsize));
    const result = await site.spawn('apply', '--auto-approve');
    expect(result.exitCode, `${String(result.stdout)}\n${String(result.stderr)}`).toBe(1);
    expectOneClearError(String(result.stderr), site);
    expect(await filesIn(site.stateDir)).toEqual(['filler']);

    await rm(join(site.stateDir, 'filler'));
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
    report.push('  no room for the lock: exit 1 with one clear error, no lock file left; the next run went through');
  });

  it('an empty lock that an older version or a crash left is taken over, with a warning', async () => {
    const site = await smallStateSite('1m');
    const seeded = seed(2);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    await writeFile(join(site.stateDir, 'lock'), '');
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stderr).toMatch(/took over the empty lock file .*no process holds it/);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
  });
});
