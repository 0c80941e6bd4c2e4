/**
 * A staging volume belongs to one state directory (invariant 10): two configs pointed at the
 * same volumes must not take each other's staged copies for their own, and the state directory
 * must never end up inside a volume, whatever links or globs say.
 */
import { describe, expect, it } from 'vitest';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { claimVolumes } from '../../src/inventory/claims.ts';
import { listAll, md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite, type Site, type SiteOptions } from './site.ts';

const pair = useMinioPair();

/** Config A with its own everything, and config B (its own buckets and state directory) staging on A's volumes. */
async function twoConfigs(optionsA: SiteOptions = {}): Promise<{ a: Site; b: Site }> {
  const a = await makeSite(pair, optionsA);
  const b = await makeSite(pair);
  const text = await readFile(b.configPath, 'utf8');
  await writeFile(b.configPath, text.replace(join(b.dir, 'volume-*'), join(a.dir, 'volume-*')));
  return { a, b: { ...b, volumes: a.volumes } };
}

/** Every regular file under the volumes with its content, for "nothing changed" checks. */
async function volumeFiles(volumes: string[]): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const volume of volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) found[join(entry.parentPath, entry.name)] = await readFile(join(entry.parentPath, entry.name), 'utf8');
    }
  }
  return found;
}

describe('a volume belongs to one state directory', () => {
  it("refuses config B on config A's volumes; A's staged copies and in-flight downloads survive; after A's reset B works", async () => {
    // A stages its objects but may not upload them yet, so the staged copies are its only ones once the device is gone.
    const { a, b } = await twoConfigs({ transfer: ['maxUploadBatchBytes: 1B'] });
    await putObjects(pair.edge, a.sourceBucket, [
      { key: 'x.bin', body: 'A x version one\n'.repeat(50) },
      { key: 'y.bin', body: 'A y\n'.repeat(40) },
    ]);
    const applied = await a.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    for (const key of ['x.bin', 'y.bin']) await pair.edge.client.send(new DeleteObjectCommand({ Bucket: a.sourceBucket, Key: key }));
    // An interrupted download of A's, as a killed s5cmd leaves it.
    await mkdir(join(a.volumes[0]!, '.dualsync-tmp'), { recursive: true });
    await writeFile(join(a.volumes[0]!, '.dualsync-tmp', 'z.bin4242'), 'half of z');
    const claims = await Promise.all(a.volumes.map((volume) => readFile(join(volume, '.dualsync-volume'), 'utf8')));
    for (const claim of claims) expect(JSON.parse(claim)).toMatchObject({ stateDir: a.stateDir, config: a.configPath });
    const before = await volumeFiles(a.volumes);
    expect(Object.keys(before).filter((path) => path.endsWith('.bin')).length).toBe(2);

    // B's source holds another x.bin (B would download over A's) and nothing else.
    await putObjects(pair.edge, b.sourceBucket, [{ key: 'x.bin', body: 'B x, other bytes\n' }]);
    for (const command of [['validate'], ['plan'], ['apply', '--auto-approve'], ['watch', '--once']]) {
      const refused = await b.cli(...command);
      expect(refused.exitCode, `${command.join(' ')}: ${refused.stdout}${refused.stderr}`).toBe(1);
      expect(refused.stderr).toMatch(/2 staging volumes belong to another state directory/);
      expect(refused.stderr).toContain(`${a.volumes[0]} belongs to state directory ${a.stateDir} of config ${a.configPath}`);
      expect(refused.stderr).toContain(`dualsync volumes release -c ${a.configPath}`);
      expect(refused.stderr).not.toContain('Internal error');
    }
    expect(await volumeFiles(a.volumes)).toEqual(before);
    expect(await listAll(pair.cloud, b.destinationBucket)).toEqual([]);

    // A still knows its staged copies; its reset removes them and hands the volumes over.
    const aPlan = await a.cli('plan');
    expect(aPlan.exitCode, aPlan.stderr).toBe(0);
    expect(aPlan.stdout).toMatch(/upload deferred|deferred to a later upload/);
    const reset = await a.cli('reset', '--yes');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/3 staged file\(s\) .* removed; 2 volume\(s\) released/);

    const bApply = await b.cli('apply', '--auto-approve');
    expect(bApply.exitCode, bApply.stdout + bApply.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, b.destinationBucket)).toEqual(await md5OfBucket(pair.edge, b.sourceBucket));
    const aRefused = await a.cli('plan');
    expect(aRefused.exitCode).toBe(1);
    expect(aRefused.stderr).toContain(`belongs to state directory ${b.stateDir} of config ${b.configPath}`);
    const again = await b.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });

  it('`volumes release` hands the volumes over: B then works and A is refused', async () => {
    const { a, b } = await twoConfigs();
    await putObjects(pair.edge, a.sourceBucket, [{ key: 'a.txt', body: 'from A' }]);
    await putObjects(pair.edge, b.sourceBucket, [{ key: 'b.txt', body: 'from B' }]);
    expect((await a.cli('apply', '--auto-approve')).exitCode).toBe(0);
    expect((await b.cli('plan')).exitCode).toBe(1);

    const unconfirmed = await a.cli('volumes', 'release');
    expect(unconfirmed.exitCode).toBe(1);
    expect(unconfirmed.stdout).toMatch(/dualsync volumes release will:\n {2}release .*volume-01 \(remove \.dualsync-volume/);
    expect(unconfirmed.stderr).toMatch(/needs a confirmation, and there is no terminal/);
    expect((await readdir(a.volumes[0]!))).toContain('.dualsync-volume');

    const released = await a.cli('volumes', 'release', '--yes');
    expect(released.exitCode, released.stdout + released.stderr).toBe(0);
    expect(released.stdout).toMatch(/Released 2 volume\(s\)/);
    for (const volume of a.volumes) expect(await readdir(volume)).not.toContain('.dualsync-volume');

    const bApply = await b.cli('apply', '--auto-approve');
    expect(bApply.exitCode, bApply.stdout + bApply.stderr).toBe(0);
    expect([...(await md5OfBucket(pair.cloud, b.destinationBucket)).keys()]).toEqual(['b.txt']);
    const aApply = await a.cli('apply', '--auto-approve');
    expect(aApply.exitCode).toBe(1);
    expect(aApply.stderr).toContain(`state directory ${b.stateDir} of config ${b.configPath}`);
    expect((await b.cli('plan', '--detailed-exitcode')).exitCode).toBe(0);
  });

  it("release warns about the copies it leaves; a later reset of the old owner leaves the new owner's volume alone", async () => {
    const { a, b } = await twoConfigs({ transfer: ['maxUploadBatchBytes: 1B'] });
    await putObjects(pair.edge, a.sourceBucket, [{ key: 'x.bin', body: 'A x\n'.repeat(30) }]);
    expect((await a.cli('apply', '--auto-approve')).exitCode).toBe(0);
    const released = await a.cli('volumes', 'release', '--yes');
    expect(released.exitCode, released.stdout + released.stderr).toBe(0);
    expect(released.stdout).toMatch(/Warning: 1 file\(s\) this ledger staged \(120 B\) are still on it, 1 of them not yet at the destination\./);
    expect(released.stdout).toMatch(/deliver them first \(`dualsync apply`\), then run `dualsync reset` instead/);
    // B takes the volumes over, as its first apply does.
    const { config } = await loadConfig(b.configPath, b.env);
    await claimVolumes(a.volumes, config, () => new Date());
    const before = await volumeFiles(a.volumes);

    const reset = await a.cli('reset', '--yes');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`leave ${a.volumes[0]} alone: ${a.volumes[0]} belongs to state directory ${b.stateDir} of config ${b.configPath}`);
    expect(reset.stdout).toMatch(/0 staged file\(s\) \(0 B\) removed\./);
    expect(await volumeFiles(a.volumes)).toEqual(before);
  });

  it('a claim whose state directory is gone is released only with --force, from the config that takes over', async () => {
    const { a, b } = await twoConfigs();
    await putObjects(pair.edge, a.sourceBucket, [{ key: 'a.txt', body: 'from A' }]);
    await putObjects(pair.edge, b.sourceBucket, [{ key: 'b.txt', body: 'from B' }]);
    expect((await a.cli('apply', '--auto-approve')).exitCode).toBe(0);
    const notGone = await b.cli('volumes', 'release', '--force', '--yes');
    expect(notGone.exitCode).toBe(1);
    expect(notGone.stderr).toMatch(/that state directory still exists/);

    await rm(a.stateDir, { recursive: true });
    const plan = await b.cli('plan');
    expect(plan.exitCode).toBe(1);
    expect(plan.stderr).toMatch(/that state directory is gone or holds another id now/);
    expect(plan.stderr).toContain('volumes release --force');
    const withoutForce = await b.cli('volumes', 'release', '--yes');
    expect(withoutForce.exitCode).toBe(1);
    expect(withoutForce.stderr).toMatch(/nothing was released/);

    const forced = await b.cli('volumes', 'release', '--force', '--yes');
    expect(forced.exitCode, forced.stdout + forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/which another state directory claimed \(--force\)/);
    const bApply = await b.cli('apply', '--auto-approve');
    expect(bApply.exitCode, bApply.stdout + bApply.stderr).toBe(0);
    const claim = JSON.parse(await readFile(join(a.volumes[0]!, '.dualsync-volume'), 'utf8'));
    expect(claim.stateDir).toBe(b.stateDir);
  });
});

