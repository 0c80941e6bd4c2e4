import { describe, expect, it } from 'vitest';
import type { Action, Plan as AnyPlan } from '../../src/model/plan.ts';
import { warningLines } from '../../src/view/plan.ts';
import { inventory, type InventoryBuilder, testConfig, type ConfigOverrides, planOf, reasonLine } from '../builders.ts';

/** The pure planner's plan: its actions in an array. */
type Plan = AnyPlan<Action[]>;

const noPurge: ConfigOverrides['transfer'] = { purgeAfterUpload: false };

async function plan(builder: InventoryBuilder, transfer: ConfigOverrides['transfer'] = {}): Promise<Plan> {
  return await planOf(testConfig({ transfer: { ...noPurge, ...transfer } }), builder.build());
}

/** `key@volume` for each download or re-download, in plan order. */
function placed(result: Plan): string[] {
  return result.actions.filter((a) => a.kind === 'download' || a.kind === 'redownload').map((a) => `${a.key}@${a.volume}`);
}

function uploaded(result: Plan): string[] {
  return result.actions.filter((a) => a.kind === 'upload').map((a) => a.key);
}

const roomy = (builder: InventoryBuilder): InventoryBuilder => builder.volume('/v1', { free: 10_000 });

describe('download budget (transfer.maxBatchBytes)', () => {
  it.each<[string, [string, number][], number, string[], number]>([
    ['exact fit: both', [['a', 60], ['b', 40]], 100, ['a@/v1', 'b@/v1'], 0],
    ['one byte over: the second waits', [['a', 60], ['b', 41]], 100, ['a@/v1'], 41],
    ['a smaller object after one that does not fit still goes', [['a', 60], ['b', 41], ['c', 40]], 100, ['a@/v1', 'c@/v1'], 41],
    ['an object larger than the whole budget waits', [['a', 101], ['b', 1]], 100, ['b@/v1'], 101],
    ['empty objects always fit', [['a', 100], ['b', 0]], 100, ['a@/v1', 'b@/v1'], 0],
    ['a zero budget downloads only empty objects', [['a', 1], ['b', 0]], 0, ['b@/v1'], 1],
  ])('%s', async (_name, objects, budget, expected, deferredBytes) => {
    const builder = roomy(inventory());
    for (const [key, size] of objects) builder.source(key, size);
    const result = await plan(builder, { maxBatchBytes: budget });
    expect(placed(result)).toEqual(expected);
    expect(result.summary.download.bytes).toBeLessThanOrEqual(budget);
    expect(result.summary.deferred.bytes).toBe(deferredBytes);
    expect(result.summary.deferred.count).toBe(deferredBytes === 0 ? 0 : 1);
  });

  it('re-downloads count against the same budget', async () => {
    const builder = roomy(inventory()).source('a', 60).local('/v1', 'a', 10).source('b', 50);
    const result = await plan(builder, { maxBatchBytes: 100 });
    expect(result.actions.filter((a) => a.kind === 'redownload').map((a) => a.key)).toEqual(['a']);
    expect(placed(result)).toEqual(['a@/v1']);
    expect(result.summary.download).toEqual({ count: 1, bytes: 60 });
  });

  it('says why objects wait, with a few examples', async () => {
    const builder = roomy(inventory()).source('a', 60).source('b', 50).source('c', 50).source('d', 50).source('e', 50);
    const result = await plan(builder, { maxBatchBytes: 100 });
    expect(warningLines(result)).toContain('4 objects (200 B) deferred to a later download: transfer.maxBatchBytes (100 B) reached: "b", "c", "d", ...');
    expect(result.summary.deferred).toEqual({ count: 4, bytes: 200 });
    expect(result.summary.noChanges).toBe(false);
  });
});

