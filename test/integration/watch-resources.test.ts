/**
 * A watch that runs for months must not grow what it holds: its open file descriptors and its
 * child processes are the same after many cycles as after its first few, through arrivals, a
 * destination that fails (its link resets every connection) and recovers, and a source link cut
 * in the middle of a transfer. Counted from /proc of the spawned watch, at its quietest moment
 * in a window of cycles (a cycle in progress holds sockets, pipes and s5cmd), so the test does
 * not depend on timing: a leak raises the floor, a busy moment does not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { putObjects } from '../harness/index.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { makeSite } from './site.ts';
import { waitFor } from '../harness/wait.ts';

const { pair, edge, cloud } = useProxiedPair();

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Every descendant of `pid` (s5cmd, and anything it left behind). */
function descendants(pid: number): number[] {
  const found: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return found; // An s5cmd that ended between two reads has no children left.
  }
  for (const task of tasks) {
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // The thread ended meanwhile.
    }
    for (const child of children) found.push(child, ...descendants(child));
  }
  return found;
}

async function cyclesDone(url: string): Promise<number> {
  const text = await (await fetch(url)).text();
  let total = 0;
  for (const match of text.matchAll(/^dualsync_cycles_total\{[^}]*\} (\S+)$/gm)) total += Number(match[1]);
  return total;
}

describe('watch over many cycles', () => {
  it('holds no more file descriptors or child processes than after its first cycles: arrivals, a failing destination, a cut link', async () => {
    const site = await makeSite(pair, { sourceEndpoint: edge.endpoint, destinationEndpoint: cloud.endpoint, transfer: ['purgeAfterUpload: true', 'retryBackoff: { base: 1s, max: 2s }'] });
    await putObjects(pair.edge, site.sourceBucket, Array.from({ length: 20 }, (_, i) => ({ key: `seed/${i}`, body: `seed ${i}`.repeat(100) })));
    const child = site.spawn('watch', '--interval', '200ms', '--metrics-addr', '127.0.0.1:0');
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    let arrived = 0;
    const arrive = (count: number, size = 2000) => putObjects(pair.edge, site.sourceBucket, Array.from({ length: count }, () => ({ key: `new/${arrived++}`, body: 'x'.repeat(size) })));
    try {
      const url = await waitFor(() => /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stdout)?.[1], 60_000, 'the metrics URL');
      const pid = child.pid!;
      /** The fewest fds and children seen while `cycles` more cycles run (each step may act first). */
      const floorOver = async (cycles: number, step: () => Promise<void> = async () => {}) => {
        let fds = Infinity;
        let children = Infinity;
        const target = (await cyclesDone(url)) + cycles;
        let seen = await cyclesDone(url);
        while (seen < target) {
          fds = Math.min(fds, openFds(pid));
          children = Math.min(children, descendants(pid).length);
          const now = await cyclesDone(url);
          if (now > seen) await step();
          seen = now;
        }
        return { fds, children };
      };
      // Warm-up: the first cycles open what watch keeps (the metrics server, the ledger, its writer).
      await floorOver(5);
      const before = await floorOver(8);
      expect(before.children).toBe(0);

      await floorOver(10, () => arrive(3));
      // The destination fails: every connection to it is reset; uploads wait and are retried.
      await cloud.addToxic({ name: 'refuse', type: 'reset_peer', attributes: { timeout: 0 } });
      await floorOver(6, () => arrive(2));
      await cloud.reset();
      // The source link crawls, then is cut while a download of a larger object is on it.
      await edge.addToxic({ name: 'slow', type: 'bandwidth', stream: 'downstream', attributes: { rate: 64 } });
      await arrive(2, 512 * 1024);
      await waitFor(() => (descendants(pid).length > 0 ? true : undefined), 60_000, 'an s5cmd moving the large objects');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await edge.addToxic({ name: 'cut', type: 'reset_peer', attributes: { timeout: 0 } });
      await floorOver(3);
      await edge.reset();
      // Everything arrives in the end, and watch is back to idle.
      await waitFor(async () => {
        const text = await (await fetch(url)).text();
        return /^dualsync_ledger_objects\{stage="purged"\} (\d+)$/m.exec(text)?.[1] === String(20 + arrived) ? true : undefined;
      }, 120_000, `all ${20 + arrived} objects delivered and purged`);
      const after = await floorOver(8);
      expect(after.children).toBe(0);
      expect(after.fds).toBeLessThanOrEqual(before.fds);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).toMatch(/stopped after \d+ cycles: SIGTERM$/);
  }, 300_000);
});
