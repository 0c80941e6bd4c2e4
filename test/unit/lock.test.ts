import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, lockHolder } from '../../src/apply/lock.ts';

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
});