describe('upload budget (transfer.maxUploadBatchBytes)', () => {
  it.each<[string, number, string[], number]>([
    ['exact fit: both staged copies', 100, ['a', 'b'], 0],
    ['one byte under: the second waits', 99, ['a'], 40],
  ])('%s', async (_name, budget, expected, deferredBytes) => {
    const builder = roomy(inventory()).staged('/v1', 'a', 60).staged('/v1', 'b', 40);
    const result = await plan(builder, { maxUploadBatchBytes: budget });
    expect(uploaded(result)).toEqual(expected);
    expect(result.summary.upload.bytes).toBeLessThanOrEqual(budget);
    expect(result.summary.deferred.bytes).toBe(deferredBytes);
  });

  it('copies already on disk go first; a new download still happens when only its upload must wait', async () => {
    const builder = roomy(inventory()).source('a-new', 50).staged('/v1', 'z-staged', 60);
    const result = await plan(builder, { maxUploadBatchBytes: 100, purgeAfterUpload: true });
    expect(placed(result)).toEqual(['a-new@/v1']);
    expect(uploaded(result)).toEqual(['z-staged']);
    expect(result.actions.filter((a) => a.kind === 'purge').map((a) => a.key)).toEqual(['z-staged']);
    expect(warningLines(result)).toContain('1 object (50 B) downloaded now, upload deferred: transfer.maxUploadBatchBytes (100 B) reached: "a-new"');
    expect(result.summary.deferred).toEqual({ count: 1, bytes: 50 });
  });

  it('chained uploads fill what is left, in key order', async () => {
    const builder = roomy(inventory()).source('a', 30).source('b', 30).source('c', 10).staged('/v1', 's', 50);
    const result = await plan(builder, { maxUploadBatchBytes: 90 });
    expect(uploaded(result)).toEqual(['a', 'c', 's']);
    expect(result.summary.upload).toEqual({ count: 3, bytes: 90 });
  });
});

describe('volume room (free - reserve - already planned)', () => {
  it.each<[string, { free: number; reserve: number }, number, boolean]>([
    ['exactly the room above the reserve', { free: 100, reserve: 10 }, 90, true],
    ['one byte into the reserve', { free: 100, reserve: 10 }, 91, false],
    ['an empty object on a volume with no room left', { free: 10, reserve: 10 }, 0, true],
    ['nothing fits when the reserve is already eaten into', { free: 5, reserve: 10 }, 0, false],
  ])('%s', async (_name, volume, size, fits) => {
    const result = await plan(inventory().volume('/v1', volume).source('a', size));
    expect(placed(result)).toEqual(fits ? ['a@/v1'] : []);
    if (!fits) expect(warningLines(result)).toContain(`1 object (${size} B) deferred to a later download: no volume has room above its reserve: "a"`);
  });

  it('bytes already planned on a volume count against it', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).source('a', 60).source('b', 41).source('c', 40));
    expect(placed(result)).toEqual(['a@/v1', 'c@/v1']);
    expect(result.volumes).toEqual([{ root: '/v1', freeBytes: 100, reserveBytes: 0, plannedDownloadBytes: 100, plannedDownloads: 2 }]);
  });

  it('no volumes at all: everything waits', async () => {
    const result = await plan(inventory().source('a', 1));
    expect(result.actions).toEqual([]);
    expect(result.summary.deferred).toEqual({ count: 1, bytes: 1 });
  });
});

describe('volumes on one filesystem (one st_dev) share its room', () => {
  it('two folders of one disk book its free space once', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100, device: 'd1' }).volume('/v2', { free: 100, device: 'd1' }).source('a', 60).source('b', 60).source('c', 40));
    expect(placed(result)).toEqual(['a@/v1', 'c@/v2']);
    expect(result.summary.deferred).toEqual({ count: 1, bytes: 60 });
    expect(warningLines(result)).toContain('1 object (60 B) deferred to a later download: no volume has room above its reserve: "b"');
  });

  it('the budget is the free space minus the largest reserve of its volumes', async () => {
    const builder = inventory().volume('/v1', { free: 100, reserve: 10, device: 'd1' }).volume('/v2', { free: 100, reserve: 30, device: 'd1' });
    expect(placed(await plan(builder.source('a', 40).source('b', 30)))).toEqual(['a@/v1', 'b@/v2']);
    const over = inventory().volume('/v1', { free: 100, reserve: 10, device: 'd1' }).volume('/v2', { free: 100, reserve: 30, device: 'd1' });
    expect(placed(await plan(over.source('a', 40).source('b', 31)))).toEqual(['a@/v1']);
  });

  it('different devices keep their own room, and downloads spread over devices before folders', async () => {
    const builder = inventory().volume('/v1', { free: 100, device: 'd1' }).volume('/v2', { free: 100, device: 'd1' }).volume('/v3', { free: 100, device: 'd2' });
    const result = await plan(builder.source('a', 10).source('b', 10).source('c', 10).source('d', 10));
    expect(placed(result)).toEqual(['a@/v1', 'b@/v3', 'c@/v2', 'd@/v3']);
  });

  it('the plan marks the volumes that share a device, and only those', async () => {
    const builder = inventory().volume('/v1', { free: 100, device: 'd1' }).volume('/v2', { free: 100, device: 'd1' }).volume('/v3', { free: 100, device: 'd2' });
    const result = await plan(builder.source('a', 10));
    expect(result.volumes.map((v) => [v.root, v.device])).toEqual([
      ['/v1', 'd1'],
      ['/v2', 'd1'],
      ['/v3', undefined],
    ]);
  });
});

