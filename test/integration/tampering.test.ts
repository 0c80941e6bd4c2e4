/**
 * Plan tampering (invariant 6): a plan file or manifest edited after `plan --out` is refused by
 * `apply FILE` with exit 1 and a clear message, and nothing moves: the destination and the
 * volumes stay as they were, the ledger does not change, the source keeps every object. Even a
 * plan whose digest was recomputed after the edit may not reach outside the configured volumes.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listAll, md5, md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { canonicalPlanJson, serializePlanFile } from '../../src/planfile/write.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import type { Action, PlanFile } from '../../src/model/index.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

const OBJECTS = [
  { key: 'site/day-0/sensor 0.dat', body: 'zero '.repeat(40) },
  { key: 'site/day-0/sensor 1.dat', body: 'one '.repeat(50) },
  { key: 'site/day-1/sensor 2.dat', body: 'two '.repeat(60) },
];

interface Scene {
  site: Site;
  planPath: string;
  manifests: { download: string; upload: string };
  canary: string;
}

async function scene(transfer: string[] = []): Promise<Scene> {
  const site = await makeSite(pair, { transfer });
  await putObjects(pair.edge, site.sourceBucket, OBJECTS);
  const canary = join(site.dir, 'canary');
  await mkdir(canary);
  const planPath = join(site.dir, 'plan.json');
  return { site, planPath, manifests: { download: join(site.dir, 'plan.download.s5cmd'), upload: join(site.dir, 'plan.upload.s5cmd') }, canary };
}

async function planOut(s: Scene): Promise<void> {
  const planned = await s.site.cli('plan', '--out', s.planPath);
  expect(planned.exitCode, planned.stderr).toBe(0);
}

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name)).sort();
}

interface World {
  destination: Map<string, string>;
  source: number;
  local: string[];
  serial: number;
}

async function world(s: Scene): Promise<World> {
  const ledger = await LedgerStore.open(s.site.stateDir);
  const serial = ledger.serial;
  await ledger.close();
  const local: string[] = [];
  for (const root of [...s.site.volumes, s.canary]) local.push(...(await files(root)));
  return {
    destination: await md5OfBucket(pair.cloud, s.site.destinationBucket),
    source: (await listAll(pair.edge, s.site.sourceBucket)).length,
    local,
    serial,
  };
}

/** Applies the plan file and expects a refusal that says `says`, with nothing moved. */
async function expectRefused(s: Scene, says: RegExp): Promise<string> {
  const before = await world(s);
  const refused = await s.site.cli('apply', s.planPath);
  expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1);
  expect(refused.stderr).toMatch(says);
  expect(refused.stderr).not.toMatch(/^\s+at |Internal error|assertion failed/m);
  expect(await world(s)).toEqual(before);
  return refused.stderr;
}

async function editText(path: string, edit: (text: string) => string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const edited = edit(text);
  expect(edited, `the edit changed ${path}`).not.toBe(text);
  await writeFile(path, edited);
}

/** Edits the plan and writes it back with a recomputed digest, as someone who knows the format could. */
async function forge(s: Scene, edit: (planFile: PlanFile<Action[]>) => void): Promise<void> {
  const planFile = JSON.parse(await readFile(s.planPath, 'utf8')) as PlanFile<Action[]>;
  edit(planFile);
  planFile.planDigest = createHash('sha256').update(canonicalPlanJson(planFile.plan)).digest('hex');
  await writeFile(s.planPath, serializePlanFile(planFile));
  // The manifests are for review; without them apply renders the lines from the plan itself.
  await rm(s.manifests.download);
  await rm(s.manifests.upload);
}

const TAMPERED = /changed after it was written/;

