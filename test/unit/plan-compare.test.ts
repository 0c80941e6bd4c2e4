import { describe, expect, it } from 'vitest';
import type { ObjectEntry } from '../../src/model/objects.ts';
import { mergeListings, sortedByKey, sortInputs, type KeyRow } from '../../src/plan/compare.ts';

const entry = (key: string, size = 1): ObjectEntry => ({ key, size, etag: 'e' });
const bySize = (a: ObjectEntry, b: ObjectEntry): number => a.size - b.size;

describe('sortedByKey', () => {
  it.each<[string, ObjectEntry[], string[], boolean]>([
    ['already sorted, all keys distinct', [entry('a'), entry('b'), entry('c')], ['a:1', 'b:1', 'c:1'], false],
    ['already sorted, a key repeats', [entry('a'), entry('a', 2), entry('b')], ['a:1', 'a:2', 'b:1'], true],
    ['unsorted, all keys distinct', [entry('c'), entry('a'), entry('b')], ['a:1', 'b:1', 'c:1'], false],
    ['unsorted, a key repeats', [entry('b'), entry('a', 2), entry('c'), entry('a', 1)], ['a:1', 'a:2', 'b:1', 'c:1'], true],
    ['a repeated key out of tie-break order', [entry('a', 2), entry('a', 1)], ['a:1', 'a:2'], true],
    ['UTF-8 byte order, not locale order nor UTF-16 order', [entry('b'), entry('B'), entry('\u00e9'), entry('e\u0301'), entry('\u{1F680}'), entry('\uffff')], ['B:1', 'b:1', 'e\u0301:1', '\u00e9:1', '\uffff:1', '\u{1F680}:1'], false],
    ['empty', [], [], false],
  ])('%s', (_name, items, expected, sharedKeys) => {
    const before = items.slice();
    const result = sortedByKey(items, bySize);
    expect(result.items.map((e) => `${e.key}:${e.size}`)).toEqual(expected);
    expect(result.sharedKeys).toBe(sharedKeys);
    expect(items).toEqual(before);
  });
});

describe('mergeListings', () => {
  it('visits each key once, in order, with what every listing says about it', () => {
    const inputs = sortInputs(
      [entry('b'), entry('a'), entry('d')],
      [entry('c'), entry('a')],
      [
        { volume: '/v2', key: 'a', size: 1 },
        { volume: '/v1', key: 'a', size: 1 },
        { volume: '/v1', key: 'e', size: 1 },
      ],
      [{ key: 'd', size: 1, etag: 'e', attempts: 0, stage: 'staged', volume: '/v1' }],
    );
    const seen: string[] = [];
    mergeListings(inputs, (row: KeyRow) => {
      const locals = inputs.locals.slice(row.localStart, row.localEnd).map((file) => file.volume);
      seen.push([row.key, row.source ? 'S' : '-', row.destination ? 'D' : '-', row.record ? 'R' : '-', locals.join(',')].join(' '));
    });
    expect(seen).toEqual(['a S D - /v1,/v2', 'b S - - ', 'c - D - ', 'd S - R ', 'e - - - /v1']);
  });
});

/**
 * Keys where UTF-16 order and UTF-8 byte order part: U+E000-U+FFFF (EE/EF in UTF-8) sort before an
 * astral character (F0...) in UTF-8, after it in UTF-16 (whose surrogate D83D is lower). This is
 * the order a ListObjectsV2 listing and the ledger's `ORDER BY key` hand them out in.
 */
const S3_ORDER = ['p/a', 'p/\uE000', 'p/\uFFFD', 'p/😀', 'p/😀/x', 'p/\u{10FFFF}'];

describe('key order: UTF-8 bytes, as S3 and the ledger deliver', () => {
  it('a listing already in S3 order is taken as it is, not re-sorted', () => {
    const items = S3_ORDER.map((key) => entry(key));
    expect(sortedByKey(items, bySize).items.map((e) => e.key)).toEqual(S3_ORDER);
    expect(sortedByKey([...items].reverse(), bySize).items.map((e) => e.key)).toEqual(S3_ORDER);
  });

  it('the merge pairs a key that source, destination and ledger hold, when they arrive in S3 order', () => {
    // As the adapters deliver them: no re-sort needed, so none may be assumed.
    const inputs = {
      source: S3_ORDER.map((key) => entry(key)),
      destination: [entry('p/\uE000'), entry('p/😀')],
      locals: [{ volume: '/v1', key: 'p/\uFFFD', size: 1 }],
      records: [{ key: 'p/😀', size: 1, etag: 'e', attempts: 0, stage: 'purged' as const }],
      warnings: [],
    };
    const seen: string[] = [];
    mergeListings(inputs, (row: KeyRow) => {
      seen.push([row.key, row.source ? 'S' : '-', row.destination ? 'D' : '-', row.record ? 'R' : '-', row.localEnd - row.localStart].join(' '));
    });
    // Compared in UTF-16 order, 'p/😀' was met three times: on the ledger alone, on the
    // destination alone, then on the source alone (a download and an upload instead of nothing).
    expect(seen).toEqual(['p/a S - - 0', 'p/\uE000 S D - 0', 'p/\uFFFD S - - 1', 'p/😀 S D R 0', 'p/😀/x S - - 0', 'p/\u{10FFFF} S - - 0']);
    // sortInputs finds them in order and hands the same listings to the merge.
    const sorted = sortInputs(inputs.source, inputs.destination, inputs.locals, inputs.records);
    expect(sorted.source.map((e) => e.key)).toEqual(S3_ORDER);
    expect(sorted.destination.map((e) => e.key)).toEqual(['p/\uE000', 'p/😀']);
  });

  it.each<[string, string[], string[], RegExp]>([
    ['a source listing in UTF-16 order', ['p/😀', 'p/\uE000'], [], /the source listing is not in key order \(UTF-8 bytes\) with one entry per key: "p\/\uE000" comes after "p\/😀"/],
    ['a destination listing that repeats a key', ['a'], ['a', 'a'], /the destination listing is not in key order .*: "a" repeats "a"/],
  ])('the merge refuses %s with an assertion, rather than mis-pairing', (_name, source, destination, message) => {
    const inputs = { source: source.map((key) => entry(key)), destination: destination.map((key) => entry(key)), locals: [], records: [], warnings: [] };
    expect(() => mergeListings(inputs, () => undefined)).toThrow(message);
    expect(() => mergeListings(inputs, () => undefined)).toThrow(/^assertion failed: /);
  });
});