describe('volume spreading', () => {
  const two = (builder: InventoryBuilder): InventoryBuilder => builder.volume('/v2', { free: 1000 }).volume('/v1', { free: 1000 });

  it('equal objects alternate between volumes, ties going to the lowest root', async () => {
    const result = await plan(two(inventory()).source('a', 10).source('b', 10).source('c', 10).source('d', 10));
    expect(placed(result)).toEqual(['a@/v1', 'b@/v2', 'c@/v1', 'd@/v2']);
    expect(result.volumes.map((v) => [v.root, v.plannedDownloadBytes, v.plannedDownloads])).toEqual([
      ['/v1', 20, 2],
      ['/v2', 20, 2],
    ]);
  });

  it('each download goes to the volume with the fewest planned bytes', async () => {
    const result = await plan(two(inventory()).source('a', 30).source('b', 10).source('c', 10).source('d', 10).source('e', 10));
    expect(placed(result)).toEqual(['a@/v1', 'b@/v2', 'c@/v2', 'd@/v2', 'e@/v1']);
  });

  it('a full volume is passed over', async () => {
    const result = await plan(inventory().volume('/v1', { free: 15 }).volume('/v2', { free: 100 }).source('a', 10).source('b', 10).source('c', 10));
    expect(placed(result)).toEqual(['a@/v1', 'b@/v2', 'c@/v2']);
  });

  it('a re-download stays on its volume when it has room, even if another has less planned', async () => {
    const result = await plan(two(inventory()).source('a', 10).source('b', 10).local('/v2', 'a', 3));
    expect(placed(result)).toEqual(['b@/v1', 'a@/v2']);
  });

  it('a re-download moves when its volume has no room, and names the copy it replaces there', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).volume('/v2', { free: 5 }).source('b', 10).local('/v2', 'b', 3));
    expect(placed(result)).toEqual(['b@/v1']);
    expect(result.actions.find((a) => a.kind === 'redownload')?.replaces).toBe('/v2');
  });

  it('a re-download that stays on its volume replaces nothing elsewhere (the new copy takes the place of the old)', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).volume('/v2', { free: 100 }).source('b', 10).local('/v2', 'b', 3));
    expect(placed(result)).toEqual(['b@/v2']);
    expect(result.actions.find((a) => a.kind === 'redownload')?.replaces).toBeUndefined();
  });

  it('duplicate volume roots count once', async () => {
    const result = await plan(inventory().volume('/v1', { free: 10 }).volume('/v1', { free: 10 }).source('a', 10).source('b', 10));
    expect(placed(result)).toEqual(['a@/v1']);
    expect(result.warnings).toContainEqual({ code: 'volume-listed-twice', volume: '/v1' });
  });
});

