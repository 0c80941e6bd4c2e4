import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { reasonText } from '../../src/view/reasons.ts';
import { describe, expect, it } from 'vitest';
import { TEMP_DIR } from '../../src/model/volume-layout.ts';
import { destinationKeySkip, keySkipReason, ownOutputSkip } from '../../src/plan/keys.ts';
import { localPath, tempPath } from '../../src/plan/volume-paths.ts';

interface CorpusCase {
  key: string;
  expect: 'stage' | 'skip';
  reason?: string;
  note: string;
}

const corpus = (JSON.parse(readFileSync(new URL('../../fixtures/keys/hostile.json', import.meta.url), 'utf8')) as { keys: CorpusCase[] }).keys;

describe('keySkipReason over the hostile corpus', () => {
  it.each(corpus.map((c) => [c.note, c] as const))('%s', (_note, c) => {
    const reason = keySkipReason(c.key);
    if (c.expect === 'stage') expect(reason).toBeUndefined();
    else expect(reason === undefined ? undefined : reasonText(reason)).toContain(c.reason);
  });

  it('covers every kind of key the design names', () => {
    const notes = corpus.map((c) => c.note).join('\n');
    for (const needle of ['NFC', 'NFD', 'case twin', 'backslash', 'double quote', 'single quote', 'leading dash', '1024-byte', '256-byte', 'double slash', 'directory marker', 'parent escape', 'newline']) {
      expect(notes).toContain(needle);
    }
  });
});

describe('keySkipReason edges', () => {
  it.each([
    ['a 255-byte folder name', `${'f'.repeat(255)}/x`, undefined],
    ['a 256-byte folder name', `${'f'.repeat(256)}/x`, 'path segment of 256 bytes'],
    ['a 245-byte file name', 'x'.repeat(245), undefined],
    ['a 246-byte file name', 'x'.repeat(246), 'file name of 246 bytes'],
    ['81 three-byte characters (243 bytes)', '\u65e5'.repeat(81), undefined],
    ['82 three-byte characters (246 bytes)', '\u65e5'.repeat(82), 'file name of 246 bytes'],
    ['61 emoji (244 bytes)', '\u{1F680}'.repeat(61), undefined],
    ['62 emoji (248 bytes)', '\u{1F680}'.repeat(62), 'file name of 248 bytes'],
    ['a lone high surrogate', 'a\ud800b', 'lone surrogate U+D800'],
    ['a lone low surrogate', 'a\udc00', 'lone surrogate U+DC00'],
    ['the empty key', '', 'empty key'],
    ['U+001F', 'unit\u001fsep', 'control character U+001F'],
    ['U+0080 is carried', 'c1\u0080', undefined],
    ['the temporary folder as a prefix of a longer name', `${TEMP_DIR}x/y`, undefined],
    ['a trailing /. segment', 'a/.', "'.' path segment"],
    ['the volume claim file (it names the owning state directory)', '.dualsync-volume', "first segment '.dualsync-volume' is reserved for the volume's claim"],
    ['below the volume claim file', '.dualsync-volume/x', "first segment '.dualsync-volume' is reserved"],
    ['the claim file name as a prefix of a longer name', '.dualsync-volumes', undefined],
    ['the claim file name deeper down', 'a/.dualsync-volume', undefined],
  ])('%s', (_name, key, expected) => {
    const reason = keySkipReason(key);
    if (expected === undefined) expect(reason).toBeUndefined();
    else expect(reason === undefined ? undefined : reasonText(reason)).toContain(expected);
  });
});

describe('localPath and tempPath (invariant 4: never outside the volume root)', () => {
  const roots = ['/vol1', '/mnt/disk 2', '/', '/trailing/'];

  it.each(roots)('every corpus key either maps below %s or is refused', (root) => {
    const base = root === '/' ? '/' : `${root.replace(/\/+$/, '')}/`;
    for (const c of corpus) {
      if (c.expect === 'skip') {
        expect(() => localPath(root, c.key), c.note).toThrow(/assertion failed/);
        expect(() => tempPath(root, c.key), c.note).toThrow(/assertion failed/);
        continue;
      }
      const path = localPath(root, c.key);
      expect(path).toBe(`${base}${c.key}`);
      expect(posix.normalize(path)).toBe(path);
      expect(path.startsWith(base)).toBe(true);
      const temp = tempPath(root, c.key);
      expect(temp).toBe(`${base}${TEMP_DIR}/${c.key}`);
      expect(posix.normalize(temp)).toBe(temp);
    }
  });

  it.each([
    ['a/../../etc'],
    ['../../etc/passwd'],
    ['..'],
    ['a/..'],
    ['./a'],
    ['a//../b'],
    ['/etc/passwd'],
    [`${TEMP_DIR}/a`],
  ])('refuses %j', (key) => {
    expect(() => localPath('/vol1', key)).toThrow(/assertion failed/);
    expect(() => tempPath('/vol1', key)).toThrow(/assertion failed/);
  });

  it.each([['relative/root'], [''], ['/a/../b'], ['/a//b']])('refuses the volume root %j', (root) => {
    expect(() => localPath(root, 'a')).toThrow(/assertion failed/);
  });
});

