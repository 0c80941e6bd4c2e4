import { describe, expect, it } from 'vitest';
import { backoffMs, watchLoop, type CycleResult } from '../../src/watch/loop.ts';
import { opError, userError } from '../../src/errors.ts';

function harness(results: (CycleResult | Error)[], options: { stopAfter?: number } = {}) {
  const stop = new AbortController();
  const sleeps: number[] = [];
  const logs: string[] = [];
  let calls = 0;
  return {
    sleeps,
    logs,
    run: (once = false) =>
      watchLoop({
        intervalMs: 1000,
        once,
        stop: stop.signal,
        random: () => 0.5,
        log: (line) => logs.push(line),
        sleep: async (ms) => {
          sleeps.push(ms);
          if (options.stopAfter !== undefined && sleeps.length >= options.stopAfter) stop.abort();
        },
        cycle: async () => {
          const next = results[Math.min(calls++, results.length - 1)]!;
          if (next instanceof Error) throw next;
          return next;
        },
      }),
  };
}

describe('watch loop', () => {
  it('in sync: waits the interval between cycles until stopped', async () => {
    const h = harness([{ changes: 0, failures: 0 }], { stopAfter: 3 });
    const summary = await h.run();
    expect(summary).toEqual({ cycles: 3, failedCycles: 0 });
    expect(h.sleeps).toEqual([1000, 1000, 1000]);
  });

  it('objects waiting to retry after failures: never logged as in sync, and the cycle waits only the interval', async () => {
    const h = harness([{ changes: 0, failures: 0, waiting: 2 }, { changes: 3, failures: 0, waiting: 1 }, { changes: 0, failures: 0 }], { stopAfter: 3 });
    await h.run();
    expect(h.logs).toEqual([
      'cycle 1: nothing to do now; 2 object(s) waiting to retry after failures',
      'cycle 2: 3 change(s) applied; 1 object(s) waiting to retry after failures',
      'cycle 3: in sync; quiet until something changes',
    ]);
    expect(h.sleeps).toEqual([1000, 1000, 1000]);
  });

  it('retryable errors back off exponentially with jitter, then recover', async () => {
    const flaky = opError('E_S3_FAILED', 'connection reset', { retryable: true });
    const h = harness([flaky, flaky, flaky, { changes: 1, failures: 0 }], { stopAfter: 4 });
    const summary = await h.run();
    expect(summary.failedCycles).toBe(3);
    expect(h.sleeps).toEqual([1500, 2500, 4500, 1000]);
  });

  it('a non-retryable error ends the loop and is returned', async () => {
    const denied = opError('E_S3_ACCESS', 'access denied', { retryable: false });
    const h = harness([denied]);
    const summary = await h.run();
    expect(summary.fatal).toBe(denied);
    expect(h.logs.join('\n')).toMatch(/not retryable/);
  });

  it('a user error (lock held) is not retried either', async () => {
    const locked = userError('E_LOCKED', 'locked');
    expect((await harness([locked]).run()).fatal).toBe(locked);
  });

  it('--once runs exactly one cycle', async () => {
    const h = harness([{ changes: 2, failures: 0 }]);
    expect((await h.run(true)).cycles).toBe(1);
    expect(h.sleeps).toEqual([]);
  });

  it('idle: says "in sync" once, stays quiet, and speaks again after a change', async () => {
    const idle = { changes: 0, failures: 0 };
    const busy = { changes: 60, failures: 0, summary: '20 downloaded (20 KiB), 20 delivered (20 KiB), 20 purged.' };
    let calls = 0;
    const results = [idle, idle, idle, busy, idle, idle, idle];
    const logs: string[] = [];
    const stop = new AbortController();
    await watchLoop({
      intervalMs: 1000,
      stop: stop.signal,
      random: () => 0.5,
      log: (line) => logs.push(line),
      sleep: async () => {
        if (calls >= results.length) stop.abort();
      },
      cycle: async () => results[calls++]!,
    });
    expect(logs).toEqual([
      'cycle 1: in sync; quiet until something changes',
      'cycle 4: 20 downloaded (20 KiB), 20 delivered (20 KiB), 20 purged.',
      'cycle 5: in sync; quiet until something changes',
    ]);
  });

  it('nothing changed but a listing was incomplete: never "in sync", the cycle says why', async () => {
    const h = harness([{ changes: 0, failures: 0, inSync: false, summary: 'no changes in what could be listed; a listing is incomplete (see the warnings)' }], { stopAfter: 2 });
    await h.run();
    expect(h.logs).toEqual([
      'cycle 1: no changes in what could be listed; a listing is incomplete (see the warnings)',
      'cycle 2: no changes in what could be listed; a listing is incomplete (see the warnings)',
    ]);
  });

  it('failed objects count as a failed cycle and back off', async () => {
    const h = harness([{ changes: 1, failures: 2 }, { changes: 0, failures: 0 }], { stopAfter: 2 });
    await h.run();
    expect(h.sleeps[0]).toBeGreaterThan(1000);
  });

  it('a hop down while the other moves data: the interval, not a backoff, and the operator is told', async () => {
    const down = [{ hop: 'destination' as const, cause: 'connect ECONNREFUSED 127.0.0.1:9001' }];
    const h = harness([{ changes: 5, failures: 0, hopsDown: down }, { changes: 3, failures: 0, hopsDown: down }, { changes: 4, failures: 0 }], { stopAfter: 3 });
    const summary = await h.run();
    expect(h.sleeps).toEqual([1000, 1000, 1000]);
    expect(summary.failedCycles).toBe(2);
    expect(h.logs).toContain('cycle 1: destination unreachable: uploads wait; the other hop keeps working (connect ECONNREFUSED 127.0.0.1:9001)');
    expect(h.logs).toContain('cycle 3: the destination is reachable again');
  });

  it('a hop down and nothing left for the other: backs off, and a cycle that moves data again resets it', async () => {
    const down = [{ hop: 'source' as const, cause: 'timeout' }];
    const h = harness([{ changes: 0, failures: 0, hopsDown: down }, { changes: 0, failures: 0, hopsDown: down }, { changes: 2, failures: 0, hopsDown: down }], { stopAfter: 3 });
    await h.run();
    expect(h.sleeps).toEqual([1500, 2500, 1000]);
    expect(h.logs).toContain('cycle 1: nothing to do until the source is back');
  });

  it('--once with a hop down is a failed cycle (exit 1 for cron), even when the other hop moved data', async () => {
    const h = harness([{ changes: 2, failures: 0, hopsDown: [{ hop: 'destination', cause: 'down' }] }]);
    expect((await h.run(true)).failedCycles).toBe(1);
  });
});

describe('backoff', () => {
  it.each([
    [0, 1000],
    [1, 1000 + 0.5 * 1000],
    [2, 1000 + 0.5 * 3000],
    [30, 1000 + 0.5 * (60_000 - 1000)],
  ])('after %i failures waits %i ms (random 0.5, cap 60 s)', (failures, expected) => {
    expect(backoffMs(1000, failures, 60_000, () => 0.5)).toBe(expected);
  });
});
