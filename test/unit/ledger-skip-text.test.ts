/**
 * Schema step 5 reads skip reasons stored as sentences back into codes, by sentences frozen as
 * they were when it shipped (ledger/skip-text.ts). While view/reasons.ts still words them the
 * same, each sentence must come back as the reason it was worded from; a text that only looks
 * like one stays whole as `legacy`.
 */
import { describe, expect, it } from 'vitest';
import { skipReasonFromText } from '../../src/ledger/skip-text.ts';
import { sameSkipReason } from '../../src/ledger/merge.ts';
import type { SkipReason } from '../../src/model/objects.ts';
import type { ActionReason } from '../../src/model/plan.ts';
import { reasonText, skipReasonText } from '../../src/view/reasons.ts';

const SKIPS: ActionReason[] = [
  { code: 'key-empty' },
  { code: 'key-directory-marker' },
  { code: 'key-empty-segment' },
  { code: 'key-dot-segment', segment: '..' },
  { code: 'key-dot-segment', segment: '.' },
  { code: 'key-segment-too-long', bytes: 300, maxBytes: 255 },
  { code: 'key-file-name-too-long', bytes: 250, maxBytes: 245 },
  { code: 'key-reserved-temp', segment: '.dualsync-tmp' },
  { code: 'key-reserved-claim', segment: '.dualsync-volume.json' },
  { code: 'key-control-character', unit: 'U+000A' },
  { code: 'key-lone-surrogate', unit: 'U+D800' },
  { code: 'own-output', prefix: 'out/', bucket: 'b' },
  { code: 'destination-key-too-long', bytes: 1100, prefix: 'a "quoted" prefix/', maxBytes: 1024 },
  { code: 'path-through-link', link: '/mnt/s-0/cam' },
];

describe('skip reasons stored as text (before schema step 5)', () => {
  it.each(SKIPS.map((reason) => [reason.code, reason] as const))('%s: its sentence reads back as its code and facts', (_code, reason) => {
    expect(skipReasonFromText(reasonText(reason))).toEqual(reason);
    expect(skipReasonText(reason)).toBe(reasonText(reason));
  });

  it.each([
    ['an unknown text', 'collision'],
    ['a number with a leading zero, which no sentence wrote', 'path segment of 0300 bytes (a file or folder name holds at most 255)'],
    ['a prefix that is no JSON string', 'destination key of 5 bytes under the destination prefix "a\\q" (an S3 key holds at most 9)'],
    ['a known sentence with more around it', 'empty key!'],
  ])('%s stays whole as legacy', (_name, text) => {
    expect(skipReasonFromText(text)).toEqual({ code: 'legacy', text });
    expect(skipReasonText(skipReasonFromText(text))).toBe(text);
  });

  it("'unsafe key' (a skip the plan gave no reason) reads as unsafe-key, worded as before", () => {
    expect(skipReasonFromText('unsafe key')).toEqual({ code: 'unsafe-key' });
    expect(skipReasonText({ code: 'unsafe-key' })).toBe('unsafe key');
  });
});

describe('the same skip reason, whatever the order of its facts', () => {
  it.each<[string, SkipReason, SkipReason, boolean]>([
    ['facts in another order', { code: 'own-output', prefix: 'p/', bucket: 'b' }, JSON.parse('{"bucket":"b","code":"own-output","prefix":"p/"}') as SkipReason, true],
    ['an undefined fact is an absent one', { code: 'key-empty', segment: undefined }, { code: 'key-empty' }, true],
    ['another fact', { code: 'key-dot-segment', segment: '.' }, { code: 'key-dot-segment', segment: '..' }, false],
    ['another code', { code: 'key-empty' }, { code: 'key-directory-marker' }, false],
    ['a fact more', { code: 'key-empty' }, { code: 'key-empty', bytes: 1 }, false],
  ])('%s', (_name, a, b, same) => {
    expect(sameSkipReason(a, b)).toBe(same);
    expect(sameSkipReason(b, a)).toBe(same);
  });
});