describe('the state directory stays outside the volumes', () => {
  it('a state directory reached through a link into a volume: validate and apply refuse, nothing is written', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'a.txt', body: 'a' }]);
    const inside = join(site.volumes[0]!, 'state');
    await mkdir(inside);
    const link = join(site.dir, 'state-link');
    await symlink(inside, link);
    const text = await readFile(site.configPath, 'utf8');
    await writeFile(site.configPath, text.replace(`stateDir: ${site.stateDir}`, `stateDir: ${link}`));
    for (const command of [['validate'], ['apply', '--auto-approve'], ['reset', '--yes']]) {
      const refused = await site.cli(...command);
      expect(refused.exitCode, command.join(' ')).toBe(1);
      expect(refused.stderr).toContain(`stateDir: the state directory (really ${inside}) is inside volume ${site.volumes[0]}`);
    }
    expect(await readdir(inside)).toEqual([]);
    expect(await listAll(pair.cloud, site.destinationBucket)).toEqual([]);
  });

  it('a state directory a volume glob would match once created: validate refuses before the first apply creates it', async () => {
    const site = await makeSite(pair);
    const stateDir = join(site.dir, 'volume-state');
    const text = await readFile(site.configPath, 'utf8');
    await writeFile(site.configPath, text.replace(`stateDir: ${site.stateDir}`, `stateDir: ${stateDir}`));
    const validate = await site.cli('validate');
    expect(validate.exitCode).toBe(1);
    expect(validate.stderr).toContain(`stateDir: the state directory ${stateDir} would become a staging volume: staging.volumes[0] "${join(site.dir, 'volume-*')}" matches ${stateDir} once it exists`);
    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode).toBe(1);
    expect(await readdir(site.dir)).not.toContain('volume-state');
  });
});
