/**
 * The merged pass that ships (src/plan/merge.ts): listings in pages, the ledger as a cursor, the
 * volume scan as a sorted array; every planner table test also runs through it (test/builders.ts).
 */
import { describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import type { LedgerRecord, LocalFile, ObjectEntry } from '../../src/model/objects.ts';
import { mergeStreams, sortLocals, type KeyRow } from '../../src/plan/merge.ts';

const entry = (key: string, size = 1): ObjectEntry => ({ key, size, etag: 'e' });
const record = (key: string): LedgerRecord => ({ key, size: 1, etag: 'e', attempts: 0, stage: 'staged', volume: '/v1' });
const local = (volume: string, key: string): LocalFile => ({ volume, key, size: 1 });

/** A listing in pages of the given sizes (0: an empty page), and whether its `finally` ran. */
function paged(keys: readonly string[], sizes: readonly number[]): { pages: AsyncIterable<ObjectEntry[]>; state: { closed: boolean; read: number } } {
  const state = { closed: false, read: 0 };
  const pages = (async function* () {
    try {
      let at = 0;
      for (let i = 0; at < keys.length || i < sizes.length; i++) {
        const size = sizes[i % Math.max(1, sizes.length)] ?? 1;
        const page = keys.slice(at, at + size).map((key) => entry(key));
        at += size;
        state.read += 1;
        yield page;
        if (size === 0 && i >= sizes.length && at >= keys.length) break;
      }
    } finally {
      state.closed = true;
    }
  })();
  return { pages, state };
}

/** One line per row: `key S D R locals`. */
async function rows(source: AsyncIterable<ObjectEntry[]>, destination: AsyncIterable<ObjectEntry[]>, locals: LocalFile[], records: LedgerRecord[]): Promise<string[]> {
  const seen: string[] = [];
  await mergeStreams({ source, destination, locals, records }, (row: KeyRow) => {
    const volumes = locals.slice(row.localStart, row.localEnd).map((file) => file.volume);
    seen.push([row.key, row.source ? 'S' : '-', row.destination ? 'D' : '-', row.record ? 'R' : '-', volumes.join(',')].join(' ').trimEnd());
  });
  return seen;
}

async function internalError(run: () => Promise<unknown>): Promise<Error> {
  const error = await run().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(isDualsyncError(error) && error.kind === 'internal' && error.code === 'E_ASSERT', String(error)).toBe(true);
  return error as Error;
}

describe('mergeStreams', () => {
  it.each<[string, number[], number[]]>([
    ['one page each', [100], [100]],
    ['pages of one', [1], [1]],
    ['pages of several sizes, with empty pages between and at the end', [0, 2, 0, 1, 3, 0], [1, 0, 0, 2]],
    ['empty pages first', [0, 0, 5], [0, 4]],
  ])('visits each key once, in order, with what every input says about it: %s', async (_name, sourceSizes, destinationSizes) => {
    const source = paged(['a', 'b', 'd', 'f', 'g'], sourceSizes);
    const destination = paged(['a', 'c', 'f', 'h'], destinationSizes);
    const locals = [local('/v1', 'a'), local('/v2', 'a'), local('/v1', 'c2'), local('/v1', 'e'), local('/v2', 'i')];
    const records = [record('b'), record('c1'), record('e'), record('j')];
    expect(await rows(source.pages, destination.pages, locals, records)).toEqual([
      'a S D - /v1,/v2',
      'b S - R',
      'c - D -',
      'c1 - - R',
      'c2 - - - /v1',
      'd S - -',
      'e - - R /v1',
      'f S D -',
      'g S - -',
      'h - D -',
      'i - - - /v2',
      'j - - R',
    ]);
    expect(source.state.closed && destination.state.closed).toBe(true);
  });

  it('empty inputs: no row', async () => {
    expect(await rows(paged([], []).pages, paged([], [0, 0]).pages, [], [])).toEqual([]);
  });

  it('pairs keys in UTF-8 byte order, as S3 and the ledger hand them out (not UTF-16 order)', async () => {
    const order = ['p/a', 'p/\uE000', 'p/\uFFFD', 'p/😀', 'p/😀/x', 'p/\u{10FFFF}'];
    const seen = await rows(paged(order, [2]).pages, paged(['p/\uE000', 'p/😀'], [1]).pages, [local('/v1', 'p/\uFFFD')], [{ ...record('p/😀'), stage: 'purged' }]);
    // Compared in UTF-16 order, 'p/😀' would be met three times (a download and an upload instead of nothing).
    expect(seen).toEqual(['p/a S - -', 'p/\uE000 S D -', 'p/\uFFFD S - - /v1', 'p/😀 S D R', 'p/😀/x S - -', 'p/\u{10FFFF} S - -']);
  });

  it.each<[string, () => Parameters<typeof mergeStreams>[0], RegExp]>([
    ['a ledger out of order', () => ({ source: paged([], []).pages, destination: paged([], []).pages, locals: [], records: [record('b'), record('a')] }), /the ledger reached the merge out of key order .*"b"/],
    ['a ledger with a key twice', () => ({ source: paged([], []).pages, destination: paged([], []).pages, locals: [], records: [record('a'), record('a')] }), /the ledger .*"a" repeats "a"/],
    ['a volume scan out of order', () => ({ source: paged([], []).pages, destination: paged([], []).pages, locals: [local('/v1', 'b'), local('/v1', 'a')], records: [] }), /the volume scan reached the merge out of key order/],
    ['a source listing in UTF-16 order', () => ({ source: paged(['p/😀', 'p/\uE000'], [1]).pages, destination: paged([], []).pages, locals: [], records: [] }), /the source listing .*"p\/\uE000" comes after "p\/😀"/],
    ['a destination listing with a key twice, across pages', () => ({ source: paged([], []).pages, destination: paged(['a', 'a'], [1]).pages, locals: [], records: [] }), /the destination listing .*"a" repeats "a"/],
  ])('%s is our bug: an internal error naming the input and the keys, never E_LISTING_ORDER', async (_name, inputs, message) => {
    const error = await internalError(() => mergeStreams(inputs(), () => undefined));
    expect(error.message).toMatch(/^assertion failed: /);
    expect(error.message).toMatch(message);
  });

  it('an error stops the merge early and runs both listings\' finally, and the ledger cursor\'s', async () => {
    const source = paged(['a', 'b', 'c', 'd'], [1]);
    const destination = paged(['a', 'b', 'c', 'd'], [1]);
    let cursorClosed = false;
    const records = (function* () {
      try {
        yield record('a');
        yield record('z');
      } finally {
        cursorClosed = true;
      }
    })();
    const failure = new Error('visitor failed');
    await expect(
      mergeStreams({ source: source.pages, destination: destination.pages, locals: [], records }, (row) => {
        if (row.key === 'b') throw failure;
      }),
    ).rejects.toBe(failure);
    expect(source.state).toEqual({ closed: true, read: 2 });
    expect(destination.state).toEqual({ closed: true, read: 2 });
    expect(cursorClosed).toBe(true);
  });

  it('an order failure stops the listings too', async () => {
    const source = paged(['a', 'b', 'c'], [1]);
    await internalError(() => mergeStreams({ source: source.pages, destination: paged([], []).pages, locals: [], records: [record('b'), record('a')] }, () => undefined));
    expect(source.state.closed).toBe(true);
  });

  it('a listing that throws half-way passes its error on: never a shorter listing', async () => {
    const failing = (async function* () {
      yield [entry('a')];
      throw new Error('connection reset');
    })();
    await expect(mergeStreams({ source: failing, destination: paged([], []).pages, locals: [], records: [] }, () => undefined)).rejects.toThrow('connection reset');
  });
});

describe('sortLocals', () => {
  it('sorts by key in UTF-8 order, then volume; keeps a file listed twice once, counted; never mutates its input', () => {
    const files = [local('/v2', 'p/😀'), local('/v1', 'b'), local('/v2', 'b'), local('/v1', 'p/\uFFFD'), local('/v1', 'b'), local('/v1', 'a')];
    const before = structuredClone(files);
    const sorted = sortLocals(files);
    expect(sorted.locals.map((f) => `${f.volume}:${f.key}`)).toEqual(['/v1:a', '/v1:b', '/v2:b', '/v1:p/\uFFFD', '/v2:p/😀']);
    expect(sorted.duplicates).toEqual({ count: 1, first: 'b' });
    expect(files).toEqual(before);
  });

  it('already sorted: the same order, no duplicates', () => {
    const files = [local('/v1', 'a'), local('/v2', 'a'), local('/v1', 'b')];
    expect(sortLocals(files)).toEqual({ locals: files, duplicates: { count: 0 } });
  });
});
