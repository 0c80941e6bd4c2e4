/**
 * The ledger is believed only when it can be: an emptied or lost ledger in a used state
 * directory is refused, not taken for a fresh start (invariant 12); a ledger apply cannot write
 * is found out before anything moves, and one that cannot be written can still be read; an old
 * JSON ledger that would not read back is refused before it is migrated.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { md5OfBucket, putObjects } from '../harness/index.ts';
import { stageTally } from '../harness/ledger.ts';
import { bindReadOnly, canBindReadOnly, unmount } from '../harness/tmpfs.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { makeSite, type Site } from './site.ts';

const { pair, cloud } = useProxiedPair();

const CAN_BIND_READ_ONLY = canBindReadOnly();

const objects = Array.from({ length: 8 }, (_, i) => ({ key: `day-${i % 2}/reading ${i}.csv`, body: `reading ${i}\n`.repeat(50 + i) }));

async function appliedSite(): Promise<Site> {
  const site = await makeSite(pair, { transfer: ['purgeAfterUpload: true'] });
  await putObjects(pair.edge, site.sourceBucket, objects);
  const applied = await site.cli('apply', '--auto-approve');
  expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  return site;
}

async function stagedFiles(site: Site): Promise<string[]> {
  const found: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name !== '.dualsync-volume') found.push(join(entry.parentPath, entry.name));
    }
  }
  return found;
}

function expectNoStack(output: string): void {
  expect(output).not.toMatch(/\n\s+at |Internal error|RangeError/);
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The pids of the direct children of `pid`. */
function childrenOf(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

describe('an emptied or lost ledger in a used state directory is refused (invariant 12)', () => {
  it('ledger.db truncated to 0 bytes: status, plan and apply refuse and say how out; reset leaves a state the next run accepts', async () => {
    const site = await appliedSite();
    await truncate(join(site.stateDir, 'ledger.db'), 0);

    for (const command of [['status'], ['plan'], ['apply', '--auto-approve']]) {
      const refused = await site.cli(...command);
      expect(refused.exitCode, `${command[0]}: ${refused.stdout}${refused.stderr}`).not.toBe(0);
      expect(refused.stderr).toMatch(/E_LEDGER_LOST/);
      expect(refused.stderr).toMatch(/ledger\.db/);
      expect(refused.stderr).toMatch(/backup/);
      expect(refused.stderr).toMatch(/dualsync reset/);
      expectNoStack(refused.stdout + refused.stderr);
    }

    const reset = await site.cli('reset', '--yes');
    expect(reset.exitCode, reset.stdout + reset.stderr).toBe(0);
    const plan = await site.cli('plan', '--json');
    expect(plan.exitCode, plan.stderr).toBe(0);
    const kinds = (JSON.parse(plan.stdout).actions as { kind: string }[]).map((a) => a.kind);
    expect(kinds).toEqual(objects.map(() => 'adopt'));
    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/No changes/);
  });

  it('its -wal deleted after a kill -9 (the commits were still in it): refused, not rolled back to an older serial', async () => {
    const site = await makeSite(pair, { destinationEndpoint: cloud.endpoint, transfer: ['purgeAfterUpload: true', 'workers: 2'] });
    const big = { key: 'zz-big.bin', body: randomBytes(3 << 20) };
    await putObjects(pair.edge, site.sourceBucket, [...objects, big]);
    // A crawling upload link: the small objects are staged and delivered, the big one keeps the run alive.
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 50 } });
    const child = site.spawn('apply', '--auto-approve');
    try {
      await waitFor(() => stageTally(site.stateDir, 'delivered_at') >= objects.length, 'the small objects to be delivered');
      const s5cmd = childrenOf(child.pid!);
      // A power cut: dualsync and its s5cmd go at the same instant; nothing checkpoints the -wal.
      process.kill(child.pid!, 'SIGKILL');
      for (const pid of s5cmd) process.kill(pid, 'SIGKILL');
      await child;
    } finally {
      await cloud.removeToxic('slow');
    }
    const names = await readdir(site.stateDir);
    expect(names).toContain('ledger.db-wal');
    await rm(join(site.stateDir, 'ledger.db-wal'));
    await rm(join(site.stateDir, 'ledger.db-shm'), { force: true });

    const status = await site.cli('status');
    expect(status.exitCode, status.stdout + status.stderr).not.toBe(0);
    expect(status.stderr).toMatch(/E_LEDGER_LOST/);
    expect(status.stderr).toMatch(/serial/);
    expectNoStack(status.stdout + status.stderr);
    const plan = await site.cli('plan', '--detailed-exitcode');
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(1);
    expect(plan.stderr).toMatch(/E_LEDGER_LOST/);
  });

  it('a fresh state directory still runs, and every later run accepts the ledger it wrote', async () => {
    const site = await appliedSite();
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    const status = await site.cli('status');
    expect(status.exitCode, status.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(await md5OfBucket(pair.edge, site.sourceBucket));
  });
});

