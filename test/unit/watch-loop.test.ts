import { describe, expect, it } from 'vitest';
import { backoffMs, watchLoop, type CycleResult } from '../../src/watch/loop.ts';
import type { WatchEvent } from '../../src/watch/events.ts';
import { watchLine } from '../../src/view/watch.ts';
import { DualsyncError, opError, userError } from '../../src/errors.ts';

/** Collects the lines a person reads, as the command prints them. */
function linesInto(logs: string[]): (event: WatchEvent) => void {
  return (event) => {
    const line = watchLine(event);
    if (line !== undefined) logs.push(line);
  };
}

/** A loop whose cycles return or throw `results` in turn (the last one repeats); a string is thrown as is. */
function harness(results: (CycleResult | Error | string)[], options: { stopAfter?: number } = {}) {
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
        emit: linesInto(logs),
        sleep: async (ms) => {
          sleeps.push(ms);
          if (options.stopAfter !== undefined && sleeps.length >= options.stopAfter) stop.abort('SIGTERM');
        },
        cycle: async () => {
          const next = results[Math.min(calls++, results.length - 1)]!;
          if (next instanceof Error || typeof next === 'string') throw next;
          return next;
        },
      }),
  };
}

describe('watch loop', () => {
  it('in sync: waits the interval between cycles until stopped', async () => {
    const h = harness([{ changes: 0, failures: 0 }], { stopAfter: 3 });
    const summary = await h.run();
    expect(summary).toEqual({ cycles: 3, failedCycles: 0, stoppedBy: { by: 'signal', signal: 'SIGTERM' } });
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

  it('an internal error (a plain Error: a bug) ends the loop at once, says so, and is returned, not retried', async () => {
    const bug = new Error('spool line 7 out of order');
    const h = harness([bug, { changes: 1, failures: 0 }], { stopAfter: 3 });
    const summary = await h.run();
    expect(summary).toEqual({ cycles: 1, failedCycles: 1, stoppedBy: { by: 'internal-error' }, fatal: bug });
    expect(h.sleeps).toEqual([]);
    expect(h.logs).toEqual(['cycle 1: internal error: spool line 7 out of order; stopping (this is a bug in dualsync; please report it)']);
  });

  it('an internal DualsyncError (a failed assertion) ends the loop even when marked retryable', async () => {
    const broken = new DualsyncError('internal', 'E_ASSERT', 'assertion failed: ranks in order', { retryable: true });
    const h = harness([broken, { changes: 1, failures: 0 }], { stopAfter: 3 });
    expect((await h.run()).fatal).toBe(broken);
    expect(h.sleeps).toEqual([]);
  });

  it('a thrown value that is not an Error is internal too', async () => {
    const h = harness(['a string', { changes: 1, failures: 0 }], { stopAfter: 3 });
    expect(await h.run()).toEqual({ cycles: 1, failedCycles: 1, stoppedBy: { by: 'internal-error' }, fatal: 'a string' });
    expect(h.logs).toEqual(['cycle 1: internal error: a string; stopping (this is a bug in dualsync; please report it)']);
  });

  it('a retryable DualsyncError is retried, and the loop goes on after it', async () => {
    const flaky = opError('E_HOP_UNREACHABLE', 'did not answer within 10 s', { retryable: true });
    const h = harness([flaky, { changes: 1, failures: 0 }], { stopAfter: 2 });
    const summary = await h.run();
    expect(summary).toEqual({ cycles: 2, failedCycles: 1, stoppedBy: { by: 'signal', signal: 'SIGTERM' } });
    expect(h.logs).toEqual(['cycle 1: did not answer within 10 s', 'retrying in 2s', 'cycle 2: 1 change(s) applied']);
  });

  it('a user error (lock held) is not retried either', async () => {
    const locked = userError('E_LOCKED', 'locked');
    const summary = await harness([locked]).run();
    expect(summary.fatal).toBe(locked);
    expect(summary.stoppedBy).toEqual({ by: 'not-retryable', code: 'E_LOCKED' });
  });

  it('--once runs exactly one cycle', async () => {
    const h = harness([{ changes: 2, failures: 0 }]);
    expect(await h.run(true)).toEqual({ cycles: 1, failedCycles: 0, stoppedBy: { by: 'once' } });
    expect(h.sleeps).toEqual([]);
  });

  it('idle: says "in sync" once, stays quiet, and speaks again after a change', async () => {
    const idle = { changes: 0, failures: 0 };
    const twenty = { count: 20, bytes: 20 * 1024 };
    const busy = { changes: 60, failures: 0, outcome: { downloaded: twenty, uploaded: twenty, purged: twenty, adopted: 0, failures: [], verifiedBy: {} } };
    let calls = 0;
    const results = [idle, idle, idle, busy, idle, idle, idle];
    const logs: string[] = [];
    const stop = new AbortController();
    await watchLoop({
      intervalMs: 1000,
      stop: stop.signal,
      random: () => 0.5,
      emit: linesInto(logs),
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
    const h = harness([{ changes: 0, failures: 0, inSync: false }], { stopAfter: 2 });
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
