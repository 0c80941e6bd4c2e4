/**
 * An object that fails every time backs off instead of costing a transfer every run: the
 * destination holds `coll/a` as an object, so MinIO accepts the upload of `coll/a/b` but never
 * lists it, and "delivered means listed" fails every upload of it. (An over-long destination
 * key used to serve here; the plan now skips it before any transfer.)
 */
import { describe, expect, it } from 'vitest';
import { listAll, putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite } from './site.ts';

const pair = useMinioPair();

const REFUSED_KEY = 'coll/a/b';
const DESTINATION_PREFIX = 'site-7/';

interface PlanJson {
  actions: { kind: string; key: string }[];
  summary: { noChanges: boolean; waiting?: { count: number; nextTryAt: string; examples: { key: string; attempts: number; nextTryAt: string }[] } };
  summaryLine: string;
}
interface StatusJson {
  failing: { key: string; attempts: number; lastFailure: { code: string }; lastFailedAt?: string; nextTryAt?: string }[];
}

describe('backoff: an object the destination refuses every time', () => {
  it('is not transferred again within its backoff, shows as waiting, and --retry-failed tries it now', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationPrefix: DESTINATION_PREFIX, transfer: ['retryBackoff: { base: 1h, max: 6h }'] });
    await putObjects(pair.cloud, site.destinationBucket, [{ key: `${DESTINATION_PREFIX}coll/a`, body: 'the parent object' }]);
    await putObjects(pair.edge, site.sourceBucket, [
      { key: REFUSED_KEY, body: 'refused at the destination' },
      { key: 'ok.txt', body: 'delivered' },
    ]);

    const first = await site.cli('apply', '--auto-approve');
    expect(first.exitCode, first.stdout + first.stderr).toBe(1);
    const delivered = await listAll(pair.cloud, site.destinationBucket);
    expect(delivered.map((o) => o.key)).toEqual([`${DESTINATION_PREFIX}coll/a`, `${DESTINATION_PREFIX}ok.txt`]);
    const afterFirst = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
    expect(afterFirst.failing).toHaveLength(1);
    // One failure may be a one-off fault: the next run retries it at once.
    expect(afterFirst.failing[0]).toMatchObject({ key: REFUSED_KEY, attempts: 1 });
    expect(afterFirst.failing[0]!.nextTryAt).toBeUndefined();
    const second = await site.cli('apply', '--auto-approve');
    expect(second.exitCode, second.stdout + second.stderr).toBe(1);
    const afterSecond = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
    expect(afterSecond.failing[0]).toMatchObject({ key: REFUSED_KEY, attempts: 2 });
    const failedAt = Date.parse(afterSecond.failing[0]!.lastFailedAt!);
    expect(Date.parse(afterSecond.failing[0]!.nextTryAt!)).toBe(failedAt + 3_600_000);

    // Failed twice in a row: within its backoff the next run does not upload it again; nothing to do now, but not in sync.
    const third = await site.cli('apply', '--auto-approve');
    expect(third.exitCode, third.stdout + third.stderr).toBe(0);
    expect(third.stdout).toContain('Nothing to apply now; 1 object(s) wait to retry after failures.');
    const afterThird = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
    expect(afterThird.failing[0]).toMatchObject({ key: REFUSED_KEY, attempts: 2, lastFailedAt: afterSecond.failing[0]!.lastFailedAt });

    const planned = await site.cli('plan', '--json', '--detailed-exitcode');
    expect(planned.exitCode).toBe(0);
    const plan = JSON.parse(planned.stdout) as PlanJson;
    expect(plan.actions).toEqual([]);
    expect(plan.summary.noChanges).toBe(true);
    expect(plan.summary.waiting).toMatchObject({ count: 1, examples: [{ key: REFUSED_KEY, attempts: 2 }] });
    expect(Date.parse(plan.summary.waiting!.nextTryAt)).toBe(failedAt + 3_600_000);
    expect(plan.summaryLine).toMatch(/^No changes now, but not in sync: 1 waiting to retry \(next try .* UTC\)/);
    const human = await site.cli('plan');
    expect(human.stdout).toContain('Waiting to retry');
    expect(human.stdout).not.toContain('are in sync');

    // --retry-failed: planned and tried now; refused a third time, so it waits twice as long.
    const retryPlan = JSON.parse((await site.cli('plan', '--json', '--retry-failed')).stdout) as PlanJson;
    expect(retryPlan.actions.map((a) => `${a.kind} ${a.key === REFUSED_KEY ? 'REFUSED' : a.key}`)).toEqual(['upload REFUSED', 'purge REFUSED']);
    const retried = await site.cli('apply', '--auto-approve', '--retry-failed');
    expect(retried.exitCode).toBe(1);
    const afterRetry = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
    expect(afterRetry.failing[0]).toMatchObject({ key: REFUSED_KEY, attempts: 3 });
    const retriedAt = Date.parse(afterRetry.failing[0]!.lastFailedAt!);
    expect(retriedAt).toBeGreaterThan(failedAt);
    expect(Date.parse(afterRetry.failing[0]!.nextTryAt!)).toBe(retriedAt + 2 * 3_600_000);
    expect((await site.cli('status')).stdout).toMatch(/next try/);

    // watch: a cycle leaves it waiting (and says so, never "in sync"); --retry-failed tries it in its first cycle.
    const watched = await site.cli('watch', '--once');
    expect(watched.exitCode, watched.stdout + watched.stderr).toBe(0);
    expect(watched.stdout).toContain('cycle 1: nothing to do now; 1 object(s) waiting to retry after failures');
    const watchedRetry = await site.cli('watch', '--once', '--retry-failed');
    expect(watchedRetry.exitCode).toBe(1);
    const afterWatch = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
    expect(afterWatch.failing[0]).toMatchObject({ key: REFUSED_KEY, attempts: 4 });

    // A second run does nothing: the other object stays delivered, the refused one waits.
    const last = JSON.parse((await site.cli('plan', '--json')).stdout) as PlanJson;
    expect(last.actions).toEqual([]);
    expect(last.summary.waiting?.count).toBe(1);
    expect((await listAll(pair.cloud, site.destinationBucket)).map((o) => o.key)).toEqual([`${DESTINATION_PREFIX}coll/a`, `${DESTINATION_PREFIX}ok.txt`]);
  });

  it('a saved plan cannot be changed with --retry-failed', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    const refused = await site.cli('apply', 'plan.json', '--retry-failed');
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('--retry-failed cannot change a saved plan');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });
});
