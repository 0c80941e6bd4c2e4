/**
 * A container restarted after kill -9 (invariant 13): dualsync runs as pid 1 of a fresh pid
 * namespace, as a container's main process does, and after the restart it is pid 1 again. The
 * dead run's lock names pid 1, which is alive (it is the new run itself): the lock must be
 * judged by pid and start time, or the state directory stays locked on every restart. Real
 * namespaces through `unshare --pid --fork --mount-proc` (root only, which the test runs as).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite, type Site } from './site.ts';

const repoRoot = new URL('../..', import.meta.url).pathname;
const pair = useMinioPair();

/** bin/dualsync ARGS as pid 1 of a new pid namespace with its own /proc. */
function asPidOne(site: Site, ...args: string[]) {
  return execa('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, join(repoRoot, 'bin/dualsync'), ...args, '-c', site.configPath], {
    env: site.env as Record<string, string>,
    extendEnv: false,
    reject: false,
  });
}

/** The pid (in our namespace) of the process whose parent is `parent`. */
function childOf(parent: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function lockHolderNow(path: string): { pid: number; lastCycle?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { pid: number; lastCycle?: unknown };
  } catch {
    return undefined;
  }
}

describe('watch as pid 1 of a container, killed with -9 and restarted as pid 1', () => {
  it('the restarted run takes over the dead run\'s lock instead of refusing itself', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'pid-one/a.txt', body: 'a' }]);
    const first = asPidOne(site, 'watch', '--interval', '10m');
    void first.catch(() => undefined);
    const lockPath = join(site.stateDir, 'lock');
    const deadline = Date.now() + 60_000;
    // Between cycles: watch notes its first cycle in the lock it keeps.
    while (lockHolderNow(lockPath)?.lastCycle === undefined) {
      expect(Date.now(), 'watch never finished its first cycle').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(JSON.parse(readFileSync(lockPath, 'utf8')).pid, 'watch is pid 1 of its namespace').toBe(1);
    const dualsync = childOf(first.pid!);
    expect(dualsync).toBeDefined();
    process.kill(dualsync!, 'SIGKILL');
    await first;
    expect(existsSync(lockPath), 'the killed run left its lock').toBe(true);

    await putObjects(pair.edge, site.sourceBucket, [{ key: 'pid-one/b.txt', body: 'b' }]);
    const restarted = await asPidOne(site, 'apply', '--auto-approve');
    expect(restarted.exitCode, `${String(restarted.stdout)}\n${String(restarted.stderr)}`).toBe(0);
    expect(String(restarted.stdout)).toMatch(/1 downloaded/);
    expect(existsSync(lockPath), 'the restarted run released the lock').toBe(false);
  });
});
