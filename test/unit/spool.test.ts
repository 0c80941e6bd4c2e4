import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Action } from '../../src/model/plan.ts';
import { actionsOfKinds, MemorySpool, SpooledActions } from '../../src/manifest/spool.ts';
import { decodeLine, encodeLine, FileSpool, removeDeadSpools, SpoolFolder } from '../../src/files/spool.ts';
import { planSync } from '../../src/plan/planner.ts';
import { inventory, testConfig } from '../builders.ts';
import { removeTempDirs, tempDirSync } from '../harness/temp.ts';

afterAll(removeTempDirs);
const parent = (): string => tempDirSync('spool-test-');

function act(key: string, kind: Action['kind'] = 'adopt'): Action {
  return { kind, key, size: key.length, etag: `e-${key}` };
}

describe('file spools', () => {
  it('create nothing until a spool spills', () => {
    const dir = join(parent(), 'spool');
    const folder = SpoolFolder.at(dir, 10);
    const spool = new FileSpool(folder);
    for (let i = 0; i < 10; i++) spool.push(i, act(`k${i}`));
    spool.end();
    expect(existsSync(dir)).toBe(false);
    expect([...spool.entries()]).toHaveLength(10);
  });

  it('keep a small spool in memory and move a large one to a file, reading both back in order', () => {
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

  it('write each field back as it was, whatever the characters', () => {
    const hostile = ['', 'a\tb', 'line\nbreak', 'back\\slash', '\\t literally', '=', 'é€😀', '\\', 'end\\'];
    for (const text of hostile) {
      const full: Action = {
        kind: 'redownload', key: `k${text}`, size: 12, etag: text, volume: `/v${text}`, afterDownload: true, reason: text,
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

  it('refuse entries out of rank order', () => {
    const spool = new MemorySpool();
    spool.push(5, act('b'));
    expect(() => spool.push(4, act('a'))).toThrow(/out of rank order/);
  });

  it('merge a kind\'s spools by rank and read one kind without the others', () => {
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

  it('remove the folders of dead runs only', () => {
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

describe('a plan made with file spools', () => {
  it('is the plan made in memory, action for action', () => {
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
    const inMemory = planSync(config, built);
    const folder = SpoolFolder.at(parent(), 4);
    const spooled = planSync(config, built, { spools: folder.spools });
    expect(readdirSync(folder.path!).length).toBeGreaterThan(3);
    expect(spooled).toEqual(inMemory);
    expect(inMemory.actions.map((a) => a.kind)).toEqual(expect.arrayContaining(['download', 'adopt', 'upload', 'purge', 'skip']));
  });
});
