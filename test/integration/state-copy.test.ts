/**
 * Invariant 14 against real servers: a state directory is one place. A copy made with `cp -a`
 * carries the original's id; it must not pass the volume claim as the owner, and its `reset`
 * must not remove the original's undelivered staged copies. A state directory that was moved
 * (mv) is still the owner, and the claim follows it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { createBucket, listAll, md5OfBucket, putObjects, useMinioPair, type MinioPair } from '../harness/index.ts';
import { startStoppableMinio, type StoppableMinio } from '../harness/outage.ts';
import { makeSite, runCli, type CliResult, type Site } from './site.ts';

const pair = useMinioPair();
const stoppable: StoppableMinio[] = [];
afterAll(async () => {
  await Promise.all(stoppable.map((s) => s.server.stop()));
});

const run = promisify(execFile);

/** Every regular file under the given folders with its content (claims included), for "nothing changed" checks. */
async function filesUnder(folders: string[]): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const folder of folders) {
    for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) found[join(entry.parentPath, entry.name)] = await readFile(join(entry.parentPath, entry.name), 'utf8');
    }
  }
  return found;
}

/** Relative keys of the staged files (outside dualsync's own folders and files). */
async function stagedKeys(site: Site): Promise<string[]> {
  const keys: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      const path = relative(volume, join(entry.parentPath, entry.name));
      if (entry.isFile() && path.startsWith('data/')) keys.push(path);
    }
  }
  return keys.sort();
}

const objects = Array.from({ length: 5 }, (_, i) => ({ key: `data/obj-${i}.bin`, body: `object ${i} of device A\n`.repeat(40 + i) }));

/** Site A with a destination that can be taken down; A stages its 5 objects while it is down. */
async function siteWithStagedCopies(name: string): Promise<{ a: Site; cloud: StoppableMinio }> {
  const cloud = await startStoppableMinio(name);
  stoppable.push(cloud);
  const a = await makeSite({ edge: pair.edge, cloud: cloud.server, stop: async () => {} } satisfies MinioPair);
  await putObjects(pair.edge, a.sourceBucket, objects);
  await cloud.down();
  const applied = await a.cli('apply', '--auto-approve');
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  expect(applied.stdout).toMatch(/5 downloaded \([^)]*\), 0 delivered/);
  expect(await stagedKeys(a)).toEqual(objects.map((o) => o.key));
  return { a, cloud };
}

/** A config file next to A's that uses `stateDir` instead of A's, the same volume glob, and (when given) another source bucket. */
async function configWith(a: Site, name: string, stateDir: string, sourceBucket?: string): Promise<(...args: string[]) => Promise<CliResult>> {
  let text = (await readFile(a.configPath, 'utf8')).replace(`stateDir: ${a.stateDir}`, `stateDir: ${stateDir}`);
  if (sourceBucket !== undefined) text = text.replace(`bucket: ${a.sourceBucket}`, `bucket: ${sourceBucket}`);
  const path = join(a.dir, name);
  await writeFile(path, text);
  return (...args) => runCli([...args, '-c', path], a.env);
}

