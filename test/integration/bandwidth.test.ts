/**
 * A hop's bandwidth limit, measured on an emulated link: each MinIO is reached through a link of
 * about 40 MB/s shared by all connections (test/harness/link.ts; Toxiproxy's bandwidth toxic
 * limits each connection on its own, so 16 objects in flight would get 16 links). The upload hop
 * is limited to 4 MiB/s, and what the destination lists is read every half second: the rate of
 * delivered bytes over every 30 s window must be within 15% of the limit. The figures go to the
 * summary (the report that closes the run).
 *
 * Objects larger than a window's worth (256 MiB) are measured as they are: each crosses at link
 * speed, and the hop then holds the next back until the limit has paid for it.
 *
 * Another test switches at a real clock time: a timetable limited until the next minute
 * boundary and off from it, written for the moment the test runs; the limit holds before the
 * boundary and the rest goes at link speed after it, in one `apply` that was not restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { listAll, md5, md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { startLink, type Link } from '../harness/link.ts';
import { makeSite, type Site } from './site.ts';

const MiB = 1024 * 1024;
const LINK_BYTES_PER_SECOND = 40_000_000;
const LIMIT = 4 * MiB;
const WINDOW_MS = 30_000;
const TOLERANCE = 0.15;

const pair = useMinioPair();
let edgeLink: Link;
let cloudLink: Link;
const figures: string[] = [];

beforeAll(async () => {
  edgeLink = await startLink(pair.edge.endpoint, { downBytesPerSecond: LINK_BYTES_PER_SECOND, upBytesPerSecond: LINK_BYTES_PER_SECOND });
  cloudLink = await startLink(pair.cloud.endpoint, { downBytesPerSecond: LINK_BYTES_PER_SECOND, upBytesPerSecond: LINK_BYTES_PER_SECOND });
});
afterAll(async () => {
  await edgeLink?.close();
  await cloudLink?.close();
  if (figures.length > 0) console.log(['bandwidth figures:', ...figures].join('\n  '));
});

/** Objects of `minMiB` to `maxMiB` (whole MiB, spread evenly) up to `totalMiB` in all. */
function objectsOf(totalMiB: number, minMiB: number, maxMiB: number): { key: string; body: Buffer }[] {
  const objects: { key: string; body: Buffer }[] = [];
  let left = totalMiB;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, minMiB + ((i * 7) % (maxMiB - minMiB + 1)));
    objects.push({ key: `obj-${String(i).padStart(3, '0')}.bin`, body: randomBytes(size * MiB) });
    left -= size;
  }
  return objects;
}

interface Sample {
  atMs: number;
  bytes: number;
}

/** Runs `apply` as a child and reads what the destination lists every half second until it ends. */
async function applyWatchingDestination(site: Site): Promise<{ samples: Sample[]; exitCode: number | undefined; stderr: string }> {
  const samples: Sample[] = [];
  const child = site.spawn('apply', '--auto-approve');
  let ended = false;
  const result = child.then((r) => {
    ended = true;
    return r;
  });
  while (!ended) {
    const listed = await listAll(pair.cloud, site.destinationBucket);
    samples.push({ atMs: performance.now(), bytes: listed.reduce((n, o) => n + o.size, 0) });
    await Promise.race([result, new Promise((resolve) => setTimeout(resolve, 500))]);
  }
  const listed = await listAll(pair.cloud, site.destinationBucket);
  samples.push({ atMs: performance.now(), bytes: listed.reduce((n, o) => n + o.size, 0) });
  const { exitCode, stderr } = await result;
  return { samples, exitCode, stderr: String(stderr) };
}

/** Bytes the destination listed at `atMs`: the last sample at or before it. */
function bytesAt(samples: Sample[], atMs: number): number {
  let bytes = 0;
  for (const sample of samples) if (sample.atMs <= atMs) bytes = sample.bytes;
  return bytes;
}

