import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MEMORY_TRACE_VARIABLE, memoryTracer, type MemorySample } from '../../src/watch/memory-trace.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

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
      expect(sample.v8Malloced).toBeGreaterThan(0);
      if (process.platform === 'linux') {
        expect(sample.anonymous).toBeGreaterThan(0);
        expect(sample.mallocHeap).toBeGreaterThan(0);
      }
    }
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
