import { describe, expect, it } from 'vitest';
import { applyCountsText, applySummaryLine } from '../../src/view/apply.ts';
import type { ApplyOutcome } from '../../src/model/apply.ts';

const outcome = (overrides: Partial<ApplyOutcome> = {}): ApplyOutcome => ({
  downloaded: { count: 20, bytes: 20 * 1024 },
  uploaded: { count: 20, bytes: 20 * 1024 },
  purged: { count: 20, bytes: 20 * 1024 },
  adopted: 0,
  failures: [],
  verifiedBy: {},
  ...overrides,
});

describe('the apply summary', () => {
  it('counts per hop, as watch logs a cycle: no head to strip', () => {
    expect(applyCountsText(outcome())).toBe('20 downloaded (20 KiB), 20 delivered (20 KiB), 20 purged.');
    expect(applyCountsText(outcome({ adopted: 3, replaced: { count: 1, bytes: 5 } }))).toBe('20 downloaded (20 KiB), 20 delivered (20 KiB), 20 purged, 3 adopted, 1 replaced copy removed.');
  });

  it('apply says the same counts after its head', () => {
    expect(applySummaryLine(outcome())).toBe('Apply complete! 20 downloaded (20 KiB), 20 delivered (20 KiB), 20 purged.');
    const failed = outcome({ failures: [{ key: 'a', hop: 'download', code: 's5cmd-error', cause: 'x' }] as ApplyOutcome['failures'] });
    expect(applySummaryLine(failed)).toBe(`Apply finished with 1 failure(s): ${applyCountsText(failed)}`);
  });
});
