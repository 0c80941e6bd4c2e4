import { describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { stageTally } from '../harness/ledger.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

/** Every regular file under the volumes (the staging must end empty when purging is on). */
async function stagedFiles(site: Site): Promise<string[]> {
  const files: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      // The volume's claim (.dualsync-volume in its root) is not a staged file.
      if (entry.isFile() && !(entry.parentPath === volume && entry.name === '.dualsync-volume')) files.push(join(entry.parentPath, entry.name));
    }
  }
  return files;
}

function sampleObjects(count: number, tag = 'v1'): { key: string; body: string }[] {
  const objects = [];
  for (let i = 0; i < count; i++) {
    objects.push({ key: `site/day-${i % 3}/sensor ${i}.dat`, body: `${tag}:${i}:`.repeat(50 + i * 7) });
  }
  objects.push({ key: 'odd/quote "and" \'single\'.txt', body: 'quotes' });
  objects.push({ key: 'odd/star*question?[bracket].txt', body: 'globs' });
  objects.push({ key: 'odd/café-ünïcode ✓.txt', body: 'unicode' });
  objects.push({ key: 'odd/empty', body: '' });
  return objects;
}

async function expectInSync(site: Site): Promise<void> {
  const source = await md5OfBucket(pair.edge, site.sourceBucket);
  const destination = await md5OfBucket(pair.cloud, site.destinationBucket);
  expect(destination).toEqual(source);
}

describe('apply: a full dual sync', () => {
  it('delivers every object byte-exact, empties the staging, and a second plan has no changes', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(40));

    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.stderr).not.toMatch(/Internal error/);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/Apply complete! 44 downloaded .*44 delivered .*44 purged/);
    await expectInSync(site);
    expect(await stagedFiles(site)).toEqual([]);

    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/No changes/);
  });

  it('after the staging is purged, the next plan downloads nothing (where plain s5cmd sync would)', async () => {
    const site = await makeSite(pair, { transfer: ['purgeAfterUpload: true'] });
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(10));
    expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(0);
    expect(await stagedFiles(site)).toEqual([]);
    const plan = await site.cli('plan', '--json');
    const actions = JSON.parse(plan.stdout).actions as { kind: string }[];
    expect(actions.filter((a) => a.kind !== 'skip')).toEqual([]);
  });

  it('moves a changed source object again as a new version, and re-delivers what the destination lost', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(6));
    expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(0);

    await putObjects(pair.edge, site.sourceBucket, [{ key: 'site/day-0/sensor 0.dat', body: 'a new version, longer than before' }]);
    await pair.cloud.client.send(new DeleteObjectCommand({ Bucket: site.destinationBucket, Key: 'site/day-1/sensor 1.dat' }));

    const plan = JSON.parse((await site.cli('plan', '--json')).stdout) as { actions: { kind: string; key: string }[] };
    const moved = plan.actions.filter((a) => a.kind === 'download').map((a) => a.key).sort();
    expect(moved).toEqual(['site/day-0/sensor 0.dat', 'site/day-1/sensor 1.dat']);

    const second = await site.cli('apply', '--auto-approve');
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(/2 downloaded .*2 delivered/);
    await expectInSync(site);
  });

  it('keeps staged copies when purgeAfterUpload is off, and does not upload them twice', async () => {
    const site = await makeSite(pair, { transfer: ['purgeAfterUpload: false'] });
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(5));
    expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(0);
    expect((await stagedFiles(site)).length).toBe(9);
    await expectInSync(site);
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout).toBe(0);
  });

  it('spreads downloads over the volumes', async () => {
    const site = await makeSite(pair, { volumes: 3, transfer: ['purgeAfterUpload: false'] });
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(30));
    expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(0);
    for (const volume of site.volumes) {
      const files = (await readdir(volume, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
      expect(files.length).toBeGreaterThan(5);
    }
  });

  it('verifies with etag: MD5s and multipart ETags are compared, and status says how', async () => {
    const site = await makeSite(pair, { transfer: ['verify: etag', 'partSize: 5MiB'] });
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'big/eleven-mib.bin', body: Buffer.alloc(11 * 1024 * 1024, 7) },
      { key: 'small/one.txt', body: 'one' },
    ]);
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    await expectInSync(site);
    const status = JSON.parse((await site.cli('status', '--json')).stdout);
    expect(status.stages.purged.objects).toBe(2);
    expect(Object.values(status.verifiedBy as Record<string, number>).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});

