/**
 * Invariants 9 and 10 against real MinIO and s5cmd: a same-size new version moves again whatever
 * its ETags look like; an object is adopted only when it is proven to be the same; a local copy
 * the ledger does not know is proven to be the source's current version before its upload.
 */
import { describe, expect, it } from 'vitest';
import type { ActionReason } from '../../src/model/plan.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { getObjectMd5, listAll, md5, putMultipart, putObjects, useMinioPair } from '../harness/index.ts';
import { seededRandom } from '../harness/random.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

const MIB = 1024 * 1024;
/** Over one 5 MiB part: uploaded in parts, such an object gets a "…-2" ETag. */
const SIZE = 6 * MIB;
const KEY = 'big.bin';

/** `size` bytes from a seeded PRNG: other seeds give other bytes of the same size. */
function bytes(seed: number, size = SIZE): Buffer {
  const random = seededRandom(seed);
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) body.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return body;
}

async function applied(site: Site, expectedExit = 0): Promise<string> {
  const result = await site.cli('apply', '--auto-approve');
  expect(result.stderr).not.toMatch(/Internal error/);
  expect(result.exitCode, result.stdout + result.stderr).toBe(expectedExit);
  return result.stdout;
}

async function planJson(site: Site): Promise<{ kind: string; key: string; reason?: ActionReason; adoptBy?: string }[]> {
  const plan = await site.cli('plan', '--json');
  expect(plan.exitCode, plan.stderr).toBe(0);
  return JSON.parse(plan.stdout).actions;
}

async function expectNothingToDo(site: Site): Promise<void> {
  const again = await site.cli('plan', '--detailed-exitcode');
  expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  expect(again.stdout).toMatch(/No changes/);
}

async function destinationMd5(site: Site, key = KEY): Promise<string> {
  return getObjectMd5(pair.cloud, site.destinationBucket, key);
}

async function ledgerRecord(site: Site, key = KEY) {
  const ledger = await LedgerStore.open(site.stateDir);
  try {
    return ledger.get(key);
  } finally {
    await ledger.close();
  }
}

describe('a same-size new version moves again (invariant 9)', () => {
  it.each(['size', 'etag'])('multipart source ETags, verify: %s: v2 replaces the delivered and purged v1', async (verify) => {
    const site = await makeSite(pair, { transfer: [`verify: ${verify}`] });
    const v1 = bytes(1);
    const v2 = bytes(2);
    const etag1 = await putMultipart(pair.edge, site.sourceBucket, KEY, v1, 5 * MIB);
    await applied(site);
    expect(await destinationMd5(site)).toBe(md5(v1));
    expect((await ledgerRecord(site))?.stage).toBe('purged');

    const etag2 = await putMultipart(pair.edge, site.sourceBucket, KEY, v2, 5 * MIB);
    expect(etag2).not.toBe(etag1);
    expect(etag2).toMatch(/-2$/);
    const actions = await planJson(site);
    expect(actions.map((a) => a.kind)).toEqual(['download', 'upload', 'purge']);
    expect(actions[0]?.reason).toEqual({ code: 'new-version-at-destination' });

    expect(await applied(site)).toMatch(/1 downloaded .*1 delivered .*1 purged/);
    expect(await destinationMd5(site)).toBe(md5(v2));
    expect(await ledgerRecord(site)).toMatchObject({ etag: etag2, stage: 'purged' });
    await expectNothingToDo(site);
  });

  it.each(['size', 'etag'])('plain MD5 source ETags, multipart destination ETags, verify: %s: v2 replaces v1', async (verify) => {
    // A part size of 5 MiB makes s5cmd upload in parts: the destination's ETag is then never
    // comparable with the source's plain MD5.
    const site = await makeSite(pair, { transfer: [`verify: ${verify}`, 'partSize: 5MiB'] });
    const v1 = bytes(3);
    const v2 = bytes(4);
    await putObjects(pair.edge, site.sourceBucket, [{ key: KEY, body: v1 }]);
    await applied(site);
    expect((await listAll(pair.cloud, site.destinationBucket)).map((o) => o.etag)).toEqual([expect.stringMatching(/-2$/)]);

    await putObjects(pair.edge, site.sourceBucket, [{ key: KEY, body: v2 }]);
    expect((await planJson(site)).map((a) => a.kind)).toEqual(['download', 'upload', 'purge']);
    expect(await applied(site)).toMatch(/1 downloaded .*1 delivered/);
    expect(await destinationMd5(site)).toBe(md5(v2));
    expect((await ledgerRecord(site))?.destinationEtag).toMatch(/-2$/);
    await expectNothingToDo(site);
  });
});

