/**
 * Stop signals as an operator sends them: Ctrl-C on a terminal signals the whole foreground
 * process group, not dualsync alone. The real CLI runs here as the leader of its own group, and
 * SIGINT goes to the group (`kill -INT -PGID`), mid-transfer through a slowed upload link.
 * Expected: the s5cmd children are not in that group, so the first Ctrl-C lets the apply finish
 * and every object arrives; a second one stops at once, kills the children, and leaves a ledger
 * from which the next run finishes the rest.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { alive, liveChildren, md5, md5OfBucket, putObjects } from '../harness/index.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { makeSite } from './site.ts';

const MiB = 1024 * 1024;

const report: string[] = [];
const { pair, cloud } = useProxiedPair(() => ['stop signals to the whole process group:', ...report]);

/**
 * Waits until dualsync runs the upload hop's s5cmd (the one on the slowed link), gives the
 * transfers a moment to get going, and returns dualsync's children then. Not both hops: on a
 * quiet box the 8 local downloads can be done, and their s5cmd gone, before a poll sees both.
 */
async function waitForTransfers(pid: number): Promise<number[]> {
  for (let i = 0; ; i++) {
    expect(i, 'the upload hop\'s s5cmd never started').toBeLessThan(600);
    if (liveChildren(pid).some((child) => child.args.includes(cloud.endpoint))) {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return liveChildren(pid).map((child) => child.pid);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function seed(count: number): { key: string; body: Buffer }[] {
  return Array.from({ length: count }, (_, i) => ({ key: `signals/obj-${i}.bin`, body: randomBytes(MiB) }));
}

describe('a stop signal to the whole process group', () => {
  it('the first Ctrl-C lets the apply finish: every object is delivered, none fails', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4'] });
    const seeded = seed(8);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 1000 } });
    try {
      const child = site.spawnGroupLeader('apply', '--auto-approve');
      await waitForTransfers(child.pid!);
      const deliveredBefore = (await md5OfBucket(pair.cloud, site.destinationBucket)).size;
      expect(deliveredBefore, 'the signal came after the apply had finished').toBeLessThan(seeded.length);
      process.kill(-child.pid!, 'SIGINT');
      const result = await child;
      const output = `${String(result.stdout)}\n${String(result.stderr)}`;
      expect(result.exitCode, output).toBe(0);
      expect(String(result.stderr)).toMatch(/SIGINT: finishing this apply/);
      expect(output).not.toMatch(/failure|s5cmd exited|was stopped/i);
      expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
      report.push(`  one SIGINT to the group with ${deliveredBefore} of ${seeded.length} delivered: the apply finished, ${seeded.length} of ${seeded.length} delivered, exit 0`);
    } finally {
      await cloud.reset();
    }
    const again = await site.cli('plan', '--json');
    expect(JSON.parse(again.stdout).summary.noChanges).toBe(true);
  });

  it('a second Ctrl-C stops at once, kills s5cmd, and the next run finishes the rest', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4'] });
    const seeded = seed(8);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 300 } });
    let stoppedAfterMs: number;
    try {
      const child = site.spawnGroupLeader('apply', '--auto-approve');
      const s5cmds = await waitForTransfers(child.pid!);
      process.kill(-child.pid!, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const secondAt = performance.now();
      process.kill(-child.pid!, 'SIGINT');
      const result = await child;
      stoppedAfterMs = performance.now() - secondAt;
      const output = `${String(result.stdout)}\n${String(result.stderr)}`;
      expect(stoppedAfterMs, output).toBeLessThan(10_000);
      expect(result.exitCode, output).toBe(1);
      expect(String(result.stderr)).toMatch(/stopping the transfers now/);
      expect(output).not.toMatch(/\n\s+at |Internal error|assertion failed/);
      expect(s5cmds.filter(alive), 's5cmd outlived the stop').toEqual([]);
      // Not everything went through at 300 kB/s, so the stop did cut something short.
      expect((await md5OfBucket(pair.cloud, site.destinationBucket)).size).toBeLessThan(seeded.length);
    } finally {
      await cloud.reset();
    }
    // The ledger reads, the lock is free, and the next run delivers the rest.
    const ledger = await LedgerStore.open(site.stateDir);
    await ledger.close();
    const next = await site.cli('apply', '--auto-approve');
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
    const again = await site.cli('plan', '--json');
    expect(JSON.parse(again.stdout).summary.noChanges).toBe(true);
    report.push(`  a second SIGINT to the group: stopped ${Math.round(stoppedAfterMs)} ms later, exit 1, no s5cmd left; the next apply delivered the rest`);
  });

  it('watch: the first Ctrl-C to the group lets the current cycle finish, then it exits 0 and frees the lock', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4'] });
    const seeded = seed(8);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 1000 } });
    try {
      const child = site.spawnGroupLeader('watch', '--interval', '10m');
      await waitForTransfers(child.pid!);
      process.kill(-child.pid!, 'SIGINT');
      const result = await child;
      const output = `${String(result.stdout)}\n${String(result.stderr)}`;
      expect(result.exitCode, output).toBe(0);
      expect(String(result.stderr)).toMatch(/SIGINT: finishing the current cycle/);
      expect(String(result.stdout)).toMatch(/cycle 1: 8 downloaded .*8 delivered/);
      expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
      report.push(`  watch, one SIGINT to the group mid-cycle: the cycle finished, ${seeded.length} of ${seeded.length} delivered, exit 0`);
    } finally {
      await cloud.reset();
    }
    expect((await site.cli('status')).stdout).not.toMatch(/Running now/);
  });

  it('watch: SIGHUP (terminal closed, ssh dropped) is a stop like SIGTERM: the cycle finishes, no s5cmd is left, the lock is freed', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4'] });
    const seeded = seed(8);
    await putObjects(pair.edge, site.sourceBucket, seeded);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 1000 } });
    let s5cmds: number[];
    try {
      const child = site.spawnGroupLeader('watch', '--interval', '10m');
      s5cmds = await waitForTransfers(child.pid!);
      expect((await md5OfBucket(pair.cloud, site.destinationBucket)).size, 'the hangup came after the cycle had finished').toBeLessThan(seeded.length);
      // A hangup reaches the terminal's foreground group.
      process.kill(-child.pid!, 'SIGHUP');
      const result = await child;
      const output = `${String(result.stdout)}\n${String(result.stderr)}`;
      expect(result.signal ?? result.exitCode, output).toBe(0);
      expect(String(result.stderr)).toMatch(/SIGHUP: finishing the current cycle/);
      expect(String(result.stdout)).toMatch(/cycle 1: 8 downloaded .*8 delivered/);
    } finally {
      await cloud.reset();
    }
    expect(s5cmds.filter(alive), 's5cmd outlived watch').toEqual([]);
    expect(existsSync(join(site.stateDir, 'lock')), 'the lock is released').toBe(false);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
    const next = await site.cli('plan', '--json');
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect(JSON.parse(next.stdout).summary.noChanges, 'the next run moves nothing twice').toBe(true);
    report.push(`  watch, SIGHUP to the group mid-cycle: the cycle finished, ${seeded.length} of ${seeded.length} delivered, exit 0, no s5cmd left, lock freed`);
  });
});
