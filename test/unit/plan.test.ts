import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/model/objects.ts';
import type { Action, Plan as AnyPlan, PlanWarning } from '../../src/model/plan.ts';
import { deliveredCopyAtDestination } from '../../src/plan/planner.ts';
import { warningLines } from '../../src/view/plan.ts';
import { fakeEtag, inventory, type InventoryBuilder, testConfig, type ConfigOverrides, planOf, reasonLine } from '../builders.ts';

/** The pure planner's plan: its actions in an array. */
type Plan = AnyPlan<Action[]>;

/** One readable line per action: `kind key [volume] [by rule] [after download] [(reason)]`. */
function lines(plan: Plan): string[] {
  return plan.actions.map((a) =>
    [a.kind, a.key, a.volume, a.adoptBy === undefined ? undefined : `by ${a.adoptBy}`, a.afterDownload === true ? 'after download' : undefined, a.reason === undefined ? undefined : `(${reasonLine(a.reason)})`]
      .filter((part) => part !== undefined)
      .join(' '),
  );
}

function withVolumes(builder: InventoryBuilder): InventoryBuilder {
  return builder.volume('/v1', { free: 1_000_000 }).volume('/v2', { free: 1_000_000 });
}

async function plan(builder: InventoryBuilder, overrides?: ConfigOverrides): Promise<Plan> {
  return await planOf(testConfig(overrides), withVolumes(builder).build());
}

const A = 'a.bin';
const MULTIPART = 'd41d8cd98f00b204e9800998ecf8427e-3';