describe('apply: saved plans and the lock', () => {
  it('refuses a stale plan file with a diff of the manifests', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(3));
    const planPath = join(site.dir, 'plan.json');
    expect((await site.cli('plan', '--out', planPath)).exitCode).toBe(0);
    expect(await readFile(join(site.dir, 'plan.download.s5cmd'), 'utf8')).toMatch(/cp --raw/);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'late/arrival.txt', body: 'new' }]);
    const refused = await site.cli('apply', planPath);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/stale/);
    expect(refused.stderr).toMatch(/^\s*\+cp .*late\/arrival\.txt/m);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });

  it('applies a fresh plan file exactly, then the same file is stale', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(3));
    const planPath = join(site.dir, 'plan.json');
    expect((await site.cli('plan', '--out', planPath)).exitCode).toBe(0);
    const applied = await site.cli('apply', planPath);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    await expectInSync(site);
    expect((await site.cli('apply', planPath)).stderr).toMatch(/stale/);
  });

  it('refuses a plan file edited by hand', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, sampleObjects(3));
    const planPath = join(site.dir, 'plan.json');
    await site.cli('plan', '--out', planPath);
    const text = await readFile(planPath, 'utf8');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(planPath, text.replace('"site/day-0/sensor 0.dat"', '"site/day-0/../../escape.dat"'));
    const refused = await site.cli('apply', planPath);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/changed after it was written/);
  });

  it('refuses a second apply while one holds the lock, naming the holder', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'big.bin', body: Buffer.alloc(64 * 1024 * 1024, 1) }]);
    const first = site.spawn('apply', '--auto-approve');
    // Wait until the first run holds the lock.
    const lockPath = join(site.stateDir, 'lock');
    for (let i = 0; i < 200; i++) {
      if (await readFile(lockPath, 'utf8').then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const second = await site.cli('apply', '--auto-approve');
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/another dualsync holds the lock .* pid \d+/);
    const result = await first;
    expect(result.exitCode, String(result.stdout) + String(result.stderr)).toBe(0);
  });
});

describe('apply: kill -9 in the middle of a hop', () => {
  it('completes on the next run without moving anything that was recorded as delivered', async () => {
    const site = await makeSite(pair, { transfer: ['workers: 4'] });
    const objects = [];
    for (let i = 0; i < 60; i++) objects.push({ key: `batch/obj-${String(i).padStart(3, '0')}`, body: Buffer.alloc(256 * 1024 + i, i) });
    await putObjects(pair.edge, site.sourceBucket, objects);

    const child = site.spawn('apply', '--auto-approve');
    // Kill once some objects are recorded in the ledger as delivered.
    for (let i = 0; i < 400; i++) {
      if (stageTally(site.stateDir, 'delivered_at') >= 5) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    const killed = await child;

    const ledger = await LedgerStore.open(site.stateDir);
    const delivered = ledger.state().records.filter((r) => r.stage === 'delivered' || r.stage === 'purged').map((r) => r.key);
    await ledger.close();
    expect(delivered.length, `${killed.stdout}${killed.stderr}`).toBeGreaterThan(0);

    const plan = JSON.parse((await site.cli('plan', '--json')).stdout) as { actions: { kind: string; key: string }[] };
    const moving = plan.actions.filter((a) => a.kind === 'download' || a.kind === 'upload' || a.kind === 'redownload').map((a) => a.key);
    expect(moving.filter((key) => delivered.includes(key))).toEqual([]);

    const second = await site.cli('apply', '--auto-approve');
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    await expectInSync(site);
    expect(await stagedFiles(site)).toEqual([]);
    expect((await site.cli('plan', '--detailed-exitcode')).exitCode).toBe(0);
  });
});
