/**
 * `reset` killed (kill -9) at each of its steps, stopped at a named point by DUALSYNC_CRASH_AT:
 * a rerun of `reset` finishes the interrupted one. The volumes end empty, one backup folder holds
 * the whole old ledger (which verifies to the head the new chain's reset event names), the new
 * chain verifies, and the next apply adopts everything: nothing lost, nothing moved twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { copyFile, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { cleanup, md5OfBucket, putObjects, tempDir, useMinioPair } from '../harness/index.ts';
import { waitFor } from '../harness/wait.ts';
import { loadConfig } from '../../src/config/load.ts';
import { verifyLedger } from '../../src/ops/report.ts';
import { processStat } from '../../src/apply/proc.ts';
import { RESET_STEPS } from '../../src/ops/reset-intent.ts';
import { makeSite, siteWithResetKilledAt, type Site } from './site.ts';

const pair = useMinioPair();
afterAll(cleanup);

const objects = Array.from({ length: 8 }, (_, i) => ({ key: `day-${i % 2}/sensor ${i}.csv`, body: `reading ${i}\n`.repeat(10 + i) }));

async function filesOnVolumes(site: Site): Promise<string[]> {
  const found: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

/** Every file of the state directory and its backups, with its size. */
async function stateListing(site: Site): Promise<string[]> {
  const entries = await readdir(site.stateDir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile() && entry.name !== 'lock' && !entry.name.startsWith('lock.'));
  return Promise.all(files.map(async (entry) => `${join(entry.parentPath, entry.name)} ${(await stat(join(entry.parentPath, entry.name))).size}`)).then((list) => list.sort());
}

/** The first event of the state directory's ledger. */
function firstEvent(stateDir: string): { type: string; body: string } {
  const db = new DatabaseSync(join(stateDir, 'ledger.db'), { readOnly: true });
  try {
    return db.prepare('SELECT type, body FROM events ORDER BY seq LIMIT 1').get() as { type: string; body: string };
  } finally {
    db.close();
  }
}

describe('reset killed at each step', () => {
  it.each(RESET_STEPS.map((step) => [step]))('killed after %s: a rerun finishes it, the chains verify, the next apply adopts everything', async (step) => {
    let head = '';
    const site = await siteWithResetKilledAt(pair, objects, step, async (applied) => {
      head = /head hash ([0-9a-f]{64})/.exec((await applied.cli('report')).stdout)![1]!;
    });

    // A half-reset state directory is not used: plan and apply refuse, name the record and say to
    // rerun reset, and change nothing (a run here would put its events before the reset event).
    const stateBefore = await stateListing(site);
    for (const command of [['plan'], ['apply', '--auto-approve']]) {
      const refused = await site.cli(...command);
      expect(refused.exitCode, `${command[0]}: ${refused.stdout}${refused.stderr}`).not.toBe(0);
      expect(refused.stderr).toMatch(/E_RESET_UNFINISHED/);
      expect(refused.stderr).toMatch(/reset-unfinished\.json/);
      expect(refused.stderr).toMatch(/dualsync reset/);
    }
    // The commands that only read name the interrupted reset too once the ledger has moved, never
    // a lost ledger: E_LEDGER_LOST's way out would be to restore the ledger, which the rerun refuses.
    for (const command of [['status'], ['report'], ['check']]) {
      const read = await site.cli(...command);
      const said = `${command[0]}: ${read.stdout}${read.stderr}`;
      expect(read.stderr, said).not.toMatch(/E_LEDGER_LOST/);
      if (step === 'ledger-moved' || step === 'state-moved') expect(read.stderr, said).toMatch(/E_RESET_UNFINISHED/);
    }
    expect(await stateListing(site)).toEqual(stateBefore);

    const rerun = await site.cli('reset', '--yes');
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);
    expect(await filesOnVolumes(site)).toEqual([]);
    const state = await readdir(site.stateDir);
    const backups = state.filter((name) => name.startsWith('backup-'));
    expect(backups).toHaveLength(1);
    expect((await readdir(join(site.stateDir, backups[0]!))).filter((name) => name === 'ledger.db' || name === 'last-run.json').sort()).toEqual(['last-run.json', 'ledger.db']);
    expect(state.filter((name) => name.startsWith('reset'))).toEqual([]);

    const { config } = await loadConfig(site.configPath, site.env);
    const old = await verifyLedger({ ...config, stateDir: join(site.stateDir, backups[0]!) }, { now: () => new Date(), env: site.env, warn: () => {} });
    expect(old).toMatchObject({ ok: true, headHash: head });
    const first = firstEvent(site.stateDir);
    expect(first.type).toBe('reset');
    expect(JSON.parse(first.body)).toEqual({ previousHead: head, backup: backups[0] });
    const verified = await site.cli('report', '--verify');
    expect(verified.exitCode, verified.stdout).toBe(0);

    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/0 downloaded .*0 delivered .*8 adopted/);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout).toBe(0);
  });
});