describe('the planner: one situation per action', () => {
  it.each<[string, InventoryBuilder, string[], ConfigOverrides?]>([
    ['new object: download, then upload and purge in the same plan', inventory().source(A, 10), [`download ${A} /v1`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`]],
    ['new object without purgeAfterUpload: no purge', inventory().source(A, 10), [`download ${A} /v1`, `upload ${A} /v1 after download`], { transfer: { purgeAfterUpload: false } }],
    ['destination already holds the same version: adopt by MD5', inventory().source(A, 10).dest(A, 10), [`adopt ${A} by md5`]],
    ['destination same size, ETags not comparable (multipart): adopt once the content compares equal', inventory().source(A, 10).dest(A, 10, MULTIPART), [`adopt ${A} by content`]],
    ['destination same size, ETag not an MD5 (Snowball): adopt once the content compares equal', inventory().source(A, 10, 'snowball-etag').dest(A, 10), [`adopt ${A} by content`]],
    ['destination same size, MD5s differ: download', inventory().source(A, 10).dest(A, 10, 'f'.repeat(32)), [`download ${A} /v1`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`]],
    ['destination MD5 in upper case is the same version', inventory().source(A, 10).dest(A, 10, fakeEtag(A, 10).toUpperCase()), [`adopt ${A} by md5`]],
    ['destination size differs: download', inventory().source(A, 10).dest(A, 11), [`download ${A} /v1`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`]],
    ['staged copy not at the destination: upload, then purge', inventory().source(A, 10).staged('/v2', A, 10), [`upload ${A} /v2`, `purge ${A} /v2`]],
    ['staged copy, destination differs: upload', inventory().source(A, 10).staged('/v2', A, 10).dest(A, 12), [`upload ${A} /v2 (destination-differs)`, `purge ${A} /v2`]],
    ['staged copy already at the destination: adopt and purge', inventory().source(A, 10).staged('/v2', A, 10).dest(A, 10), [`adopt ${A} by md5`, `purge ${A} /v2`]],
    ['staged copy already at the destination, no purgeAfterUpload: adopt only', inventory().source(A, 10).staged('/v2', A, 10).dest(A, 10), [`adopt ${A} by md5`], { transfer: { purgeAfterUpload: false } }],
    [
      'staged per ledger but the file is gone: re-download to the same volume',
      inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'staged', volume: '/v2' }),
      [`redownload ${A} /v2 (staged-copy-missing)`, `upload ${A} /v2 after download`, `purge ${A} /v2 after download`],
    ],
    [
      'staged copy of the wrong size (partial): re-download',
      inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'staged', volume: '/v2' }).local('/v2', A, 4),
      [`redownload ${A} /v2 (size-differs-locally expectedSize=10 localSize=4)`, `upload ${A} /v2 after download`, `purge ${A} /v2 after download`],
    ],
    ['staged copy found on another volume (disk remounted): upload from there once its MD5 is checked', inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'staged', volume: '/old' }).local('/v1', A, 10), [`upload ${A} /v1 (local-copy-checked proof="md5" stagedOn="/v1")`, `purge ${A} /v1`]],
    ['local file the ledger does not know, right size: upload it once its MD5 is checked', inventory().source(A, 10).local('/v2', A, 10), [`upload ${A} /v2 (local-copy-checked proof="md5")`, `purge ${A} /v2`]],
    [
      'local file the ledger does not know, wrong size: re-download there',
      inventory().source(A, 10).local('/v2', A, 3),
      [`redownload ${A} /v2 (size-differs-locally expectedSize=10 localSize=3)`, `upload ${A} /v2 after download`, `purge ${A} /v2 after download`],
    ],
    ['delivered, local copy left: purge', inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10), [`purge ${A} /v1`]],
    ['delivered, local copy left, no purgeAfterUpload: nothing', inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10), [], { transfer: { purgeAfterUpload: false } }],
    ['delivered and purged, destination has it: nothing', inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'purged', volume: '/v1' }), []],
    [
      'delivered, staged copy already deleted but its purge never recorded (a stop in between): record the purge',
      inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }),
      [`purge ${A} /v1 (staged-copy-already-deleted)`],
    ],
    ['delivered, staged copy deleted, no purgeAfterUpload: nothing', inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }), [], { transfer: { purgeAfterUpload: false } }],
    [
      'delivered, destination lost it, local copy still there: upload it again',
      inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10),
      [`upload ${A} /v1 (destination-lost)`, `purge ${A} /v1`],
    ],
    [
      'purged, destination lost it: download again',
      inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'purged', volume: '/v2' }),
      [`download ${A} /v1 (destination-lost)`, `upload ${A} /v1 after download (destination-lost)`, `purge ${A} /v1 after download`],
    ],
    ['source no longer lists a staged copy: upload it anyway', inventory().staged('/v1', A, 10), [`upload ${A} /v1`, `purge ${A} /v1`]],
    ['source no longer lists it, staged copy already at the destination: adopt and purge', inventory().staged('/v1', A, 10).dest(A, 10), [`adopt ${A} by md5`, `purge ${A} /v1`]],
    ['source no longer lists a delivered copy: purge', inventory().dest(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10), [`purge ${A} /v1`]],
    ['a new version replaces a purged one: download', inventory().source(A, 12).dest(A, 10).ledger({ key: A, size: 10, stage: 'purged', volume: '/v1' }), [`download ${A} /v1`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`]],
    [
      'a new version of the same size replaces a staged one: re-download over it',
      inventory().source(A, 10, 'e'.repeat(32)).staged('/v2', A, 10),
      [`redownload ${A} /v2 (older-version-on-disk)`, `upload ${A} /v2 after download`, `purge ${A} /v2 after download`],
    ],
    ['earlier failures are shown on the download', inventory().source(A, 10).ledger({ key: A, size: 10, attempts: 2, lastError: 'timeout' }), [`download ${A} /v1 (retry attempts=2)`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`]],
    ['a key that cannot be a path: skip with the reason', inventory().source('a/../b', 10), ['skip a/../b (key-dot-segment segment="..")']],
    ['a directory marker: skip', inventory().source('folder/', 0), ['skip folder/ (key-directory-marker)']],
    ['filtered out: not part of the plan', inventory().source('keep.csv', 1).source('drop.tmp', 1), ['download keep.csv /v1', 'upload keep.csv /v1 after download'], { transfer: { exclude: ['*.tmp'], purgeAfterUpload: false } }],
    ['a destination-only object: nothing (never deleted)', inventory().dest(A, 10), []],
    ['a local file nobody lists: nothing (never deleted)', inventory().local('/v1', A, 10), []],
  ])('%s', async (_name, builder, expected, overrides) => {
    expect(lines(await plan(builder, overrides))).toEqual(expected);
  });

  it('twins are separate objects: NFC and NFD, and case', async () => {
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    const result = await plan(inventory().source(nfc, 1).source(nfd, 2).source('Readme', 3).source('README', 4).dest(nfc, 1), { transfer: { purgeAfterUpload: false } });
    expect(result.actions.filter((a) => a.kind === 'download').map((a) => a.key)).toEqual(['README', 'Readme', nfd]);
    expect(result.actions.filter((a) => a.kind === 'adopt').map((a) => a.key)).toEqual([nfc]);
  });
});

describe('the planner: invariant 8 and incomplete listings', () => {
  it('a delivered object missing from an incomplete destination listing is not re-delivered', async () => {
    const result = await plan(inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'purged' }).destIncomplete('cut at 1000 keys'));
    expect(result.actions).toEqual([]);
    expect(result.summary.noChanges).toBe(false);
    expect(result.warnings).toContainEqual({ code: 'listing-warning', hop: 'destination', text: 'cut at 1000 keys' });
    expect(warningLines(result).some((w) => w.startsWith('1 object delivered earlier but missing from the incomplete destination listing'))).toBe(true);
  });

  it('a delivered copy is still purged when the destination listing is incomplete (the ledger verified it)', async () => {
    const result = await plan(inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10).destIncomplete());
    expect(lines(result)).toEqual([`purge ${A} /v1`]);
  });

  it('a delivered object whose destination copy changed is uploaded again from its staged copy, which is purged only after that', async () => {
    const result = await plan(inventory().source(A, 10).dest(A, 11).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10));
    expect(lines(result)).toEqual([`upload ${A} /v1 (destination-changed deliveredSize=10 listedSize=11)`, `purge ${A} /v1`]);
    expect(result.summary.noChanges).toBe(false);
  });

  it.each<[string, InventoryBuilder]>([
    ['delivered, local file of another size', inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 3)],
    ['purged, yet a file is back at the path', inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'purged', volume: '/v1' }).local('/v1', A, 10)],
    ['adopted, an older version still on disk', inventory().source(A, 10, 'e'.repeat(32)).dest(A, 10, 'e'.repeat(32)).staged('/v1', A, 10)],
  ])('a local file nothing will touch is reported, never deleted: %s', async (_name, builder) => {
    const result = await plan(builder);
    expect(result.actions.filter((a) => a.kind === 'purge')).toEqual([]);
    expect(warningLines(result)).toContain(`1 object already at the destination with another local file (partial, older or unknown) left on disk: "${A}"`);
  });

  it('a lost object that cannot be re-delivered is reported, not guessed at', async () => {
    const result = await plan(inventory().ledger({ key: A, size: 10, stage: 'purged' }));
    expect(result.actions).toEqual([]);
    expect(warningLines(result)).toContain(`1 object lost by the destination and not re-deliverable: no local copy, and the source no longer lists them: "${A}"`);
  });

  it('a staged copy that vanished after the source dropped it is reported', async () => {
    const result = await plan(inventory().ledger({ key: A, size: 10, stage: 'staged', volume: '/v1' }));
    expect(result.actions).toEqual([]);
    expect(warningLines(result).some((w) => w.includes('missing or damaged, and no longer listed by the source'))).toBe(true);
  });

  it.each<[boolean, string, InventoryBuilder]>([
    [true, 'everything complete and in sync', inventory().source(A, 1).dest(A, 1).ledger({ key: A, size: 1, stage: 'purged' })],
    [true, 'only skips', inventory().source('a//b', 1)],
    [true, 'nothing at all', inventory()],
    [false, 'source listing incomplete, nothing else', inventory().sourceIncomplete()],
    [false, 'destination listing incomplete, nothing else', inventory().destIncomplete()],
    [false, 'in sync as far as listed, source incomplete', inventory().source(A, 1).dest(A, 1).ledger({ key: A, size: 1, stage: 'purged' }).sourceIncomplete()],
    [false, 'only skips, destination incomplete', inventory().source('a//b', 1).destIncomplete()],
    [false, 'work to do', inventory().source(A, 1)],
  ])('noChanges is %s: %s', async (expected, _name, builder) => {
    expect((await plan(builder)).summary.noChanges).toBe(expected);
  });

  it('an incomplete source listing says so', async () => {
    const result = await plan(inventory().source(A, 1).sourceIncomplete('ListObjectsV2 stopped at 1000 keys'));
    expect(result.warnings).toEqual([{ code: 'source-listing-incomplete' }, { code: 'listing-warning', hop: 'source', text: 'ListObjectsV2 stopped at 1000 keys' }]);
  });

  it('never plans anything but the six action kinds (no delete exists)', async () => {
    const result = await plan(inventory().dest('only-at-destination', 5).local('/v1', 'only-local', 5).ledger({ key: 'gone', size: 1, stage: 'purged' }).source(A, 1));
    expect(new Set(result.actions.map((a) => a.kind))).toEqual(new Set(['download', 'upload', 'purge']));
  });
});

describe('the planner: listings that carry duplicates, a volume scan in any order', () => {
  // The listing layer keeps the first listed entry of a repeated key and counts the others as
  // the listing's flaws (s3.ts for v2 pages, extsort.ts for a v1 answer: see extsort.test.ts);
  // the planner turns the counts into notes.
  it('duplicates a listing reported are a note per listing: not in sync', async () => {
    const result = await plan(inventory().source(A, 10).source(A, 20).source(A, 10).dest('x', 1).dest('x', 1), { transfer: { purgeAfterUpload: false } });
    expect(lines(result)).toEqual([`download ${A} /v1`, `upload ${A} /v1 after download`]);
    expect(result.actions[0]?.size).toBe(10);
    expect(result.notes).toEqual(
      expect.arrayContaining([
        { code: 'source-listing-duplicate-keys', count: 2, examples: [A] },
        { code: 'destination-listing-duplicate-keys', count: 1, examples: ['x'] },
      ]),
    );
    // A listing that repeated a key may have merged two (invariant 12): not in sync.
    expect(result.summary.noChanges).toBe(false);
  });

  it('does not mutate the inventory it is given', async () => {
    const inv = withVolumes(inventory().source('b', 1).source('a', 1).local('/v1', 'z', 1).local('/v1', 'y', 1)).build();
    const before = structuredClone(inv);
    await planOf(testConfig(), inv);
    expect(inv).toEqual(before);
  });

  /** A seeded shuffle (mulberry32), so a failure reproduces. */
  function shuffled<T>(items: readonly T[], seed: number): T[] {
    let state = seed;
    const random = (): number => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const copy = items.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy;
  }

  function richInventory(): Inventory {
    const builder = inventory().volume('/v1', { free: 700, reserve: 50 }).volume('/v2', { free: 500 }).volume('/v3', { free: 300, reserve: 300 });
    for (let i = 0; i < 60; i++) {
      const key = `k/${String(i).padStart(2, '0')}${i % 7 === 0 ? '/deep' : ''}`;
      const size = 5 + ((i * 37) % 40);
      builder.source(key, size);
      if (i % 5 === 0) builder.dest(key, size);
      if (i % 6 === 1) builder.staged(i % 2 === 0 ? '/v1' : '/v2', key, size);
      if (i % 9 === 2) builder.ledger({ key, size, stage: 'delivered', volume: '/v2' }).local('/v2', key, size);
      if (i % 11 === 3) builder.local('/v1', key, size - 1);
    }
    builder.source('k/00', 1).source('dup', 3).source('dup', 4).source('a', 5).source('a/b', 6).source('x//y', 1);
    return builder.build();
  }

  // Listings and the ledger reach the planner sorted (the listing layer sorts a v1 answer and
  // checks v2 pages; the ledger's cursor is in key order); the volume scan and the volumes
  // arrive in any order, and the planner sorts them.
  it('gives the same plan whatever order the volume scan and the volumes arrive in', async () => {
    const config = testConfig({ transfer: { maxBatchBytes: 600, maxUploadBatchBytes: 900 } });
    const base = richInventory();
    const expected = await planOf(config, base);
    expect(expected.actions.length).toBeGreaterThan(50);
    expect(expected.summary.deferred.count).toBeGreaterThan(0);
    for (let seed = 1; seed <= 20; seed++) {
      const inv: Inventory = {
        ...base,
        volumes: shuffled(base.volumes, seed + 200),
        local: shuffled(base.local, seed + 300),
      };
      expect(await planOf(config, inv)).toEqual(expected);
    }
  });

  it('lists actions by kind (download, redownload, adopt, upload, purge, skip), then key', async () => {
    const result = await planOf(testConfig(), richInventory());
    const order = ['download', 'redownload', 'adopt', 'upload', 'purge', 'skip'];
    for (let i = 1; i < result.actions.length; i++) {
      const previous = result.actions[i - 1]!;
      const current = result.actions[i]!;
      const byKind = order.indexOf(previous.kind) - order.indexOf(current.kind);
      expect(byKind < 0 || (byKind === 0 && previous.key < current.key), `${previous.kind} ${previous.key} before ${current.kind} ${current.key}`).toBe(true);
    }
  });
});

describe('the planner: connection budgets per hop', () => {
  it.each<[string, ConfigOverrides, { download: object; upload: object }, PlanWarning[]]>([
    ['no caps: workers as configured', {}, { download: { workers: 256, concurrency: 5 }, upload: { workers: 256, concurrency: 5 } }, []],
    [
      'a Snowball cap of 500 with concurrency 5 allows 100 workers',
      { source: { maxConnections: 500 } },
      { download: { workers: 100, concurrency: 5, maxConnections: 500 }, upload: { workers: 256, concurrency: 5 } },
      [{ code: 'connection-cap', hop: 'source', workers: 256, concurrency: 5, cappedWorkers: 100, cappedConcurrency: 5, maxConnections: 500 }],
    ],
    ['a cap above workers x concurrency changes nothing', { source: { maxConnections: 5000 }, destination: { maxConnections: 1280 } }, { download: { workers: 256, concurrency: 5 }, upload: { workers: 256, concurrency: 5 } }, []],
    [
      'a cap on the destination',
      { destination: { maxConnections: 99 } },
      { download: { workers: 256, concurrency: 5 }, upload: { workers: 19, concurrency: 5, maxConnections: 99 } },
      [{ code: 'connection-cap', hop: 'destination', workers: 256, concurrency: 5, cappedWorkers: 19, cappedConcurrency: 5, maxConnections: 99 }],
    ],
    [
      'a cap below one worker x concurrency lowers concurrency too',
      { source: { maxConnections: 3 } },
      { download: { workers: 1, concurrency: 3, maxConnections: 3 }, upload: { workers: 256, concurrency: 5 } },
      [{ code: 'connection-cap', hop: 'source', workers: 256, concurrency: 5, cappedWorkers: 1, cappedConcurrency: 3, maxConnections: 3 }],
    ],
  ])('%s', async (_name, overrides, hops, warnings) => {
    const result = await plan(inventory(), overrides);
    expect(result.hops).toEqual(hops);
    expect(result.warnings).toEqual(warnings);
  });
});

describe('the planner: a new version moves again, adoption needs proof (invariants 9 and 10)', () => {
  const MIB = 1024 * 1024;
  const size = 6 * MIB;
  const v1 = '1'.repeat(32) + '-2';
  const v2 = '2'.repeat(32) + '-2';
  const ours = '3'.repeat(32) + '-2';
  const md5v1 = '4'.repeat(32);
  const md5v2 = '5'.repeat(32);
  const NEW = 'new-version-at-destination';
  const transferred = (reason: string) => [`download ${A} /v1 (${reason})`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`];
  const big = (builder: InventoryBuilder) => builder.volume('/v1', { free: 100 * MIB });

  it.each<[string, InventoryBuilder, string[], ConfigOverrides?]>([
    [
      'delivered v1 multipart, source now lists v2 of the same size: download again',
      inventory().source(A, size, v2).dest(A, size, ours).ledger({ key: A, size, etag: v1, stage: 'purged', destinationEtag: ours }),
      transferred(NEW),
    ],
    [
      'delivered v1 multipart (ledger without the destination ETag), v2 of the same size: download again',
      inventory().source(A, size, v2).dest(A, size, v1).ledger({ key: A, size, etag: v1, stage: 'purged' }),
      transferred(NEW),
    ],
    [
      'delivered v1 multipart, v2 of the same size, even with transfer.adopt: size: download again',
      inventory().source(A, size, v2).dest(A, size, ours).ledger({ key: A, size, etag: v1, stage: 'purged', destinationEtag: ours }),
      transferred(NEW),
      { transfer: { adopt: 'size' } },
    ],
    [
      'delivered v1 plain MD5, v2 plain MD5 of the same size, destination multipart from our upload: download again',
      inventory().source(A, size, md5v2).dest(A, size, ours).ledger({ key: A, size, etag: md5v1, stage: 'purged', destinationEtag: ours }),
      transferred(NEW),
    ],
    [
      'v2 failed to download after v1 was delivered: still known to be new, download again',
      inventory().source(A, size, v2).dest(A, size, ours).ledger({ key: A, size, etag: v2, attempts: 1, lastDelivered: { size, etag: v1, destinationEtag: ours } }),
      transferred(NEW),
      { transfer: { adopt: 'size' } },
    ],
    [
      'v2 staged after v1 was delivered, destination still holds v1: upload the staged copy',
      inventory().source(A, size, v2).dest(A, size, ours).ledger({ key: A, size, etag: v2, stage: 'staged', volume: '/v1', lastDelivered: { size, etag: v1, destinationEtag: ours } }).local('/v1', A, size),
      [`upload ${A} /v1 (${NEW})`, `purge ${A} /v1`],
    ],
    [
      'delivered v1, destination rewritten since with another ETag: no longer ours, so compare content',
      inventory().source(A, size, v2).dest(A, size, '6'.repeat(32) + '-2').ledger({ key: A, size, etag: v1, stage: 'purged', destinationEtag: ours }),
      [`adopt ${A} by content`],
    ],
    ['fresh ledger, equal multipart ETags: adopt by multipart ETag', inventory().source(A, size, v2).dest(A, size, v2), [`adopt ${A} by multipart-etag`]],
    ['fresh ledger, plain MD5 source, multipart destination of the same size: compare content', inventory().source(A, size, md5v2).dest(A, size, ours), [`adopt ${A} by content`]],
    [
      'fresh ledger, ETags not comparable, transfer.adopt: transfer: download',
      inventory().source(A, size, md5v2).dest(A, size, ours),
      transferred('destination-unproven'),
      { transfer: { adopt: 'transfer' } },
    ],
    ['fresh ledger, ETags not comparable, transfer.adopt: size: adopt by size', inventory().source(A, size, md5v2).dest(A, size, ours), [`adopt ${A} by size`], { transfer: { adopt: 'size' } }],
    [
      'content compared earlier and differed: download, do not compare again',
      inventory().source(A, size, md5v2).dest(A, size, ours).ledger({ key: A, size, etag: md5v2, attempts: 1, destinationDiffers: ours }),
      transferred('destination-content-differs'),
    ],
    [
      'content compared earlier and differed, but the destination changed since: compare again',
      inventory().source(A, size, md5v2).dest(A, size, v1).ledger({ key: A, size, etag: md5v2, attempts: 1, destinationDiffers: ours }),
      [`adopt ${A} by content`],
    ],
    [
      'verified staged copy, destination same size with an ETag that cannot prove it: upload rather than compare',
      inventory().source(A, size, md5v2).dest(A, size, ours).ledger({ key: A, size, etag: md5v2, stage: 'staged', volume: '/v1' }).local('/v1', A, size),
      [`upload ${A} /v1 (destination-differs)`, `purge ${A} /v1`],
    ],
    [
      'local copy not in the ledger, multipart source ETag of a usual part size: upload once that ETag is checked',
      inventory().source(A, size, v2).local('/v1', A, size),
      [`upload ${A} /v1 (local-copy-checked proof="multipart-etag")`, `purge ${A} /v1`],
    ],
    [
      'local copy not in the ledger, source ETag that cannot prove it (Snowball): download again over it',
      inventory().source(A, size, 'snowball-opaque').local('/v1', A, size),
      [`redownload ${A} /v1 (local-copy-unprovable)`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`],
    ],
    [
      'local copy not in the ledger, source ETag that cannot prove it, transfer.adopt: size: upload it on its size',
      inventory().source(A, size, 'snowball-opaque').local('/v1', A, size),
      [`upload ${A} /v1 (local-copy-trusted trustedBecause="adopt-size")`, `purge ${A} /v1`],
      { transfer: { adopt: 'size' } },
    ],
    [
      'local copy not in the ledger that apply found to differ from the source: download again over it',
      inventory().source(A, size, md5v2).local('/v1', A, size).ledger({ key: A, size, etag: md5v2, attempts: 1, localDiffers: '/v1' }),
      [`redownload ${A} /v1 (local-copy-not-current)`, `upload ${A} /v1 after download`, `purge ${A} /v1 after download`],
    ],
    [
      'purged, destination lost it, a file of the right size is back on disk: upload it once its MD5 is checked',
      inventory().source(A, size, md5v2).local('/v1', A, size).ledger({ key: A, size, etag: md5v2, stage: 'purged' }),
      [`upload ${A} /v1 (destination-lost)`, `purge ${A} /v1`],
    ],
    [
      'purged, destination lost it, the file back on disk was found to differ: download again over it',
      inventory().source(A, size, md5v2).local('/v1', A, size).ledger({ key: A, size, etag: md5v2, stage: 'purged', localDiffers: '/v1' }),
      [`redownload ${A} /v1 (destination-lost localCopy="not-current")`, `upload ${A} /v1 after download (destination-lost)`, `purge ${A} /v1 after download`],
    ],
  ])('%s', async (_name, builder, expected, overrides) => {
    expect(lines(await planOf(testConfig(overrides), big(builder).build()))).toEqual(expected);
  });

  it('a file back on disk after the purge carries the proof its upload needs', async () => {
    const built = inventory().source(A, size, md5v2).local('/v1', A, size).ledger({ key: A, size, etag: md5v2, stage: 'purged' });
    expect((await planOf(testConfig(), big(built).build())).actions[0]).toMatchObject({ kind: 'upload', localProof: 'md5' });
  });

  it('an adopt carries its rule and the destination ETag; an unknown local copy carries its proof', async () => {
    const result = await planOf(testConfig(), big(inventory().source(A, size, md5v2).dest(A, size, ours).source('b', size, md5v1).local('/v1', 'b', size)).build());
    expect(result.actions.find((a) => a.kind === 'adopt')).toMatchObject({ key: A, adoptBy: 'content', destinationEtag: ours });
    expect(result.actions.find((a) => a.kind === 'upload')).toMatchObject({ key: 'b', localProof: 'md5' });
    // Counted in the summary, so that the summary line need not read every adopt of a large plan.
    expect(result.summary.adopt).toEqual({ count: 1, bytes: size, byContent: 1 });
  });
});

describe('deliveredCopyAtDestination', () => {
  const md5 = 'a'.repeat(32);
  it.each<[string, { size: number; etag: string; destinationEtag?: string }, { size: number; etag: string }, boolean]>([
    ['equal sizes and MD5s', { size: 1, etag: md5 }, { size: 1, etag: md5 }, true],
    ['different MD5s', { size: 1, etag: md5 }, { size: 1, etag: 'b'.repeat(32) }, false],
    ['different sizes', { size: 1, etag: md5 }, { size: 2, etag: md5 }, false],
    ['older ledger, multipart ETag at the destination: the size decides', { size: 1, etag: md5 }, { size: 1, etag: MULTIPART }, true],
    ['identical non-MD5 strings', { size: 1, etag: 'x-2' }, { size: 1, etag: 'x-2' }, true],
    ['the ETag seen at delivery is still there', { size: 1, etag: md5, destinationEtag: MULTIPART }, { size: 1, etag: MULTIPART }, true],
    ['another ETag than the one seen at delivery: rewritten since', { size: 1, etag: md5, destinationEtag: MULTIPART }, { size: 1, etag: 'e'.repeat(32) + '-3' }, false],
  ])('%s', async (_name, a, b, expected) => {
    expect(deliveredCopyAtDestination(a, b)).toBe(expected);
  });
});

describe('the planner: how verify: etag will check the downloads', () => {
  it('counts source ETags that are not MD5s, and multipart ones, in a warning', async () => {
    const built = inventory().source('md5.bin', 10).source('snow.bin', 10, 'snowball-opaque').source('parts.bin', 10, MULTIPART);
    const warnings = warningLines(await plan(built, { transfer: { verify: 'etag' } })).join('\n');
    expect(warnings).toMatch(/1 object\(s\) to download have source ETags that are not MD5s/);
    expect(warnings).toMatch(/1 object\(s\) to download have multipart ETags/);
  });

  it('the multipart note says itself how the others are checked, even when it stands alone', async () => {
    const warnings = warningLines(await plan(inventory().source('parts.bin', 10, MULTIPART), { transfer: { verify: 'etag' } }));
    expect(warnings).toEqual([
      '1 object(s) to download have multipart ETags: compared when their part size is one of the usual ones; otherwise verify: etag checks them by size and carries their local MD5 to the destination check',
    ]);
  });

  it('says nothing of ETags under verify: size', async () => {
    const built = inventory().source('snow.bin', 10, 'snowball-opaque');
    expect(warningLines(await plan(built)).join('\n')).not.toMatch(/ETag/);
  });
});

describe("the planner never plans the destination's own output", () => {
  it('same bucket, destination prefix inside the source prefix: its keys are skipped with the reason, the rest moves', async () => {
    const built = inventory().source('a.txt', 3).source('archive/a.txt', 3).source('archive/archive/a.txt', 3).dest('archive/a.txt', 3);
    const result = await plan(built, { source: { bucket: 'edge', prefix: '' }, destination: { bucket: 'edge', prefix: 'archive/' }, transfer: { purgeAfterUpload: false } });
    const reason = 'own-output bucket="edge" prefix="archive/"';
    expect(lines(result)).toEqual(['download a.txt /v1', 'upload a.txt /v1 after download', `skip archive/a.txt (${reason})`, `skip archive/archive/a.txt (${reason})`]);
  });

  it('a staged copy under the destination prefix is not uploaded either', async () => {
    const built = inventory().source('archive/a.txt', 3).staged('/v1', 'archive/a.txt', 3);
    const result = await plan(built, { source: { bucket: 'edge', prefix: '' }, destination: { bucket: 'edge', prefix: 'archive/' } });
    expect(result.actions.map((a) => a.kind)).toEqual(['skip']);
  });
});

describe('the planner: a destination that lists another ETag than the one recorded at delivery is not delivered (invariant 12)', () => {
  const recorded = 'c'.repeat(32);
  const other = 'd'.repeat(32);
  const reason = `destination-changed deliveredEtag="${recorded}" listedEtag="${other}"`;
  it.each<[string, InventoryBuilder, string[], ConfigOverrides?]>([
    [
      'purged, same size, other ETag: downloaded again, with the reason on both hops',
      inventory().source(A, 10).dest(A, 10, other).ledger({ key: A, size: 10, stage: 'purged', destinationEtag: recorded }),
      [`download ${A} /v1 (${reason})`, `upload ${A} /v1 after download (${reason})`, `purge ${A} /v1 after download`],
    ],
    [
      'delivered with the staged copy kept: uploaded again from it',
      inventory().source(A, 10).dest(A, 10, other).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v2', destinationEtag: recorded }).local('/v2', A, 10),
      [`upload ${A} /v2 (${reason})`],
      { transfer: { purgeAfterUpload: false } },
    ],
    [
      'the source no longer lists it and no copy is left: said, not moved',
      inventory().dest(A, 10, other).ledger({ key: A, size: 10, stage: 'purged', destinationEtag: recorded }),
      [],
    ],
    [
      'the multipart ETag recorded at delivery is still listed: nothing moves',
      inventory().source(A, 10).dest(A, 10, MULTIPART).ledger({ key: A, size: 10, stage: 'purged', destinationEtag: MULTIPART }),
      [],
    ],
    [
      'an adopt recorded the destination ETag, which is still listed: nothing moves',
      inventory().source(A, 10, 'snowball-etag').dest(A, 10, other).ledger({ key: A, size: 10, etag: 'snowball-etag', stage: 'purged', destinationEtag: other }),
      [],
    ],
    [
      'no ETag recorded (an older ledger), another size listed: downloaded again, the sizes said',
      inventory().source(A, 10).dest(A, 11).ledger({ key: A, size: 10, stage: 'purged' }),
      [
        `download ${A} /v1 (destination-changed deliveredSize=10 listedSize=11)`,
        `upload ${A} /v1 after download (destination-changed deliveredSize=10 listedSize=11)`,
        `purge ${A} /v1 after download`,
      ],
    ],
    [
      'no ETag recorded (an older ledger), same size, multipart ETag listed: the size decides, nothing moves',
      inventory().source(A, 10).dest(A, 10, MULTIPART).ledger({ key: A, size: 10, stage: 'purged' }),
      [],
    ],
  ])('%s', async (_name, builder, expected, overrides) => {
    const result = await plan(builder, overrides);
    expect(lines(result)).toEqual(expected);
    expect(result.summary.noChanges).toBe(expected.length === 0);
  });

  it('the destination unreachable: nothing is decided from it', async () => {
    const built = withVolumes(inventory().source(A, 10).dest(A, 10, other).ledger({ key: A, size: 10, stage: 'purged', destinationEtag: recorded })).build();
    const result = await planOf(testConfig(), { ...built, destination: { entries: [], complete: false, warnings: [], unreachable: 'connection refused' } });
    expect(lines(result)).toEqual([]);
  });
});

describe('the planner: listings that could not tell keys apart are not in sync', () => {
  it('undecodable keys of either listing are notes, and the plan has changes', async () => {
    const built = withVolumes(inventory().source(A, 10).dest(A, 10).ledger({ key: A, size: 10, stage: 'purged' })).build();
    const clean = await planOf(testConfig(), built);
    expect(clean.summary.noChanges).toBe(true);
    const flawed = await planOf(testConfig(), {
      ...built,
      source: { ...built.source, flaws: { duplicates: 0, undecodable: 2, firstUndecodable: 'bad%FF' } },
      destination: { ...built.destination, flaws: { duplicates: 1, firstDuplicate: 'a\uFFFD', undecodable: 0 } },
    });
    expect(lines(flawed)).toEqual([]);
    expect(flawed.notes).toEqual([
      { code: 'source-listing-undecodable-keys', count: 2, examples: ['bad%FF'] },
      { code: 'destination-listing-duplicate-keys', count: 1, examples: ['a\uFFFD'] },
    ]);
    expect(flawed.summary.noChanges).toBe(false);
  });
});

describe('the planner: a key longer than S3 allows under the destination prefix', () => {
  it('is skipped at plan time with the reason; a key that fits exactly is planned', async () => {
    const prefix = 'p'.repeat(99) + '/';
    // Segments stay within a file name's 245 bytes, so only the destination's limit can refuse them.
    const fits = ['f'.repeat(231), 'f'.repeat(230), 'f'.repeat(230), 'f'.repeat(230)].join('/');
    const tooLong = Array.from({ length: 4 }, () => '\u00e9'.repeat(120)).join('/');
    const result = await plan(inventory().source(fits, 1).source(tooLong, 1), { destination: { prefix }, transfer: { purgeAfterUpload: false } });
    expect(lines(result)).toEqual([
      `download ${fits} /v1`,
      `upload ${fits} /v1 after download`,
      `skip ${tooLong} (destination-key-too-long bytes=1063 maxBytes=1024 prefix="${prefix}")`,
    ]);
    expect(result.summary.noChanges).toBe(false);
  });
});
