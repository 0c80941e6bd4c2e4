import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getHeapStatistics } from 'node:v8';
import { execa } from 'execa';
import { anonymousMappings, MEMORY_TRACE_VARIABLE, memoryTracer, type MemorySample } from '../../src/watch/memory-trace.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await removeTempDirs();
});

const KIB = 1024;
const MIB = 1024 * KIB;

/** One smaps entry: the header line and the two fields the grouping reads. */
function entry(start: number, size: number, perms: string, name: string, rssKiB: number, anonymousKiB = rssKiB): string {
  const hex = (n: number) => n.toString(16).padStart(12, '0');
  return [
    `${hex(start)}-${hex(start + size)} ${perms} 00000000 00:00 0${name === '' ? '' : `                          ${name}`}`,
    `Size:           ${size / KIB} kB`,
    `Rss:            ${rssKiB} kB`,
    `Pss:            ${rssKiB} kB`,
    `Anonymous:      ${anonymousKiB} kB`,
    'VmFlags: rd wr mr mw me ac',
  ].join('\n');
}

describe('watch memory trace', () => {
  it('no variable: no tracer at all, so watch pays nothing', () => {
    expect(memoryTracer({}, () => undefined)).toBeUndefined();
    expect(memoryTracer({ [MEMORY_TRACE_VARIABLE]: '' }, () => undefined)).toBeUndefined();
  });

  it('one JSON line per cycle, with the heap, the memory outside it and the heap spaces', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dualsync-trace-'));
    dirs.push(dir);
    const file = join(dir, 'memory.jsonl');
    const trace = memoryTracer({ [MEMORY_TRACE_VARIABLE]: file }, () => undefined)!;
    trace(1);
    trace(2);
    const samples = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as MemorySample);
    expect(samples.map((s) => s.cycle)).toEqual([1, 2]);
    for (const sample of samples) {
      expect(sample.rss).toBeGreaterThan(sample.heapUsed);
      expect(sample.heapTotal).toBeGreaterThanOrEqual(sample.heapUsed);
      expect(sample.external).toBeGreaterThan(0);
      expect(sample.spaces.old_space).toBeGreaterThan(0);
      expect(sample.spaces.new_space).toBeGreaterThan(0);
      expect(sample.spacesPhysical!.old_space).toBeGreaterThan(0);
      expect(sample.v8Malloced).toBeGreaterThan(0);
      if (process.platform === 'linux') {
        expect(sample.anonymous).toBeGreaterThan(0);
        expect(sample.mallocHeap).toBeGreaterThan(0);
      }
    }
  });

  it('smaps: the main heap, thread arenas (64 MiB-aligned, ---p rest), thread stacks and the rest are told apart', () => {
    const arena = 0x7f00_0000_0000; // a multiple of 64 MiB
    const text = [
      entry(0x5600_0000_0000, 1 * MIB, 'r-xp', '/usr/bin/node', 900, 0),
      entry(0x5600_1000_0000, 12 * MIB, 'rw-p', '[heap]', 11 * KIB),
      // An arena heap: 3 MiB used, the rest of its 64 MiB reserved.
      entry(arena, 3 * MIB, 'rw-p', '', 2 * KIB),
      entry(arena + 3 * MIB, 61 * MIB, '---p', '', 0),
      // A full arena heap: no rest.
      entry(arena + 64 * MIB, 64 * MIB, 'rw-p', '', 5 * KIB),
      // A pthread stack above its one-page guard.
      entry(arena + 200 * MIB, 4 * KIB, '---p', '', 0),
      entry(arena + 200 * MIB + 4 * KIB, 8 * MIB, 'rw-p', '', 100),
      // Other anonymous memory: one not at a 64 MiB boundary, one at it but not spanning 64 MiB with its rest.
      entry(arena + 300 * MIB + 256 * KIB, 16 * MIB, 'rw-p', '', 7 * KIB),
      entry(arena + 384 * MIB, 2 * MIB, 'rw-p', '', 1 * KIB),
      entry(arena + 386 * MIB, 10 * MIB, '---p', '', 0),
      entry(arena + 400 * MIB, 1 * MIB, 'rw-p', '[anon:v8]', 512),
      entry(0x7fff_0000_0000, 132 * KIB, 'rw-p', '[stack]', 40),
      entry(0x7fff_1000_0000, 8 * KIB, 'r--p', '[vvar]', 0),
    ].join('\n');
    const kinds = anonymousMappings(text, 2);
    expect(kinds.mainHeap).toEqual({ rss: 11 * MIB, count: 1 });
    expect(kinds.arenas).toEqual({ rss: 7 * MIB, count: 2 });
    expect(kinds.threadStacks).toEqual({ rss: 140 * KIB, count: 2 });
    expect(kinds.other).toEqual({ rss: 8 * MIB + 512 * KIB, count: 3 });
    expect(kinds.largestOther).toEqual([
      { start: (arena + 300 * MIB + 256 * KIB).toString(16), size: 16 * MIB, rss: 7 * MIB },
      { start: (arena + 384 * MIB).toString(16), size: 2 * MIB, rss: 1 * MIB },
    ]);
  });

  it.runIf(process.platform === 'linux')('on Linux each sample has the anonymous memory by kind and the threads by name, summing to no more than the rollup', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dualsync-trace-'));
    dirs.push(dir);
    const file = join(dir, 'memory.jsonl');
    memoryTracer({ [MEMORY_TRACE_VARIABLE]: file }, () => undefined)!(1);
    const sample = JSON.parse(readFileSync(file, 'utf8')) as MemorySample;
    const kinds = sample.mappings!;
    expect(kinds.mainHeap.rss).toBe(sample.mallocHeap);
    expect(kinds.other.rss).toBeGreaterThan(0);
    // V8's heap pages are anonymous mappings outside malloc's arenas.
    expect(kinds.other.rss).toBeGreaterThan(sample.v8Physical / 2);
    expect(sample.v8Physical).toBeGreaterThan(0);
    expect(kinds.mainHeap.rss + kinds.arenas.rss + kinds.threadStacks.rss + kinds.other.rss).toBeLessThanOrEqual(sample.rss);
    expect(Object.values(sample.threads!).reduce((a, b) => a + b, 0)).toBeGreaterThan(1);
    expect(sample.writer).toBeUndefined();
  });

  it("the ledger writer's heap: absent before the writer starts, recorded once it runs", async () => {
    const store = await LedgerStore.open(await tempDir('dualsync-trace-ledger-'));
    try {
      expect(await store.writerHeapStatistics()).toBeUndefined();
      await store.append([{ type: 'staged', key: 'a', size: 3, etag: 'e-a', volume: '/vol/1', verifiedBy: 'size' }]);
      const heap = await store.writerHeapStatistics();
      expect(heap?.used_heap_size).toBeGreaterThan(0);
      // Its own isolate, not this one: a heap limit of its own, and no more than one context.
      expect(heap?.number_of_native_contexts).toBe(1);
      const dir = mkdtempSync(join(tmpdir(), 'dualsync-trace-'));
      dirs.push(dir);
      const file = join(dir, 'memory.jsonl');
      memoryTracer({ [MEMORY_TRACE_VARIABLE]: file }, () => undefined)!(1, undefined, heap);
      const sample = JSON.parse(readFileSync(file, 'utf8')) as MemorySample;
      expect(sample.writer).toEqual({ totalHeapSize: heap!.total_heap_size, totalPhysicalSize: heap!.total_physical_size, usedHeapSize: heap!.used_heap_size, mallocedMemory: heap!.malloced_memory, externalMemory: heap!.external_memory });
      expect(sample.writer!.totalHeapSize).not.toBe(getHeapStatistics().total_heap_size);
    } finally {
      await store.close();
    }
    expect(await store.writerHeapStatistics()).toBeUndefined();
  });

  it("asking for the writer's heap keeps the process alive until the answer comes (the writer is unref'd)", async () => {
    const dir = await tempDir('dualsync-trace-ledger-');
    const store = new URL('../../src/ledger/store.ts', import.meta.url).href;
    const script = [
      `const { LedgerStore } = await import(${JSON.stringify(store)});`,
      `const store = await LedgerStore.open(${JSON.stringify(dir)});`,
      "await store.append([{ type: 'staged', key: 'a', size: 3, etag: 'e-a', volume: '/vol/1', verifiedBy: 'size' }]);",
      'const heap = await store.writerHeapStatistics();',
      "console.log('used', heap.used_heap_size > 0);",
      'await store.close();',
      "console.log('closed');",
    ].join('\n');
    const result = await execa(process.execPath, ['--input-type=module', '--eval', script], { reject: false });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('used true\nclosed');
  });

  it('a file that cannot be written: one warning, then silence, and watch goes on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dualsync-trace-'));
    dirs.push(dir);
    const warnings: string[] = [];
    const trace = memoryTracer({ [MEMORY_TRACE_VARIABLE]: join(dir, 'missing', 'memory.jsonl') }, (message) => warnings.push(message))!;
    expect(() => {
      trace(1);
      trace(2);
    }).not.toThrow();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/DUALSYNC_MEMORY_TRACE: cannot append to .*missing.*memory\.jsonl/);
  });
});
