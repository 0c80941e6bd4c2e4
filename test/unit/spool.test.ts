import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Action } from '../../src/model/plan.ts';
import { actionsOfKinds } from '../../src/manifest/spool.ts';
import { MemorySpool, SpooledActions } from '../../src/plan/spools.ts';
import { decodeLine, encodeLine, FileSpool, removeDeadSpools, SpoolFolder } from '../../src/files/spool.ts';
import { writeWhole } from '../../src/files/write-whole.ts';
import { fileLines } from '../../src/files/lines.ts';
import { isDualsyncError } from '../../src/errors.ts';
import { inventory, testConfig, planOf } from '../builders.ts';
import { removeTempDirs, tempDirSync } from '../harness/temp.ts';

afterAll(removeTempDirs);
const parent = (): string => tempDirSync('spool-test-');

function act(key: string, kind: Action['kind'] = 'adopt'): Action {
  return { kind, key, size: key.length, etag: `e-${key}` };
}

describe('file spools', () => {
  it('create nothing until a spool spills', async () => {
    const dir = join(parent(), 'spool');
    const folder = SpoolFolder.at(dir, 10);
    const spool = new FileSpool(folder);
    for (let i = 0; i < 10; i++) spool.push(i, act(`k${i}`));
    spool.end();
    expect(existsSync(dir)).toBe(false);
    expect([...spool.entries()]).toHaveLength(10);
  });

  it('keep a small spool in memory and move a large one to a file, reading both back in order', async () => {
    const folder = SpoolFolder.at(parent(), 3);
    const small = new FileSpool(folder);
    const large = new FileSpool(folder);
    small.push(0, act('a'));
    // Keys that cross the 1 MiB read chunk in the middle of a multi-byte character.
    const keys = Array.from({ length: 20_000 }, (_, i) => `k-${String(i).padStart(6, '0')}-é€😀-${'x'.repeat(i % 97)}`);
    keys.forEach((key, i) => large.push(i, act(key)));
    small.end();
    large.end();
    expect(readdirSync(folder.path!)).toEqual(['1.tsv']);
    expect([...small.entries()]).toEqual([[0, act('a')]]);
    const back = [...large.entries()];
    expect(back.map(([rank]) => rank)).toEqual(keys.map((_, i) => i));
    expect(back.map(([, action]) => action.key)).toEqual(keys);
    // Read twice: the same.
    expect([...large.entries()].length).toBe(keys.length);
    const path = folder.path!;
    folder.remove();
    expect(existsSync(path)).toBe(false);
  });

  it('write each field back as it was, whatever the characters', async () => {
    const hostile = ['', 'a\tb', 'line\nbreak', 'back\\slash', '\\t literally', '=', 'é€😀', '\\', 'end\\'];
    for (const text of hostile) {
      const full: Action = {
        kind: 'redownload', key: `k${text}`, size: 12, etag: text, volume: `/v${text}`, afterDownload: true, reason: { code: 'destination-changed', listedEtag: text, deliveredEtag: `d${text}`, listedSize: 3 },
        adoptBy: 'content', destinationEtag: text, localProof: 'multipart-etag', replaces: text,
      };
      const line = encodeLine(7, full);
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
      expect(decodeLine(line.slice(0, -1))).toEqual([7, full]);
    }
    const bare: Action = { kind: 'adopt', key: 'k', size: 0, etag: '' };
    expect(decodeLine(encodeLine(0, bare).slice(0, -1))).toEqual([0, bare]);
  });

  it('refuse entries out of rank order', async () => {
    const spool = new MemorySpool();
    spool.push(5, act('b'));
    expect(() => spool.push(4, act('a'))).toThrow(/out of rank order/);
  });

  it('merge a kind\'s spools by rank and read one kind without the others', async () => {
    const uploads = [new MemorySpool(), new MemorySpool()];
    uploads[0]!.push(1, act('b', 'upload'));
    uploads[0]!.push(4, act('e', 'upload'));
    uploads[1]!.push(0, act('a', 'upload'));
    uploads[1]!.push(2, act('c', 'upload'));
    const adopts = new MemorySpool();
    adopts.push(3, act('d'));
    const list = new SpooledActions([
      { kind: 'adopt', spools: [adopts] },
      { kind: 'upload', spools: uploads },
    ]);
    expect([...list].map((a) => a.key)).toEqual(['d', 'a', 'b', 'c', 'e']);
    expect([...actionsOfKinds(list, ['upload'])].map((a) => a.key)).toEqual(['a', 'b', 'c', 'e']);
    expect(list.length).toBe(5);
  });

  it('remove the folders of dead runs only', async () => {
    const dir = parent();
    const mine = SpoolFolder.at(dir);
    mine.nextFile();
    SpoolFolder.at(dir).nextFile(); // another of this process
    mkdtempSync(join(dir, 'run-999999999-'));
    removeDeadSpools(dir, (pid) => pid === process.pid);
    const left = readdirSync(dir);
    expect(left).toHaveLength(2);
    expect(left.every((name) => name.startsWith(`run-${process.pid}-`))).toBe(true);
    expect(existsSync(mine.path!)).toBe(true);
  });
});

/** A spool of `count` actions spilled to its file (4 in memory at most), ended, and the file's path. */
function spilled(count: number): { spool: FileSpool; file: string } {
  const folder = SpoolFolder.at(parent(), 4);
  const spool = new FileSpool(folder);
  for (let i = 0; i < count; i++) spool.push(i, act(`key-${i}`, 'upload'));
  spool.end();
  return { spool, file: join(folder.path!, '1.tsv') };
}