describe("ownOutputSkip: the destination's own output in the source listing", () => {
  const hop = (bucket: string, prefix: string) => ({ bucket, prefix });
  it.each<[string, { bucket: string; prefix: string }, { bucket: string; prefix: string }, string, boolean]>([
    ['same bucket, destination prefix inside the whole-bucket source: skipped', hop('edge', ''), hop('edge', 'archive/'), 'archive/a.txt', true],
    ['same bucket, a copy of a copy: skipped', hop('edge', ''), hop('edge', 'archive/'), 'archive/archive/a.txt', true],
    ['same bucket, a key beside the destination prefix: planned', hop('edge', ''), hop('edge', 'archive/'), 'a.txt', false],
    ['same bucket, a key that only starts like the prefix: planned', hop('edge', ''), hop('edge', 'archive/'), 'archive-old/a.txt', false],
    ['same bucket, nested source and destination prefixes: relative key under the difference', hop('edge', 'data/'), hop('edge', 'data/copy/'), 'copy/x', true],
    ['same bucket, nested prefixes, other relative key: planned', hop('edge', 'data/'), hop('edge', 'data/copy/'), 'x', false],
    ['same bucket, equal prefixes (two servers, one bucket name): planned', hop('edge', 'data/'), hop('edge', 'data/'), 'x', false],
    ['same bucket, source prefix inside the destination prefix: planned', hop('edge', 'data/in/'), hop('edge', 'data/'), 'in/x', false],
    ['same bucket, prefixes side by side: planned', hop('edge', 'data/'), hop('edge', 'archive/'), 'archive/x', false],
    ['another bucket: planned', hop('edge', ''), hop('archive', 'archive/'), 'archive/a.txt', false],
  ])('%s', (_name, source, destination, key, skipped) => {
    const reason = ownOutputSkip(source, destination)(key);
    if (skipped) expect(reason === undefined ? undefined : reasonText(reason)).toBe(`under the destination prefix ${destination.prefix} of the same bucket ${destination.bucket}: dualsync's own output`);
    else expect(reason).toBeUndefined();
  });
});

describe('destinationKeySkip: S3 holds keys of at most 1,024 UTF-8 bytes', () => {
  it.each<[string, string, string, string | undefined]>([
    ['a short key under a short prefix', 'site/', 'a/b.bin', undefined],
    ['exactly 1,024 bytes with the prefix', 'p/', 'k'.repeat(1022), undefined],
    ['one byte over', 'p/', 'k'.repeat(1023), 'destination key of 1025 bytes under the destination prefix "p/" (an S3 key holds at most 1024)'],
    ['counted in UTF-8 bytes, not characters', '', '\u00e9'.repeat(513), 'destination key of 1026 bytes under the destination prefix "" (an S3 key holds at most 1024)'],
    ['astral characters count 4 bytes', 'x/', '\u{1F600}'.repeat(256), 'destination key of 1026 bytes under the destination prefix "x/" (an S3 key holds at most 1024)'],
    ['a multibyte prefix counts in bytes: 24 + 1,000 fit', '\u00e9'.repeat(12), 'k'.repeat(1000), undefined],
    ['a multibyte prefix counts in bytes: 24 + 1,001 do not', '\u00e9'.repeat(12), 'k'.repeat(1001), `destination key of 1025 bytes under the destination prefix "${'\u00e9'.repeat(12)}" (an S3 key holds at most 1024)`],
  ])('%s', (_name, prefix, key, expected) => {
    const reason = destinationKeySkip(prefix)(key);
    expect(reason === undefined ? undefined : reasonText(reason)).toBe(expected);
  });
});
