/**
 * What `status` and `watch` say about runs, as an operator at a site reads them: a run in
 * progress is shown as such (with its pid), a run that a kill -9 or a power cut ended is shown
 * as cut short rather than hidden behind the run before it, and `watch` ends with one line that
 * says it stopped and why. Real MinIO and s5cmd; the upload link is slowed by Toxiproxy so that
 * the apply is still moving data when it is looked at and killed.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { liveChildren, md5OfBucket, putObjects } from '../harness/index.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { makeSite, type Site } from './site.ts';

const MiB = 1024 * 1024;
const report: string[] = [];
const { pair, cloud } = useProxiedPair(() => ['run state in status and watch:', ...report]);

/** Waits until `pid` runs the upload hop's s5cmd (the one on the slowed link). */
async function waitForUploads(pid: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!liveChildren(pid).some((child) => child.args.includes(cloud.endpoint))) {
    expect(Date.now(), "the upload hop's s5cmd never started").toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function seed(site: Site, prefix: string, count: number): Promise<void> {
  await putObjects(pair.edge, site.sourceBucket, Array.from({ length: count }, (_, i) => ({ key: `${prefix}/obj-${i}.bin`, body: randomBytes(MiB) })));
}

describe('run state', () => {
  it('status shows a running apply with its pid, then, after kill -9, the run cut short; the next apply says so and finishes', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4'] });
    // A run that finished first: the killed one must not hide behind it.
    await seed(site, 'before', 1);
    const first = await site.cli('apply', '--auto-approve');
    expect(first.exitCode, first.stderr).toBe(0);
    await seed(site, 'during', 6);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 300 } });
    try {
      const child = site.spawn('apply', '--auto-approve');
      const pid = child.pid!;
      await waitForUploads(pid);
      const during = await site.cli('status');
      expect(during.stdout, during.stderr).toMatch(new RegExp(`^Running now: dualsync apply \\(pid ${pid} on .+, since .+\\)`, 'm'));
      expect(during.stdout).toMatch(/^Last run: in progress \(pid \d+, started .+\); the run before it finished .+, 1 downloaded, 1 delivered/m);
      const json = JSON.parse((await site.cli('status', '--json')).stdout) as { run?: { state: string; pid: number } };
      expect(json.run).toMatchObject({ state: 'running', pid });

      process.kill(pid, 'SIGKILL');
      await child;
      const after = await site.cli('status');
      expect(after.stdout).toMatch(new RegExp(`^Last run: cut short \\(killed or power cut\\): dualsync apply, pid ${pid}, started .+; the run before it finished .+`, 'm'));
      expect(after.stdout).not.toMatch(/Running now/);
      const afterJson = JSON.parse((await site.cli('status', '--json')).stdout) as { run?: { state: string; pid: number } };
      expect(afterJson.run).toMatchObject({ state: 'cut-short', pid });
      report.push(`  apply on a 300 kB/s link: status named it running (pid ${pid}); after kill -9 it showed the run cut short`);
    } finally {
      await cloud.reset();
    }
    const next = await site.cli('apply', '--auto-approve');
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect(next.stderr).toMatch(/the last run \(dualsync apply, pid \d+, started .+\) was cut short/);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
    const settled = await site.cli('status');
    expect(settled.stdout).toMatch(/^Last run: finished .+, \d+ downloaded, \d+ delivered/m);
    expect(settled.stdout).not.toMatch(/cut short|in progress/);
    const again = await site.cli('plan', '--json');
    expect(JSON.parse(again.stdout).summary.noChanges).toBe(true);
  });

  it('watch ends with one line that says it stopped, after how many cycles, and why', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await seed(site, 'watch', 2);
    const child = site.spawn('watch', '--interval', '1s');
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!/cycle \d+: in sync/.test(stdout)) {
      expect(Date.now(), stdout).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const lines = String(result.stdout).trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^\[.+\] stopped after \d+ cycles?: SIGTERM$/);

    const once = await site.cli('watch', '--once');
    expect(once.exitCode, once.stderr).toBe(0);
    expect(once.stdout.trimEnd().split('\n').at(-1)).toMatch(/^\[.+\] stopped after 1 cycle: --once$/);
    report.push(`  watch: "${lines.at(-1)}"`);
  });
});
