/**
 * Symbolic links inside a staging volume (issue 11, item 5; DESIGN invariant 4). A link below a
 * volume root is never followed: not to write a download, not to rename one into place, not to
 * purge, not to clear leftovers, not by the scan. Each test keeps a folder outside the volume with
 * a file that was never dualsync's, points links at it, and proves it ends byte for byte as it
 * began, that the keys under the links fail or are skipped with the link named, that the other
 * keys move, and that a second run does nothing more. Real MinIO and the real s5cmd.
 */
import { describe, expect, it } from 'vitest';
import type { ActionReason, PlanWarning } from '../../src/model/plan.ts';
import { lstat, mkdir, readdir, readFile, readlink, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listAll, putObjects, useMinioPair } from '../harness/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runApply, type EngineDeps } from '../../src/engine.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

const NOT_OURS = "a file that was never dualsync's";

/** Every entry under `dir`, without following links: files with their content, links with their target. */
async function snapshot(dir: string, prefix = ''): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const path = prefix === '' ? name : `${prefix}/${name}`;
    const info = await lstat(join(dir, path));
    if (info.isSymbolicLink()) found[path] = `link -> ${await readlink(join(dir, path))}`;
    else if (info.isDirectory()) Object.assign(found, { [`${path}/`]: 'folder' }, await snapshot(dir, path));
    else found[path] = `file: ${await readFile(join(dir, path), 'utf8')}`;
  }
  return found;
}

/** A folder beside the volumes (outside the `volume-*` glob) holding files that are not dualsync's. */
async function elsewhere(site: Site): Promise<string> {
  const dir = join(site.dir, 'elsewhere');
  await mkdir(join(dir, 'deep'), { recursive: true });
  await writeFile(join(dir, 'x.bin'), NOT_OURS);
  await writeFile(join(dir, 'deep', 'x.bin'), `${NOT_OURS}, one level down`);
  await writeFile(join(dir, 'p.bin'), 'xyz');
  return dir;
}

async function destinationKeys(site: Site): Promise<string[]> {
  return (await listAll(pair.cloud, site.destinationBucket)).map((object) => object.key).sort();
}

interface PlanJson {
  actions: { kind: string; key: string; reason?: ActionReason }[];
  warnings: PlanWarning[];
  messages: string[];
}

async function planJson(site: Site): Promise<PlanJson> {
  const plan = await site.cli('plan', '--json');
  expect(plan.exitCode, plan.stderr).toBe(0);
  return JSON.parse(plan.stdout) as PlanJson;
}

/** Ends every test: nothing more to do, nothing more written outside. */
async function expectSecondRunDoesNothing(site: Site, outside: string, before: Record<string, string>): Promise<void> {
  const destination = await destinationKeys(site);
  const again = await site.cli('plan', '--detailed-exitcode');
  expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  const applied = await site.cli('apply', '--auto-approve');
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  expect(applied.stdout).not.toMatch(/\d+ downloaded|failure/);
  expect(await destinationKeys(site)).toEqual(destination);
  expect(await snapshot(outside)).toEqual(before);
}