const mibPerSecond = (bytesPerSecond: number) => (bytesPerSecond / MiB).toFixed(2);

describe('bandwidth per hop (destination.bandwidth), on a 40 MB/s link', () => {
  it('4MiB/s on the upload hop, objects of 1 to 16 MiB: every 30 s window delivers within 15% of the limit', async () => {
    const site = await makeSite(pair, {
      sourceEndpoint: edgeLink.endpoint,
      destinationEndpoint: cloudLink.endpoint,
      destination: ['bandwidth: 4MiB/s'],
    });
    const objects = objectsOf(180, 1, 16);
    const total = objects.reduce((n, o) => n + o.body.length, 0);
    await putObjects(pair.edge, site.sourceBucket, objects);

    const { samples, exitCode, stderr } = await applyWatchingDestination(site);
    expect(exitCode, stderr).toBe(0);
    expect(samples.at(-1)!.bytes).toBe(total);

    // From the first delivery to the last, every 30 s window, in steps of half a second.
    const first = samples.find((s) => s.bytes > 0)!.atMs;
    const last = samples.find((s) => s.bytes === total)!.atMs;
    const rates: number[] = [];
    for (let start = first; start + WINDOW_MS <= last; start += 500) {
      rates.push((bytesAt(samples, start + WINDOW_MS) - bytesAt(samples, start)) / (WINDOW_MS / 1000));
    }
    const overall = (total - bytesAt(samples, first)) / ((last - first) / 1000);
    figures.push(
      `4MiB/s limit, ${objects.length} objects of 1-16 MiB, ${total / MiB} MiB: ${rates.length} windows of 30 s from ${mibPerSecond(Math.min(...rates))} to ${mibPerSecond(Math.max(...rates))} MiB/s; ` +
        `${mibPerSecond(overall)} MiB/s from the first delivery to the last (${((last - first) / 1000).toFixed(1)} s)`,
    );
    expect(rates.length).toBeGreaterThan(10);
    expect(Math.max(...rates)).toBeLessThanOrEqual(LIMIT * (1 + TOLERANCE));
    expect(Math.min(...rates)).toBeGreaterThanOrEqual(LIMIT * (1 - TOLERANCE));

    const delivered = await md5OfBucket(pair.cloud, site.destinationBucket);
    for (const object of objects) expect(delivered.get(object.key)).toBe(md5(object.body));
    const again = await site.cli('apply', '--auto-approve');
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/No changes/);
  });

  it('objects larger than a window\'s worth (2 x 256 MiB under 4MiB/s): each crosses at link speed, and the next waits until the average is paid', async () => {
    const site = await makeSite(pair, {
      sourceEndpoint: edgeLink.endpoint,
      destinationEndpoint: cloudLink.endpoint,
      destination: ['bandwidth: 4MiB/s'],
    });
    const objects = [0, 1].map((i) => ({ key: `big-${i}.bin`, body: randomBytes(256 * MiB) }));
    await putObjects(pair.edge, site.sourceBucket, objects);
    const started = performance.now();
    const { samples, exitCode, stderr } = await applyWatchingDestination(site);
    expect(exitCode, stderr).toBe(0);
    const firstAt = samples.find((s) => s.bytes >= 256 * MiB)!.atMs;
    const secondAt = samples.find((s) => s.bytes >= 512 * MiB)!.atMs;
    const paidMs = ((256 * MiB) / LIMIT) * 1000;
    figures.push(
      `4MiB/s limit, 2 objects of 256 MiB: the first delivered ${((firstAt - started) / 1000).toFixed(1)} s after apply started, the second ${((secondAt - firstAt) / 1000).toFixed(1)} s after it ` +
        `(a 256 MiB object is ${paidMs / 1000} s of the limit; the link alone takes ~${((256 * MiB) / LINK_BYTES_PER_SECOND).toFixed(1)} s); ` +
        `${mibPerSecond((512 * MiB) / ((secondAt - started) / 1000))} MiB/s over the whole apply`,
    );
    // The burst is one object; the hop then holds back: the second is not admitted before the first is paid.
    expect(secondAt - firstAt).toBeGreaterThanOrEqual(paidMs * (1 - TOLERANCE));
    const delivered = await md5OfBucket(pair.cloud, site.destinationBucket);
    for (const object of objects) expect(delivered.get(object.key)).toBe(md5(object.body));
  });

  it('the link itself is faster than the limit: without one, the same hop delivers at more than twice the rate', async () => {
    const site = await makeSite(pair, { sourceEndpoint: edgeLink.endpoint, destinationEndpoint: cloudLink.endpoint });
    const objects = objectsOf(64, 1, 16);
    await putObjects(pair.edge, site.sourceBucket, objects);
    const { samples, exitCode, stderr } = await applyWatchingDestination(site);
    expect(exitCode, stderr).toBe(0);
    const first = samples.find((s) => s.bytes > 0)!;
    const last = samples.at(-1)!;
    const rate = (last.bytes - first.bytes) / Math.max(0.5, (last.atMs - first.atMs) / 1000);
    figures.push(`no limit, ${last.bytes / MiB} MiB: ${mibPerSecond(rate)} MiB/s from the first delivery to the end of apply`);
    expect(rate).toBeGreaterThan(2 * LIMIT);
  });

  it('a timetable switches at its time within one apply: limited until the minute boundary, off from it', async () => {
    // The boundary at least 25 s away, so the limited part is long enough to measure.
    const now = new Date();
    const boundary = new Date(now);
    boundary.setSeconds(0, 0);
    boundary.setMinutes(boundary.getMinutes() + (now.getSeconds() <= 35 ? 1 : 2));
    const hhmm = (at: Date) => `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
    const limitedMs = boundary.getTime() - now.getTime();
    // Half of 64 MiB before the boundary, whatever the time left.
    const rate = Math.floor((32 * 1024) / (limitedMs / 1000)) * 1024;
    const site = await makeSite(pair, {
      sourceEndpoint: edgeLink.endpoint,
      destinationEndpoint: cloudLink.endpoint,
      destination: [`bandwidth: "${hhmm(now)},${rate / 1024}KiB/s ${hhmm(boundary)},off"`],
    });
    const objects = objectsOf(64, 1, 1);
    await putObjects(pair.edge, site.sourceBucket, objects);
    const startedMs = performance.now();
    const boundaryMs = startedMs + (boundary.getTime() - Date.now());

    const { samples, exitCode, stderr } = await applyWatchingDestination(site);
    expect(exitCode, stderr).toBe(0);
    const first = samples.find((s) => s.bytes > 0)!.atMs;
    const beforeBoundary = bytesAt(samples, boundaryMs - 250);
    const expected = rate * ((boundaryMs - 250 - first) / 1000);
    const doneAt = samples.find((s) => s.bytes === 64 * MiB)!.atMs;
    figures.push(
      `timetable ${rate / 1024}KiB/s until ${hhmm(boundary)}, then off: ${(beforeBoundary / MiB).toFixed(1)} MiB by the boundary (the limit allows ${(expected / MiB).toFixed(1)} MiB), ` +
        `the remaining ${((64 * MiB - beforeBoundary) / MiB).toFixed(1)} MiB within ${((doneAt - boundaryMs) / 1000).toFixed(1)} s after it`,
    );
    // Before the boundary: the limit, give or take one object and the tolerance.
    expect(beforeBoundary).toBeLessThanOrEqual(expected * (1 + TOLERANCE) + MiB);
    expect(beforeBoundary).toBeGreaterThanOrEqual(expected * (1 - TOLERANCE) - MiB);
    // After it: the rest at link speed (32 MiB take about a second at 40 MB/s; a loaded machine is slower).
    expect(doneAt - boundaryMs).toBeLessThan(15_000);
  });
});