function readError(read: () => unknown): { code: string; message: string } {
  try {
    read();
  } catch (error) {
    if (isDualsyncError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected the read to fail');
}

describe('a spool file that does not read back as written', () => {
  it('cut in its last line: an error naming the file, not a shorter list', async () => {
    const { spool, file } = spilled(10);
    truncateSync(file, statSync(file).size - 3);
    const refused = readError(() => [...spool.entries()]);
    expect(refused.code).toBe('E_SPOOL_CORRUPT');
    expect(refused.message).toContain(file);
    expect(refused.message).toMatch(/line 10, the last, has no newline/);
  });

  it('missing whole lines at its end: the count kept while writing says so', async () => {
    const { spool, file } = spilled(10);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.indexOf('key-8')).replace(/[^\n]*$/, ''));
    const refused = readError(() => [...spool.entries()]);
    expect(refused).toMatchObject({ code: 'E_SPOOL_CORRUPT' });
    expect(refused.message).toMatch(/8 entries read back of the 10 written/);
  });

  it.each([
    ['a size that is no number', (line: string) => line.replace('\t5\t', '\tNaN\t'), /size/],
    ['a negative size', (line: string) => line.replace('\t5\t', '\t-5\t'), /size/],
    ['a size past 2^53', (line: string) => line.replace('\t5\t', '\t9007199254740993\t'), /size/],
    ['a rank that is no number', (line: string) => line.replace(/^0\t/, 'x\t'), /rank/],
    ['an unknown kind', (line: string) => line.replace('\tupload\t', '\tuplo\t'), /kind/],
    ['a field too few', (line: string) => line.slice(0, line.lastIndexOf('\t')), /11 fields, not 12/],
  ])('a line with %s is refused', async (_name, edit, field) => {
    const line = encodeLine(0, act('key-0', 'upload')).slice(0, -1);
    expect(line).toContain('\t5\t');
    expect(() => decodeLine(edit(line))).toThrow(field);
  });

  it('shorter on disk than was written when it is ended: an error before anyone reads it', async () => {
    const folder = SpoolFolder.at(parent(), 4);
    const spool = new FileSpool(folder);
    // The fifth entry spills all five to the file, written at once.
    for (let i = 0; i < 5; i++) spool.push(i, act(`key-${i}`, 'upload'));
    truncateSync(join(folder.path!, '1.tsv'), 20);
    expect(() => spool.end()).toThrow(/holds 20 bytes of the \d+ written to it/);
  });
});

describe('whole writes', () => {
  it('write the rest after a short write, until every byte is written', async () => {
    const file = join(parent(), 'f');
    const fd = openSync(file, 'w');
    const text = `é€😀${'x'.repeat(1000)}\n`;
    let calls = 0;
    writeWhole(fd, text, file, (descriptor, buffer, offset, length) => {
      calls += 1;
      return writeSync(descriptor, buffer, offset, Math.min(length, 7));
    });
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(calls).toBe(Math.ceil(Buffer.byteLength(text) / 7));
  });

  it('a write that makes no progress is a full disk naming the file, not a loop', async () => {
    const file = join(parent(), 'f');
    const fd = openSync(file, 'w');
    try {
      expect(() => writeWhole(fd, 'abc', file, () => 0)).toThrow(expect.objectContaining({ code: 'ENOSPC', path: file }));
    } finally {
      closeSync(fd);
    }
  });
});

describe('the line reader', () => {
  it('ends lines at a newline byte only: U+2028, U+2029, NEL and a lone CR stay inside', async () => {
    const file = join(parent(), 'lines');
    const lines = ['a\u2028b', 'c\u2029d', 'e\u0085f', 'g\rh', '', 'last'];
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect([...fileLines(file, { unterminated: 'error' })]).toEqual(lines);
  });

  it('refuses or keeps a last line without its newline, as asked', async () => {
    const file = join(parent(), 'lines');
    writeFileSync(file, 'one\ntwo');
    expect(() => [...fileLines(file, { unterminated: 'error' })]).toThrow(/line 2, the last, has no newline/);
    expect([...fileLines(file, { unterminated: 'line' })]).toEqual(['one', 'two']);
  });

  it('refuses a line longer than its limit, across read chunks', async () => {
    const file = join(parent(), 'lines');
    writeFileSync(file, `short\n${'y'.repeat(3 << 20)}\n`);
    expect(() => [...fileLines(file, { unterminated: 'error', maxLineBytes: 1 << 20 })]).toThrow(/line 2 is longer than 1048576 bytes/);
  });
});

describe('a plan made with file spools', () => {
  it('is the plan made in memory, action for action', async () => {
    const builder = inventory().volume('/v1', { free: 1_000_000 }).volume('/v2', { free: 1_000_000 });
    for (let i = 0; i < 300; i++) {
      const key = `d${String(i).padStart(3, '0')}/f`;
      builder.source(key, 10 + i);
      if (i % 3 === 0) builder.dest(key, 10 + i);
      if (i % 7 === 0) builder.staged('/v1', key, 10 + i);
    }
    builder.source('../bad', 1);
    const built = builder.build();
    const config = testConfig({ transfer: { maxUploadBatchBytes: 20_000 } });
    const inMemory = await planOf(config, built);
    const folder = SpoolFolder.at(parent(), 4);
    const spooled = await planOf(config, built, { spools: folder.spools });
    expect(readdirSync(folder.path!).length).toBeGreaterThan(3);
    expect(spooled).toEqual(inMemory);
    expect(inMemory.actions.map((a) => a.kind)).toEqual(expect.arrayContaining(['download', 'adopt', 'upload', 'purge', 'skip']));
  });
});
