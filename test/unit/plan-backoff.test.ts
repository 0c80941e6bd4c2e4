import { describe, expect, it } from 'vitest';
import type { Action, Plan as AnyPlan } from '../../src/model/plan.ts';
import { type PlanOptions } from '../../src/plan/planner.ts';
import { backoffOf, nextTryMs, retryDelayMs } from '../../src/plan/backoff.ts';
import { inventory, type InventoryBuilder, type LedgerSpec, testConfig, type ConfigOverrides, planOf, reasonLine } from '../builders.ts';

/** The pure planner's plan: its actions in an array. */
type Plan = AnyPlan<Action[]>;

const SECOND = 1000;
const HOUR = 3_600_000;
/** The time of the last failure in every case. */
const FAILED_AT = Date.parse('2026-11-29T10:00:00.000Z');
const at = (ms: number) => new Date(ms).toISOString();
/** 30 s, the test config's watch interval: the default base. */
const BASE = 30 * SECOND;

function lines(plan: Plan): string[] {
  return plan.actions.map((a) => [a.kind, a.key, a.volume, a.reason === undefined ? undefined : `(${reasonLine(a.reason)})`].filter((part) => part !== undefined).join(' '));
}

async function plan(builder: InventoryBuilder, options: PlanOptions, overrides?: ConfigOverrides): Promise<Plan> {
  return await planOf(testConfig(overrides), builder.volume('/v1', { free: 1_000_000 }).build(), options);
}

/** A source object `a.bin` of 10 bytes that failed `attempts` times, the last at FAILED_AT. */
function failing(attempts: number, extra: Partial<LedgerSpec> = {}): InventoryBuilder {
  return inventory().source('a.bin', 10).ledger({ key: 'a.bin', size: 10, attempts, lastError: 'upload: KeyTooLongError', lastFailedAt: at(FAILED_AT), ...extra });
}

describe('retryDelayMs: none after one failure (the next run redoes it), then base x 2^(attempts-2), at most max', () => {
  it.each([
    [0, 0],
    [1, 0],
    [2, BASE],
    [3, 2 * BASE],
    [4, 4 * BASE],
    [5, 8 * BASE],
    [11, 512 * BASE],
    [12, 6 * HOUR],
    [500, 6 * HOUR],
  ])('after %i failure(s): %i ms', async (attempts, expected) => {
    expect(retryDelayMs(attempts, { baseMs: BASE, maxMs: 6 * HOUR })).toBe(expected);
  });

  it('the base defaults to one watch interval; an explicit base wins', async () => {
    expect(backoffOf(testConfig())).toEqual({ baseMs: 30 * SECOND, maxMs: 6 * HOUR });
    expect(backoffOf(testConfig({ transfer: { retryBackoff: { baseMs: 5 * SECOND, maxMs: HOUR } } }))).toEqual({ baseMs: 5 * SECOND, maxMs: HOUR });
  });

  it('no next try without a failure of known time (a journal from before failures had one)', async () => {
    expect(nextTryMs({ attempts: 2 }, { baseMs: BASE, maxMs: HOUR })).toBeUndefined();
    expect(nextTryMs({ attempts: 0, lastFailedAt: at(FAILED_AT) }, { baseMs: BASE, maxMs: HOUR })).toBeUndefined();
    expect(nextTryMs({ attempts: 2, lastFailedAt: 'garbage' }, { baseMs: BASE, maxMs: HOUR })).toBeUndefined();
    expect(nextTryMs({ attempts: 3, lastFailedAt: at(FAILED_AT) }, { baseMs: BASE, maxMs: HOUR })).toBe(FAILED_AT + 2 * BASE);
  });
});

/** The download the planner makes of a.bin when it is due. */
const DUE = (attempts: number) => [`download a.bin /v1 (retry attempts=${attempts})`, 'upload a.bin /v1', 'purge a.bin /v1'];

