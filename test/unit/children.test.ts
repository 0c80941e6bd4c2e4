import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHILDREN_DIR, commOf, recordChild, stopEarlierChildren } from '../../src/apply/children.ts';
import { bootId, identityOf, parseProcStat, stillRunning } from '../../src/apply/proc.ts';

async function sleeper(): Promise<ChildProcess & { pid: number }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  return child as ChildProcess & { pid: number };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
}

/** A record as an earlier, dead run of dualsync left it (its parent is not this process). */
async function writeEarlierRecord(stateDir: string, record: Record<string, unknown>): Promise<void> {
  await mkdir(join(stateDir, CHILDREN_DIR), { recursive: true });
  const parent = { pid: 2 ** 30, startTime: '1', bootId: bootId() };
  await writeFile(join(stateDir, CHILDREN_DIR, `${String(record.pid)}-${String(record.startTime)}.json`), JSON.stringify({ hop: 'upload', startedAt: '2026-01-01T00:00:00Z', parent, ...record }));
}

describe('/proc helpers', () => {
  it('reads the fields after the last parenthesis, whatever the name holds', () => {
    const stat = '4242 (s5 (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 0';
    expect(parseProcStat(stat)).toEqual({ comm: 's5 (x) y', state: 'S', parentPid: 1, startTime: '987654' });
    expect(parseProcStat('garbage')).toBeUndefined();
  });

  it('a process is still running only with the same pid, start time and boot', async () => {
    const child = await sleeper();
    try {
      const identity = identityOf(child.pid)!;
      expect(stillRunning(identity)).toBe(true);
      expect(stillRunning({ ...identity, startTime: String(BigInt(identity.startTime) + 1n) })).toBe(false);
      expect(stillRunning({ ...identity, bootId: 'another-boot' })).toBe(false);
      await stop(child);
      expect(stillRunning(identity)).toBe(false);
    } finally {
      await stop(child);
    }
  });
});

describe('the record of s5cmd children in the state directory', () => {
  it('a child is recorded by pid, start time and boot id, and the record goes when removed', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'children-'));
    const child = await sleeper();
    try {
      const recorded = recordChild(stateDir, child.pid, { comm: 'sleep', hop: 'upload' })!;
      const names = await readdir(join(stateDir, CHILDREN_DIR));
      expect(names).toEqual([`${child.pid}-${identityOf(child.pid)!.startTime}.json`]);
      recorded.remove();
      expect(await readdir(join(stateDir, CHILDREN_DIR))).toEqual([]);
    } finally {
      await stop(child);
    }
  });

  it('a recorded child of an earlier run that still runs is stopped, waited for, and its record cleared', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'children-'));
    const child = await sleeper();
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    try {
      await writeEarlierRecord(stateDir, { ...identityOf(child.pid)!, comm: 'sleep' });
      const warnings: string[] = [];
      const stopped = await stopEarlierChildren(stateDir, (message) => warnings.push(message));
      expect(stopped.map((c) => c.pid)).toEqual([child.pid]);
      expect(await exited).toBe('SIGKILL');
      expect(warnings.join('\n')).toMatch(new RegExp(`stopped 1 s5cmd process\\(es\\) that an earlier run left running \\(pid ${child.pid}, upload hop`));
      expect(await readdir(join(stateDir, CHILDREN_DIR))).toEqual([]);
    } finally {
      await stop(child);
    }
  });

  for (const [situation, change] of [
    ['its pid now belongs to another process (another start time)', (identity: { startTime: string }) => ({ startTime: String(BigInt(identity.startTime) - 1n) })],
    ['it was recorded in an earlier boot', () => ({ bootId: 'an-earlier-boot' })],
    ['the process with its pid and start time has another name', () => ({ comm: 's5cmd' })],
  ] as const) {
    it(`a record is cleared, and nothing killed, when ${situation}`, async () => {
      const stateDir = await mkdtemp(join(tmpdir(), 'children-'));
      const bystander = await sleeper();
      try {
        const identity = identityOf(bystander.pid)!;
        await writeEarlierRecord(stateDir, { ...identity, comm: 'sleep', ...change(identity) });
        expect(await stopEarlierChildren(stateDir)).toEqual([]);
        expect(stillRunning(identity), 'an unrelated process was killed').toBe(true);
        expect(await readdir(join(stateDir, CHILDREN_DIR))).toEqual([]);
      } finally {
        await stop(bystander);
      }
    });
  }

  it('the live children of this very process (watch between its cycles) are left alone', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'children-'));
    const child = await sleeper();
    try {
      const recorded = recordChild(stateDir, child.pid, { comm: commOf('/usr/bin/sleep'), hop: 'download' })!;
      expect(await stopEarlierChildren(stateDir)).toEqual([]);
      expect(stillRunning(identityOf(child.pid)!)).toBe(true);
      expect(await readdir(join(stateDir, CHILDREN_DIR))).toHaveLength(1);
      recorded.remove();
    } finally {
      await stop(child);
    }
  });

  it('unreadable records and temporary ones are cleared', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'children-'));
    await mkdir(join(stateDir, CHILDREN_DIR));
    await writeFile(join(stateDir, CHILDREN_DIR, '12-34.json'), '{"pid": 12, torn');
    await writeFile(join(stateDir, CHILDREN_DIR, '12-34.json.tmp'), '');
    expect(await stopEarlierChildren(stateDir)).toEqual([]);
    expect(await readdir(join(stateDir, CHILDREN_DIR))).toEqual([]);
  });

  it('no folder, nothing to do', async () => {
    expect(await stopEarlierChildren(await mkdtemp(join(tmpdir(), 'children-')))).toEqual([]);
  });
});
