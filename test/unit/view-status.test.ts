import { describe, expect, it } from 'vitest';
import { withNextTries } from '../../src/plan/backoff.ts';
import type { FailingObject, StatusReport } from '../../src/model/status.ts';
import { renderStatus } from '../../src/view/status.ts';

const FAILED_AT = '2026-11-29T10:00:00.000Z';
const NOW = Date.parse(FAILED_AT) + 45_000;
const backoff = { baseMs: 30_000, maxMs: 6 * 3_600_000 };

/** A status report of an empty state directory at serial 9; each test sets what it is about. */
function statusReport(changes: Partial<StatusReport>): StatusReport {
  return {
    stateDir: '/state',
    ledgerSerial: 9,
    stages: { staged: { objects: 0, bytes: 0 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 0, bytes: 0 } },
    failing: [],
    failingCount: 0,
    stopped: [],
    stoppedCount: 0,
    skipped: [],
    skippedCount: 0,
    verifiedBy: {},
    etagNotComparable: 0,
    volumes: [],
    ...changes,
  };
}

const failingObjects: FailingObject[] = [
  { key: 'once', attempts: 1, lastFailure: { code: 's5cmd-error', hop: 'download', cause: 'timeout' }, lastFailedAt: FAILED_AT },
  { key: 'refused', attempts: 4, lastFailure: { code: 's5cmd-error', hop: 'upload', cause: 'KeyTooLongError' }, lastFailedAt: FAILED_AT },
  { key: 'old-journal', attempts: 2, lastFailure: { code: 'legacy', hop: 'download', cause: 'reset' } },
];

describe('status: the next try of each failing object', () => {
  it('is the time its backoff ends, or absent when the next run tries it', () => {
    const failing = withNextTries(failingObjects, NOW, backoff);
    expect(failing).toEqual([
      failingObjects[0],
      { ...failingObjects[1], nextTryAt: '2026-11-29T10:02:00.000Z' },
      failingObjects[2],
    ]);
  });

  it('the table shows it', () => {
    const report = statusReport({
      stages: { staged: { objects: 1, bytes: 1 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 1, bytes: 1 } },
      failing: withNextTries(failingObjects, NOW, backoff),
      failingCount: 3,
    });
    const text = renderStatus(report);
    expect(text).toMatch(/next try/);
    expect(text).toMatch(/refused\s+│?\s*4\s+│?\s*2026-11-29 10:02:00\s/);
    expect(text).toMatch(/once\s+│?\s*1\s+│?\s*next run/);
  });
});

describe('status: the last run', () => {
  const base = statusReport({
    stages: { staged: { objects: 0, bytes: 0 }, delivered: { objects: 5, bytes: 5 }, purged: { objects: 0, bytes: 0 } },
  });
  const finished = { finishedAt: '2026-11-29T10:00:00.000Z', downloaded: { count: 2 }, uploaded: { count: 2 }, adopted: 0, failures: 0 };
  const lastLine = (report: StatusReport) => renderStatus(report).split('\n').find((line) => line.startsWith('Last run:'));

  it('after a reset, a run that only adopted says so', () => {
    expect(lastLine({ ...base, lastRun: { ...finished, downloaded: { count: 0 }, uploaded: { count: 0 }, adopted: 5 } })).toBe('Last run: finished 2026-11-29T10:00:00.000Z, 0 downloaded, 0 delivered, 5 adopted, 0 failed.');
    expect(lastLine({ ...base, lastRun: finished })).toBe('Last run: finished 2026-11-29T10:00:00.000Z, 2 downloaded, 2 delivered, 0 failed.');
  });

  it('a run in progress, one cut short and one that failed are told apart from the run before them', () => {
    const run = { pid: 4242, host: 'edge', command: 'dualsync apply', startedAt: '2026-11-29T11:00:00.000Z' };
    expect(lastLine({ ...base, lastRun: finished, run: { state: 'running', ...run } })).toBe(
      'Last run: in progress (pid 4242, started 2026-11-29T11:00:00.000Z); the run before it finished 2026-11-29T10:00:00.000Z, 2 downloaded, 2 delivered, 0 failed.',
    );
    expect(lastLine({ ...base, run: { state: 'cut-short', ...run } })).toBe(
      'Last run: cut short (killed or power cut): dualsync apply, pid 4242, started 2026-11-29T11:00:00.000Z; no run finished before it. What it had in flight is done again by the next run.',
    );
    expect(lastLine({ ...base, lastRun: finished, run: { state: 'failed', ...run, endedAt: '2026-11-29T11:00:05.000Z', error: 'E_S3_AUTH: access denied' } })).toBe(
      'Last run: failed 2026-11-29T11:00:05.000Z: E_S3_AUTH: access denied (dualsync apply, pid 4242, started 2026-11-29T11:00:00.000Z); the run before it finished 2026-11-29T10:00:00.000Z, 2 downloaded, 2 delivered, 0 failed.',
    );
  });
});

describe("status: objects the operator's stop cut short", () => {
  it('are listed apart from the failing ones, as stopped by the operator', () => {
    const report = statusReport({
      stages: { staged: { objects: 1, bytes: 1 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 0, bytes: 0 } },
      stopped: [{ key: 'z.bin', lastFailure: { code: 'stopped', hop: 'upload' } }],
      stoppedCount: 1,
    });
    const text = renderStatus(report);
    expect(text).toContain('stopped: "z.bin": upload: stopped by the operator; the next run tries it at once');
    expect(text).not.toMatch(/failing object/);
  });
});
