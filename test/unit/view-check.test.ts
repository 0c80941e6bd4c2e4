/** The words of `dualsync check`'s codes: the sentences operators read, one per why. */
import { describe, expect, it } from 'vitest';
import type { CheckSummary } from '../../src/model/check.ts';
import { CHECK_CODES } from '../../src/model/check.ts';
import { checkDetailText, checkWhyText, renderCheckSummary } from '../../src/view/check.ts';

describe('check: codes in words', () => {
  it('each why has its sentence', () => {
    expect(checkWhyText({ code: 'delivered-not-listed', deliveredAt: '2026-12-01T10:00:00.000Z' })).toBe('recorded as delivered at 2026-12-01T10:00:00.000Z, but the destination does not list it');
    expect(checkWhyText({ code: 'delivered-not-listed' })).toBe('recorded as delivered, but the destination does not list it');
    expect(checkWhyText({ code: 'size-differs', destinationSize: 10, sourceSize: 12 })).toBe('size 10 at the destination, 12 at the source');
    expect(checkWhyText({ code: 'recorded-etag-matches' })).toBe('size and the destination ETag recorded at delivery');
    expect(checkWhyText({ code: 'etag-rewritten', destinationEtag: 'bb', recordedEtag: 'aa' })).toBe('destination ETag bb, recorded at delivery aa: rewritten since');
    expect(checkWhyText({ code: 'etags-equal', recordedAsDelivered: true })).toBe('size and equal ETags');
    expect(checkWhyText({ code: 'etags-equal', recordedAsDelivered: false })).toBe('size and equal ETags (not recorded as delivered)');
    expect(checkWhyText({ code: 'etags-not-comparable', recordedAsDelivered: false })).toBe('same size, not recorded as delivered, and the ETags cannot be compared (run with --content)');
    expect(checkWhyText({ code: 'content-differs' })).toBe('content differs (MD5 of the bytes)');
    expect(checkWhyText({ code: 'content-same', listings: { code: 'etags-equal', recordedAsDelivered: true } })).toBe('size and equal ETags; same content (MD5 of the bytes)');
    expect(checkWhyText({ code: 'content-same', listings: { code: 'etag-rewritten', destinationEtag: 'bb', recordedEtag: 'aa' } })).toBe(
      'same content (MD5 of the bytes), though destination ETag bb, recorded at delivery aa: rewritten since',
    );
    expect(checkWhyText({ code: 'content-not-read', cause: 'connection reset' })).toBe('content not read: connection reset');
  });

  it('a failing entry is worded by its recorded failure, a skipped one by the planner\'s reason', () => {
    expect(checkDetailText({ lastFailure: { code: 's5cmd-error', cause: 'AccessDenied', hop: 'upload' } })).toBe('upload: AccessDenied');
    expect(checkDetailText({ skip: { code: 'key-control-character', unit: 'U+0007' } })).toMatch(/control character U\+0007/);
    expect(checkDetailText({})).toBeUndefined();
  });

  it('the summary names the first blocking key with why', () => {
    const groups = {} as CheckSummary['groups'];
    for (const code of CHECK_CODES) groups[code] = { count: 0, bytes: 0, examples: [] };
    groups.different = { count: 2, bytes: 20, examples: ['a', 'b'], first: { why: { code: 'size-differs', destinationSize: 9, sourceSize: 10 } } };
    const text = renderCheckSummary({ groups, safe: false, listingProblems: [], seconds: 1 });
    expect(text).toContain('2 different (at the destination, but different), first: "a" (size 9 at the destination, 10 at the source), "b"');
  });
});
