/**
 * The planner's notes as data: a code, a count, bytes for the deferrals, the facts the sentence
 * needs, and at most three example keys. The sentences are the view's (view-plan.test.ts and
 * the plan*.test.ts files match them through warningLines).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PLAN_NOTE_CODES, type Action, type Plan as AnyPlan, type PlanNote, type PlanWarning } from '../../src/model/plan.ts';
import { NoteBook } from '../../src/plan/notes.ts';
import { noteLine, planToJson, warningLines } from '../../src/view/plan.ts';
import { inventory, type InventoryBuilder, testConfig, type ConfigOverrides, planOf } from '../builders.ts';

type Plan = AnyPlan<Action[]>;

async function plan(builder: InventoryBuilder, overrides?: ConfigOverrides): Promise<Plan> {
  return await planOf(testConfig(overrides), builder.build());
}

const MULTIPART = `${'c'.repeat(32)}-3`;

describe('planner notes: codes, counts, bytes and examples', () => {
  it('download budget: one note with the budget, the deferred bytes and the first three keys', async () => {
    const result = await plan(inventory().volume('/v1', { free: 10_000 }).source('a', 60).source('b', 50).source('c', 50).source('d', 50).source('e', 50), { transfer: { maxBatchBytes: 100 } });
    expect(result.notes).toEqual<PlanNote[]>([{ code: 'deferred-download-batch-cap', count: 4, bytes: 200, limitBytes: 100, examples: ['b', 'c', 'd'] }]);
    expect(result.summary.deferred).toEqual({ count: 4, bytes: 200 });
  });

  it('destination unreachable: upload deferrals with their bytes, the waiting purge without', async () => {
    const result = await plan(
      inventory()
        .volume('/v1', { free: 1_000_000 })
        .volume('/v2', { free: 1_000_000 })
        .source('new', 10)
        .source('staged', 20)
        .staged('/v1', 'staged', 20)
        .source('kept', 30)
        .ledger({ key: 'kept', size: 30, stage: 'delivered', volume: '/v2' })
        .local('/v2', 'kept', 30)
        .destUnreachable(),
    );
    expect(result.notes).toEqual<PlanNote[]>([
      { code: 'purge-waits-for-destination', count: 1, examples: ['kept'] },
      { code: 'deferred-upload-destination-unreachable', count: 1, bytes: 20, examples: ['staged'] },
      { code: 'deferred-chained-upload-destination-unreachable', count: 1, bytes: 10, examples: ['new'] },
    ]);
    expect(result.summary.deferred).toEqual({ count: 2, bytes: 30 });
    // The hop's state stays a warning about the run, not a note about objects.
    expect(result.warnings).toEqual([{ code: 'destination-unreachable', cause: 'connect ECONNREFUSED 127.0.0.1:9001' }]);
  });

  it('keys left as they are: one note per situation, in the order they first came up', async () => {
    const result = await plan(
      inventory()
        .volume('/v1', { free: 1_000 })
        .source('stray', 10)
        .dest('stray', 10)
        .ledger({ key: 'stray', size: 10, stage: 'delivered', volume: '/v1' })
        .local('/v1', 'stray', 3)
        .ledger({ key: 'z-gone-1', size: 10, stage: 'purged' })
        .ledger({ key: 'z-gone-2', size: 10, stage: 'purged' }),
    );
    expect(result.actions).toEqual([]);
    expect(result.notes).toEqual<PlanNote[]>([
      { code: 'stray-local-file', count: 1, examples: ['stray'] },
      { code: 'lost-not-redeliverable', count: 2, examples: ['z-gone-1', 'z-gone-2'] },
    ]);
    expect(result.summary.deferred).toEqual({ count: 0, bytes: 0 });
  });

  it('a link on the staged path names its volume', async () => {
    const result = await plan(
      inventory().volume('/v1', { free: 100 }).link('/v1', 'keep').source('keep/p.bin', 3).dest('keep/p.bin', 3).ledger({ key: 'keep/p.bin', size: 3, stage: 'delivered', volume: '/v1' }),
      { transfer: { purgeAfterUpload: true } },
    );
    expect(result.notes).toEqual<PlanNote[]>([{ code: 'staged-path-through-link', count: 1, volume: '/v1', examples: ['keep/p.bin'] }]);
  });

  it('collisions make one note, named by the first key they collide with', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).source('a', 1).source('a/b', 1).source('a/b/c', 1).source('m', 1).source('m/n', 1));
    expect(result.notes).toEqual<PlanNote[]>([{ code: 'deferred-download-collision', count: 3, bytes: 3, collidesWith: 'a', examples: ['a/b', 'a/b/c', 'm/n'] }]);
  });

  it('verify: etag counts the downloads whose ETags are not MD5s, opaque ones first', async () => {
    const built = inventory().volume('/v1', { free: 1_000 }).source('a-parts.bin', 10, MULTIPART).source('md5.bin', 10).source('snow.bin', 10, 'snowball-opaque');
    expect((await plan(built, { transfer: { verify: 'etag' } })).notes).toEqual<PlanNote[]>([
      { code: 'etag-not-md5', count: 1, examples: ['snow.bin'] },
      { code: 'etag-multipart', count: 1, examples: ['a-parts.bin'] },
    ]);
    expect((await plan(built)).notes).toEqual([]);
  });

  it('a thousand deferred keys keep three examples', async () => {
    let builder = inventory().volume('/v1', { free: 1_000_000 });
    for (let i = 0; i < 1000; i++) builder = builder.source(`k${String(i).padStart(4, '0')}`, 1);
    const result = await plan(builder, { transfer: { maxBatchBytes: 10 } });
    expect(result.notes).toEqual<PlanNote[]>([{ code: 'deferred-download-batch-cap', count: 990, bytes: 990, limitBytes: 10, examples: ['k0010', 'k0011', 'k0012'] }]);
  });
});

describe('NoteBook', () => {
  it('adds bytes only to the notes given them, and totals them', async () => {
    const book = new NoteBook();
    book.add('deferred-download-no-room', 'a', 5);
    book.add('lost-waits-for-source', 'b');
    book.add('deferred-download-no-room', 'c', 7);
    expect(book.notes()).toEqual<PlanNote[]>([
      { code: 'deferred-download-no-room', count: 2, bytes: 12, examples: ['a', 'c'] },
      { code: 'lost-waits-for-source', count: 1, examples: ['b'] },
    ]);
    expect(book.totals()).toEqual({ count: 3, bytes: 12 });
  });
});

describe('the view writes the sentences', () => {
  it.each<[string, PlanNote, string]>([
    ['a deferral: count, bytes, budget, examples and more', { code: 'deferred-download-batch-cap', count: 4, bytes: 200, limitBytes: 100, examples: ['b', 'c', 'd'] }, '4 objects (200 B) deferred to a later download: transfer.maxBatchBytes (100 B) reached: "b", "c", "d", ...'],
    ['one key left as it is', { code: 'lost-not-redeliverable', count: 1, examples: ['a'] }, '1 object lost by the destination and not re-deliverable: no local copy, and the source no longer lists them: "a"'],
    ['a collision', { code: 'deferred-download-collision', count: 2, bytes: 2, collidesWith: 'a', examples: ['a/b', 'a/b/c'] }, '2 objects (2 B) deferred to a later download: a file/prefix collision (e.g. with "a") on every volume with room: "a/b", "a/b/c"'],
    ['a count of ETags', { code: 'etag-not-md5', count: 2, examples: ['x', 'y'] }, '2 object(s) to download have source ETags that are not MD5s: verify: etag checks them by size and carries their local MD5 to the destination check'],
  ])('%s', async (_name, note, line) => {
    expect(noteLine(note)).toBe(line);
  });

  it('--json: the warnings and the notes as data, and the lines the human view shows', async () => {
    const result = await plan(inventory().volume('/v1', { free: 75 }).source('a', 50).source('b', 50).destIncomplete('cut at 1000 keys'));
    const json = planToJson(result) as { warnings: PlanWarning[]; notes: PlanNote[]; messages: string[] };
    expect(json.notes).toEqual<PlanNote[]>([{ code: 'deferred-download-no-room', count: 1, bytes: 50, examples: ['b'] }]);
    expect(json.warnings).toEqual<PlanWarning[]>([{ code: 'destination-listing-incomplete' }, { code: 'listing-warning', hop: 'destination', text: 'cut at 1000 keys' }]);
    expect(json.messages).toEqual(warningLines(result));
    expect(json.messages.slice(-2)).toEqual(['destination: cut at 1000 keys', '1 object (50 B) deferred to a later download: no volume has room above its reserve: "b"']);
  });

  it('a plan without notes shows its warnings alone', async () => {
    const { notes: _notes, ...bare } = await plan(inventory().volume('/v1', { free: 10 }).source('a', 50));
    expect(warningLines({ ...bare, warnings: [{ code: 'destination-listing-incomplete' }] })).toEqual([
      'The destination listing is incomplete: nothing is taken as lost from it, and objects it did not show may be uploaded again.',
    ]);
  });
});

describe('the codes are an interface', () => {
  it('docs/operations.md names every one of them, for the scripts that match them', async () => {
    const operations = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    expect(PLAN_NOTE_CODES.filter((code) => !operations.includes(`\`${code}\``))).toEqual([]);
  });
});
