/**
 * Objects cut short by the operator's stop (a second Ctrl-C) are the operator's doing, not
 * s5cmd's: they are recorded as stopped, not as failures, and do not back off. Real CLI, real
 * s5cmd, MinIO behind a slowed upload link; SIGINT twice to the CLI's process group, twice over
 * (two failures in a row would back off for an hour under this config), then a run that delivers.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { liveChildren, md5, md5OfBucket, putObjects } from '../harness/index.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { makeSite, type Site } from './site.ts';

const MiB = 1024 * 1024;

const report: string[] = [];
const { pair, cloud } = useProxiedPair(() => ['objects cut by the operator\'s stop:', ...report]);

interface StatusJson {
  failing: { key: string; attempts: number }[];
  failingCount: number;
  stopped: { key: string; lastFailure: { code: string; hop: string } }[];
  stoppedCount: number;
}

/** Waits until dualsync runs the upload hop's s5cmd (on the slowed link), then gives its transfers a moment to start. */
async function waitForUploads(pid: number): Promise<void> {
  for (let i = 0; ; i++) {
    expect(i, "the upload hop's s5cmd never started").toBeLessThan(1200);
    if (liveChildren(pid).some((child) => child.args.includes(cloud.endpoint))) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

/** One apply stopped by two SIGINTs to its group while uploads are in flight. */
async function applyCutByOperator(site: Site): Promise<string> {
  const child = site.spawnGroupLeader('apply', '--auto-approve');
  await waitForUploads(child.pid!);
  process.kill(-child.pid!, 'SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 300));
  process.kill(-child.pid!, 'SIGINT');
  const result = await child;
  const output = `${String(result.stdout)}\n${String(result.stderr)}`;
  expect(String(result.stderr), output).toMatch(/stopping the transfers now/);
  expect(result.exitCode, output).toBe(1);
  return output;
}

describe('objects cut by the operator\'s stop', () => {
  it('are recorded as stopped, not failing, do not back off, and the next apply delivers them at once', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4', 'retryBackoff: { base: 1h, max: 6h }'] });
    const seeded = Array.from({ length: 8 }, (_, i) => ({ key: `stop/obj-${i}.bin`, body: randomBytes(MiB) }));
    await putObjects(pair.edge, site.sourceBucket, seeded);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 200 } });
    let stoppedFirst = 0;
    try {
      for (let round = 1; round <= 2; round++) {
        const output = await applyCutByOperator(site);
        expect(output).not.toMatch(/s5cmd exited with code/);
        expect((await md5OfBucket(pair.cloud, site.destinationBucket)).size, 'the stop cut nothing short').toBeLessThan(seeded.length);
        const status = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
        expect(status.failing, `round ${round}`).toEqual([]);
        expect(status.failingCount).toBe(0);
        expect(status.stoppedCount, `round ${round}: nothing recorded as stopped`).toBeGreaterThan(0);
        for (const entry of status.stopped) expect(entry.lastFailure).toMatchObject({ code: 'stopped', hop: 'upload' });
        if (round === 1) stoppedFirst = status.stoppedCount;
        const human = await site.cli('status');
        expect(human.stdout).toMatch(/stopped by the operator/);
      }
    } finally {
      await cloud.reset();
    }
    // Stopped twice in a row, yet nothing waits: the next plan transfers them now.
    const plan = JSON.parse((await site.cli('plan', '--json')).stdout) as { summary: { waiting?: { count: number } } };
    expect(plan.summary.waiting).toBeUndefined();
    const next = await site.cli('apply', '--auto-approve');
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
    const after = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
    expect(after.failingCount).toBe(0);
    expect(after.stoppedCount).toBe(0);
    report.push(`  two applies each stopped by two SIGINTs (${stoppedFirst} object(s) stopped the first time): none failing, none waiting; the next apply delivered all ${seeded.length}`);
  });
});
