import { describe, expect, it } from 'vitest';
import { withNextTries } from '../../src/plan/backoff.ts';
import { renderStatus, type FailingObject, type StatusReport } from '../../src/view/status.ts';

const FAILED_AT = '2026-11-29T10:00:00.000Z';
const NOW = Date.parse(FAILED_AT) + 45_000;
const backoff = { baseMs: 30_000, maxMs: 6 * 3_600_000 };

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
    const report: StatusReport = {
      stateDir: '/state',
      ledgerSerial: 9,
      stages: { staged: { objects: 1, bytes: 1 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 1, bytes: 1 } },
      failing: withNextTries(failingObjects, NOW, backoff),
      failingCount: 3,
      stopped: [],
      stoppedCount: 0,
      skipped: [],
      skippedCount: 0,
      verifiedBy: {},
      etagNotComparable: 0,
      volumes: [],
    };
    const text = renderStatus(report);
    expect(text).toMatch(/next try/);
    expect(text).toMatch(/refused\s+│?\s*4\s+│?\s*2026-11-29 10:02:00\s/);
    expect(text).toMatch(/once\s+│?\s*1\s+│?\s*next run/);
  });
});

describe("status: objects the operator's stop cut short", () => {
  it('are listed apart from the failing ones, as stopped by the operator', () => {
    const report: StatusReport = {
      stateDir: '/state',
      ledgerSerial: 9,
      stages: { staged: { objects: 1, bytes: 1 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 0, bytes: 0 } },
      failing: [],
      failingCount: 0,
      stopped: [{ key: 'z.bin', lastFailure: { code: 'stopped', hop: 'upload' } }],
      stoppedCount: 1,
      skipped: [],
      skippedCount: 0,
      verifiedBy: {},
      etagNotComparable: 0,
      volumes: [],
    };
    const text = renderStatus(report);
    expect(text).toContain('stopped: "z.bin": upload: stopped by the operator; the next run tries it at once');
    expect(text).not.toMatch(/failing object/);
  });
});
