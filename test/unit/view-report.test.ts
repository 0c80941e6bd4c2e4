// The chain of custody keeps a failure as its code and facts; only the CSV words it, for people.
import { describe, expect, it } from 'vitest';
import type { LedgerRecord } from '../../src/model/objects.ts';
import { custodyRow } from '../../src/ops/report.ts';
import { csvHeader, csvRow, jsonlRow } from '../../src/view/report.ts';

const failing: LedgerRecord = {
  key: 'coll/a/b',
  size: 12,
  etag: 'e'.repeat(32),
  attempts: 2,
  lastFailure: { code: 'not-listed-after-put', hop: 'upload', cause: 'the destination hides it: coll/a is an object' },
  failedAt: '2026-11-29T10:00:00.000Z',
};

describe('report rows', () => {
  it('a failing version: JSON Lines carry the failure as code and facts, no sentence', () => {
    const row = JSON.parse(jsonlRow(custodyRow(failing))) as Record<string, unknown>;
    expect(row).toMatchObject({ key: 'coll/a/b', stage: 'failing', attempts: 2, lastFailure: { code: 'not-listed-after-put', hop: 'upload' } });
    expect(row).not.toHaveProperty('lastError');
  });

  it('a failing version: the CSV keeps its lastError column, worded from the failure', () => {
    expect(csvHeader()).toBe('key,size,sourceEtag,localMd5,destinationEtag,stage,verifiedBy,adoptedBy,volume,stagedAt,deliveredAt,purgedAt,attempts,lastError,skipReason\n');
    expect(csvRow(custodyRow(failing))).toBe(`coll/a/b,12,${'e'.repeat(32)},,,failing,,,,,,,2,upload: the destination hides it: coll/a is an object,\n`);
  });

  it('a version that never failed: an empty lastError column', () => {
    const { lastFailure: _none, ...delivered } = { ...failing, stage: 'delivered' as const, attempts: 0, deliveredAt: '2026-11-29T11:00:00.000Z' };
    expect(csvRow(custodyRow(delivered))).toBe(`coll/a/b,12,${'e'.repeat(32)},,,delivered,,,,,2026-11-29T11:00:00.000Z,,0,,\n`);
  });
});