/** sha256 of every file in `folder`, by name. */
async function digests(folder: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (entry.isFile()) found[entry.name] = createHash('sha256').update(await readFile(join(folder, entry.name))).digest('hex');
  }
  return found;
}

describe('a rerun of reset never moves a file over one its backup already holds', () => {
  it.each([['ledger-moved'], ['state-moved'], ['started-over']])('killed after %s, the old ledger copied back: the rerun refuses, names both and what to do, and loses nothing', async (step) => {
    const site = await makeSite(pair, { transfer: ['purgeAfterUpload: false'] });
    await putObjects(pair.edge, site.sourceBucket, objects);
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    const head = /head hash ([0-9a-f]{64})/.exec((await site.cli('report')).stdout)![1]!;
    const stagedBefore = (await filesOnVolumes(site)).sort();

    site.env.DUALSYNC_CRASH_AT = `reset:${step}`;
    const killed = await site.spawn('reset', '--yes');
    expect(killed.signal, `${String(killed.stdout)}${String(killed.stderr)}`).toBe('SIGKILL');
    delete site.env.DUALSYNC_CRASH_AT;
    const [backup] = (await readdir(site.stateDir)).filter((name) => name.startsWith('backup-'));
    const backupDir = join(site.stateDir, backup!);

    // The way out E_LEDGER_LOST names: the ledger put back from its backup, as a copy.
    await copyFile(join(backupDir, 'ledger.db'), join(site.stateDir, 'ledger.db'));
    const backupBefore = await digests(backupDir);
    const copyBefore = (await digests(site.stateDir))['ledger.db'];

    const refused = await site.cli('reset', '--yes');
    expect(refused.exitCode, refused.stdout + refused.stderr).not.toBe(0);
    expect(refused.stderr).toMatch(/E_RESET_CONFLICT/);
    expect(refused.stderr).toContain(join(site.stateDir, 'ledger.db'));
    expect(refused.stderr).toContain(backup!);
    expect(refused.stderr).toMatch(/dualsync reset/);
    expect(refused.stderr).not.toMatch(/Internal error/);
    // Nothing moved, overwritten or removed: the backup, the copy and the staged files are as they were.
    expect(await digests(backupDir)).toEqual(backupBefore);
    expect((await digests(site.stateDir))['ledger.db']).toBe(copyBefore);
    expect((await filesOnVolumes(site)).sort()).toEqual(stagedBefore);

    // As the hint says: the copy moved out of the state directory, then two reruns at once.
    const kept = await tempDir('kept-ledger-');
    for (const name of await readdir(site.stateDir)) {
      if (name === 'ledger.db' || name.startsWith('ledger.db-')) await rename(join(site.stateDir, name), join(kept, name));
    }
    // Two processes (the lock tells processes apart; two in-process runs would share one pid).
    const runs = await Promise.all([site.spawn('reset', '--yes'), site.spawn('reset', '--yes')]);
    const outcomes = runs.map((run) => (run.exitCode === 0 ? 'done' : /E_LOCKED/.test(String(run.stderr)) ? 'locked' : `${run.exitCode}: ${String(run.stdout)}${String(run.stderr)}`));
    expect(outcomes).toContain('done');
    expect(outcomes.every((outcome) => outcome === 'done' || outcome === 'locked'), outcomes.join('\n')).toBe(true);

    expect(await filesOnVolumes(site)).toEqual([]);
    expect((await readdir(site.stateDir)).filter((name) => name.startsWith('backup-'))).toEqual([backup]);
    const { config } = await loadConfig(site.configPath, site.env);
    expect(await verifyLedger({ ...config, stateDir: backupDir }, { now: () => new Date(), env: site.env, warn: () => {} })).toMatchObject({ ok: true, headHash: head });
    expect(JSON.parse(firstEvent(site.stateDir).body)).toEqual({ previousHead: head, backup });
    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/0 downloaded .*0 delivered .*8 adopted/);
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout).toBe(0);
  });
});

