import { execa } from 'execa';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { ExternalSort } from '../../src/inventory/extsort.ts';
import type { ObjectEntry } from '../../src/model/objects.ts';
import { compareKeys } from '../../src/plan/keys.ts';
import { readCorpus } from '../harness/key-corpus.ts';
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
  ['the file from the first entry, in runs of 97 entries merged', { memoryEntries: 0, runEntries: 97 }],
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

describe('ExternalSort in sorted runs merged at the end', () => {
  const RUNS = { memoryEntries: 0, runEntries: 4 };

  it('a run boundary exactly at a duplicate key: the last of one run and the first of the next, the first added kept', async () => {
    const sort = new ExternalSort(await tempDir('extsort-'), RUNS);
    // Run 0 sorts to a b c m; run 1 to m x y z; the tail (in memory) holds m again.
    for (const item of [entry('c'), entry('m', 1, 'first'), entry('a'), entry('b')]) sort.add(item);
    for (const item of [entry('z'), entry('y'), entry('m', 2, 'second'), entry('x')]) sort.add(item);
    sort.add(entry('m', 3, 'third'));
    expect(await drain(sort)).toEqual([entry('a'), entry('b'), entry('c'), entry('m', 1, 'first'), entry('x'), entry('y'), entry('z')]);
    expect(sort.duplicates).toEqual({ count: 2, first: 'm' });
  });

  it('a duplicate whose first copy sorts last in a later run than a smaller one: the earlier run still wins', async () => {
    const sort = new ExternalSort(await tempDir('extsort-'), RUNS);
    for (const item of [entry('k', 1, 'first'), entry('l'), entry('n'), entry('o')]) sort.add(item);
    for (const item of [entry('a'), entry('b'), entry('c'), entry('k', 2, 'second')]) sort.add(item);
    expect((await drain(sort)).find((item) => item.key === 'k')).toEqual(entry('k', 1, 'first'));
    expect(sort.duplicates).toEqual({ count: 1, first: 'k' });
  });

  it('a spill of many runs: one file of compact runs, every key once in compareKeys order, sizes past 2^32 exact', async () => {
    const dir = await tempDir('extsort-');
    const sort = new ExternalSort(dir, { memoryEntries: 0, runEntries: 1000 });
    const keys = shuffled(Array.from({ length: 25_500 }, (_, i) => `data/${i % 3 === 0 ? '\u{1F600}' : i % 3 === 1 ? '\uE000' : 'z'}/${i}`), 5);
    for (const key of keys) sort.add(entry(key, 2 ** 40 + key.length, `etag-${key}`));
    sort.sort();
    expect(readdirSync(dir)).toHaveLength(1);
    const bytes = statSync(sort.file).size;
    expect(bytes, '25 runs written, the last 500 still in memory').toBe(keys.slice(0, 25_000).reduce((sum, key) => sum + 21 + 2 * Buffer.byteLength(key) + 5, 0));
    const out = await drain(sort);
    expect(out.map((item) => item.key)).toEqual([...keys].sort(compareKeys));
    expect(out.every((item) => item.size === 2 ** 40 + item.key.length && item.etag === `etag-${item.key}`)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a key of 1024 bytes, and keys far longer than a read page, come back byte-identical', async () => {
    const sort = new ExternalSort(await tempDir('extsort-'), { memoryEntries: 0, runEntries: 2 });
    const long1024 = `k/${'é'.repeat(511)}`; // 2 + 1022 bytes
    expect(Buffer.byteLength(long1024)).toBe(1024);
    const huge = `k/${'\u{1F600}'.repeat(40_000)}`; // 160 KB, more than two read pages
    const keys = [huge, 'k/a', long1024, 'k/b', `${long1024}x`, 'k/\u{10FFFF}'];
    for (const key of keys) sort.add(entry(key, 1, `e-${key.length}`));
    const out = await drain(sort);
    expect(out.map((item) => item.key)).toEqual([...keys].sort(compareKeys));
    expect(out.map((item) => Buffer.from(item.key).toString('hex'))).toEqual([...keys].sort(compareKeys).map((key) => Buffer.from(key).toString('hex')));
    expect(out.find((item) => item.key === huge)?.etag).toBe(`e-${huge.length}`);
  });

  it.each(['hostile.json', 'hostile-extra.json'])('the hostile key corpus %s: the same order as compareKeys, every key byte-identical', async (name) => {
    const keys = [...new Set(readCorpus(name).map((item) => item.key))];
    for (const runEntries of [1, 3, 1000]) {
      const sort = new ExternalSort(await tempDir('extsort-'), { memoryEntries: 0, runEntries });
      for (const key of shuffled(keys, runEntries)) sort.add(entry(key));
      const out = (await drain(sort)).map((item) => item.key);
      expect(out.map((key) => Buffer.from(key).toString('hex'))).toEqual([...keys].sort(compareKeys).map((key) => Buffer.from(key).toString('hex')));
    }
  });

  it('a rollback into a written run keeps that run entries added before the mark, in their order of adding', async () => {
    const sort = new ExternalSort(await tempDir('extsort-'), RUNS);
    for (const key of ['d', 'c', 'b', 'a', 'h', 'g']) sort.add(entry(key, 1, 'kept'));
    const mark = sort.mark();
    for (const key of ['g', 'f', 'e', 'z', 'y']) sort.add(entry(key, 2, 'dropped'));
    sort.rollback(mark);
    expect(sort.added).toBe(6);
    sort.add(entry('g', 3, 'after'));
    sort.add(entry('e', 3, 'after'));
    expect(await drain(sort)).toEqual([
      ...['a', 'b', 'c', 'd'].map((key) => entry(key, 1, 'kept')),
      entry('e', 3, 'after'),
      entry('g', 1, 'kept'),
      entry('h', 1, 'kept'),
    ]);
    expect(sort.duplicates).toEqual({ count: 1, first: 'g' });
  });
});
