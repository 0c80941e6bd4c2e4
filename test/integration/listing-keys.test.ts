/**
 * "In sync" is said only when it is true (invariant 12), end to end against real MinIO and s5cmd:
 * - keys that XML 1.0 cannot carry (U+FFFF beside U+FFFD, control characters) are listed with
 *   `encoding-type=url` and arrive byte-exact, over ListObjectsV2 and over a device's v1 answer;
 *   a server that ignores the parameter lists two keys as one, and the plan says it is not in sync;
 * - a destination object overwritten after delivery (same size, other bytes) is moved again;
 * - a key too long for the destination under its prefix is skipped at plan time, with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionReason } from '../../src/model/plan.ts';
import { readdir } from 'node:fs/promises';
import { cleanup, getObjectMd5, hopFor, md5, putObjects, startPair, type MinioPair } from '../harness/index.ts';
import { startDeviceSim, type DeviceSim } from '../harness/device-sim.ts';
import { createS3Client, listHop } from '../../src/inventory/s3.ts';
import { makeSite, type Site } from './site.ts';

interface PlanJson {
  summary: { noChanges: boolean };
  notes?: { code: string; count: number; examples: string[] }[];
  actions: { kind: string; key: string; reason?: ActionReason }[];
}

let pair: MinioPair;
const devices: DeviceSim[] = [];

beforeAll(async () => {
  pair = await startPair();
});
afterAll(async () => {
  for (const device of devices) await device.close();
  await pair?.stop();
  await cleanup();
});

async function planJson(site: Site): Promise<PlanJson> {
  const result = await site.cli('plan', '--json');
  expect(result.exitCode, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as PlanJson;
}

async function apply(site: Site): Promise<void> {
  const applied = await site.cli('apply', '--auto-approve');
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
}

async function detailedExit(site: Site): Promise<{ exitCode: number; stdout: string }> {
  const result = await site.cli('plan', '--detailed-exitcode');
  return { exitCode: result.exitCode, stdout: result.stdout + result.stderr };
}

/** The destination's keys as dualsync's own (URL-encoded) listing reads them: every key exactly once. */
async function destinationKeys(site: Site, prefix = ''): Promise<string[]> {
  const hop = hopFor(pair.cloud, site.destinationBucket, { prefix });
  const listing = await listHop(createS3Client(hop), hop);
  return listing.entries.map((entry) => entry.key);
}

/** Keys XML 1.0 cannot carry beside their look-alikes, and keys whose encoding differs between AWS's and other rules. */
const TRAVELLING = ['a\uFFFF', 'a\uFFFD', 'b\uFFFE', 'sp ace+plus%25pct %2B', 'ends-with-plus+', 'uni/caf\u00e9 \u{1F600}'];
/** Skipped at plan time (a run file line cannot carry a control character), but listed as itself, not as U+FFFD. */
const CONTROL = 'ctl\u0001x';

function bodyOf(key: string): string {
  return `body of ${JSON.stringify(key)}\n`;
}

async function seedHostile(site: Site): Promise<void> {
  await putObjects(pair.edge, site.sourceBucket, [...TRAVELLING, CONTROL].map((key) => ({ key: `data/${key}`, body: bodyOf(key) })));
}

async function expectDeliveredExactly(site: Site): Promise<void> {
  for (const key of TRAVELLING) expect(await getObjectMd5(pair.cloud, site.destinationBucket, key), JSON.stringify(key)).toBe(md5(bodyOf(key)));
  expect((await destinationKeys(site)).sort()).toEqual([...TRAVELLING].sort());
}

describe('keys that XML 1.0 cannot carry', () => {
  it('ListObjectsV2 (MinIO honours encoding-type=url): U+FFFF and U+FFFD both arrive byte-exact; the next plan has no changes', async () => {
    const site = await makeSite(pair, { volumes: 1, sourcePrefix: 'data/' });
    await seedHostile(site);
    const plan = await planJson(site);
    expect(plan.actions.filter((a) => a.kind === 'download').map((a) => a.key).sort()).toEqual([...TRAVELLING].sort());
    expect(plan.actions.filter((a) => a.kind === 'skip').map((a) => [a.key, a.reason])).toEqual([[CONTROL, { code: 'key-control-character', unit: 'U+0001' }]]);
    await apply(site);
    await expectDeliveredExactly(site);
    const again = await detailedExit(site);
    expect(again.exitCode, again.stdout).toBe(0);
  });

  it('a device v1 answer (simulated, honouring encoding-type): the same keys arrive byte-exact', async () => {
    const device = await startDeviceSim({ upstream: pair.edge.endpoint, accessKeyId: pair.edge.accessKeyId, secretAccessKey: pair.edge.secretAccessKey, region: 'us-east-1' });
    devices.push(device);
    const site = await makeSite(pair, { volumes: 1, sourcePrefix: 'data/', sourceEndpoint: device.endpoint, source: ['listApi: v1'] });
    await seedHostile(site);
    await apply(site);
    await expectDeliveredExactly(site);
    const again = await detailedExit(site);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(device.counters.requests.listV1).toBeGreaterThan(0);
  });

  for (const listApi of ['v1', 'v2'] as const) {
    it(`a server that ignores encoding-type (${listApi}) lists U+FFFF as U+FFFD: the plan says the listing repeated a key and is not in sync`, async () => {
      const device = await startDeviceSim({
        upstream: pair.edge.endpoint,
        accessKeyId: pair.edge.accessKeyId,
        secretAccessKey: pair.edge.secretAccessKey,
        region: 'us-east-1',
        ignoresEncodingType: true,
      });
      devices.push(device);
      const site = await makeSite(pair, { volumes: 1, sourcePrefix: 'data/', sourceEndpoint: device.endpoint, source: [`listApi: ${listApi}`] });
      await putObjects(pair.edge, site.sourceBucket, [
        { key: 'data/a\uFFFF', body: bodyOf('a\uFFFF') },
        { key: 'data/a\uFFFD', body: bodyOf('a\uFFFD') },
        { key: 'data/plain', body: bodyOf('plain') },
      ]);
      const plan = await planJson(site);
      expect(plan.summary.noChanges).toBe(false);
      expect(plan.notes?.find((note) => note.code === 'source-listing-duplicate-keys')).toEqual({ code: 'source-listing-duplicate-keys', count: 1, examples: ['a\uFFFD'] });
      await apply(site);
      // What could be told apart arrived; the plan still says the sites are not in sync.
      expect(await getObjectMd5(pair.cloud, site.destinationBucket, 'plain')).toBe(md5(bodyOf('plain')));
      const after = await detailedExit(site);
      expect(after.exitCode, after.stdout).toBe(2);
      expect(after.stdout).toMatch(/not in sync/);
      expect(after.stdout).toMatch(/listed again under a key the source listing already held/);
    });
  }
});

