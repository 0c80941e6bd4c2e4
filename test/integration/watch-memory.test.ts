/**
 * watch keeps its memory flat over months by settings that a process takes only when it starts
 * (bin/dualsync re-executes watch once with them): V8's young generation capped, so it does not
 * double over a few hundred cycles, and glibc's mmap threshold fixed, so large buffers go back to
 * the system when freed instead of settling in a main heap that never shrinks. Observed from the
 * outside, on a real watch: the same pid (systemd and the lock know only that one), the flag on
 * its command line, the variable in its environment, and V8's new space as watch's own memory
 * trace (DUALSYNC_MEMORY_TRACE) records it per cycle.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { putObjects, tempDir, useMinioPair } from '../harness/index.ts';
import type { MemorySample } from '../../src/watch/memory-trace.ts';
import { makeSite } from './site.ts';
import { waitFor } from '../harness/wait.ts';

const pair = useMinioPair();
const MIB = 1024 * 1024;

function samples(file: string): MemorySample[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as MemorySample);
}

describe("watch's memory settings", () => {
  it('watch runs as the same process with a capped young generation and a fixed mmap threshold; its new space stays small over many cycles', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, Array.from({ length: 200 }, (_, i) => ({ key: `seed/${String(i).padStart(4, '0')}`, body: `seed ${i} `.repeat(64) })));
    expect((await site.spawn('apply', '--auto-approve')).exitCode).toBe(0);
    const trace = join(await tempDir('dualsync-watch-memory-'), 'memory.jsonl');
    site.env.DUALSYNC_MEMORY_TRACE = trace;
    const child = site.spawn('watch', '--interval', '50ms');
    try {
      // 40 cycles. Capped, the new space stays at 32 MiB; unset, soak runs saw 64 MiB by cycle 20 in some runs, 128 MiB by cycle 300.
      const traced = await waitFor(() => (samples(trace).length >= 40 ? samples(trace) : undefined), 240_000, '40 traced cycles');
      const pid = child.pid!;
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(commandLine).toContain('--max-semi-space-size=16');
      expect(commandLine.filter((arg) => arg.endsWith('bin/dualsync'))).toHaveLength(1);
      const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(environment).toContain('MALLOC_MMAP_THRESHOLD_=131072');
      const largestNewSpace = Math.max(...traced.map((sample) => sample.spaces.new_space ?? 0));
      expect(largestNewSpace / MIB).toBeLessThanOrEqual(48);
      // Something arrives: the ledger writer starts, and from then on the trace has its worker's
      // heap beside the anonymous memory by kind (what the soak's breakdown reads).
      await putObjects(pair.edge, site.sourceBucket, [{ key: 'later/one', body: 'arrived later' }]);
      const withWriter = await waitFor(() => samples(trace).find((sample) => sample.writer !== undefined), 120_000, 'a traced cycle with the ledger writer running');
      expect(withWriter.writer!.usedHeapSize).toBeGreaterThan(0);
      expect(withWriter.writer!.totalPhysicalSize).toBeLessThan(64 * MIB);
      const kinds = withWriter.mappings!;
      expect(kinds.mainHeap.rss).toBe(withWriter.mallocHeap);
      // The writer's SQLite mallocs in a thread of its own: glibc gives such threads arenas of their own.
      expect(kinds.arenas.count).toBeGreaterThanOrEqual(1);
      expect(kinds.other.rss).toBeGreaterThan(withWriter.v8Physical);
      // Node names its threads: the writer is its one WorkerThread.
      expect(withWriter.threads).toMatchObject({ MainThread: 1, WorkerThread: 1 });
    } finally {
      child.kill('SIGTERM');
    }
    const result = await child;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stderr)).not.toMatch(/ExperimentalWarning|without its memory settings/);
    expect(String(result.stdout)).toMatch(/stopped after \d+ cycles: SIGTERM$/);
  }, 300_000);

  it("the operator's own settings win: NODE_OPTIONS with a semi-space size, and a MALLOC_ variable of theirs", async () => {
    const site = await makeSite(pair);
    site.env.NODE_OPTIONS = '--max-semi-space-size=4';
    site.env.MALLOC_MMAP_THRESHOLD_ = '65536';
    const trace = join(await tempDir('dualsync-watch-memory-'), 'memory.jsonl');
    site.env.DUALSYNC_MEMORY_TRACE = trace;
    const child = site.spawn('watch', '--interval', '50ms');
    try {
      await waitFor(() => (samples(trace).length >= 2 ? true : undefined), 120_000, '2 traced cycles');
      const pid = child.pid!;
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).not.toContain('--max-semi-space-size=16');
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_MMAP_THRESHOLD_=65536');
    } finally {
      child.kill('SIGTERM');
    }
    expect((await child).exitCode).toBe(0);
  }, 300_000);
});
