/**
 * Invariant 11 against real servers: one endpoint goes down while `watch` runs, and the other
 * hop keeps working. With the destination stopped, new source objects are still downloaded onto
 * the staging volumes; with the source stopped, staged copies are still uploaded and purged.
 * When the server is back, the waiting hop resumes. Nothing is lost and nothing moves twice
 * (counted from watch's own apply summaries).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { listAll, md5OfBucket, putObjects, useMinioPair, type MinioPair } from '../harness/index.ts';
import { startStoppableMinio, type StoppableMinio } from '../harness/outage.ts';
import { walkWhileChanging } from '../harness/wait.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();
const stoppable: StoppableMinio[] = [];
afterAll(async () => {
  await Promise.all(stoppable.map((s) => s.server.stop()));
});

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await condition()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not reached in ${timeoutMs} ms: ${what}`);
}

/** Relative keys of the files on the staging volumes (outside dualsync's own folders and files). */
async function stagedKeys(site: Site): Promise<string[]> {
  const keys: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await walkWhileChanging(volume)) {
      const path = relative(volume, join(entry.parentPath, entry.name));
      if (entry.isFile() && path.startsWith('data/')) keys.push(path);
    }
  }
  return keys.sort();
}

function objects(names: string[]): { key: string; body: Buffer }[] {
  return names.map((key) => ({ key, body: randomBytes(256 * 1024) }));
}

/** Sums of "N downloaded", "N delivered" and "N adopted" over every apply summary line printed. */
function moved(output: string): { downloaded: number; delivered: number; adopted: number } {
  const total = { downloaded: 0, delivered: 0, adopted: 0 };
  for (const match of output.matchAll(/(\d+) downloaded \([^)]*\), (\d+) delivered \([^)]*\), \d+ purged(?:, (\d+) adopted)?/g)) {
    total.downloaded += Number(match[1]);
    total.delivered += Number(match[2]);
    total.adopted += Number(match[3] ?? 0);
  }
  return total;
}

function keys(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `data/${prefix}-${String(i).padStart(2, '0')}.bin`);
}