describe('symbolic links below a volume root', () => {
  it('links at the top, two levels down and in place of the file: their keys are skipped with the link named, nothing outside changes, the rest moves', async () => {
    const site = await makeSite(pair, { volumes: 1, transfer: ['purgeAfterUpload: true'] });
    const volume = site.volumes[0]!;
    const outside = await elsewhere(site);
    await symlink(outside, join(volume, 'evil'));
    await mkdir(join(volume, 'a', 'b'), { recursive: true });
    await symlink(outside, join(volume, 'a', 'b', 'evil'));
    await mkdir(join(volume, 'c'));
    await symlink(join(outside, 'x.bin'), join(volume, 'c', 'final.bin'));
    const before = await snapshot(outside);
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'evil/x.bin', body: 'from the bucket, over the file that is not ours' },
      { key: 'evil/deep/x.bin', body: 'from the bucket, one level down' },
      { key: 'evil/new.bin', body: 'a new file it would create there' },
      { key: 'a/b/evil/x.bin', body: 'through the link two levels down' },
      { key: 'c/final.bin', body: 'over the link in place of the file' },
      { key: 'ok/fine.bin', body: 'an ordinary key' },
      { key: 'a/b/sibling.bin', body: 'beside the link' },
    ]);

    const applied = await site.cli('apply', '--auto-approve');
    expect(await snapshot(outside)).toEqual(before);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/2 downloaded/);
    expect(await destinationKeys(site)).toEqual(['a/b/sibling.bin', 'ok/fine.bin']);
    // The links are the operator's: left exactly as they were.
    expect(await readlink(join(volume, 'evil'))).toBe(outside);
    expect(await readlink(join(volume, 'a', 'b', 'evil'))).toBe(outside);
    expect(await readlink(join(volume, 'c', 'final.bin'))).toBe(join(outside, 'x.bin'));

    // Every plan says which links it did not follow, and why it skipped each key.
    const plan = await planJson(site);
    for (const link of ['evil', 'a/b/evil', 'c/final.bin']) {
      expect(plan.warnings).toContainEqual({ code: 'volume-symlink', volume, path: link });
    }
    const skipped = plan.actions.filter((a) => a.kind === 'skip').map((a) => `${a.key}: ${JSON.stringify(a.reason)}`);
    const through = (link: string) => JSON.stringify({ code: 'path-through-link', link: `${volume}/${link}` });
    expect(skipped).toEqual([
      `a/b/evil/x.bin: ${through('a/b/evil')}`,
      `c/final.bin: ${through('c/final.bin')}`,
      `evil/deep/x.bin: ${through('evil')}`,
      `evil/new.bin: ${through('evil')}`,
      `evil/x.bin: ${through('evil')}`,
    ]);

    await expectSecondRunDoesNothing(site, outside, before);
  });

  it('a link in place of .dualsync-tmp: neither followed nor removed; downloads go to the volume without one', async () => {
    const site = await makeSite(pair, { volumes: 2, transfer: ['purgeAfterUpload: true'] });
    const outside = await elsewhere(site);
    await symlink(outside, join(site.volumes[0]!, '.dualsync-tmp'));
    const before = await snapshot(outside);
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'x.bin', body: 'would land in the linked temporary folder' },
      { key: 'deep/x.bin', body: 'and one level down' },
      { key: 'more/z.bin', body: 'z' },
    ]);
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await snapshot(outside)).toEqual(before);
    expect(await readlink(join(site.volumes[0]!, '.dualsync-tmp'))).toBe(outside);
    const plan = await planJson(site);
    expect(plan.warnings).toContainEqual({ code: 'volume-symlink', volume: site.volumes[0], path: '.dualsync-tmp' });
    // Everything went to the volume without the link.
    expect(applied.stdout).toMatch(/3 downloaded/);
    expect(await readdir(site.volumes[1]!)).toEqual(['.dualsync-tmp', '.dualsync-volume']);
    expect(await destinationKeys(site)).toEqual(['deep/x.bin', 'more/z.bin', 'x.bin']);
    await expectSecondRunDoesNothing(site, outside, before);
  });

  it('links created between the plan and the apply: the downloads and the purge through them fail, naming the link; nothing outside changes', async () => {
    const site = await makeSite(pair, { volumes: 1, transfer: ['purgeAfterUpload: false', 'maxUploadBatchBytes: 3B'] });
    const volume = site.volumes[0]!;
    const outside = await elsewhere(site);
    // A first run leaves a delivered copy staged (with purging turned on, the next plan purges it)
    // and a staged copy whose upload the budget deferred (the next plan uploads it).
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'keep/p.bin', body: 'abc' },
      { key: 'up/x.bin', body: 'staged, upload deferred' },
    ]);
    expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(0);
    const config1 = await readFile(site.configPath, 'utf8');
    await writeFile(site.configPath, config1.replace('purgeAfterUpload: false', 'purgeAfterUpload: true').replace('maxUploadBatchBytes: 3B', 'maxUploadBatchBytes: 1MiB'));
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'late/x.bin', body: 'through a folder link made after the plan' },
      { key: 'swap.bin', body: 'over a link made after the plan' },
      { key: 'ok.bin', body: 'an ordinary key' },
    ]);
    const before = await snapshot(outside);

    const { config } = await loadConfig(site.configPath, site.env);
    const warnings: string[] = [];
    const deps: EngineDeps = { now: () => new Date(), env: site.env, warn: (message) => warnings.push(message) };
    const report = await runApply(config, deps, {
      // The operator reviews the plan; meanwhile someone makes the links.
      confirm: async (run) => {
        expect([...run.plan.actions].map((a) => `${a.kind} ${a.key}`).sort()).toEqual(
          [
            'download late/x.bin', 'download ok.bin', 'download swap.bin',
            'purge keep/p.bin', 'purge late/x.bin', 'purge ok.bin', 'purge swap.bin', 'purge up/x.bin',
            'upload late/x.bin', 'upload ok.bin', 'upload swap.bin', 'upload up/x.bin',
          ],
        );
        await symlink(outside, join(volume, 'late'));
        await symlink(join(outside, 'x.bin'), join(volume, 'swap.bin'));
        await rename(join(volume, 'keep'), join(volume, 'kept-aside'));
        await symlink(outside, join(volume, 'keep'));
        // s5cmd would read the link's target: a file that is not ours would go to the destination.
        await rename(join(volume, 'up'), join(volume, 'up-aside'));
        await symlink(outside, join(volume, 'up'));
        return true;
      },
    });
    expect(await snapshot(outside)).toEqual(before);
    const failures = report.outcome!.failures.map((f) => `${f.key} (${f.hop}): ${f.code} ${'errorCode' in f ? f.errorCode : ''} ${'cause' in f ? f.cause?.split(' ')[0] : ''}`).sort();
    expect(failures).toEqual([
      `keep/p.bin (purge): purge-failed E_PATH_SYMLINK ${volume}/keep`,
      `late/x.bin (download): link-refused E_PATH_SYMLINK ${volume}/late`,
      `swap.bin (download): link-refused E_PATH_SYMLINK ${volume}/swap.bin`,
      `up/x.bin (upload): staged-file-refused E_PATH_SYMLINK ${volume}/up`,
    ]);
    expect(report.outcome!.downloaded.count).toBe(1);
    expect(await snapshot(outside)).toEqual(before);
    expect(await destinationKeys(site)).toEqual(['keep/p.bin', 'ok.bin']);
    expect(await readFile(join(volume, 'kept-aside', 'p.bin'), 'utf8')).toBe('abc');
    expect(await readFile(join(volume, 'up-aside', 'x.bin'), 'utf8')).toBe('staged, upload deferred');
    // Nothing of the failed downloads is left in the temporary folder either.
    expect(await readdir(join(volume, '.dualsync-tmp'), { recursive: true }).then((names) => names.filter((n) => n.endsWith('.bin')))).toEqual([]);

    // The next plan sees the links: the keys are skipped, the copy behind `keep` is left alone.
    const plan = await planJson(site);
    expect(plan.actions.map((a) => `${a.kind} ${a.key}`)).toEqual(['skip late/x.bin', 'skip swap.bin', 'skip up/x.bin']);
    expect(plan.messages.join('\n')).toMatch(/passing through a symbolic link \(not followed\): left as it is: "keep\/p\.bin"/);
    await expectSecondRunDoesNothing(site, outside, before);
  });

  it('a link in place of .dualsync-tmp made between the plan and the apply: that volume\'s downloads fail, the other volume\'s move', async () => {
    const site = await makeSite(pair, { volumes: 2, transfer: ['purgeAfterUpload: true'] });
    const outside = await elsewhere(site);
    await putObjects(pair.edge, site.sourceBucket, ['a.bin', 'b.bin', 'c.bin', 'd.bin'].map((key) => ({ key, body: `body of ${key}` })));
    const before = await snapshot(outside);
    const { config } = await loadConfig(site.configPath, site.env);
    const warnings: string[] = [];
    let onFirst: string[] = [];
    const report = await runApply(config, { now: () => new Date(), env: site.env, warn: (message) => warnings.push(message) }, {
      confirm: async (run) => {
        onFirst = [...run.plan.actions].filter((a) => a.kind === 'download' && a.volume === site.volumes[0]).map((a) => a.key);
        await symlink(outside, join(site.volumes[0]!, '.dualsync-tmp'));
        return true;
      },
    });
    expect(onFirst.length).toBeGreaterThan(0);
    expect(await snapshot(outside)).toEqual(before);
    expect(await readlink(join(site.volumes[0]!, '.dualsync-tmp'))).toBe(outside);
    const refusal = `${site.volumes[0]}/.dualsync-tmp is a symbolic link; dualsync does not follow links below a volume root, so no download can use this volume`;
    expect(warnings).toContain(`${refusal}; its interrupted downloads in .dualsync-tmp/ were not removed`);
    expect(report.outcome!.failures.map((f) => `${f.key}: ${f.code}: ${'cause' in f ? f.cause : ''}`).sort()).toEqual(onFirst.map((key) => `${key}: temp-folder-unusable: ${refusal}`).sort());
    expect(report.outcome!.downloaded.count).toBe(4 - onFirst.length);
    expect(await snapshot(outside)).toEqual(before);
    expect(await readlink(join(site.volumes[0]!, '.dualsync-tmp'))).toBe(outside);

    // The next run sees the link and puts the rest on the other volume.
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await destinationKeys(site)).toEqual(['a.bin', 'b.bin', 'c.bin', 'd.bin']);
    await expectSecondRunDoesNothing(site, outside, before);
  });

  it('doctor does not probe through a linked .dualsync-tmp: the volume fails its check, nothing is written there', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    const outside = await elsewhere(site);
    const temp = join(site.volumes[0]!, '.dualsync-tmp');
    await symlink(outside, temp);
    const before = await snapshot(outside);
    const doctor = await site.cli('doctor', '--json');
    const checks = (JSON.parse(doctor.stdout) as { checks: { scope: string; check: string; status: string; detail: string }[] }).checks;
    expect(checks.find((c) => c.scope === `volume ${site.volumes[0]}` && c.check === 'writable')).toMatchObject({
      status: 'fail',
      detail: `${temp} is a symbolic link; dualsync does not follow links below a volume root, so no download can use this volume`,
    });
    expect(doctor.exitCode).toBe(1);
    expect(await snapshot(outside)).toEqual(before);
    expect(await readlink(temp)).toBe(outside);
  });

  it('reset removes the staged files but neither follows nor removes a link at the top of a volume', async () => {
    const site = await makeSite(pair, { volumes: 1, transfer: ['purgeAfterUpload: false'] });
    const volume = site.volumes[0]!;
    const outside = await elsewhere(site);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'staged/a.bin', body: 'a' }]);
    expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(0);
    await symlink(outside, join(volume, 'evil'));
    const before = await snapshot(outside);
    const reset = await site.cli('reset', '--yes');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/remove from .* the 1 file\(s\) this ledger staged/);
    expect(await snapshot(outside)).toEqual(before);
    expect(await readdir(volume)).toEqual(['evil']);
    expect(await readlink(join(volume, 'evil'))).toBe(outside);
  });

  it('a saved plan is refused as stale when a link appears under the volume after it was made', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    const volume = site.volumes[0]!;
    const outside = await elsewhere(site);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'late/x.bin', body: 'through a link made after the plan' }]);
    const planPath = join(site.dir, 'plan.json');
    expect((await site.cli('plan', '--out', planPath)).exitCode).toBe(0);
    await symlink(outside, join(volume, 'late'));
    const before = await snapshot(outside);
    const applied = await site.cli('apply', planPath);
    expect(applied.exitCode).toBe(1);
    expect(applied.stderr).toMatch(/is stale/);
    expect(await snapshot(outside)).toEqual(before);
    expect(await destinationKeys(site)).toEqual([]);
  });

  it('a volume root that is itself a link to a folder (a mount) keeps working', async () => {
    const site = await makeSite(pair, { volumes: 1, transfer: ['purgeAfterUpload: true'] });
    const mount = join(site.dir, 'mnt', 'disk-1');
    await mkdir(mount, { recursive: true });
    const root = site.volumes[0]!;
    await rename(root, `${root}-old`);
    await symlink(mount, root);
    await putObjects(pair.edge, site.sourceBucket, [
      { key: 'a/b/c.bin', body: 'deep' },
      { key: 'top.bin', body: 'top' },
    ]);
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/2 downloaded .*2 delivered .*2 purged/);
    expect(await destinationKeys(site)).toEqual(['a/b/c.bin', 'top.bin']);
    expect((await lstat(root)).isSymbolicLink()).toBe(true);
    // Staged, delivered and purged on the disk behind the root link: no file is left there but the volume's claim.
    const onDisk = await snapshot(mount);
    expect(onDisk['.dualsync-tmp/']).toBe('folder');
    expect(Object.keys(onDisk).filter((path) => onDisk[path] !== 'folder')).toEqual(['.dualsync-volume']);
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });
});
