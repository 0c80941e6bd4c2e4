import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { acquireLock, lockHolder, processesHolding, TAKEOVER_GUARD_FILE } from '../../src/apply/lock.ts';
import { bootId, identityOf } from '../../src/apply/proc.ts';

/** A process of this host that lives until killed, standing for whoever got a dead holder's pid. */
async function liveProcess(): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('spawn', resolve));
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

describe('state directory lock', () => {
  it('a second taker is refused with the holder named; after release it is free', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const first = await acquireLock(dir, 'dualsync apply');
    await expect(acquireLock(dir, 'dualsync watch')).rejects.toThrow(new RegExp(`dualsync apply, pid ${process.pid} on ${hostname()}`));
    expect((await lockHolder(dir))?.pid).toBe(process.pid);
    await first.release();
    expect(await lockHolder(dir)).toBeUndefined();
    const again = await acquireLock(dir, 'dualsync watch');
    await again.release();
  });

  it('a lock left by a dead process on this host is recovered', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    // A pid far above pid_max's default is never alive.
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 30, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync apply' }));
    const lock = await acquireLock(dir, 'dualsync apply');
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('a lock held on another host is never taken over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 30, host: 'another-host', startedAt: '2026-01-01T00:00:00Z', command: 'dualsync watch' }));
    await expect(acquireLock(dir, 'dualsync apply')).rejects.toThrow(/another-host/);
  });

  it('the lock appears complete or not at all: linked from a temporary file, none left behind, held open by its holder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const lock = await acquireLock(dir, 'dualsync apply');
    expect(await readdir(dir)).toEqual(['lock']);
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, command: 'dualsync apply' });
    expect(await processesHolding(join(dir, 'lock'))).toContain(process.pid);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('the temporary lock file of a run killed before it linked its lock is removed by the next taker', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    await writeFile(join(dir, `lock.${2 ** 30}.1.tmp`), '{"pid":1073741824}');
    const lock = await acquireLock(dir, 'dualsync apply');
    expect(await readdir(dir)).toEqual(['lock']);
    await lock.release();
  });

  for (const [situation, contents] of [
    ['an empty lock file (created, then the disk was full or the power went)', ''],
    ['a garbage lock file', '{"pid": 12\u0000\u0000 torn'],
  ] as const) {
    it(`${situation} that no process holds is taken over, with a warning`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'lock-'));
      await writeFile(join(dir, 'lock'), contents);
      const warnings: string[] = [];
      const lock = await acquireLock(dir, 'dualsync watch', undefined, (message) => warnings.push(message));
      expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, command: 'dualsync watch' });
      expect(warnings.join('\n')).toMatch(/took over the (empty|unreadable) lock file .*no process holds it/);
      await lock.release();
    });
  }

  it('an empty lock file that a live process holds open is refused, naming that process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const path = join(dir, 'lock');
    await writeFile(path, '');
    const fd = openSync(path, 'r');
    const holder = spawn('sleep', ['30'], { stdio: ['ignore', fd, 'ignore'] });
    closeSync(fd);
    try {
      await expect(acquireLock(dir, 'dualsync apply')).rejects.toThrow(new RegExp(`empty lock file .* pid ${holder.pid} \\(sleep 30\\) holds open`));
    } finally {
      holder.kill();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const lock = await acquireLock(dir, 'dualsync apply');
    await lock.release();
  });

  it('a lock emptied under a live holder is not taken over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const first = await acquireLock(dir, 'dualsync watch');
    await truncate(join(dir, 'lock'), 0);
    await expect(acquireLock(dir, 'dualsync apply')).rejects.toThrow(new RegExp(`pid ${process.pid} .* holds open`));
    await first.release();
  });

  it('watch notes its last cycle in the lock it keeps: renamed into place, still held, still refused to others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const lock = await acquireLock(dir, 'dualsync watch');
    const lastCycle = { number: 3, endedAt: '2026-01-01T00:10:00.000Z', result: 'in sync' };
    await lock.update({ lastCycle });
    expect(await readdir(dir)).toEqual(['lock']);
    expect(await lockHolder(dir)).toMatchObject({ pid: process.pid, command: 'dualsync watch', lastCycle });
    expect(await processesHolding(join(dir, 'lock'))).toContain(process.pid);
    await expect(acquireLock(dir, 'dualsync reset')).rejects.toThrow(new RegExp(`dualsync watch, pid ${process.pid}`));
    await lock.release();
    // The refused taker left the takeover guard, which stays for good (removing it could split its lock in two).
    expect((await readdir(dir)).sort()).toEqual([TAKEOVER_GUARD_FILE]);
  });

  it('names its holder by pid, start time and boot id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const lock = await acquireLock(dir, 'dualsync apply');
    const own = identityOf(process.pid)!;
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, startTime: own.startTime, bootId: own.bootId });
    await lock.release();
  });

  it('a lock naming our own pid with another start time is a dead run\'s (pid 1 of a restarted container): taken over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const own = identityOf(process.pid)!;
    const earlier = String(BigInt(own.startTime) - 1000n);
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: process.pid, startTime: earlier, bootId: own.bootId, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync watch' }));
    expect(await lockHolder(dir), 'status must not name a dead run as the holder').toBeUndefined();
    const lock = await acquireLock(dir, 'dualsync apply');
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, startTime: own.startTime, command: 'dualsync apply' });
    await lock.release();
  });

  it('a lock of an older dualsync (no start time) naming our own pid is taken over: it cannot be this run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync watch' }));
    const lock = await acquireLock(dir, 'dualsync apply');
    await lock.release();
  });

  it('a lock naming a pid that an unrelated live process now has (other start time) is taken over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const stranger = await liveProcess();
    try {
      await writeFile(join(dir, 'lock'), JSON.stringify({ pid: stranger.pid, startTime: '1', bootId: bootId(), host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync apply' }));
      const lock = await acquireLock(dir, 'dualsync apply');
      expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
      await lock.release();
    } finally {
      await stranger.stop();
    }
  });

  it('a lock of an earlier boot is taken over, whatever runs under its pid now', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const stranger = await liveProcess();
    try {
      const { startTime } = identityOf(stranger.pid)!;
      await writeFile(join(dir, 'lock'), JSON.stringify({ pid: stranger.pid, startTime, bootId: 'an-earlier-boot', host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync apply' }));
      const lock = await acquireLock(dir, 'dualsync apply');
      await lock.release();
    } finally {
      await stranger.stop();
    }
  });

  it('a live holder named by its right pid, start time and boot id is still refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const holder = await liveProcess();
    try {
      const identity = identityOf(holder.pid)!;
      await writeFile(join(dir, 'lock'), JSON.stringify({ ...identity, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync watch' }));
      await expect(acquireLock(dir, 'dualsync apply')).rejects.toThrow(new RegExp(`dualsync watch, pid ${holder.pid}`));
      expect((await lockHolder(dir))?.pid).toBe(holder.pid);
    } finally {
      await holder.stop();
    }
  });

  it('an older dualsync\'s lock (no start time) naming another live pid is still refused: nothing proves it dead', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const holder = await liveProcess();
    try {
      await writeFile(join(dir, 'lock'), JSON.stringify({ pid: holder.pid, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync watch' }));
      await expect(acquireLock(dir, 'dualsync apply')).rejects.toThrow(new RegExp(`pid ${holder.pid}`));
    } finally {
      await holder.stop();
    }
  });

  it('two takers at once: exactly one gets the lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const results = await Promise.allSettled([acquireLock(dir, 'dualsync apply'), acquireLock(dir, 'dualsync watch')]);
    const taken = results.filter((r) => r.status === 'fulfilled');
    expect(taken).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')?.reason).toMatchObject({ code: 'E_LOCKED' });
    await (taken[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
  });
  it('takers racing for a dead run\'s lock: exactly one gets it, round after round (none removes the lock another just took)', async () => {
    for (let round = 0; round < 40; round++) {
      const dir = await mkdtemp(join(tmpdir(), 'lock-'));
      await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 30, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync reset' }));
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => acquireLock(dir, 'dualsync reset')));
      const taken = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const refusals = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code?: string }] : []));
      expect(taken, `round ${round}`).toHaveLength(1);
      expect(refusals.every((reason) => reason.code === 'E_LOCKED'), `round ${round}`).toBe(true);
      await taken[0]!.release();
    }
  });
  it('takers in separate processes racing for a dead run\'s lock never hold it at the same time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const log = join(dir, 'held.log');
    // Each taker notes when it held the lock; all start together on a lock a killed run left.
    const taker = `
      const { appendFileSync } = await import('node:fs');
      const { acquireLock } = await import(${JSON.stringify(new URL('../../src/apply/lock.ts', import.meta.url).href)});
      for (let round = 0; round < 30; round++) {
        let lock;
        try { lock = await acquireLock(${JSON.stringify(dir)}, 'dualsync apply'); } catch (error) { if (error.code !== 'E_LOCKED') throw error; await new Promise((r) => setTimeout(r, 5)); continue; }
        appendFileSync(${JSON.stringify(log)}, 'in ' + process.pid + '\\n');
        await new Promise((r) => setTimeout(r, 5));
        appendFileSync(${JSON.stringify(log)}, 'out ' + process.pid + '\\n');
        await lock.release();
        // Die holding nothing, or leave the lock behind as a killed run would.
        if (round % 2 === 0) await (await import('node:fs/promises')).writeFile(${JSON.stringify(join(dir, 'lock'))}, JSON.stringify({ pid: 2 ** 30, host: (await import('node:os')).hostname(), startedAt: 'then', command: 'dualsync apply' }), { flag: 'wx' }).catch(() => {});
      }
    `;
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 30, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync apply' }));
    const runs = await Promise.all(Array.from({ length: 4 }, () => execa(process.execPath, ['--input-type=module', '-e', taker], { reject: false })));
    for (const run of runs) expect(run.exitCode, run.stderr).toBe(0);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines.length).toBeGreaterThan(8);
    let holder: string | undefined;
    for (const line of lines) {
      const [what, pid] = line.split(' ');
      if (what === 'in') {
        expect(holder, `${pid} took the lock while ${holder} held it:\n${lines.join('\n')}`).toBeUndefined();
        holder = pid;
      } else {
        expect(pid).toBe(holder);
        holder = undefined;
      }
    }
  });

  it('a taker killed (-9) while it recovers a dead run\'s lock does not block the next one: the kernel drops its guard', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 30, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'dualsync apply' }));
    // Holds the guard as a taker does while it judges the dead lock, and is killed there.
    const holder = execa(process.execPath, ['--input-type=module', '-e', `
      const { DatabaseSync } = await import('node:sqlite');
      const guard = new DatabaseSync(${JSON.stringify(join(dir, TAKEOVER_GUARD_FILE))});
      guard.exec('BEGIN EXCLUSIVE');
      process.stdout.write('holding\\n');
      setInterval(() => {}, 1000);
    `], { reject: false, buffer: false });
    await new Promise<void>((resolve) => holder.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('holding') && resolve()));
    // While it holds the guard, a taker waits; once it is killed, the taker goes on.
    const taking = acquireLock(dir, 'dualsync apply');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(2 ** 30);
    holder.kill('SIGKILL');
    await holder;
    const lock = await taking;
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });
});