describe('adoption without the ledger needs proof (invariant 9)', () => {
  it('plain MD5 source, other bytes of the same size at the destination (multipart): the content compare says differ, then it is transferred', async () => {
    const site = await makeSite(pair);
    const wanted = bytes(5);
    await putObjects(pair.edge, site.sourceBucket, [{ key: KEY, body: wanted }]);
    await putMultipart(pair.cloud, site.destinationBucket, KEY, bytes(6), 5 * MIB);

    const first = await planJson(site);
    expect(first).toMatchObject([{ kind: 'adopt', key: KEY, adoptBy: 'content' }]);
    const human = await site.cli('plan');
    expect(human.stdout).toMatch(/adopt .*big\.bin .*apply compares the content of both objects first/);

    // The compare reads both objects and finds them different: not a delivery.
    const compared = await site.cli('apply', '--auto-approve');
    expect(compared.exitCode, compared.stdout + compared.stderr).toBe(1);
    expect(compared.stdout).toMatch(/Apply finished with 1 failure\(s\): 0 downloaded \(0 B\), 0 delivered \(0 B\), 0 purged\.$/m);
    const record = await ledgerRecord(site);
    expect(record?.stage).toBeUndefined();
    expect(record?.lastFailure).toMatchObject({ code: 'content-differs', hop: 'upload', sourceMd5: expect.stringMatching(/^[0-9a-f]{32}$/), destinationMd5: expect.stringMatching(/^[0-9a-f]{32}$/) });

    const next = await planJson(site);
    expect(next.map((a) => a.kind)).toEqual(['download', 'upload', 'purge']);
    expect(next[0]?.reason).toEqual({ code: 'destination-content-differs' });
    await applied(site);
    expect(await destinationMd5(site)).toBe(md5(wanted));
    await expectNothingToDo(site);
  });

  it('multipart source, the same bytes at the destination under another part size: adopted by content, nothing moves', async () => {
    const site = await makeSite(pair);
    const body = bytes(7);
    await putMultipart(pair.edge, site.sourceBucket, KEY, body, 5 * MIB);
    await putMultipart(pair.cloud, site.destinationBucket, KEY, body, 6 * MIB - 1);

    expect(await applied(site)).toMatch(/0 downloaded .*0 delivered .*1 adopted/);
    expect(await ledgerRecord(site)).toMatchObject({ stage: 'delivered', adoptedBy: 'content' });
    expect(await destinationMd5(site)).toBe(md5(body));
    await expectNothingToDo(site);
  });

  it('transfer.adopt: size keeps the old rule as an explicit choice: a same-size object is adopted unread', async () => {
    const site = await makeSite(pair, { transfer: ['adopt: size'] });
    await putObjects(pair.edge, site.sourceBucket, [{ key: KEY, body: bytes(8) }]);
    await putMultipart(pair.cloud, site.destinationBucket, KEY, bytes(9), 5 * MIB);
    const plan = await site.cli('plan');
    expect(plan.stdout).toMatch(/equal size only \(transfer\.adopt: size\)/);
    expect(await applied(site)).toMatch(/1 adopted/);
    expect(await ledgerRecord(site)).toMatchObject({ stage: 'delivered', adoptedBy: 'size' });
    await expectNothingToDo(site);
  });
});

describe('a local copy the ledger does not know is proven before its upload (invariant 10)', () => {
  it.each([
    ['plain MD5', MIB, 'md5', { check: { code: 'etag-mismatch', copy: 'local', actual: expect.stringMatching(/^[0-9a-f]{32}$/) } }],
    ['multipart', SIZE, 'multipart-etag', { multipartEtag: expect.stringMatching(/^[0-9a-f]{32}-2$/) }],
  ] as const)('after reset --keep-staged, a stale staged v1 (%s source ETag) is not delivered as v2: it is downloaded again', async (_shape, size, proof, why) => {
    // Uploads deferred: v1 is staged and stays staged.
    const site = await makeSite(pair, { transfer: ['maxUploadBatchBytes: 1KiB'] });
    const v1 = bytes(10, size);
    const v2 = bytes(11, size);
    const put = async (body: Buffer) => {
      if (proof === 'md5') await putObjects(pair.edge, site.sourceBucket, [{ key: 'x.bin', body }]);
      else await putMultipart(pair.edge, site.sourceBucket, 'x.bin', body, 5 * MIB);
    };
    await put(v1);
    expect(await applied(site)).toMatch(/1 downloaded .*0 delivered/);
    expect((await ledgerRecord(site, 'x.bin'))?.stage).toBe('staged');

    await put(v2);
    const reset = await site.cli('reset', '--yes', '--keep-staged');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    // The operator lifts the upload limit.
    const config = await readFile(site.configPath, 'utf8');
    await writeFile(site.configPath, config.replace('  maxUploadBatchBytes: 1KiB\n', ''));

    const planned = await planJson(site);
    expect(planned).toMatchObject([{ kind: 'upload', key: 'x.bin', localProof: proof }, { kind: 'purge', key: 'x.bin' }]);
    const proved = await site.cli('apply', '--auto-approve');
    expect(proved.exitCode, proved.stdout + proved.stderr).toBe(1);
    expect((await ledgerRecord(site, 'x.bin'))?.lastFailure).toMatchObject({ code: 'local-not-proven', hop: 'upload', ...why });
    expect(await getObjectMd5(pair.cloud, site.destinationBucket, 'x.bin').catch(() => 'absent')).toBe('absent');

    const again = await planJson(site);
    expect(again.map((a) => a.kind)).toEqual(['redownload', 'upload', 'purge']);
    expect(await applied(site)).toMatch(/1 downloaded .*1 delivered .*1 purged/);
    expect(await getObjectMd5(pair.cloud, site.destinationBucket, 'x.bin')).toBe(md5(v2));
    await expectNothingToDo(site);
  });

  it('after reset --keep-staged, a staged copy that is still the source version is uploaded once its MD5 matches', async () => {
    const site = await makeSite(pair, { transfer: ['maxUploadBatchBytes: 1KiB'] });
    const v1 = bytes(12, MIB);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'x.bin', body: v1 }]);
    await applied(site);
    expect((await site.cli('reset', '--yes', '--keep-staged')).exitCode).toBe(0);
    await writeFile(site.configPath, (await readFile(site.configPath, 'utf8')).replace('  maxUploadBatchBytes: 1KiB\n', ''));

    expect(await applied(site)).toMatch(/0 downloaded .*1 delivered .*1 purged/);
    expect(await ledgerRecord(site, 'x.bin')).toMatchObject({ stage: 'purged', md5: md5(v1) });
    expect(await getObjectMd5(pair.cloud, site.destinationBucket, 'x.bin')).toBe(md5(v1));
    await expectNothingToDo(site);
  });
});
