import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { identityOf } from '../../src/apply/proc.ts';
import { md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

/** Everything under the volumes, directories included (a reset must leave them empty). */
async function volumeContents(site: Site): Promise<string[]> {
  const found: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

const objects = Array.from({ length: 12 }, (_, i) => ({ key: `site-7/day-${i % 3}/sensor ${i}.csv`, body: `reading ${i}\n`.repeat(20 + i) }));

async function appliedSite(): Promise<Site> {
  const site = await makeSite(pair, { transfer: ['purgeAfterUpload: false'] });
  await putObjects(pair.edge, site.sourceBucket, [...objects, { key: 'odd/it\'s "quoted" *?[x].txt', body: 'odd' }]);
  const applied = await site.cli('apply', '--auto-approve');
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  expect((await volumeContents(site)).length).toBeGreaterThan(0);
  return site;
}

describe('reset', () => {
  it('after an apply that kept its staged copies: empties the volumes, backs up the ledger, and the next plan adopts everything', async () => {
    const site = await appliedSite();
    const ledgerBefore = (await readdir(site.stateDir)).filter((name) => name.startsWith('ledger.'));
    expect(ledgerBefore.length).toBeGreaterThan(0);
    // An interrupted download left behind, as a killed s5cmd would.
    await mkdir(join(site.volumes[0]!, '.dualsync-tmp', 'site-7'), { recursive: true });
    await writeFile(join(site.volumes[0]!, '.dualsync-tmp', 'site-7', 'partial.csv123456'), 'half');

    const reset = await site.cli('reset', '--yes');
    expect(reset.stderr).not.toMatch(/Internal error/);
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/move the ledger \(13 object\(s\)\)/);
    expect(reset.stdout).toMatch(/1 of them interrupted downloads in \.dualsync-tmp\//);
    expect(reset.stdout).toMatch(/everything else is downloaded and uploaded again/);
    expect(reset.stdout).toMatch(/Reset complete: ledger moved to .*backup-\d{8}T\d{6}Z; 14 staged file\(s\) .* removed; 2 volume\(s\) released\./);

    expect(await volumeContents(site)).toEqual([]);
    const state = await readdir(site.stateDir);
    const backup = state.find((name) => /^backup-\d{8}T\d{6}Z$/.test(name));
    expect(backup).toBeDefined();
    expect((await readdir(join(site.stateDir, backup!))).sort()).toEqual([...ledgerBefore, 'last-run.json'].sort());
    // A new ledger holds only the reset event that names the one moved (report.test.ts checks it).
    expect(state.filter((name) => name.startsWith('ledger.') || name === 'last-run.json').sort()).toEqual(['ledger.db', 'ledger.db-high-water']);

    const plan = await site.cli('plan', '--json');
    expect(plan.exitCode, plan.stderr).toBe(0);
    const kinds = (JSON.parse(plan.stdout).actions as { kind: string }[]).map((a) => a.kind);
    expect(kinds.filter((kind) => kind !== 'adopt')).toEqual([]);
    expect(kinds).toHaveLength(13);

    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/0 downloaded .*0 delivered .*13 adopted/);
    // Nothing staged; the apply claimed the volumes again for this state directory.
    expect(await volumeContents(site)).toEqual(site.volumes.map((volume) => join(volume, '.dualsync-volume')));
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));

    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.stdout).toMatch(/No changes/);
  });

  it('removes only what the ledger staged: a foreign file on a volume, a changed staged file and everything in the state directory stay', async () => {
    const site = await appliedSite();
    const [volume] = site.volumes as [string];
    await mkdir(join(volume, 'operator'), { recursive: true });
    await writeFile(join(volume, 'operator', 'notes.txt'), 'not dualsync\'s');
    await writeFile(join(volume, 'README'), 'mine');
    // A staged copy someone replaced with other bytes of another size: no longer what the ledger staged.
    const staged = (await readdir(volume, { recursive: true, withFileTypes: true })).find((entry) => entry.isFile() && entry.name.endsWith('.csv'))!;
    const changed = join(staged.parentPath, staged.name);
    await writeFile(changed, 'edited by hand');
    await writeFile(join(site.stateDir, 'operator-notes.txt'), 'keep me');
    await mkdir(join(site.stateDir, 'backup-20000101T000000Z'));
    await writeFile(join(site.stateDir, 'backup-20000101T000000Z', 'ledger.journal.jsonl'), 'an older backup\n');
    // A link below the volume root into the state directory: never followed.
    await symlink(site.stateDir, join(volume, 'state-link'));

    const reset = await site.cli('reset', '--yes');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/leave the 3 other file\(s\) in .*volume-01: this ledger did not stage them/);
    expect(reset.stdout).toMatch(/3 other file\(s\) left in place/);

    expect(await readFile(join(volume, 'operator', 'notes.txt'), 'utf8')).toBe('not dualsync\'s');
    expect(await readFile(join(volume, 'README'), 'utf8')).toBe('mine');
    expect(await readFile(changed, 'utf8')).toBe('edited by hand');
    expect((await stat(join(volume, 'state-link'))).isDirectory()).toBe(true);
    expect(await readFile(join(site.stateDir, 'operator-notes.txt'), 'utf8')).toBe('keep me');
    expect(await readFile(join(site.stateDir, 'backup-20000101T000000Z', 'ledger.journal.jsonl'), 'utf8')).toBe('an older backup\n');
    const backup = (await readdir(site.stateDir)).find((name) => /^backup-\d{8}T\d{6}Z$/.test(name) && name !== 'backup-20000101T000000Z');
    const backedUp = await readdir(join(site.stateDir, backup!));
    expect(backedUp).toContain('last-run.json');
    expect(backedUp.some((name) => name.startsWith('ledger.'))).toBe(true);
    // The other staged copies are gone; only what dualsync did not stage is left (with its folders).
    const left: string[] = [];
    for (const v of site.volumes) {
      for (const entry of await readdir(v, { recursive: true, withFileTypes: true })) if (!entry.isDirectory()) left.push(join(entry.parentPath, entry.name));
    }
    expect(left.sort()).toEqual([join(volume, 'README'), join(volume, 'operator', 'notes.txt'), join(volume, 'state-link'), changed].sort());
  });

  it('--keep-staged backs up the ledger and leaves the staged files', async () => {
    const site = await appliedSite();
    const staged = await volumeContents(site);
    const reset = await site.cli('reset', '--yes', '--keep-staged');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/staged files kept/);
    expect(await volumeContents(site)).toEqual(staged);
    expect((await readdir(site.stateDir)).some((name) => name.startsWith('backup-'))).toBe(true);
  });

  it('refuses while another dualsync holds the lock, and changes nothing', async () => {
    const site = await appliedSite();
    const staged = await volumeContents(site);
    // A live process of this host, named with its start time and boot: a lock that is really held.
    // (Not this test's own pid: the CLI may run in this process, and a run never takes its own pid for another holder.)
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const identity = identityOf(sleeper.pid as number);
      expect(identity).toBeDefined();
      const holder = { ...identity, host: hostname(), startedAt: new Date().toISOString(), command: 'dualsync watch' };
      await writeFile(join(site.stateDir, 'lock'), `${JSON.stringify(holder)}\n`);
      const reset = await site.cli('reset', '--yes');
      expect(reset.exitCode, reset.stdout + reset.stderr).toBe(1);
      expect(reset.stderr).toMatch(new RegExp(`another dualsync holds the lock .*dualsync watch, pid ${sleeper.pid}`));
    } finally {
      sleeper.kill('SIGKILL');
    }
    expect(await volumeContents(site)).toEqual(staged);
    expect((await readdir(site.stateDir)).some((name) => name.startsWith('backup-'))).toBe(false);
  });

  it('without --yes and without a terminal: shows the plan, refuses, and changes nothing', async () => {
    const site = await appliedSite();
    const staged = await volumeContents(site);
    const reset = await site.cli('reset');
    expect(reset.exitCode).toBe(1);
    expect(reset.stdout).toMatch(/dualsync reset will:/);
    expect(reset.stderr).toMatch(/reset needs a confirmation, and there is no terminal/);
    expect(reset.stderr).toMatch(/Hint: .*--yes/);
    expect(await volumeContents(site)).toEqual(staged);
    expect(await readFile(join(site.stateDir, 'last-run.json'), 'utf8')).toMatch(/finishedAt/);
  });

  it('after `volumes release`, the staged files on the unclaimed volumes stay: another state directory may hold them', async () => {
    const site = await appliedSite();
    const released = await site.cli('volumes', 'release', '--yes');
    expect(released.exitCode, released.stdout + released.stderr).toBe(0);
    const staged = await volumeContents(site);
    expect(staged.length).toBeGreaterThan(0);
    const reset = await site.cli('reset', '--yes');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    expect(await volumeContents(site)).toEqual(staged);
    expect(reset.stdout).toContain(`leave ${site.volumes[0]} alone: this state directory does not claim it`);
    expect(reset.stdout).toMatch(/0 staged file\(s\) \(0 B\) removed/);
  });

  it('a second reset finds nothing to do', async () => {
    const site = await appliedSite();
    expect((await site.cli('reset', '--yes')).exitCode).toBe(0);
    const again = await site.cli('reset', '--yes');
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^Nothing to reset/);
  });
});