describe('the planner: a failing object backs off', () => {
  it.each<[string, number, number, 'waits' | 'planned']>([
    ['1 failure: the next run retries it at once (a one-off fault is redone next time)', 1, 0, 'planned'],
    ['2 failures, 1 s before one interval: waits', 2, BASE - SECOND, 'waits'],
    ['2 failures, one interval later: planned', 2, BASE, 'planned'],
    ['3 failures, one interval later: waits', 3, BASE, 'waits'],
    ['3 failures, two intervals later: planned', 3, 2 * BASE, 'planned'],
    ['4 failures, three intervals later: waits', 4, 3 * BASE, 'waits'],
    ['4 failures, four intervals later: planned', 4, 4 * BASE, 'planned'],
    ['30 failures, just under the 6 h cap: waits', 30, 6 * HOUR - 1, 'waits'],
    ['30 failures, at the 6 h cap: planned (the cap holds)', 30, 6 * HOUR, 'planned'],
  ])('%s', async (_situation, attempts, elapsed, expected) => {
    const result = await plan(failing(attempts), { now: FAILED_AT + elapsed });
    if (expected === 'planned') {
      expect(lines(result)).toEqual(DUE(attempts));
      expect(result.summary.waiting).toBeUndefined();
    } else {
      expect(lines(result)).toEqual([]);
      expect(result.summary.waiting).toEqual({
        count: 1,
        bytes: 10,
        nextTryAt: at(FAILED_AT + retryDelayMs(attempts, { baseMs: BASE, maxMs: 6 * HOUR })),
        examples: [{ key: 'a.bin', attempts, nextTryAt: at(FAILED_AT + retryDelayMs(attempts, { baseMs: BASE, maxMs: 6 * HOUR })), lastFailure: { code: 'legacy', hop: 'upload', cause: 'KeyTooLongError' } }],
      });
    }
  });

  it('--retry-failed plans a waiting object now', async () => {
    expect(lines(await plan(failing(5), { now: FAILED_AT + SECOND, retryFailed: true }))).toEqual(DUE(5));
  });

  it('without a time (no options.now) nothing waits', async () => {
    expect(lines(await plan(failing(5), {}))).toEqual(DUE(5));
  });

  it('a configured base and cap: 3 failures with base 1 h and max 90 min wait 90 min', async () => {
    const overrides = { transfer: { retryBackoff: { baseMs: HOUR, maxMs: 90 * 60_000 } } };
    expect(lines(await plan(failing(3), { now: FAILED_AT + 89 * 60_000 }, overrides))).toEqual([]);
    expect(lines(await plan(failing(3), { now: FAILED_AT + 90 * 60_000 }, overrides))).toEqual(DUE(3));
  });

  it('a failure recorded without a time (older journal) is tried now', async () => {
    const builder = inventory().source('a.bin', 10).ledger({ key: 'a.bin', size: 10, attempts: 3, lastError: 'x' });
    expect(lines(await plan(builder, { now: FAILED_AT }))).toEqual(DUE(3));
  });

  it('a new version at the source starts over: it is planned at once', async () => {
    const builder = inventory().source('a.bin', 10, 'f'.repeat(32)).ledger({ key: 'a.bin', size: 10, attempts: 4, lastError: 'x', lastFailedAt: at(FAILED_AT) });
    expect(lines(await plan(builder, { now: FAILED_AT + SECOND }))).toEqual(['download a.bin /v1', 'upload a.bin /v1', 'purge a.bin /v1']);
  });

  it('a staged copy whose upload keeps failing: the upload waits, and it is not downloaded again', async () => {
    const builder = failing(3, { stage: 'staged', volume: '/v1' }).local('/v1', 'a.bin', 10);
    const waiting = await plan(builder, { now: FAILED_AT + BASE });
    expect(lines(waiting)).toEqual([]);
    expect(waiting.summary.waiting?.count).toBe(1);
    expect(lines(await plan(builder, { now: FAILED_AT + 2 * BASE }))).toEqual(['upload a.bin /v1', 'purge a.bin /v1']);
  });

  it('delivered, lost by the destination, and its re-upload keeps failing: the re-delivery waits', async () => {
    const builder = failing(4, { stage: 'delivered', volume: '/v1' }).local('/v1', 'a.bin', 10);
    expect(lines(await plan(builder, { now: FAILED_AT + BASE }))).toEqual([]);
    expect(lines(await plan(builder, { now: FAILED_AT + 4 * BASE }))).toEqual(['upload a.bin /v1 (destination-lost)', 'purge a.bin /v1']);
  });

  it('an adopt moves nothing, so it does not wait: the destination meanwhile holds the version', async () => {
    const result = await plan(failing(4).dest('a.bin', 10), { now: FAILED_AT + SECOND });
    expect(lines(result)).toEqual(['adopt a.bin']);
    expect(result.summary.waiting).toBeUndefined();
  });
});

describe('the planner: waiting objects in the summary', () => {
  const many = () => {
    const builder = inventory().source('new.bin', 5);
    for (const [key, attempts] of [['w1', 2], ['w2', 3], ['w3', 4], ['w4', 5], ['due', 1]] as const) {
      builder.source(key, 100).ledger({ key, size: 100, attempts, lastError: `download: refused ${key}`, lastFailedAt: at(FAILED_AT) });
    }
    return builder;
  };

  it('counts them with their bytes, the earliest next try and three examples in key order; they are not changes', async () => {
    const result = await plan(many(), { now: FAILED_AT + SECOND });
    expect(lines(result)).toEqual([
      'download due /v1 (retry attempts=1)',
      'download new.bin /v1',
      'upload due /v1',
      'upload new.bin /v1',
      'purge due /v1',
      'purge new.bin /v1',
    ]);
    expect(result.summary.waiting).toMatchObject({ count: 4, bytes: 400, nextTryAt: at(FAILED_AT + BASE) });
    expect(result.summary.waiting?.examples.map((e) => [e.key, e.attempts, e.nextTryAt])).toEqual([
      ['w1', 2, at(FAILED_AT + BASE)],
      ['w2', 3, at(FAILED_AT + 2 * BASE)],
      ['w3', 4, at(FAILED_AT + 4 * BASE)],
    ]);
    expect(result.summary.noChanges).toBe(false);
    expect(result.summary.download.count).toBe(2);
  });

  it('only waiting objects: no changes to make now (noChanges), but the waiting count says it is not done', async () => {
    const builder = inventory().source('new.bin', 5).dest('new.bin', 5).ledger({ key: 'new.bin', size: 5, stage: 'purged' });
    builder.source('w1', 100).ledger({ key: 'w1', size: 100, attempts: 2, lastError: 'x', lastFailedAt: at(FAILED_AT) });
    const result = await plan(builder, { now: FAILED_AT + SECOND });
    expect(result.actions).toEqual([]);
    expect(result.summary.noChanges).toBe(true);
    expect(result.summary.waiting?.count).toBe(1);
  });
});
