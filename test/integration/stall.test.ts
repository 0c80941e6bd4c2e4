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
import { readdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { md5, md5OfBucket, putObjects } from '../harness/index.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { walkWhileChanging } from '../harness/wait.ts';
import { TEMP_DIR } from '../../src/model/volume-layout.ts';
import { linkMoved, sampleLink, type LinkSample } from '../../src/apply/link-progress.ts';
import { makeSite, type Site } from './site.ts';

const MiB = 1024 * 1024;
/** Without the watchdog the apply would wait on s5cmd for minutes; with it, seconds. */
const APPLY_BOUND_MS = 60_000;

const report: string[] = [];
const { pair, edge, cloud } = useProxiedPair(() => ['stalled hops:', ...report]);

/** Files under the volumes whose name starts with `name` (in the temporary folder, or at their place). */
async function filesNamed(site: Site, name: string, where: 'temp' | 'staged'): Promise<string[]> {
  const found: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await walkWhileChanging(volume)) {
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
  failures: { key: string; hop: string; code: string; cause?: string }[];
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
    expect(outcome.failures).toEqual([{ key: big.key, hop, code: 'stalled', cause: `no progress for 2s on the ${hop} hop` }]);
    // The rest ended cleanly: the small objects were delivered.
    expect(outcome.uploaded.count).toBe(small.length);
    const status = JSON.parse((await site.cli('status', '--json')).stdout) as { failing: { key: string; lastFailure: { code: string } }[] };
    expect(status.failing).toEqual([expect.objectContaining({ key: big.key, lastFailure: { code: 'stalled', hop, cause: `no progress for 2s on the ${hop} hop` } })]);

    // Link back: the next run redoes the big object only (its download again only if that hop stalled).
    const again = await site.cli('apply', '--auto-approve', '--json');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    const next = JSON.parse(again.stdout) as ApplyJson;
    expect(next.downloaded.count).toBe(hop === 'download' ? 1 : 0);
    expect(next.uploaded.count).toBe(1);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map([...small, big].map((o) => [o.key, md5(o.body)])));
    report.push(`  black hole on the ${hop} hop (stallTimeout 2s): apply stopped the hop and ended after ${ms} ms, exit 1, ${big.key} failed, ${small.length} delivered; the next run completed it`);
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
      { key: 'n-0.bin', hop: 'download', code: 'stalled', cause: 'no progress for 2s on the download hop' },
      { key: 'n-1.bin', hop: 'download', code: 'not-started', cause: 'no progress for 2s on the download hop' },
      { key: 'n-2.bin', hop: 'download', code: 'not-started', cause: 'no progress for 2s on the download hop' },
    ]);
    const status = JSON.parse((await site.cli('status', '--json')).stdout) as { failing: { key: string; attempts: number }[] };
    expect(status.failing).toEqual([expect.objectContaining({ key: 'n-0.bin', attempts: 1 })]);
    const again = await site.cli('apply', '--auto-approve', '--json');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as ApplyJson).downloaded.count).toBe(3);
  });
});

/** The s5cmd processes this test process started whose arguments hold `text` (an endpoint). */
async function s5cmdChildren(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [stat, cmdline] = await Promise.all([readFile(`/proc/${entry}/stat`, 'utf8'), readFile(`/proc/${entry}/cmdline`, 'utf8')]).catch(() => ['', '']);
    // Field 4 of stat (after the parenthesised name) is the parent pid.
    const parent = /\) \S+ (\d+)/.exec(stat)?.[1];
    if (parent === String(process.pid) && stat.includes('(s5cmd)') && cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}

/**
 * Samples the upload s5cmd's link every `everyMs` until `done` settles, and says for both measures
 * (s5cmd's written bytes alone, and the whole link sample) the longest time it stood still from
 * its first change to the end of the process: what a watchdog on that measure would have seen.
 * (The test's object is the hop's only one, so s5cmd exits as soon as it is delivered.)
 */