describe('a destination object changed after delivery', () => {
  for (const purgeAfterUpload of [true, false]) {
    it(`same size, other bytes (${purgeAfterUpload ? 'staged copy purged: downloaded again' : 'staged copy kept: uploaded again'}): the plan moves it with the reason; apply restores the source's bytes`, async () => {
      const site = await makeSite(pair, { volumes: 1, transfer: [`purgeAfterUpload: ${purgeAfterUpload}`] });
      const original = 'the source version, 32 bytes....';
      const impostor = 'an older or foreign 32 bytes!!!!';
      expect(impostor.length).toBe(original.length);
      await putObjects(pair.edge, site.sourceBucket, [
        { key: 'k', body: original },
        { key: 'other', body: 'left alone' },
      ]);
      await apply(site);
      expect((await detailedExit(site)).exitCode).toBe(0);

      await putObjects(pair.cloud, site.destinationBucket, [{ key: 'k', body: impostor }]);
      const plan = await planJson(site);
      const moves = plan.actions.filter((a) => a.kind !== 'purge');
      expect(moves.map((a) => [a.kind, a.key])).toEqual(purgeAfterUpload ? [['download', 'k'], ['upload', 'k']] : [['upload', 'k']]);
      for (const move of moves) expect(move.reason).toEqual({ code: 'destination-changed', listedEtag: expect.stringMatching(/^[0-9a-f]{32}$/), deliveredEtag: expect.stringMatching(/^[0-9a-f]{32}$/) });
      const changed = await detailedExit(site);
      expect(changed.exitCode, changed.stdout).toBe(2);
      expect(changed.stdout).toMatch(/destination changed since delivery/);

      await apply(site);
      expect(await getObjectMd5(pair.cloud, site.destinationBucket, 'k')).toBe(md5(original));
      const settled = await detailedExit(site);
      expect(settled.exitCode, settled.stdout).toBe(0);
    });
  }
});

describe('a key too long for the destination under its prefix', () => {
  it('is skipped at plan time with the reason, never downloaded; the key beside it is delivered', async () => {
    const destinationPrefix = `${'long-destination-prefix-'.repeat(4)}/`;
    const site = await makeSite(pair, { volumes: 1, destinationPrefix });
    // 4 segments of 240 bytes and a short name: 1,000 bytes, a valid source key, 1,097 under the prefix.
    const longKey = `${Array.from({ length: 4 }, (_, i) => `${i}`.repeat(240)).join('/')}/${'n'.repeat(36)}`;
    expect(Buffer.byteLength(longKey)).toBe(1000);
    const destinationBytes = Buffer.byteLength(destinationPrefix + longKey);
    expect(destinationBytes).toBeGreaterThan(1024);
    await putObjects(pair.edge, site.sourceBucket, [
      { key: longKey, body: 'too long over there' },
      { key: 'short', body: 'fits' },
    ]);
    const plan = await planJson(site);
    expect(plan.actions.filter((a) => a.kind === 'skip').map((a) => [a.key, a.reason])).toEqual([[longKey, { code: 'destination-key-too-long', bytes: destinationBytes, prefix: destinationPrefix, maxBytes: 1024 }]]);
    expect(plan.actions.filter((a) => a.kind === 'download').map((a) => a.key)).toEqual(['short']);
    await apply(site);
    expect(await getObjectMd5(pair.cloud, site.destinationBucket, `${destinationPrefix}short`)).toBe(md5('fits'));
    expect(await readdir(site.volumes[0]!)).not.toContain('0'.repeat(240));
    const again = await detailedExit(site);
    expect(again.exitCode, again.stdout).toBe(0);
  });
});
