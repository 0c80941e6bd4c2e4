/**
 * A hop that stops moving (a link that drops every packet: a Toxiproxy `timeout` toxic with no
 * timeout, a black hole) is stopped by its watchdog after `transfer.stallTimeout`, here 2 s,
 * instead of waiting on s5cmd, which has no short idle timeout. The objects in flight fail with
 * that reason, the rest of the plan ends cleanly, and the next run does only those again.
 *
 * The black hole starts once the hop's transfer is under way (a slow link first, so that the big
 * object is mid-transfer), and lasts until apply has ended: longer than the stall timeout.
 */
import { describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { md5, md5OfBucket, putObjects } from '../harness/index.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { TEMP_DIR } from '../../src/plan/keys.ts';
import { makeSite, type Site } from './site.ts';

const MiB = 1024 * 1024;
/** Without the watchdog the apply would wait on s5cmd for minutes; with it, seconds. */
const APPLY_BOUND_MS = 60_000;

const report: string[] = [];
const { pair, edge, cloud } = useProxiedPair(() => ['stalled hops (stallTimeout 2s):', ...report]);

/** Files under the volumes whose name starts with `name` (in the temporary folder, or at their place). */
async function filesNamed(site: Site, name: string, where: 'temp' | 'staged'): Promise<string[]> {
  const found: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      const inTemp = path.startsWith(join(volume, TEMP_DIR));
      if (entry.isFile() && entry.name.startsWith(name) && inTemp === (where === 'temp')) found.push(path);
    }
  }
  return found;
}

async function until(condition: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface ApplyJson {
  downloaded: { count: number };
  uploaded: { count: number };
  failures: { key: string; hop: string; error: string }[];
}

const small = Array.from({ length: 3 }, (_, i) => ({ key: `a-small-${i}.bin`, body: randomBytes(64 * 1024) }));
const big = { key: 'z-big.bin', body: randomBytes(4 * MiB) };

describe('a stalled hop times out (transfer.stallTimeout)', () => {
  it.each(['download', 'upload'] as const)('a black hole on the %s hop: the big object fails with "no progress", the rest completes, the next run redoes only it', async (hop) => {
    const site = await makeSite(pair, {
      sourceEndpoint: edge.endpoint,
      destinationEndpoint: cloud.endpoint,
      transfer: ['workers: 4', 'stallTimeout: 2s', 'purgeAfterUpload: true'],
    });
    await putObjects(pair.edge, site.sourceBucket, [...small, big]);
    const proxy = hop === 'download' ? edge : cloud;
    const stream = hop === 'download' ? 'downstream' : 'upstream';
    // A slow link (about 400 kB/s) so that the big object is caught mid-transfer.
    await proxy.addToxic({ name: 'slow', type: 'bandwidth', stream, attributes: { rate: 400 } });
    const started = Date.now();
    const child = site.spawn('apply', '--auto-approve', '--json');
    const killer = setTimeout(() => child.kill('SIGKILL'), APPLY_BOUND_MS);
    let result;
    try {
      // The download is under way once s5cmd's temporary file exists; the upload once the staged copy
      // does and the small objects were read back and purged (a read-back in a black hole waits
      // on the SDK's own timeouts, which are not what this test is about).
      await until(async () => (await filesNamed(site, 'z-big', hop === 'download' ? 'temp' : 'staged')).length > 0, `the ${hop} of ${big.key} to start`);
      if (hop === 'upload') await until(async () => (await filesNamed(site, 'a-small', 'staged')).length === 0, 'the small objects to be delivered and purged');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await proxy.addToxic({ name: 'black-hole', type: 'timeout', stream, attributes: { timeout: 0 } });
      result = await child;
    } finally {
      clearTimeout(killer);
      await proxy.reset();
    }
    const ms = Date.now() - started;
    const output = `${String(result.stdout)}\n${String(result.stderr)}`;
    expect(ms, output).toBeLessThan(APPLY_BOUND_MS);
    expect(result.exitCode, output).toBe(1);
    expect(output).not.toMatch(/\n\s+at |Internal error|assertion failed/);
    const outcome = JSON.parse(String(result.stdout)) as ApplyJson;
    expect(outcome.failures).toEqual([{ key: big.key, hop, error: expect.stringContaining(`no progress for 2s on the ${hop} hop`) }]);
    // The rest ended cleanly: the small objects were delivered.
    expect(outcome.uploaded.count).toBe(small.length);
    const status = JSON.parse((await site.cli('status', '--json')).stdout) as { failing: { key: string; lastError: string }[] };
    expect(status.failing).toEqual([expect.objectContaining({ key: big.key, lastError: expect.stringContaining('no progress for 2s') })]);

    // Link back: the next run redoes the big object only (its download again only if that hop stalled).
    const again = await site.cli('apply', '--auto-approve', '--json');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    const next = JSON.parse(again.stdout) as ApplyJson;
    expect(next.downloaded.count).toBe(hop === 'download' ? 1 : 0);
    expect(next.uploaded.count).toBe(1);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map([...small, big].map((o) => [o.key, md5(o.body)])));
    report.push(`  black hole on the ${hop} hop: apply stopped the hop and ended after ${ms} ms, exit 1, ${big.key} failed, ${small.length} delivered; the next run completed it`);
  });

  it('downloads the stopped hop never started are reported as not started, not as failed attempts', async () => {
    const site = await makeSite(pair, { sourceEndpoint: edge.endpoint, transfer: ['workers: 1', 'stallTimeout: 2s', 'purgeAfterUpload: true'] });
    const queued = Array.from({ length: 3 }, (_, i) => ({ key: `n-${i}.bin`, body: randomBytes(2 * MiB) }));
    await putObjects(pair.edge, site.sourceBucket, queued);
    await edge.addToxic({ name: 'slow', type: 'bandwidth', stream: 'downstream', attributes: { rate: 400 } });
    const child = site.spawn('apply', '--auto-approve', '--json');
    const killer = setTimeout(() => child.kill('SIGKILL'), APPLY_BOUND_MS);
    let result;
    try {
      await until(async () => (await filesNamed(site, 'n-0', 'temp')).length > 0, 'the first download to start');
      await edge.addToxic({ name: 'black-hole', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
      result = await child;
    } finally {
      clearTimeout(killer);
      await edge.reset();
    }
    const outcome = JSON.parse(String(result.stdout)) as ApplyJson;
    expect(outcome.failures).toEqual([
      { key: 'n-0.bin', hop: 'download', error: expect.stringContaining('no progress for 2s on the download hop') },
      { key: 'n-1.bin', hop: 'download', error: expect.stringMatching(/^not started: the hop was stopped \(no progress for 2s/) },
      { key: 'n-2.bin', hop: 'download', error: expect.stringMatching(/^not started/) },
    ]);
    const status = JSON.parse((await site.cli('status', '--json')).stdout) as { failing: { key: string; attempts: number }[] };
    expect(status.failing).toEqual([expect.objectContaining({ key: 'n-0.bin', attempts: 1 })]);
    const again = await site.cli('apply', '--auto-approve', '--json');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as ApplyJson).downloaded.count).toBe(3);
  });
});