describe('a reset started while another one runs is refused as locked, whatever step the running one is at', () => {
  it.each(RESET_STEPS.map((step) => [step]))('the first stopped right after %s: the second says E_LOCKED naming it, changes nothing, and the first then finishes', async (step) => {
    const site = await makeSite(pair, { transfer: ['purgeAfterUpload: false'] });
    await putObjects(pair.edge, site.sourceBucket, objects);
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);

    // The first reset stops itself (SIGSTOP) right after the step: it holds the lock, its work half done.
    site.env.DUALSYNC_PAUSE_AT = `reset:${step}`;
    const first = site.spawn('reset', '--yes');
    delete site.env.DUALSYNC_PAUSE_AT;
    try {
      await waitFor(() => (processStat(first.pid!)?.state === 'T' ? true : undefined), 60_000, `the first reset to stop after ${step}`);
      const stateBefore = await stateListing(site);
      const stagedBefore = (await filesOnVolumes(site)).sort();

      const second = await site.cli('reset', '--yes');
      expect(second.exitCode, second.stdout + second.stderr).not.toBe(0);
      expect(second.stderr).toMatch(/E_LOCKED/);
      expect(second.stderr).toContain(`pid ${first.pid}`);
      expect(await stateListing(site)).toEqual(stateBefore);
      expect((await filesOnVolumes(site)).sort()).toEqual(stagedBefore);
    } finally {
      process.kill(first.pid!, 'SIGCONT');
    }
    const finished = await first;
    expect(finished.exitCode, `${String(finished.stdout)}${String(finished.stderr)}`).toBe(0);
    expect(await filesOnVolumes(site)).toEqual([]);
    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/0 downloaded .*0 delivered .*8 adopted/);
  });
});

describe('two resets started at once, round after round', () => {
  it('each time one resets and the other is refused as locked or finds nothing left: none judges the state while the other changes it', async () => {
    const site = await makeSite(pair, { transfer: ['purgeAfterUpload: false'] });
    await putObjects(pair.edge, site.sourceBucket, objects);
    for (let round = 0; round < 10; round++) {
      const applied = await site.cli('apply', '--auto-approve');
      expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
      const runs = await Promise.all([site.spawn('reset', '--yes'), site.spawn('reset', '--yes')]);
      const outcomes = runs.map((run) =>
        run.exitCode === 0 ? (/Nothing to reset/.test(String(run.stdout)) ? 'nothing' : 'done') : /E_LOCKED/.test(String(run.stderr)) ? 'locked' : `${run.exitCode}: ${String(run.stdout)}${String(run.stderr)}`,
      );
      expect(outcomes.filter((outcome) => outcome === 'done'), `round ${round}: ${outcomes.join('\n')}`).toHaveLength(1);
      expect(outcomes.every((outcome) => ['done', 'locked', 'nothing'].includes(outcome)), `round ${round}: ${outcomes.join('\n')}`).toBe(true);
      expect(await filesOnVolumes(site)).toEqual([]);
    }
  });
});
