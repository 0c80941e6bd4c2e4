import { describe, expect, it } from 'vitest';
import type { Action, Plan as AnyPlan } from '../../src/model/plan.ts';
import { warningLines } from '../../src/view/plan.ts';
import { compareKeys } from '../../src/plan/keys.ts';
import { inventory, testConfig, planOf } from '../builders.ts';

/** The pure planner's plan: its actions in an array. */
type Plan = AnyPlan<Action[]>;

/** One readable line per action: `kind key [volume] [after download]`. */
function lines(plan: Plan): string[] {
  return plan.actions.map((a) => [a.kind, a.key, a.volume, a.afterDownload === true ? 'after download' : undefined].filter((part) => part !== undefined).join(' '));
}

/**
 * U+E000-U+FFFF sort before astral characters in UTF-8 (EE/EF against F0), after them in UTF-16
 * (their surrogate D83D is lower). Listed here in S3's order, as ListObjectsV2 and the ledger's
 * `ORDER BY key` hand them out.
 */
const PRIVATE = 'p/\uE000';
const REPLACEMENT = 'p/\uFFFD';
const EMOJI = 'p/😀';
const BELOW_EMOJI = 'p/😀/x';
const LAST = 'p/\u{10FFFF}';

describe('the planner over keys whose UTF-16 and UTF-8 orders differ', () => {
  const builder = () =>
    inventory()
      .volume('/v1', { free: 1_000_000 })
      .source('p/a', 1)
      .source(PRIVATE, 2)
      .source(REPLACEMENT, 3)
      .source(EMOJI, 4)
      .source(BELOW_EMOJI, 5)
      .source(LAST, 6)
      .dest(PRIVATE, 2)
      .dest(EMOJI, 4)
      .staged('/v1', PRIVATE, 2)
      .staged('/v1', REPLACEMENT, 3)
      .staged('/v1', EMOJI, 4)
      .ledger({ key: LAST, size: 6, stage: 'purged' });

  it('adopts each key the destination holds once, and lists every action in S3 order', async () => {
    const plan = await planOf(testConfig(), builder().build());
    expect(lines(plan)).toEqual([
      'download p/a /v1',
      `download ${LAST} /v1`,
      `adopt ${PRIVATE}`,
      `adopt ${EMOJI}`,
      'upload p/a /v1 after download',
      `upload ${REPLACEMENT} /v1`,
      `upload ${LAST} /v1 after download`,
      'purge p/a /v1 after download',
      `purge ${PRIVATE} /v1`,
      `purge ${REPLACEMENT} /v1`,
      `purge ${EMOJI} /v1`,
      `purge ${LAST} /v1 after download`,
    ]);
    // The staged file at 'p/😀' stands where 'p/😀/x' needs a folder (found by a binary search
    // over the volume's keys, which must use the same order as the merge that filled them).
    expect(warningLines(plan).join('\n')).toContain('a file/prefix collision (e.g. with "p/😀")');
    for (const kind of ['download', 'adopt', 'upload', 'purge'] as const) {
      const keys = plan.actions.filter((a) => a.kind === kind).map((a) => a.key);
      expect([...keys].sort(compareKeys)).toEqual(keys);
    }
  });

  it('plans the same whatever order the listings arrive in', async () => {
    const inOrder = builder().build();
    const reversed = builder().build();
    reversed.source.entries.reverse();
    reversed.destination.entries.reverse();
    reversed.ledger.records.reverse();
    expect(await planOf(testConfig(), reversed)).toEqual(await planOf(testConfig(), inOrder));
  });
});
