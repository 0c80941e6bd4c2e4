import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareKeys, compareSortableKeys, sortableKey } from '../../src/plan/keys.ts';
import { seededRandom } from '../harness/random.ts';

/** The reference: S3's listing order and SQLite's BINARY collation, both memcmp over UTF-8. */
const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));


/** Code point ranges, each a class of UTF-8 length or of UTF-16 shape; U+D800-U+DFFF is left out (not characters). */
const RANGES: Record<string, [number, number][]> = {
  ascii: [[0x20, 0x7e]],
  latin: [[0xa0, 0x7ff]],
  bmp: [[0x800, 0xd7ff]],
  'e000-ffff': [[0xe000, 0xffff]],
  astral: [[0x10000, 0x10ffff]],
  // The characters where UTF-16 and UTF-8 orders part, and their neighbours.
  edges: [
    [0x61, 0x62],
    [0xd7fe, 0xd7ff],
    [0xe000, 0xe001],
    [0xfffd, 0xffff],
    [0x10000, 0x10001],
    [0x1f600, 0x1f601],
    [0x10fffe, 0x10ffff],
  ],
};
const MIXED = Object.values(RANGES).flat();

function character(next: () => number, ranges: [number, number][]): string {
  const [low, high] = ranges[Math.floor(next() * ranges.length)] as [number, number];
  return String.fromCodePoint(low + Math.floor(next() * (high - low + 1)));
}

function text(next: () => number, ranges: [number, number][], maxLength: number): string {
  let result = '';
  const length = Math.floor(next() * (maxLength + 1));
  for (let i = 0; i < length; i++) result += character(next, ranges);
  return result;
}

/** Pairs that often share a prefix, so the first difference falls anywhere, not only at the first character. */
function pairs(seed: number, ranges: [number, number][], count: number): [string, string][] {
  const next = seededRandom(seed);
  const result: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    const shared = next() < 0.7 ? text(next, MIXED, 6) : '';
    result.push([shared + text(next, ranges, 4), shared + text(next, ranges, 4)]);
  }
  return result;
}

describe('compareKeys: UTF-8 byte order, the order of S3 listings and of the ledger', () => {
  it.each<[string, string, string, number]>([
    ['equal keys', 'a/b', 'a/b', 0],
    ['equal astral keys', 'p/😀', 'p/😀', 0],
    ['the empty key first', '', 'a', -1],
    ['a prefix before its extensions', 'a', 'a/b', -1],
    ['a prefix before its astral extension', 'a', 'a😀', -1],
    ['upper case before lower case', 'B', 'b', -1],
    ['ASCII before Latin', 'z', '\u00e9', -1],
    ['NFD twin before NFC twin (e + U+0301 against U+00E9)', 'cafe\u0301', 'caf\u00e9', -1],
    ['U+E000 before an astral character, whose UTF-16 surrogate is lower', '\uE000', '😀', -1],
    ['U+FFFD before an astral character', 'emoji/\uFFFD.txt', 'emoji/😀.txt', -1],
    ['U+FFFF before U+10000', '\uFFFF', '\u{10000}', -1],
    ['U+D7FF before U+10000 (below the surrogates in both orders)', '\uD7FF', '\u{10000}', -1],
    ['U+D7FF before U+E000', '\uD7FF', '\uE000', -1],
    ['astral characters sharing a high surrogate, by their low one', '😀', '😁', -1],
    ['U+10000 before U+10FFFF', '\u{10000}', '\u{10FFFF}', -1],
    ['decided at the first difference, not by length', 'x\uE000zzzz', 'x😀', -1],
    ['an astral character after U+E000 deep in the key', 'site/cam-1/😀/frame', 'site/cam-1/\uE000/frame', 1],
  ])('%s', (_name, a, b, expected) => {
    expect(Math.sign(compareKeys(a, b))).toBe(expected);
    expect(Math.sign(compareKeys(b, a))).toBe(-expected || 0);
    expect(Math.sign(byUtf8(a, b))).toBe(expected);
  });

  for (const [name, ranges] of [...Object.entries(RANGES), ['mixed', MIXED] as const]) {
    it(`agrees with Buffer.compare on 3,000 generated pairs: ${name}`, () => {
      const disagreements: string[] = [];
      pairs(name.length * 7919 + 1, ranges, 3000).forEach(([a, b]) => {
        if (Math.sign(compareKeys(a, b)) !== Math.sign(byUtf8(a, b))) disagreements.push(`${JSON.stringify(a)} ${JSON.stringify(b)}`);
      });
      expect(disagreements).toEqual([]);
    });
  }

  it('sorts a generated corpus exactly as Buffer.compare does', () => {
    const next = seededRandom(2026);
    const keys = Array.from({ length: 5000 }, () => text(next, MIXED, 8));
    expect([...keys].sort(compareKeys)).toEqual([...keys].sort(byUtf8));
  });

  it('sorts the hostile-keys corpora (fixtures/keys) as Buffer.compare does', () => {
    const corpus = ['hostile.json', 'hostile-extra.json'].flatMap(
      (name) => (JSON.parse(readFileSync(new URL(`../../fixtures/keys/${name}`, import.meta.url), 'utf8')) as { keys: { key: string }[] }).keys,
    );
    // Lone surrogates are not UTF-8 (Buffer turns them into U+FFFD); S3 cannot hold them.
    const keys = corpus.map((c) => c.key).filter((key) => Buffer.from(key, 'utf8').toString('utf8') === key);
    expect(keys.length).toBeGreaterThan(20);
    expect([...keys].sort(compareKeys)).toEqual([...keys].sort(byUtf8));
  });

  it('keeps a total order over lone surrogates too (they sort as if paired)', () => {
    const keys = ['\uD800', '\uDFFF', '\uD83D', '\uE000', '\uFFFF', '😀', 'a', '\uD83Da', '\uDE00'];
    const sorted = [...keys].sort(compareKeys);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = 0; j < sorted.length; j++) {
        expect(Math.sign(compareKeys(sorted[i] as string, sorted[j] as string))).toBe(Math.sign(i - j));
      }
    }
  });
});

describe('sortableKey: plain code-unit order, the same order, for sorting many keys', () => {
  it('leaves a key without units of D800-FFFF as it is', () => {
    for (const key of ['a/b', 'caf\u00e9', '\uD7FF', '']) expect(sortableKey(key)).toBe(key);
  });

  it('sorts a generated corpus exactly as Buffer.compare does', () => {
    const next = seededRandom(7);
    const keys = Array.from({ length: 5000 }, () => text(next, MIXED, 8));
    const bySortable = [...keys].sort((a, b) => compareSortableKeys(sortableKey(a), sortableKey(b)));
    expect(bySortable).toEqual([...keys].sort(byUtf8));
  });

  it('keeps distinct keys distinct and equal keys equal', () => {
    expect(sortableKey('p/😀')).toBe(sortableKey('p/😀'));
    expect(sortableKey('\uE000')).not.toBe(sortableKey('\uD800'));
    expect(compareSortableKeys('a', 'a')).toBe(0);
  });
});
