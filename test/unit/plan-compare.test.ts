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
    ['code-unit order, not locale order', [entry('b'), entry('B'), entry('\u00e9'), entry('e\u0301'), entry('\u{1F680}'), entry('\uffff')], ['B:1', 'b:1', 'e\u0301:1', '\u00e9:1', '\u{1F680}:1', '\uffff:1'], false],
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