async function longestStill(endpoint: string, done: Promise<unknown>, everyMs = 500): Promise<{ written: number; link: number }> {
  let finished = false;
  void done.finally(() => (finished = true));
  interface Watched {
    sample: LinkSample;
    seenAt: number;
    /** When each measure last changed; undefined until its first change (s5cmd waiting for work). */
    written?: number;
    link?: number;
  }
  const watched = new Map<number, Watched>();
  const longest = { written: 0, link: 0 };
  const stillUntil = (at: number, process: Watched) => {
    if (process.written !== undefined) longest.written = Math.max(longest.written, at - process.written);
    if (process.link !== undefined) longest.link = Math.max(longest.link, at - process.link);
  };
  while (!finished) {
    for (const pid of await s5cmdChildren(endpoint)) {
      const sample = await sampleLink(pid);
      if (sample === undefined) continue;
      const at = Date.now();
      const process = watched.get(pid);
      if (process === undefined) {
        watched.set(pid, { sample, seenAt: at });
        continue;
      }
      if (sample.written !== process.sample.written) {
        if (process.written !== undefined) longest.written = Math.max(longest.written, at - process.written);
        process.written = at;
      }
      if (linkMoved(process.sample, sample)) {
        if (process.link !== undefined) longest.link = Math.max(longest.link, at - process.link);
        process.link = at;
      }
      process.sample = sample;
      process.seenAt = at;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  for (const process of watched.values()) stillUntil(process.seenAt, process);
  return longest;
}

/**
 * A slow link that still moves is never stalled (DESIGN invariant 15). s5cmd writes an upload
 * into its socket's send buffer (up to 4 MiB here, net.ipv4.tcp_wmem) long before the link has
 * carried it; those last megabytes drain at link speed while s5cmd writes nothing. Counting only
 * what s5cmd wrote, the watchdog stopped such uploads near their end, on every retry.
 */
describe('a slow link that still moves is not stalled', () => {
  async function slowUpload(options: { rate: number; body: Buffer; transfer: string[] }) {
    const site = await makeSite(pair, { destinationEndpoint: cloud.endpoint, transfer: ['purgeAfterUpload: true', ...options.transfer] });
    const object = { key: 'slow.bin', body: options.body };
    await putObjects(pair.edge, site.sourceBucket, [object]);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: options.rate } });
    const started = Date.now();
    try {
      const applying = site.cli('apply', '--auto-approve', '--json');
      const [result, still] = await Promise.all([applying, longestStill(cloud.endpoint, applying)]);
      const ms = Date.now() - started;
      expect(result.stdout).not.toMatch(/no progress/);
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      const outcome = JSON.parse(result.stdout) as ApplyJson;
      expect(outcome.failures).toEqual([]);
      expect(outcome.uploaded.count).toBe(1);
      expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map([[object.key, md5(object.body)]]));
      return { ms, still };
    } finally {
      await cloud.reset();
    }
  }

  it('200 KB/s, stallTimeout 10s, 8 MiB in one PUT: the 4 MiB left in the send buffer drain for ~20 s, and the object arrives, verified', async () => {
    const { ms, still } = await slowUpload({ rate: 200, body: randomBytes(8 * MiB), transfer: ['stallTimeout: 10s'] });
    // The whole link sample moves about every second; a 10 s watchdog on it has ample margin.
    expect(still.link).toBeLessThan(10_000);
    report.push(`  200 KB/s, stallTimeout 10s, 8 MiB: delivered in ${ms} ms; longest stillness: written bytes ${still.written} ms, link ${still.link} ms`);
  }, 180_000);

  it('50 KB/s a connection, the default stallTimeout (2m), 10 MiB in two 5 MiB parts at once: arrives, verified, no stall', async () => {
    const { ms, still } = await slowUpload({ rate: 50, body: randomBytes(10 * MiB), transfer: ['partSize: 5MiB'] });
    // The send buffers drain at 50 KB/s for well over a minute with nothing written; the link
    // sample still changes every few seconds (the proxy reads its socket in chunks).
    expect(still.link).toBeLessThan(30_000);
    report.push(`  50 KB/s, stallTimeout 2m, 10 MiB: delivered in ${ms} ms; longest stillness: written bytes ${still.written} ms, link ${still.link} ms`);
  }, 400_000);
});