describe('a copied state directory', () => {
  it('cp -a stateA stateB: every command of config B refuses, reset removes nothing, and A later delivers all 5', async () => {
    const { a, cloud } = await siteWithStagedCopies('cloud-copy');
    const stateB = join(a.dir, 'stateB');
    await run('cp', ['-a', a.stateDir, stateB]);
    // A second device: config B has its own source bucket, and the same volume glob.
    const b = await configWith(a, 'b.yaml', stateB, await createBucket(pair.edge));
    const before = await filesUnder([...a.volumes, a.stateDir, stateB]);
    const claimsBefore = await Promise.all(a.volumes.map((volume) => readFile(join(volume, '.dualsync-volume'), 'utf8')));

    const validate = await b('validate');
    expect(validate.exitCode, validate.stdout + validate.stderr).toBe(1);
    expect(validate.stderr).toContain(`state directory ${stateB} is a copy of ${a.stateDir}`);
    expect(validate.stderr).toMatch(/E_STATE_DIR_COPY/);

    for (const command of [['reset', '--yes'], ['plan'], ['apply', '--auto-approve'], ['watch', '--once'], ['volumes', 'release', '--yes'], ['volumes', 'release', '--force', '--yes']]) {
      const refused = await b(...command);
      expect(refused.exitCode, `${command.join(' ')}: ${refused.stdout}${refused.stderr}`).toBe(1);
      expect(refused.stderr, command.join(' ')).toContain(`is a copy of ${a.stateDir}`);
      expect(refused.stderr).not.toContain('Internal error');
    }
    const doctor = await b('doctor', '--json');
    expect(doctor.exitCode).not.toBe(0);
    const claimRows = (JSON.parse(doctor.stdout) as { checks: { check: string; status: string; detail: string }[] }).checks.filter((c) => c.check === 'claim');
    expect(claimRows).toHaveLength(2);
    for (const row of claimRows) expect(row).toMatchObject({ status: 'fail', detail: expect.stringContaining(`is a copy of ${a.stateDir}`) });
    const list = await b('volumes', 'list');
    expect(list.exitCode).toBe(1);
    expect(list.stdout).toContain(`is a copy of ${a.stateDir}`);

    // Nothing was removed or changed: A's 5 undelivered copies, its claims, both state directories.
    expect(await filesUnder([...a.volumes, a.stateDir, stateB])).toEqual(before);
    expect(await Promise.all(a.volumes.map((volume) => readFile(join(volume, '.dualsync-volume'), 'utf8')))).toEqual(claimsBefore);

    // The original is unaffected: once its destination is back it delivers all 5.
    await cloud.up();
    const applied = await a.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/0 downloaded \([^)]*\), 5 delivered/);
    expect(await md5OfBucket(cloud.server, a.destinationBucket)).toEqual(await md5OfBucket(pair.edge, a.sourceBucket));
    const again = await a.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  }, 180_000);

  it('mv stateA stateC: the moved state directory keeps working and the claim follows it; a copy of it is then refused', async () => {
    const { a, cloud } = await siteWithStagedCopies('cloud-move');
    const stateC = join(a.dir, 'stateC');
    await rename(a.stateDir, stateC);
    const c = await configWith(a, 'c.yaml', stateC);

    const validate = await c('validate');
    expect(validate.exitCode, validate.stdout + validate.stderr).toBe(0);
    const plan = await c('plan');
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
    // plan changes nothing: the claims still name the old path until an apply.
    for (const volume of a.volumes) expect(JSON.parse(await readFile(join(volume, '.dualsync-volume'), 'utf8')).stateDir).toBe(a.stateDir);

    await cloud.up();
    const applied = await c('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/0 downloaded \([^)]*\), 5 delivered/);
    for (const volume of a.volumes) {
      const claim = JSON.parse(await readFile(join(volume, '.dualsync-volume'), 'utf8'));
      expect(claim).toMatchObject({ stateDir: stateC, config: join(a.dir, 'c.yaml') });
      expect(await readdir(join(volume, '.dualsync-tmp')).catch(() => [])).toEqual([]);
    }
    expect(await md5OfBucket(cloud.server, a.destinationBucket)).toEqual(await md5OfBucket(pair.edge, a.sourceBucket));
    expect((await c('plan', '--detailed-exitcode')).exitCode).toBe(0);

    // The claim now names stateC: a copy of stateC is refused, naming it.
    const stateD = join(a.dir, 'stateD');
    await run('cp', ['-a', stateC, stateD]);
    const d = await configWith(a, 'd.yaml', stateD);
    const refused = await d('plan');
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`state directory ${stateD} is a copy of ${stateC}`);
    expect(await listAll(cloud.server, a.destinationBucket)).toHaveLength(5);
  }, 180_000);
});
