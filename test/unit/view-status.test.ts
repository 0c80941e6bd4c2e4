import { describe, expect, it } from 'vitest';
import type { LedgerRecord } from '../../src/model/objects.ts';
import { renderStatus, summariseLedger, type StatusReport } from '../../src/view/status.ts';

const FAILED_AT = '2026-11-29T10:00:00.000Z';
const NOW = Date.parse(FAILED_AT) + 45_000;
const backoff = { baseMs: 30_000, maxMs: 6 * 3_600_000 };

const records: LedgerRecord[] = [
  { key: 'once', size: 1, etag: 'e', attempts: 1, lastError: 'download: timeout', lastFailedAt: FAILED_AT },
  { key: 'refused', size: 1, etag: 'e', stage: 'staged', volume: '/v1', attempts: 4, lastError: 'upload: KeyTooLongError', lastFailedAt: FAILED_AT },
  { key: 'old-journal', size: 1, etag: 'e', attempts: 2, lastError: 'download: reset' },
  { key: 'done', size: 1, etag: 'e', stage: 'purged', attempts: 0 },
];

describe('status: the next try of each failing object', () => {
  it('is the time its backoff ends, or absent when the next run tries it', () => {
    const { failing } = summariseLedger(records, { now: NOW, backoff });
    expect(failing).toEqual([
      { key: 'once', attempts: 1, lastError: 'download: timeout', lastFailedAt: FAILED_AT },
      { key: 'refused', attempts: 4, lastError: 'upload: KeyTooLongError', lastFailedAt: FAILED_AT, nextTryAt: '2026-11-29T10:02:00.000Z' },
      { key: 'old-journal', attempts: 2, lastError: 'download: reset' },
    ]);
  });

  it('the table shows it', () => {
    const report: StatusReport = {
      stateDir: '/state',
      ledgerSerial: 9,
      ...summariseLedger(records, { now: NOW, backoff }),
      volumes: [],
    };
    const text = renderStatus(report);
    expect(text).toMatch(/next try/);
    expect(text).toMatch(/refused\s+│?\s*4\s+│?\s*2026-11-29 10:02:00\s/);
    expect(text).toMatch(/once\s+│?\s*1\s+│?\s*next run/);
  });
});
