import { execa } from 'execa';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { ExternalSort } from '../../src/inventory/extsort.ts';
import type { ObjectEntry } from '../../src/model/objects.ts';
import { compareKeys } from '../../src/plan/keys.ts';
import { seededRandom } from '../harness/random.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const entry = (key: string, size = key.length, etag = `e-${key}`): ObjectEntry => ({ key, size, etag });

/** The entries of a stream of pages, one at a time. */
async function* flatten<T>(pages: AsyncIterable<readonly T[]>): AsyncGenerator<T> {
  for await (const page of pages) yield* page;
}

async function drain(sort: ExternalSort): Promise<ObjectEntry[]> {
  const out: ObjectEntry[] = [];
  for await (const item of flatten(sort.pages())) out.push(item);
  return out;
}

/** The same list in a seeded shuffled order. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const next = seededRandom(seed);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** The file from the first entry (as a large answer sorts), or memory first and the file past 1,000 entries. */
const MODES = [
  ['the file from the first entry', { memoryEntries: 0 }],
  ['in memory up to 1,000 entries, then the file', { memoryEntries: 1000 }],
] as const;
const IN_FILE = { memoryEntries: 0 };

describe.each(MODES)('ExternalSort (%s): an unsorted listing read back in key order', (_mode, options) => {
  it('astral characters sort after U+E000-U+FFFF (UTF-8 bytes, not UTF-16 code units), as S3 lists them', async () => {
    // UTF-16 `<` puts every surrogate (D800-DFFF) before E000; UTF-8 puts F0.. (astral) after EE../EF...
    const keys = ['a/\u{1F600}', 'a/\uE000', 'a/\uFFFD', 'a/\u{10000}', 'a/\uD7FF', 'a/z', 'a/\u{10FFFF}', 'a/\uFFFF', 'a/\u00E9', 'a/'];
    const sort = new ExternalSort(await tempDir('extsort-'), options);
    for (const key of shuffled(keys, 7)) sort.add(entry(key));
    const order = (await drain(sort)).map((item) => item.key);
    expect(order).toEqual([...keys].sort(compareKeys));
    expect(order).toEqual(['a/', 'a/z', 'a/\u00E9', 'a/\uD7FF', 'a/\uE000', 'a/\uFFFD', 'a/\uFFFF', 'a/\u{10000}', 'a/\u{1F600}', 'a/\u{10FFFF}']);
    expect(order).not.toEqual([...keys].sort());
  });

  it('thousands of random keys of every UTF-8 length come back in compareKeys order, with their sizes and ETags', async () => {
    const next = seededRandom(12);
    const pick = (): string => {
      const ranges = [0x20, 0x7e, 0xa0, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xffff, 0x10000, 0x10ffff];
      const r = Math.floor(next() * 5) * 2;
      return String.fromCodePoint((ranges[r] as number) + Math.floor(next() * ((ranges[r + 1] as number) - (ranges[r] as number))));
    };
    const keys = new Set<string>();
    while (keys.size < 5000) keys.add(Array.from({ length: 1 + Math.floor(next() * 4) }, pick).join(''));
    const sort = new ExternalSort(await tempDir('extsort-'), options);
    for (const key of keys) sort.add(entry(key, key.length * 3, `etag ${key}`));
    const out = await drain(sort);
    expect(out.map((item) => item.key)).toEqual([...keys].sort(compareKeys));
    expect(out[10]).toEqual(entry(out[10]!.key, out[10]!.key.length * 3, `etag ${out[10]!.key}`));
  });

  it('a key listed twice: the first listed is kept, the others counted, the first duplicate named in key order', async () => {
    const sort = new ExternalSort(await tempDir('extsort-'), options);
    for (const item of [entry('m', 1, 'first-m'), entry('b', 1, 'first-b'), entry('m', 2, 'second-m'), entry('b', 2, 'second-b'), entry('m', 3, 'third-m'), entry('a')]) sort.add(item);
    expect(await drain(sort)).toEqual([entry('a'), entry('b', 1, 'first-b'), entry('m', 1, 'first-m')]);
    expect(sort.duplicates).toEqual({ count: 3, first: 'b' });
  });

  it('rollback drops what a retried page gave, and only that', async () => {
    const sort = new ExternalSort(await tempDir('extsort-'), options);
    sort.add(entry('a'));
    const mark = sort.mark();
    for (let i = 0; i < 60_000; i++) sort.add(entry(`retry/${i}`)); // across an inner commit
    sort.rollback(mark);
    sort.add(entry('b'));
    expect((await drain(sort)).map((item) => item.key)).toEqual(['a', 'b']);
  });

  it.each([
    ['rows still waiting to be written', 2, 1],
    ['a mark inside a batch already written', 100, 50],
    ['a mark before several transactions', 10, 120_000],
  ])('rollback to %s', async (_name, before, after) => {
    const sort = new ExternalSort(await tempDir('extsort-'), options);
    for (let i = 0; i < before; i++) sort.add(entry(`keep/${String(i).padStart(6, '0')}`));
    const mark = sort.mark();
    for (let i = 0; i < after; i++) sort.add(entry(`drop/${i}`));
    sort.rollback(mark);
    expect(sort.added).toBe(before);
    sort.add(entry('z'));
    const keys = (await drain(sort)).map((item) => item.key);
    expect(keys).toHaveLength(before + 1);
    expect(keys.some((key) => key.startsWith('drop/'))).toBe(false);
    expect(keys.at(-1)).toBe('z');
  });

  it('the temporary file lives in the given directory, made when missing, and is gone when the entries end', async () => {
    const dir = join(await tempDir('extsort-'), 'spool', 'nested');
    const sort = new ExternalSort(dir, IN_FILE);
    expect(existsSync(sort.file) && sort.file.startsWith(dir)).toBe(true);
    sort.add(entry('x'));
    sort.sort();
    expect(readdirSync(dir), 'one file, no journal beside it').toHaveLength(1);
    await drain(sort);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('two sorts in one directory never share a file', async () => {
    const dir = await tempDir('extsort-');
    const [one, two] = [new ExternalSort(dir, IN_FILE), new ExternalSort(dir, IN_FILE)];
    one.add(entry('one'));
    two.add(entry('two'));
    expect(one.file).not.toBe(two.file);
    expect((await drain(two)).map((item) => item.key)).toEqual(['two']);
    expect((await drain(one)).map((item) => item.key)).toEqual(['one']);
  });

  it('closed halfway through the read, twice: the file is gone', async () => {
    const dir = await tempDir('extsort-');
    const sort = new ExternalSort(dir, IN_FILE);
    for (let i = 0; i < 100; i++) sort.add(entry(`k${i}`));
    const reader = flatten(sort.pages())[Symbol.asyncIterator]();
    expect((await reader.next()).value).toEqual(entry('k0'));
    sort.close();
    sort.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a reader that throws out of the loop: the file is gone', async () => {
    const dir = await tempDir('extsort-');
    const sort = new ExternalSort(dir, IN_FILE);
    for (let i = 0; i < 100; i++) sort.add(entry(`k${i}`));
    await expect(
      (async () => {
        for await (const item of flatten(sort.pages())) if (item.key === 'k5') throw new Error('consumer failed');
      })(),
    ).rejects.toThrow('consumer failed');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('closed before it was read: the file is gone', async () => {
    const dir = await tempDir('extsort-');
    const sort = new ExternalSort(dir, IN_FILE);
    sort.add(entry('a'));
    sort.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a spool directory that cannot be made: E_LISTING_SPOOL naming the file, not retryable (never a hop that is down)', async () => {
    const blocker = join(await tempDir('extsort-'), 'a-file');
    writeFileSync(blocker, 'not a directory');
    let caught: unknown;
    try {
      new ExternalSort(join(blocker, 'spool'));
    } catch (error) {
      caught = error;
    }
    expect(isDualsyncError(caught) && caught.code).toBe('E_LISTING_SPOOL');
    expect(isDualsyncError(caught) && caught.retryable).toBe(false);
    expect(String((caught as Error).message)).toContain(join(blocker, 'spool', 'dualsync-sort-'));
  });
});

describe('ExternalSort of a small answer: in memory, the file only past the limit', () => {
  it('up to the limit no file is made, and the entries come back in key order, duplicates counted', async () => {
    const dir = await tempDir('extsort-');
    const sort = new ExternalSort(dir, { memoryEntries: 100 });
    for (const key of shuffled(Array.from({ length: 100 }, (_, i) => `k/${i}`), 3)) sort.add(entry(key));
    sort.add(entry('k/7', 1, 'second'));
    expect(sort.added).toBe(101);
    expect(readdirSync(dir), 'past the limit by one: the file').toHaveLength(1);
    const small = new ExternalSort(dir, { memoryEntries: 100 });
    for (const key of ['b', 'a', 'c', 'a']) small.add(entry(key, 1, `etag ${key}`));
    expect(readdirSync(dir)).toHaveLength(1);
    expect(await drain(small)).toEqual([entry('a', 1, 'etag a'), entry('b', 1, 'etag b'), entry('c', 1, 'etag c')]);
    expect(small.duplicates).toEqual({ count: 1, first: 'a' });
    expect((await drain(sort)).map((item) => item.key)).toEqual(Array.from({ length: 100 }, (_, i) => `k/${i}`).sort(compareKeys));
    expect(sort.duplicates).toEqual({ count: 1, first: 'k/7' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a retried page rolled back across the spill: what it gave before and after the file was made is gone', async () => {
    const sort = new ExternalSort(await tempDir('extsort-'), { memoryEntries: 10 });
    for (let i = 0; i < 5; i++) sort.add(entry(`keep/${i}`));
    const mark = sort.mark();
    for (let i = 0; i < 20; i++) sort.add(entry(`drop/${i}`));
    sort.rollback(mark);
    sort.add(entry('z'));
    expect((await drain(sort)).map((item) => item.key)).toEqual(['keep/0', 'keep/1', 'keep/2', 'keep/3', 'keep/4', 'z']);
  });
});

describe('a process that exits with a sort still open', () => {
  it('removes the sort file on its way out (process.exit, as after a second Ctrl-C)', async () => {
    const dir = await tempDir('extsort-');
    const module = new URL('../../src/inventory/extsort.ts', import.meta.url).href;
    const script = `const { ExternalSort } = await import(${JSON.stringify(module)});
      const sort = new ExternalSort(${JSON.stringify(dir)}, { memoryEntries: 0 });
      for (let i = 0; i < 1000; i++) sort.add({ key: 'k' + i, size: i, etag: 'e' });
      sort.sort();
      process.stdout.write(String(require('node:fs').readdirSync(${JSON.stringify(dir)}).length));
      process.exit(130);`.replace("require('node:fs')", '(await import("node:fs"))');
    const child = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false });
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stdout).toBe('1');
    expect(readdirSync(dir)).toEqual([]);
  });
});