describe('one hop down, the other keeps working', () => {
  it('destination stopped: downloads go on during the outage, uploads resume once it is back', async () => {
    const cloud = await startStoppableMinio('cloud-down');
    stoppable.push(cloud);
    const site = await makeSite({ edge: pair.edge, cloud: cloud.server, stop: async () => {} } satisfies MinioPair);
    const before = keys('before', 4);
    const during = keys('during', 6);
    await putObjects(pair.edge, site.sourceBucket, objects(before));
    const watch = site.spawn('watch', '--interval', '1s');
    let output = '';
    watch.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    watch.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor('the first objects delivered and purged', async () => (await listAll(cloud.server, site.destinationBucket)).length === 4 && (await stagedKeys(site)).length === 0, 60_000);
      await cloud.down();
      await putObjects(pair.edge, site.sourceBucket, objects(during));
      await waitFor(`the new objects staged while the destination is down\n${output}`, async () => (await stagedKeys(site)).length === during.length, 60_000);
      expect(await stagedKeys(site)).toEqual(during);
      // The loop says so once the cycle that staged them ends, a moment after the last file lands.
      const unreachable = /destination unreachable: uploads wait; the other hop keeps working \(.*ECONNREFUSED/;
      await waitFor(`watch to say the destination is unreachable\n${output}`, async () => unreachable.test(output), 30_000);
      await cloud.up();
      const resumedMs = await waitFor(
        `uploads resumed after the destination came back\n${output}`,
        async () => (await listAll(cloud.server, site.destinationBucket)).length === before.length + during.length && (await stagedKeys(site)).length === 0,
        60_000,
      );
      console.log(`destination back: staged copies delivered and purged ${resumedMs} ms later`);
      // Said when the cycle that delivered them ends, a moment after the last purge.
      await waitFor(`watch to say the destination is back\n${output}`, async () => /the destination is reachable again/.test(output), 30_000);
    } finally {
      watch.kill('SIGTERM');
    }
    const result = await watch;
    expect(result.exitCode, output).toBe(0);
    expect(await md5OfBucket(cloud.server, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
    expect(moved(output), output).toEqual({ downloaded: 10, delivered: 10, adopted: 0 });
  }, 240_000);

  it('a plan saved while the destination is down downloads only, and is stale once the destination is back', async () => {
    const cloud = await startStoppableMinio('cloud-saved');
    stoppable.push(cloud);
    const site = await makeSite({ edge: pair.edge, cloud: cloud.server, stop: async () => {} } satisfies MinioPair);
    const all = keys('saved', 3);
    await putObjects(pair.edge, site.sourceBucket, objects(all));
    await cloud.down();
    const planned = await site.cli('plan', '--out', join(site.dir, 'down.json'));
    expect(planned.exitCode, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(/destination unreachable: uploads wait; downloads go on while staging has room \(.*ECONNREFUSED/);
    expect(planned.stdout).toMatch(/Plan: 3 to download \([^)]*\), 0 to upload, 0 to purge/);
    const applied = await site.cli('apply', join(site.dir, 'down.json'));
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(moved(applied.stdout)).toEqual({ downloaded: 3, delivered: 0, adopted: 0 });
    expect(applied.stdout).toMatch(/The destination was unreachable: uploads and purges wait for a run that reaches it \(.*ECONNREFUSED/);
    expect(applied.stdout).not.toMatch(/A listing was incomplete/);
    expect(await stagedKeys(site)).toEqual(all);

    const waiting = await site.cli('plan', '--out', join(site.dir, 'waiting.json'));
    expect(waiting.stdout).toMatch(/3 objects \([^)]*\) deferred to a later upload: the destination is unreachable/);
    await cloud.up();
    const stale = await site.cli('apply', join(site.dir, 'waiting.json'));
    expect(stale.exitCode).toBe(1);
    expect(stale.stderr).toMatch(/is stale/);
    expect(stale.stderr).toMatch(/the destination was unreachable when the plan was made, and is reachable now/);
    expect(await listAll(cloud.server, site.destinationBucket)).toEqual([]);

    const fresh = await site.cli('apply', '--auto-approve');
    expect(moved(fresh.stdout), fresh.stdout + fresh.stderr).toEqual({ downloaded: 0, delivered: 3, adopted: 0 });
    expect(await md5OfBucket(cloud.server, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
    expect(await stagedKeys(site)).toEqual([]);
  }, 120_000);

  it('source stopped: staged copies are uploaded and purged during the outage, downloads resume once it is back', async () => {
    const edge = await startStoppableMinio('edge-down');
    stoppable.push(edge);
    // 256 KiB objects: one plan downloads 6 of the 9 and uploads 2 of those, so copies stay staged.
    const site = await makeSite({ edge: edge.server, cloud: pair.cloud, stop: async () => {} } satisfies MinioPair, {
      transfer: ['maxBatchBytes: 1536KiB', 'maxUploadBatchBytes: 512KiB'],
    });
    const all = keys('obj', 9);
    await putObjects(edge.server, site.sourceBucket, objects(all));
    const first = await site.cli('apply', '--auto-approve');
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(moved(first.stdout)).toEqual({ downloaded: 6, delivered: 2, adopted: 0 });
    expect(await stagedKeys(site)).toHaveLength(4);

    await edge.down();
    const watch = site.spawn('watch', '--interval', '1s');
    let output = '';
    watch.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    watch.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(
        `the staged copies delivered and purged while the source is down\n${output}`,
        async () => (await listAll(pair.cloud, site.destinationBucket)).length === 6 && (await stagedKeys(site)).length === 0,
        60_000,
      );
      await waitFor(`watch to say the source is unreachable\n${output}`, async () => /source unreachable: downloads wait; the other hop keeps working \(.*ECONNREFUSED/.test(output), 30_000);
      expect(moved(output).downloaded).toBe(0);
      await edge.up();
      const resumedMs = await waitFor(
        `downloads resumed after the source came back\n${output}`,
        async () => (await listAll(pair.cloud, site.destinationBucket)).length === all.length && (await stagedKeys(site)).length === 0,
        60_000,
      );
      console.log(`source back: the rest downloaded, delivered and purged ${resumedMs} ms later`);
      await waitFor(`watch to say the source is back\n${output}`, async () => /the source is reachable again/.test(output), 30_000);
    } finally {
      watch.kill('SIGTERM');
    }
    const result = await watch;
    expect(result.exitCode, output).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(edge.server, site.sourceBucket));
    const total = moved(first.stdout + output);
    expect(total, output).toEqual({ downloaded: 9, delivered: 9, adopted: 0 });
  }, 240_000);
});
