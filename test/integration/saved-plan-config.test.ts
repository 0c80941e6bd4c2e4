/**
 * A saved plan whose config changed after `plan --out` (issue 13, item 8): `apply FILE` refuses
 * it for that reason, naming what changed, not as an edited manifest or plan file. Three ways
 * the config an operator sees can change: another partSize, a narrowed volume glob, a volume
 * that is no longer there (unmounted). Nothing moves in any of them, and with the config put
 * back the same plan file applies.
 */
import { describe, expect, it } from 'vitest';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listAll, md5, md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import type { Action, PlanFile } from '../../src/model/index.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

const OBJECTS = Array.from({ length: 6 }, (_, i) => ({ key: `day-${i % 2}/obj-${i}.dat`, body: `object ${i} `.repeat(100 + i) }));

async function planned(transfer: string[] = []): Promise<{ site: Site; planPath: string; plan: PlanFile<Action[]> }> {
  const site = await makeSite(pair, { transfer: ['partSize: 5MiB', ...transfer] });
  await putObjects(pair.edge, site.sourceBucket, OBJECTS);
  const planPath = join(site.dir, 'plan.json');
  const result = await site.cli('plan', '--out', planPath);
  expect(result.exitCode, result.stderr).toBe(0);
  const plan = JSON.parse(await readFile(planPath, 'utf8')) as PlanFile<Action[]>;
  // The plan stages objects on the second volume too, so that losing it matters.
  expect(plan.plan.actions.some((a) => a.kind === 'download' && a.volume === site.volumes[1])).toBe(true);
  return { site, planPath, plan };
}

async function editConfig(site: Site, from: string, to: string): Promise<string> {
  const text = await readFile(site.configPath, 'utf8');
  expect(text).toContain(from);
  await writeFile(site.configPath, text.replace(from, to));
  return text;
}

/** `apply FILE` exits 1 with `says`, names no edit, and nothing reaches the destination. */
async function expectConfigRefusal(site: Site, planPath: string, says: string): Promise<void> {
  const result = await site.cli('apply', planPath);
  expect(result.exitCode, result.stdout + result.stderr).toBe(1);
  expect(result.stderr).toContain(says);
  expect(result.stderr).not.toMatch(/differs from its plan file|never plans|must not be edited|changed after it was written/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(await listAll(pair.cloud, site.destinationBucket)).toEqual([]);
}

async function expectApplies(site: Site, planPath: string): Promise<void> {
  const result = await site.cli('apply', planPath);
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
  expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(OBJECTS.map((o) => [o.key, md5(o.body)])));
}

describe('apply FILE after the config changed', () => {
  it('another partSize: "the config changed since this plan was made: transfer.partSize"', async () => {
    const { site, planPath } = await planned();
    const original = await editConfig(site, 'partSize: 5MiB', 'partSize: 8MiB');
    await expectConfigRefusal(site, planPath, 'the config changed since this plan was made: transfer.partSize (');
    await writeFile(site.configPath, original);
    await expectApplies(site, planPath);
  });

  it('a narrowed volume glob: "the config changed since this plan was made: staging.volumes"', async () => {
    const { site, planPath } = await planned();
    const original = await editConfig(site, `${join(site.dir, 'volume-*')}`, site.volumes[0]!);
    await expectConfigRefusal(site, planPath, 'the config changed since this plan was made: staging.volumes (');
    await writeFile(site.configPath, original);
    await expectApplies(site, planPath);
  });

  it('a volume no longer there (unmounted): names the volume', async () => {
    const { site, planPath } = await planned();
    const away = join(site.dir, 'unmounted-02');
    await rename(site.volumes[1]!, away);
    await expectConfigRefusal(site, planPath, `the config changed since this plan was made: staging.volumes no longer matches ${site.volumes[1]}`);
    await rename(away, site.volumes[1]!);
    await expectApplies(site, planPath);
  });

  it('two fields at once are both named', async () => {
    const { site, planPath } = await planned(['verify: size']);
    await editConfig(site, 'partSize: 5MiB', 'partSize: 16MiB');
    await editConfig(site, 'verify: size', 'verify: etag');
    await expectConfigRefusal(site, planPath, 'the config changed since this plan was made: transfer.partSize, transfer.verify (');
  });
});