describe('file/prefix collisions (a and a/b)', () => {
  it('go to different volumes when there are two', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).volume('/v2', { free: 100 }).source('a', 1).source('a/b', 1).source('a/c', 1));
    expect(placed(result)).toEqual(['a@/v1', 'a/b@/v2', 'a/c@/v2']);
  });

  it('with one volume the file goes now and the folder waits (deferred, not skipped)', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).source('a', 1).source('a/b', 1).source('a/b/c', 1));
    expect(placed(result)).toEqual(['a@/v1']);
    expect(result.actions.filter((a) => a.kind === 'skip')).toEqual([]);
    expect(result.summary.deferred.count).toBe(2);
    expect(warningLines(result)).toContain('2 objects (2 B) deferred to a later download: a file/prefix collision (e.g. with "a") on every volume with room: "a/b", "a/b/c"');
  });

  it('a file already on a volume keeps a new folder of the same name off it', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).volume('/v2', { free: 100 }).staged('/v1', 'a', 1).source('a', 1).source('a/b', 1));
    expect(placed(result)).toEqual(['a/b@/v2']);
  });

  it('a folder already on a volume keeps a new file of the same name off it', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).volume('/v2', { free: 100 }).local('/v1', 'a/b/c', 1).source('a', 1));
    expect(placed(result)).toEqual(['a@/v2']);
  });

  it('names that only share a prefix do not collide', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).source('a', 1).source('a-b/c', 1).source('ab/c', 1).source('a.d/e', 1));
    expect(placed(result)).toEqual(['a@/v1', 'a-b/c@/v1', 'a.d/e@/v1', 'ab/c@/v1']);
  });

  it('the next plan stages the folder once the file has gone', async () => {
    const next = await plan(inventory().volume('/v1', { free: 100 }).source('a', 1).ledger({ key: 'a', size: 1, stage: 'purged' }).dest('a', 1).source('a/b', 1));
    expect(placed(next)).toEqual(['a/b@/v1']);
  });
});

describe('symbolic links below a volume root (the scan reports them; no download goes through one)', () => {
  const skipped = (result: Plan) => result.actions.filter((a) => a.kind === 'skip').map((a) => `${a.key}: ${a.reason === undefined ? '' : reasonLine(a.reason)}`);

  it.each<[string, string, string]>([
    ['a folder link at the top', 'evil', 'evil/x.bin'],
    ['a folder link two levels down', 'a/b', 'a/b/c/x.bin'],
    ['a link in place of the file', 'a/x.bin', 'a/x.bin'],
  ])('%s, one volume: skipped with the link named, the other keys move', async (_, link, key) => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).link('/v1', link).source(key, 1).source('fine/y.bin', 1).source('evil-not/z', 1));
    expect(placed(result)).toEqual(['evil-not/z@/v1', 'fine/y.bin@/v1']);
    expect(skipped(result)).toEqual([`${key}: path-through-link link="/v1/${link}"`]);
    expect(result.summary.skip.count).toBe(1);
    expect(uploaded(result)).not.toContain(key);
  });

  it('a link in place of .dualsync-tmp keeps every download off that volume', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).link('/v1', '.dualsync-tmp').source('a', 1).source('b/c', 1));
    expect(placed(result)).toEqual([]);
    expect(skipped(result)).toEqual([
      'a: path-through-link link="/v1/.dualsync-tmp"',
      'b/c: path-through-link link="/v1/.dualsync-tmp"',
    ]);
  });

  it('with two volumes the key goes to the one without the link', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).volume('/v2', { free: 100 }).link('/v1', 'evil').source('evil/x', 1).source('evil/y', 1));
    expect(placed(result)).toEqual(['evil/x@/v2', 'evil/y@/v2']);
    expect(skipped(result)).toEqual([]);
  });

  it('a plan with only link skips has no changes; skips stay in key order among unsafe-key skips', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).link('/v1', 'm').source('m/x', 1).source('a/../b', 1).source('z/./q', 1));
    expect(result.actions.map((a) => a.key)).toEqual(['a/../b', 'm/x', 'z/./q']);
    expect(result.summary.noChanges).toBe(true);
  });

  it('a volume out of room for the key defers it rather than skipping (room may come back)', async () => {
    const result = await plan(inventory().volume('/v1', { free: 100 }).volume('/v2', { free: 0 }).link('/v1', 'evil').source('evil/x', 5));
    expect(skipped(result)).toEqual([]);
    expect(result.summary.deferred.count).toBe(1);
  });
});

describe('a delivered copy whose folder became a link', () => {
  it('is not purged (nor recorded as purged): the path is out of sight, not gone', async () => {
    const result = await planOf(
      testConfig({ transfer: { purgeAfterUpload: true } }),
      inventory().volume('/v1', { free: 100 }).link('/v1', 'keep').source('keep/p.bin', 3).dest('keep/p.bin', 3).ledger({ key: 'keep/p.bin', size: 3, stage: 'delivered', volume: '/v1' }).build(),
    );
    expect(result.actions).toEqual([]);
    expect(warningLines(result).join('\n')).toContain('passing through a symbolic link (not followed): left as it is: "keep/p.bin"');
  });
});