describe('apply refuses a plan edited after plan --out, and nothing moves', () => {
  it.each([
    { name: "an action's key changed", edit: (t: string) => t.replace('"site/day-0/sensor 1.dat"', '"site/day-0/sensor 9.dat"') },
    { name: "an action's key changed to escape the volume", edit: (t: string) => t.replace('"site/day-0/sensor 1.dat"', '"../../../tmp/escape.dat"') },
    {
      name: 'an action added',
      edit: (t: string) => {
        const line = t.split('\n').find((l) => l.includes('"kind":"download"') || l.includes('"kind": "download"'))!;
        return t.replace(line, `${line}\n${line.replace('sensor 0.dat', 'sensor 0 copy.dat')}`);
      },
    },
    { name: "an action's size changed", edit: (t: string) => t.replace(/("key": ?"site\/day-1\/sensor 2\.dat", ?"size": ?)(\d+)/, (_, head: string, size: string) => `${head}${Number(size) + 1}`) },
    { name: 'the summary changed', edit: (t: string) => t.replace(/("download": ?\{ ?"count": ?)3/, '$15') },
    {
      name: 'an action removed (the file rewritten in its own format, digest kept)',
      edit: (t: string) => {
        const planFile = JSON.parse(t) as PlanFile<Action[]>;
        planFile.plan.actions = planFile.plan.actions.filter((a) => !(a.kind === 'purge' && a.key === 'site/day-1/sensor 2.dat'));
        return serializePlanFile(planFile);
      },
    },
  ])('the plan file: $name', async ({ edit }) => {
    const s = await scene();
    await planOut(s);
    await editText(s.planPath, edit);
    await expectRefused(s, TAMPERED);
  });

  it.each([
    { name: 'the download manifest: a target path changed', manifest: 'download' as const, edit: (t: string) => t.replace(/"[^"]*sensor 0\.dat"$/m, '"/tmp/elsewhere.dat"') },
    { name: 'the download manifest: a line added', manifest: 'download' as const, edit: (t: string) => `${t}${t.split('\n')[0]!.replaceAll('sensor 0', 'sensor 7')}\n` },
    { name: 'the upload manifest: the destination changed', manifest: 'upload' as const, edit: (t: string) => t.replace(/s3:\/\/t-[0-9a-f]+\//, 's3://someone-else/') },
    { name: 'the upload manifest: emptied', manifest: 'upload' as const, edit: () => '' },
  ])('$name', async ({ manifest, edit }) => {
    const s = await scene();
    await planOut(s);
    await editText(s.manifests[manifest], edit);
    const stderr = await expectRefused(s, /differs from its plan file/);
    expect(stderr).toContain(s.manifests[manifest]);
  });

  it('a plan file cut short is refused as not a plan file', async () => {
    const s = await scene();
    await planOut(s);
    await editText(s.planPath, (t) => t.slice(0, Math.floor(t.length / 2)));
    await expectRefused(s, /is not a plan file: it is not valid JSON/);
  });

  it('with its digest recomputed, a download pointed outside the configured volumes is still refused', async () => {
    const s = await scene();
    await planOut(s);
    await forge(s, (planFile) => {
      for (const action of planFile.plan.actions) if (action.key === 'site/day-0/sensor 0.dat') action.volume = s.canary;
    });
    await expectRefused(s, /not one of the configured staging volumes/);
    expect(await files(s.canary)).toEqual([]);
  });

  it('with its digest recomputed, a key that leaves the volume is still refused', async () => {
    const s = await scene();
    await planOut(s);
    await forge(s, (planFile) => {
      for (const action of planFile.plan.actions) if (action.key === 'site/day-0/sensor 0.dat') action.key = '../canary/escape.dat';
    });
    await expectRefused(s, /'\.\.' path segment/);
    expect(await files(s.canary)).toEqual([]);
  });

  it('with its digest recomputed, a purge pointed at a file outside the volumes is still refused and deletes nothing', async () => {
    const s = await scene(['purgeAfterUpload: false']);
    const first = await s.site.cli('apply', '--auto-approve');
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    // Staged copies kept; now purging is turned on, and a file that is not dualsync's waits in the canary.
    await writeFile(s.site.configPath, (await readFile(s.site.configPath, 'utf8')).replace('purgeAfterUpload: false', 'purgeAfterUpload: true'));
    const victim = join(s.canary, 'site/day-0/sensor 0.dat');
    await mkdir(join(s.canary, 'site/day-0'), { recursive: true });
    await writeFile(victim, OBJECTS[0]!.body);
    await planOut(s);
    await forge(s, (planFile) => {
      const purge = planFile.plan.actions.find((a: Action) => a.kind === 'purge' && a.key === 'site/day-0/sensor 0.dat');
      expect(purge).toBeDefined();
      purge!.volume = s.canary;
    });
    await expectRefused(s, /not one of the configured staging volumes/);
    expect(await readFile(victim, 'utf8')).toBe(OBJECTS[0]!.body);

    // The untouched plan file still applies: the refusal was about the edit, not the world.
    await planOut(s);
    const applied = await s.site.cli('apply', s.planPath);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await readFile(victim, 'utf8')).toBe(OBJECTS[0]!.body);
    expect(await md5OfBucket(pair.cloud, s.site.destinationBucket)).toEqual(new Map(OBJECTS.map((o) => [o.key, md5(o.body)])));
  });
});