describe('a ledger that cannot be written', () => {
  it.skipIf(!CAN_BIND_READ_ONLY)('ledger.db read-only (a read-only bind mount): apply refuses before it downloads anything, with E_LEDGER_WRITE', async () => {
    const site = await appliedSite();
    const more = Array.from({ length: 20 }, (_, i) => ({ key: `new/object-${i}.bin`, body: `new ${i}\n`.repeat(30) }));
    await putObjects(pair.edge, site.sourceBucket, more);
    const ledger = join(site.stateDir, 'ledger.db');
    expect(bindReadOnly(ledger)).toBe(true);
    try {
      const apply = await site.cli('apply', '--auto-approve');
      expect(apply.exitCode, apply.stdout + apply.stderr).not.toBe(0);
      expect(apply.stderr).toMatch(/E_LEDGER_WRITE/);
      expect(apply.stderr).not.toMatch(/E_LEDGER_READ/);
      expectNoStack(apply.stdout + apply.stderr);
      expect(await stagedFiles(site)).toEqual([]);
      const status = await site.cli('status');
      expect(status.exitCode, status.stderr).toBe(0);
    } finally {
      unmount(ledger);
    }
    const apply = await site.cli('apply', '--auto-approve');
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/20 downloaded/);
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout).toBe(0);
  });

  it.skipIf(!CAN_BIND_READ_ONLY)('status reads a state directory it cannot write (a read-only snapshot of it)', async () => {
    const site = await appliedSite();
    const before = await site.cli('status', '--json');
    expect(before.exitCode, before.stderr).toBe(0);
    const names = readdirSync(site.stateDir).sort();
    expect(bindReadOnly(site.stateDir)).toBe(true);
    try {
      const status = await site.cli('status', '--json');
      expect(status.exitCode, status.stdout + status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).ledgerSerial).toBe(JSON.parse(before.stdout).ledgerSerial);
      expect(JSON.parse(status.stdout).ledgerSerial).toBeGreaterThan(0);
      const plan = await site.cli('plan', '--detailed-exitcode');
      expect(plan.exitCode, plan.stdout + plan.stderr).toBe(0);
    } finally {
      unmount(site.stateDir);
    }
    expect(readdirSync(site.stateDir).sort()).toEqual(names);
  });
});

describe('the migration of an old JSON ledger refuses what it could not read back', () => {
  const header = '{"formatVersion":1,"serial":2,"records":[\n';
  const good = '{"key":"a.bin","size":3,"etag":"e-a","attempts":0,"stage":"delivered","verifiedBy":"size"}';
  const cases = [
    { name: 'a size past 2^53', bad: '{"key":"huge.bin","size":9007199254740993,"etag":"e-h","attempts":0,"stage":"delivered","verifiedBy":"size"}', problem: /size/ },
    { name: 'verifiedBy set to an object', bad: '{"key":"odd.bin","size":5,"etag":"e-o","attempts":0,"stage":"staged","volume":"/v","verifiedBy":{"by":"size"}}', problem: /verifiedBy/ },
  ];
  it.each(cases)('$name: plan and apply refuse naming the file and line; the state directory stays exactly as it was', async ({ bad, problem }) => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, objects.slice(0, 2));
    await rm(site.stateDir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(site.stateDir, { recursive: true }));
    const snapshot = `${header}${good},\n${bad}\n]}\n`;
    await writeFile(join(site.stateDir, 'ledger.snapshot.json'), snapshot);
    for (const command of [['plan'], ['apply', '--auto-approve'], ['status']]) {
      const refused = await site.cli(...command);
      expect(refused.exitCode, `${command[0]}: ${refused.stdout}${refused.stderr}`).not.toBe(0);
      expect(refused.stderr).toMatch(/E_LEDGER_CORRUPT/);
      expect(refused.stderr).toMatch(/ledger\.snapshot\.json:3/);
      expect(refused.stderr).toMatch(problem);
      expectNoStack(refused.stdout + refused.stderr);
      expect(readdirSync(site.stateDir).filter((name) => name !== 'lock' && !name.startsWith('spool'))).toEqual(['ledger.snapshot.json']);
      expect(readFileSync(join(site.stateDir, 'ledger.snapshot.json'), 'utf8')).toBe(snapshot);
    }
  });
});
