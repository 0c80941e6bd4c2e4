import { describe, expect, it } from 'vitest';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { listAll, md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite } from './site.ts';
import { LedgerStore } from '../../src/ledger/store.ts';

const pair = useMinioPair();

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('condition not reached in time');
}

describe('watch', () => {
  it('--once runs one cycle and exits 0', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'a.txt', body: 'a' }, { key: 'b/c.txt', body: 'c' }]);
    const result = await site.cli('watch', '--once');
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
  });

  it('keeps delivering new data, and SIGTERM finishes the cycle, releases the lock and exits 0', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'first.txt', body: 'one' }]);
    const child = site.spawn('watch', '--interval', '1s');
    try {
      await waitFor(async () => (await listAll(pair.cloud, site.destinationBucket)).length === 1, 30_000);
      await putObjects(pair.edge, site.sourceBucket, [{ key: 'later/second.txt', body: 'two' }, { key: 'later/third.txt', body: 'three' }]);
      await waitFor(async () => (await listAll(pair.cloud, site.destinationBucket)).length === 3, 30_000);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await child;
    expect(result.exitCode, String(result.stdout) + String(result.stderr)).toBe(0);
    await expect(access(join(site.stateDir, 'lock'))).rejects.toThrow();
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
  });

  it('holds the lock between cycles: apply and reset refuse naming it, status shows it; after SIGINT apply works', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'first.txt', body: 'one' }]);
    const child = site.spawn('watch', '--interval', '10m');
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    try {
      // Idle between cycles: the first cycle has ended and the next is ten minutes away.
      await waitFor(async () => /cycle 1: /.test(stdout), 30_000);
      const names = new RegExp(`dualsync watch, pid ${child.pid} on .*, since \\d{4}-`);
      const apply = await site.cli('apply', '--auto-approve');
      expect(apply.exitCode, apply.stdout + apply.stderr).toBe(1);
      expect(apply.stderr).toMatch(names);
      const reset = await site.cli('reset', '--yes');
      expect(reset.exitCode, reset.stdout + reset.stderr).toBe(1);
      expect(reset.stderr).toMatch(names);
      const ledger = await LedgerStore.open(site.stateDir);
      expect(ledger.get('first.txt')?.stage, 'reset went through under watch').toBeDefined();
      await ledger.close();
      const status = await site.cli('status');
      expect(status.stdout).toMatch(new RegExp(`watch running \\(pid ${child.pid} on .*, since .*; last cycle #1 ended .*: 1 downloaded .*, 1 delivered .*\\)`));
    } finally {
      child.kill('SIGINT');
    }
    const result = await child;
    expect(result.exitCode, String(result.stdout) + String(result.stderr)).toBe(0);
    await expect(access(join(site.stateDir, 'lock'))).rejects.toThrow();
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'second.txt', body: 'two' }]);
    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
    expect((await site.cli('status')).stdout).not.toMatch(/Running now/);
  });
});
