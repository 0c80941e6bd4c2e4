import { describe, expect, it } from 'vitest';
import type { Action, Plan as AnyPlan } from '../../src/model/plan.ts';
import { warningLines } from '../../src/view/plan.ts';
import { inventory, type InventoryBuilder, testConfig, type ConfigOverrides, planOf, reasonLine } from '../builders.ts';

/** The pure planner's plan: its actions in an array. */
type Plan = AnyPlan<Action[]>;

/** One readable line per action: `kind key [volume] [after download] [(reason)]`. */
function lines(plan: Plan): string[] {
  return plan.actions.map((a) =>
    [a.kind, a.key, a.volume, a.afterDownload === true ? 'after download' : undefined, a.reason === undefined ? undefined : `(${reasonLine(a.reason)})`]
      .filter((part) => part !== undefined)
      .join(' '),
  );
}

async function plan(builder: InventoryBuilder, overrides?: ConfigOverrides): Promise<Plan> {
  return await planOf(testConfig(overrides), builder.volume('/v1', { free: 1_000_000 }).volume('/v2', { free: 1_000_000 }).build());
}

const A = 'a.bin';

describe('the planner: destination unreachable — downloads go on, nothing that needs the destination', () => {
  it.each<[string, InventoryBuilder, string[]]>([
    ['new object: download only, its upload and purge wait', inventory().source(A, 10).destUnreachable(), [`download ${A} /v1`]],
    ['download that failed before: retried', inventory().source(A, 10).ledger({ key: A, size: 10, attempts: 2 }).destUnreachable(), [`download ${A} /v1 (retry attempts=2)`]],
    ['local copy of the wrong size: re-download', inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'staged', volume: '/v2' }).local('/v2', A, 3).destUnreachable(), [`redownload ${A} /v2 (size-differs-locally expectedSize=10 localSize=3)`]],
    ['staged copy: no upload, no purge', inventory().source(A, 10).staged('/v2', A, 10).destUnreachable(), []],
    ['local copy the ledger does not know: no upload', inventory().source(A, 10).local('/v1', A, 10).destUnreachable(), []],
    ['delivered, staged copy still there: no purge', inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10).destUnreachable(), []],
    ['delivered and purged: not taken as lost, not downloaded again', inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'purged' }).destUnreachable(), []],
    ['delivered, its staged copy deleted without a record: left for later', inventory().source(A, 10).ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).destUnreachable(), []],
  ])('%s', async (_name, builder, expected) => {
    const made = await plan(builder);
    expect(lines(made)).toEqual(expected);
    expect(made.actions.filter((a) => a.kind === 'upload' || a.kind === 'purge' || a.kind === 'adopt')).toEqual([]);
    expect(made.warnings[0]).toEqual({ code: 'destination-unreachable', cause: 'connect ECONNREFUSED 127.0.0.1:9001' });
    expect(made.summary.noChanges).toBe(false);
  });

  it('says why uploads and purges are missing', async () => {
    const made = await plan(
      inventory().source('new', 10).source('staged', 20).staged('/v1', 'staged', 20).source('kept', 30).ledger({ key: 'kept', size: 30, stage: 'delivered', volume: '/v2' }).local('/v2', 'kept', 30).destUnreachable(),
    );
    expect(warningLines(made)).toContain('1 object (10 B) downloaded now, upload deferred: the destination is unreachable: "new"');
    expect(warningLines(made)).toContain('1 object (20 B) deferred to a later upload: the destination is unreachable: "staged"');
    expect(warningLines(made)).toContain('1 object delivered earlier; their purge waits for the destination to be reachable: "kept"');
    expect(made.summary.upload).toEqual({ count: 0, bytes: 0 });
  });

  it('downloads stay within the staging space and maxBatchBytes', async () => {
    const builder = inventory().source('a', 10).source('b', 10).source('c', 10).source('d', 10).destUnreachable();
    const roomFor2 = await planOf(testConfig(), builder.volume('/v1', { free: 25 }).build());
    expect(lines(roomFor2)).toEqual(['download a /v1', 'download b /v1']);
    expect(warningLines(roomFor2)).toContain('2 objects (20 B) deferred to a later download: no volume has room above its reserve: "c", "d"');
    const budgetFor3 = await plan(inventory().source('a', 10).source('b', 10).source('c', 10).source('d', 10).destUnreachable(), { transfer: { maxBatchBytes: 30 } });
    expect(lines(budgetFor3)).toEqual(['download a /v1', 'download b /v2', 'download c /v1']);
  });
});

describe('the planner: source unreachable — staged copies are uploaded and purged, nothing downloaded', () => {
  it.each<[string, InventoryBuilder, string[]]>([
    ['staged copy: upload and purge', inventory().staged('/v2', A, 10).sourceUnreachable(), [`upload ${A} /v2`, `purge ${A} /v2`]],
    ['staged copy already at the destination: adopt and purge', inventory().staged('/v2', A, 10).dest(A, 10).sourceUnreachable(), [`adopt ${A}`, `purge ${A} /v2`]],
    ['delivered, staged copy still there: purge', inventory().ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10).dest(A, 10).sourceUnreachable(), [`purge ${A} /v1`]],
    ['delivered, lost by the destination, copy on disk: upload it again', inventory().ledger({ key: A, size: 10, stage: 'delivered', volume: '/v1' }).local('/v1', A, 10).sourceUnreachable(), [`upload ${A} /v1 (destination-lost)`, `purge ${A} /v1`]],
    ['delivered and purged, lost by the destination: waits for the source', inventory().ledger({ key: A, size: 10, stage: 'purged' }).sourceUnreachable(), []],
    ['staged copy missing: its re-download waits', inventory().ledger({ key: A, size: 10, stage: 'staged', volume: '/v1' }).sourceUnreachable(), []],
    ['local copy the ledger does not know: not uploaded (only the source can prove it)', inventory().local('/v1', A, 10).sourceUnreachable(), []],
    ['download that failed before: waits', inventory().ledger({ key: A, size: 10, attempts: 1 }).sourceUnreachable(), []],
  ])('%s', async (_name, builder, expected) => {
    const made = await plan(builder);
    expect(lines(made)).toEqual(expected);
    expect(made.actions.filter((a) => a.kind === 'download' || a.kind === 'redownload')).toEqual([]);
    expect(made.warnings[0]).toEqual({ code: 'source-unreachable', cause: 'connect ECONNREFUSED 127.0.0.1:9000' });
    expect(made.summary.noChanges).toBe(false);
  });

  it('never reads the failed listing as "the source no longer lists it"', async () => {
    const made = await plan(inventory().ledger({ key: 'gone', size: 10, stage: 'purged' }).ledger({ key: 'lost', size: 5, stage: 'staged', volume: '/v1' }).sourceUnreachable());
    expect(warningLines(made).join('\n')).not.toMatch(/no longer listed|no longer lists/);
    expect(warningLines(made)).toContain('1 object lost by the destination, with no local copy; their download waits for the source: "gone"');
    expect(warningLines(made)).toContain('1 object staged earlier but missing or damaged; their download waits for the source: "lost"');
  });
});
