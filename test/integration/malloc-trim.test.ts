/**
 * watch gives glibc's freed pages back to the system after each cycle through the one native
 * addon (native/malloc-trim.c, built by scripts/build-native.ts at install): the addon is built and
 * loads, it really returns the holes of a fragmented main heap (measured in a process of its own),
 * watch calls it after every cycle, after a full collection of V8's heap (its memory trace says what
 * the trim returned and how long both took), and without the addon
 * watch says once what is lost and how to get it, then works as before.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { putObjects, tempDir, useMinioPair } from '../harness/index.ts';
import { addonPath, loadMallocTrim, trimUnavailableWarning } from '../../src/watch/malloc-trim.ts';
import type { MemorySample } from '../../src/watch/memory-trace.ts';
import { makeSite } from './site.ts';

const pair = useMinioPair();
const run = promisify(execFile);
const MIB = 1024 * 1024;
const BUILD = 'run `npm run build:native` (scripts/build-native.ts; a C compiler is needed: apt-get install gcc)';

function traced(file: string): MemorySample[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as MemorySample);
}

describe('the malloc_trim addon', () => {
  it('is built and loads from the checkout', () => {
    const loaded = loadMallocTrim();
    if ('unavailable' in loaded) throw new Error(`${loaded.unavailable}: ${BUILD}`);
    expect(typeof loaded.trim()).toBe('boolean');
  });

  it('gives back the free pages of a fragmented main heap, which stay taken without it', async () => {
    // 150 MiB of 4 KiB buffers (malloc'd in the main heap), every 64th kept: the heap is then
    // mostly holes that glibc does not return, as a long watch's is.
    const script = `
      import { loadMallocTrim } from ${JSON.stringify(fileURLToPath(new URL('../../src/watch/malloc-trim.ts', import.meta.url)))};
      import { mallocHeapRss } from ${JSON.stringify(fileURLToPath(new URL('../../src/watch/memory-trace.ts', import.meta.url)))};
      const kept = [];
      let all = [];
      for (let i = 0; i < 150 * 256; i++) all.push(Buffer.allocUnsafeSlow(4096).fill(i & 255));
      for (let i = 0; i < all.length; i += 64) kept.push(all[i]);
      all = undefined;
      for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
      const before = mallocHeapRss();
      await new Promise((r) => setTimeout(r, 200));
      const untouched = mallocHeapRss();
      const addon = loadMallocTrim();
      const released = addon.trim();
      const after = mallocHeapRss();
      console.log(JSON.stringify({ before, untouched, released, after, kept: kept.length }));
    `;
    const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' } });
    const { before, untouched, released, after } = JSON.parse(stdout) as { before: number; untouched: number; released: boolean; after: number };
    expect(before / MIB, stdout).toBeGreaterThan(100);
    // Left alone, the holes stay resident; trimmed, most of them go.
    expect(untouched / before, stdout).toBeGreaterThan(0.9);
    expect(released, stdout).toBe(true);
    expect(after / before, stdout).toBeLessThan(0.5);
  }, 60_000);

  it('names a missing or broken addon and the way to build it', async () => {
    const missing = loadMallocTrim('/nonexistent/native/build/malloc-trim.node');
    expect(missing).toEqual({ unavailable: '/nonexistent/native/build/malloc-trim.node is not built', path: '/nonexistent/native/build/malloc-trim.node' });
    const broken = join(await tempDir('dualsync-trim-'), 'malloc-trim.node');
    await writeFile(broken, 'not a shared object\n');
    const loaded = loadMallocTrim(broken);
    expect('unavailable' in loaded && loaded.unavailable).toMatch(/malloc-trim\.node could not be loaded \(.*(invalid ELF header|file too short)/);
    expect(trimUnavailableWarning('X is not built')).toMatch(/^cannot give freed memory back to the system after each cycle: X is not built; .*npm run build:native/);
    expect(addonPath()).toMatch(/native\/build\/malloc-trim\.node$/);
  });
});

describe('the full collection between cycles', () => {
  it("collects the old space's garbage without --expose-gc on the command line", async () => {
    const script = `
      import { fullCollection } from ${JSON.stringify(fileURLToPath(new URL('../../src/watch/malloc-trim.ts', import.meta.url)))};
      import { getHeapSpaceStatistics } from 'node:v8';
      const old = () => getHeapSpaceStatistics().find((space) => space.space_name === 'old_space').space_used_size;
      const collect = fullCollection();
      // Kept across many scavenges, so promoted to the old space; then dropped.
      let kept = [];
      for (let i = 0; i < 40; i++) { kept.push(Array.from({ length: 20000 }, (_, j) => ({ i, j }))); await new Promise((r) => setImmediate(r)); }
      const full = old();
      kept = undefined;
      const before = old();
      collect();
      console.log(JSON.stringify({ full, before, after: old(), exposed: typeof globalThis.gc }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const { before, after, exposed } = JSON.parse(stdout) as { before: number; after: number; exposed: string };
    expect(before / MIB, stdout).toBeGreaterThan(20);
    expect(after / before, stdout).toBeLessThan(0.3);
    // The main context does not get a global gc.
    expect(exposed).toBe('undefined');
  }, 60_000);
});

describe('the young generation between cycles', () => {
  it("hands back the new space's pages, which otherwise stay resident up to its cap and creep up over a soak", async () => {
    const script = `
      import { fullCollection } from ${JSON.stringify(fileURLToPath(new URL('../../src/watch/malloc-trim.ts', import.meta.url)))};
      import { getHeapSpaceStatistics } from 'node:v8';
      const young = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').physical_space_size;
      const collect = fullCollection();
      // A cycle's short-lived garbage: it fills the semi-spaces many times over.
      let last;
      for (let round = 0; round < 20; round++) for (let i = 0; i < 200000; i++) last = { i, text: 'object ' + i, list: [i, i + 1] };
      const before = young();
      collect();
      console.log(JSON.stringify({ before, after: young(), last: last.i }));
    `;
    // As watch runs (bin/dualsync re-executes it with this cap).
    const { stdout } = await run(process.execPath, ['--max-semi-space-size=16', '--input-type=module', '-e', script]);
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    expect(before / MIB, stdout).toBeGreaterThan(8);
    expect(after / MIB, stdout).toBeLessThan(2);
  }, 60_000);
});

describe('watch trims after each cycle', () => {
  it('records what the trim returned in its memory trace, says nothing about it when the addon is there, and can be turned off', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, Array.from({ length: 20 }, (_, i) => ({ key: `seed/${i}`, body: `seed ${i} `.repeat(64) })));
    const dir = await tempDir('dualsync-trim-watch-');

    site.env.DUALSYNC_MEMORY_TRACE = join(dir, 'on.jsonl');
    const on = await site.cli('watch', '--once');
    expect(on.exitCode, on.stdout + on.stderr).toBe(0);
    expect(on.stderr).not.toMatch(/cannot give freed memory back/);
    const [sample] = traced(join(dir, 'on.jsonl'));
    expect(typeof sample!.trimmed, JSON.stringify(sample)).toBe('boolean');
    expect(sample!.returnMs, JSON.stringify(sample)).toBeGreaterThanOrEqual(0);

    site.env.DUALSYNC_MEMORY_TRACE = join(dir, 'off.jsonl');
    site.env.DUALSYNC_MALLOC_TRIM = 'off';
    const off = await site.cli('watch', '--once');
    expect(off.exitCode, off.stdout + off.stderr).toBe(0);
    expect(off.stderr).not.toMatch(/cannot give freed memory back/);
    expect(traced(join(dir, 'off.jsonl'))[0]).not.toHaveProperty('trimmed');
    expect(traced(join(dir, 'off.jsonl'))[0]).not.toHaveProperty('returnMs');
  }, 120_000);
});
