import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerStore } from '../../src/ledger/store.ts';
import { loadConfig } from '../../src/config/load.ts';
import { claimVolumes } from '../../src/inventory/claims.ts';
import { runCli } from './helpers.ts';

let dir: string;

/** A config on the shared volumes `dir/vol-*`, with its own state directory; the endpoints are never contacted. */
async function writeConfig(name: string): Promise<{ path: string; stateDir: string }> {
  const stateDir = join(dir, `${name}-state`);
  const path = join(dir, `${name}.yaml`);
  await writeFile(
    path,
    `version: 1
source:
  bucket: field-data
  region: us-east-1
  endpoint: http://127.0.0.1:9
destination:
  bucket: archive-${name}
  region: us-east-1
  endpoint: http://127.0.0.1:9
staging:
  volumes: ["${join(dir, 'vol-*')}"]
stateDir: ${stateDir}
`,
  );
  return { path, stateDir };
}

/** Claims the volumes for a config, as its first apply does. */
async function claimFor(configPath: string): Promise<void> {
  const { config } = await loadConfig(configPath, {});
  // As apply does: the ledger exists before any claim (a used state directory without one is refused).
  const ledger = await LedgerStore.open(config.stateDir);
  await ledger.proveWritable();
  await ledger.close();
  await claimVolumes([join(dir, 'vol-1'), join(dir, 'vol-2')], config, () => new Date('2026-11-29T10:00:00Z'));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-claims-'));
  await mkdir(join(dir, 'vol-1'));
  await mkdir(join(dir, 'vol-2'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('volume claims on the command line', () => {
  it('validate and plan refuse volumes another state directory claims, naming it, its config and what to do', async () => {
    const a = await writeConfig('a');
    const b = await writeConfig('b');
    await claimFor(a.path);
    const claim = JSON.parse(await readFile(join(dir, 'vol-1', '.dualsync-volume'), 'utf8'));
    expect(claim).toMatchObject({ stateDir: a.stateDir, config: a.path, claimedAt: '2026-11-29T10:00:00.000Z' });
    expect(claim.stateDirId).toBe((await readFile(join(a.stateDir, 'id'), 'utf8')).trim());

    for (const command of ['validate', 'plan']) {
      const result = await runCli([command, '-c', b.path]);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`Error [E_VOLUME_CLAIMED]: 2 staging volumes belong to another state directory, not to ${b.stateDir}; refusing to use them`);
      expect(result.stderr).toContain(`${join(dir, 'vol-1')} belongs to state directory ${a.stateDir} of config ${a.path}, claimed on `);
      expect(result.stderr).toContain(`\`dualsync volumes release -c ${a.path}\``);
      expect(result.stderr).toContain(`\`dualsync reset -c ${a.path}\``);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
    const doctor = await runCli(['doctor', '--json', '-c', b.path]);
    const claimRows = (JSON.parse(doctor.stdout).checks as { scope: string; check: string; status: string; detail: string; fix?: string }[]).filter((c) => c.check === 'claim');
    expect(claimRows).toHaveLength(2);
    expect(claimRows[0]).toMatchObject({ scope: `volume ${join(dir, 'vol-1')}`, status: 'fail', fix: expect.stringContaining(`dualsync volumes release -c ${a.path}`) });
    expect(claimRows[0]!.detail).toContain(`belongs to state directory ${a.stateDir}`);
    // The owner's own validate passes, and the volume scan never takes the claim for an object.
    const own = await runCli(['validate', '-c', a.path]);
    expect(own.exitCode, own.stderr).toBe(0);
    const list = await runCli(['volumes', 'list', '--json', '-c', a.path]);
    expect(JSON.parse(list.stdout).volumes.map((v: { stagedFiles: number }) => v.stagedFiles)).toEqual([0, 0]);
  });

  it('volumes release: nothing claimed, an unknown --volume, a foreign claim without --force', async () => {
    const a = await writeConfig('a');
    const b = await writeConfig('b');
    const nothing = await runCli(['volumes', 'release', '--yes', '-c', a.path]);
    expect(nothing.exitCode, nothing.stderr).toBe(0);
    expect(nothing.stdout).toBe(`Nothing to release: no configured volume is claimed by the state directory ${a.stateDir}.\n`);

    const unknown = await runCli(['volumes', 'release', '--volume', join(dir, 'elsewhere'), '-c', a.path]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain(`${join(dir, 'elsewhere')} is not a staging volume of ${a.path}`);

    await claimFor(a.path);
    const foreign = await runCli(['volumes', 'release', '--yes', '-c', b.path]);
    expect(foreign.exitCode).toBe(1);
    expect(foreign.stderr).toContain('2 volumes belong to another state directory');
    expect(foreign.stderr).toContain('nothing was released');
    expect(foreign.stderr).toContain('`--force` releases it from here only when that state directory is gone');
    expect(await readdir(join(dir, 'vol-1'))).toContain('.dualsync-volume');

    const one = await runCli(['volumes', 'release', '--yes', '--volume', join(dir, 'vol-2'), '-c', a.path]);
    expect(one.exitCode, one.stderr).toBe(0);
    expect(one.stdout).toContain(`Released 1 volume(s): ${join(dir, 'vol-2')}.`);
    expect(await readdir(join(dir, 'vol-1'))).toContain('.dualsync-volume');
    expect(await readdir(join(dir, 'vol-2'))).not.toContain('.dualsync-volume');
  });

  it('a damaged claim is refused, never taken for free, and only --force removes it', async () => {
    const b = await writeConfig('b');
    await writeFile(join(dir, 'vol-1', '.dualsync-volume'), '{"half": ');
    const plan = await runCli(['plan', '-c', b.path]);
    expect(plan.exitCode).toBe(1);
    expect(plan.stderr).toContain(`the claim ${join(dir, 'vol-1', '.dualsync-volume')} of staging volume ${join(dir, 'vol-1')} is not a dualsync volume claim`);
    expect(plan.stderr).toContain('dualsync volumes release --force');
    expect((await runCli(['volumes', 'release', '--yes', '-c', b.path])).exitCode).toBe(1);
    const forced = await runCli(['volumes', 'release', '--yes', '--force', '-c', b.path]);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(await readdir(join(dir, 'vol-1'))).not.toContain('.dualsync-volume');
  });
});
