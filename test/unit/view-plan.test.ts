import { ACTION_REASON_CODES, PLAN_WARNING_CODES, type ActionReason, type PlanWarning } from '../../src/model/plan.ts';
import { reasonText, warningText } from '../../src/view/reasons.ts';
import { describe, expect, it } from 'vitest';
import type { Plan, PlanSummary } from '../../src/model/plan.ts';
import { displayKey, planToJson, renderPlan, summaryLine, warningLines } from '../../src/view/plan.ts';
import { inventory, testConfig, planOf, planSummary } from '../builders.ts';

const GiB = 1024 ** 3;

const summary = planSummary;

function planWith(parts: Partial<PlanSummary>, actions: Plan['actions'] = [{ kind: 'download', key: 'k', size: 1, etag: 'e', volume: '/v1' }]): Plan {
  return { formatVersion: 1, actions, summary: summary(parts), volumes: [], hops: { download: { workers: 1, concurrency: 1 }, upload: { workers: 1, concurrency: 1 } }, warnings: [] };
}

describe('summaryLine', () => {
  it.each<[string, Plan, string]>([
    [
      'every part',
      planWith({
        download: { count: 120, bytes: 3.2 * GiB },
        upload: { count: 80, bytes: 2.1 * GiB },
        purge: { count: 80, bytes: 2.1 * GiB },
        adopt: { count: 2, bytes: 5 },
        skip: { count: 2 },
        deferred: { count: 5, bytes: 9 },
      }),
      'Plan: 120 to download (3.2 GiB), 80 to upload (2.1 GiB), 80 to purge, 2 adopted, 2 skipped, 5 deferred to a later plan (see the warnings).',
    ],
    [
      'adopts that apply must prove by content are counted apart',
      planWith({ adopt: { count: 2, bytes: 2, byContent: 1 } }, [
        { kind: 'adopt', key: 'a', size: 1, etag: 'e', adoptBy: 'md5', destinationEtag: 'e' },
        { kind: 'adopt', key: 'b', size: 1, etag: 'e-2', adoptBy: 'content', destinationEtag: 'f' },
      ]),
      'Plan: 0 to download, 0 to upload, 0 to purge, 2 adopted (1 once apply finds equal content).',
    ],
    ['zero parts left out, except the three hops', planWith({ upload: { count: 1, bytes: 1024 } }), 'Plan: 0 to download, 1 to upload (1 KiB), 0 to purge.'],
    ['only deferred work is still work', planWith({ deferred: { count: 5, bytes: 1 } }, []), 'Plan: 0 to download, 0 to upload, 0 to purge, 5 deferred to a later plan (see the warnings).'],
    ['in sync', planWith({ noChanges: true }, []), 'No changes. Source, staging and destination are in sync.'],
    ['in sync apart from skips', planWith({ noChanges: true, skip: { count: 1 } }, [{ kind: 'skip', key: 'a//b', size: 1, etag: 'e', reason: { code: 'key-empty-segment' } }]), 'No changes. Source, staging and destination are in sync.'],
    ['nothing to do but a listing was incomplete', planWith({}, []), 'No changes in what could be listed; the listing is incomplete (see warnings).'],
  ])('%s', async (_name, plan, line) => {
    expect(summaryLine(plan)).toBe(line);
  });

  it('an incomplete listing never reads "No changes." from the planner', async () => {
    const plan = await planOf(testConfig(), inventory().destIncomplete('cut at 1000 keys').build());
    expect(summaryLine(plan)).toBe('No changes in what could be listed; the listing is incomplete (see warnings).');
  });
});

describe('renderPlan', async () => {
  const plan = await planOf(
    testConfig({ source: { maxConnections: 500 } }),
    inventory()
      .volume('/vol1', { free: 10 * GiB, reserve: GiB })
      .source('photos/a.jpg', 1.2 * 1024 * 1024)
      .source('photos/b.jpg', 2048)
      .source('photos/c.jpg', 10)
      .staged('/vol1', 'staged.bin', 100)
      .source('adopted', 7)
      .dest('adopted', 7)
      .source('bad\nkey', 1)
      .sourceIncomplete('listed with ListObjects v1; the device may hold more')
      .build(),
  );

  it('shows warnings first, then object lines per kind, the tables, and the summary last', async () => {
    const text = renderPlan(plan);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Warnings:');
    expect(text).toContain('  ! workers 256 capped to 100 by source.maxConnections 500 with concurrency 5');
    expect(text).toContain('  + download    photos/a.jpg  (1.2 MiB -> /vol1)');
    expect(text).toContain('  + upload      photos/a.jpg  (1.2 MiB from /vol1, after its download)');
    expect(text).toContain('  + upload      staged.bin  (100 B from /vol1)');
    expect(text).toContain('  - purge       staged.bin  (100 B on /vol1)');
    expect(text).toContain('  = adopt       adopted  (7 B; equal MD5 ETags)');
    expect(text).toContain('  ! skip        "bad\\nkey"  (control character U+000A (a run file line cannot carry it))');
    expect(text.indexOf('Download (')).toBeLessThan(text.indexOf('Adopt ('));
    expect(text.indexOf('Adopt (')).toBeLessThan(text.indexOf('Upload ('));
    expect(text).toMatch(/workers.*concurrency.*objects.*bytes/);
    expect(text).toMatch(/download \(source -> staging\)\s*│\s*100\s*│\s*5\s*│\s*3/);
    expect(text).toMatch(/\/vol1\s*│\s*10 GiB\s*│\s*1 GiB/);
    expect(lines.at(-2)).toBe('Plan: 3 to download (1.2 MiB), 4 to upload (1.2 MiB), 4 to purge, 1 adopted, 1 skipped.');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('volumes on one filesystem show the room they share, once, and which they are', async () => {
    const shared = await planOf(
      testConfig({ transfer: { purgeAfterUpload: false } }),
      inventory()
        .volume('/d1/a', { free: 10 * GiB, reserve: GiB, device: '42' })
        .volume('/d1/b', { free: 10 * GiB, reserve: 2 * GiB, device: '42' })
        .volume('/d2', { free: 5 * GiB, device: '7' })
        .source('x', GiB)
        .source('y', GiB)
        .build(),
    );
    const text = renderPlan(shared);
    expect(text).toMatch(/\/d1\/a\s*│\s*10 GiB\s*│\s*1 GiB\s*│\s*1 GiB \(1\)\s*│\s*7 GiB, shared \(filesystem 1\)/);
    expect(text).toMatch(/\/d1\/b\s*│\s*10 GiB\s*│\s*2 GiB\s*│\s*0 B \(0\)\s*│\s*7 GiB, shared \(filesystem 1\)/);
    expect(text).toMatch(/\/d2\s*│\s*5 GiB\s*│\s*0 B\s*│\s*1 GiB \(1\)\s*│\s*4 GiB\s*│/);
    expect(text).toContain('filesystem 1: /d1/a, /d1/b are on one filesystem and share its 10 GiB free, less the largest reserve (2 GiB), booked once.');
  });

  it('shows at most `limit` lines per kind, then counts the rest', async () => {
    const text = renderPlan(plan, { limit: 1 });
    expect(text).toContain('  + download    photos/a.jpg');
    expect(text).not.toContain('  + download    photos/b.jpg');
    expect(text).toContain('  ... and 2 more');
    expect(text).toContain('  ... and 3 more');
    expect(renderPlan(plan, { limit: 0 })).not.toContain('photos/a.jpg  (');
  });

  it('writes no colour codes unless asked', async () => {
    expect(renderPlan(plan)).not.toContain('\u001b[');
    expect(renderPlan(plan, { color: true })).toContain('\u001b[32m+ download  \u001b[0m');
  });

  it('an in-sync plan says so in its last line', async () => {
    const synced = await planOf(testConfig(), inventory().volume('/v1', { free: 1 }).source('a', 1).dest('a', 1).ledger({ key: 'a', size: 1, stage: 'purged' }).build());
    expect(renderPlan(synced).trimEnd().split('\n').at(-1)).toBe('No changes. Source, staging and destination are in sync.');
  });
});

describe('displayKey', () => {
  it.each([
    ['plain', 'a/b.txt', 'a/b.txt'],
    ['inner spaces and quotes stay', `it's a "key"`, `it's a "key"`],
    ['a newline is escaped', 'a\nb', '"a\\nb"'],
    ['an escape sequence is escaped', 'a\u001b[2Jb', '"a\\u001b[2Jb"'],
    ['a trailing space is made visible', 'a ', '"a "'],
    ['a line separator is escaped', 'a\u2028b', '"a\u2028b"'],
  ])('%s', async (_name, key, shown) => {
    expect(displayKey(key)).toBe(shown);
  });
});

describe('planToJson', () => {
  it('carries the same facts as the human view', async () => {
    const plan = await planOf(testConfig(), inventory().volume('/v1', { free: 100 }).source('a', 1).build());
    const json = planToJson(plan) as Record<string, unknown>;
    expect(json).toEqual({
      formatVersion: 1,
      summaryLine: summaryLine(plan),
      summary: plan.summary,
      warnings: plan.warnings,
      notes: plan.notes,
      messages: warningLines(plan),
      hops: plan.hops,
      volumes: plan.volumes,
      actions: plan.actions,
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});

describe('objects waiting to retry', () => {
  const FAILED_AT = '2026-11-29T10:00:00.000Z';
  const failing = (builder: ReturnType<typeof inventory>, key: string, attempts: number) =>
    builder.source(key, 7).ledger({ key, size: 7, attempts, lastError: 'upload: KeyTooLongError', lastFailedAt: FAILED_AT });
  const now = Date.parse(FAILED_AT) + 1000;

  it('with nothing else to do: no changes now, but never "in sync"; the view lists them with their next try', async () => {
    let builder = inventory().volume('/v1', { free: 100 });
    for (const [key, attempts] of [['k1', 2], ['k2', 4], ['k3', 3], ['k4', 2]] as const) builder = failing(builder, key, attempts);
    const plan = await planOf(testConfig(), builder.build(), { now });
    expect(plan.summary.noChanges).toBe(true);
    expect(summaryLine(plan)).toBe('No changes now, but not in sync: 4 waiting to retry (next try 2026-11-29 10:00:30 UTC); `--retry-failed` tries them now.');
    const text = renderPlan(plan);
    expect(text).toContain('Waiting to retry (failed before; backing off, see transfer.retryBackoff): 4, 28 B, next try 2026-11-29 10:00:30 UTC');
    expect(text).toContain('k2  (4 failed attempts, next try 2026-11-29 10:02:00 UTC; last error: upload: KeyTooLongError)');
    expect(text).toContain('... and 1 more');
    expect(text).not.toContain('in sync.');
    expect((planToJson(plan) as { summary: { waiting: { count: number; nextTryAt: string } } }).summary.waiting).toMatchObject({ count: 4, nextTryAt: '2026-11-29T10:00:30.000Z' });
  });

  it('beside changes: counted in the summary line', async () => {
    const builder = failing(inventory().volume('/v1', { free: 100 }).source('new', 1), 'old', 2);
    const plan = await planOf(testConfig(), builder.build(), { now });
    expect(summaryLine(plan)).toBe('Plan: 1 to download (1 B), 1 to upload (1 B), 1 to purge, 1 waiting to retry (next try 2026-11-29 10:00:30 UTC).');
  });
});

/** The sentences of every reason and warning code: the plan's wording before they became data, word for word. */
describe('the words of reasons and warnings (view/reasons.ts)', () => {
  it.each<[ActionReason, string]>([
    [{ code: 'destination-lost' }, 'destination lost it'],
    [{ code: 'destination-lost', localCopy: 'not-current' }, "destination lost it; the local copy is not the source's current version (compared)"],
    [{ code: 'destination-changed', listedEtag: 'b', deliveredEtag: 'a', localCopy: 'unprovable' }, 'destination changed since delivery (lists ETag "b", delivered "a"); the local copy is not in the ledger, and the source ETag cannot prove it'],
    [{ code: 'destination-changed', listedSize: 11, deliveredSize: 10 }, 'destination changed since delivery (lists 11 bytes, delivered 10)'],
    [{ code: 'new-version-at-destination' }, 'new version: the destination holds the one delivered earlier'],
    [{ code: 'destination-content-differs' }, 'content compared earlier: the destination holds other bytes of the same size'],
    [{ code: 'destination-unproven' }, 'same size at the destination, but the ETags cannot prove it is this version (transfer.adopt: transfer)'],
    [{ code: 'destination-differs' }, 'destination differs'],
    [{ code: 'local-copy-not-current' }, "local copy not in the ledger is not the source's current version (compared)"],
    [{ code: 'local-copy-checked', proof: 'md5', stagedOn: '/v1' }, 'staged copy found on /v1; MD5 checked against the source before the upload'],
    [{ code: 'local-copy-checked', proof: 'multipart-etag' }, 'local copy not in the ledger; multipart ETag checked against the source before the upload'],
    [{ code: 'local-copy-trusted', trustedBecause: 'adopt-size' }, 'local copy not in the ledger; trusted by its size (transfer.adopt: size)'],
    [{ code: 'local-copy-trusted', trustedBecause: 'source-unlisted', stagedOn: '/v2' }, 'staged copy found on /v2; trusted by its size (the source no longer lists it)'],
    [{ code: 'local-copy-unprovable' }, 'local copy not in the ledger, and the source ETag cannot prove it is this version'],
    [{ code: 'older-version-on-disk' }, 'older version on disk'],
    [{ code: 'size-differs-locally', localSize: 3, expectedSize: 10 }, 'size differs locally (3 bytes, expected 10)'],
    [{ code: 'staged-copy-missing' }, 'staged copy is missing'],
    [{ code: 'staged-copy-already-deleted' }, 'staged copy already deleted; recording the purge'],
    [{ code: 'retry', attempts: 1 }, 'retry after 1 failed attempt'],
    [{ code: 'retry', attempts: 2 }, 'retry after 2 failed attempts'],
    [{ code: 'key-directory-marker' }, "ends with '/' (a directory marker, not a file)"],
    [{ code: 'own-output', bucket: 'edge', prefix: 'archive/' }, "under the destination prefix archive/ of the same bucket edge: dualsync's own output"],
    [{ code: 'path-through-link', link: '/v1/a' }, 'its local path passes through the symbolic link /v1/a (links below a volume root are not followed)'],
  ])('%j', (reason, text) => {
    expect(reasonText(reason)).toBe(text);
  });

  it.each<[PlanWarning, string]>([
    [{ code: 'source-unreachable', cause: 'timeout' }, 'source unreachable: downloads wait; staged copies are still uploaded (timeout)'],
    [{ code: 'destination-unreachable', cause: 'refused' }, 'destination unreachable: uploads wait; downloads go on while staging has room (refused)'],
    [{ code: 'source-listing-incomplete' }, 'The source listing is incomplete: objects it did not show are left as they are until a complete listing shows them.'],
    [{ code: 'listing-warning', hop: 'destination', text: 'cut at 1000 keys' }, 'destination: cut at 1000 keys'],
    [{ code: 'connection-cap', hop: 'source', workers: 256, concurrency: 5, cappedWorkers: 100, cappedConcurrency: 5, maxConnections: 500 }, 'workers 256 capped to 100 by source.maxConnections 500 with concurrency 5'],
    [{ code: 'connection-cap', hop: 'source', workers: 256, concurrency: 5, cappedWorkers: 1, cappedConcurrency: 3, maxConnections: 3 }, 'workers 256 x concurrency 5 capped to 1 x 3 by source.maxConnections 3'],
    [{ code: 'volume-listed-twice', volume: '/v1' }, 'volume /v1 is listed twice; counted once'],
    [{ code: 'volume-scan-duplicates', count: 2, first: 'a' }, 'the volume scan lists 2 duplicate entries (first: "a"); kept the first of each in key order'],
    [{ code: 'volume-symlink', volume: '/v1', path: 'x' }, 'staging volume /v1: x is a symbolic link, not followed (nothing is staged through it, and it is left as it is)'],
    [{ code: 'interrupted-download-leftovers', count: 3, path: '.dualsync-tmp' }, '3 temporary file(s) of interrupted downloads in .dualsync-tmp/ will be removed by apply'],
  ])('%j', (warning, text) => {
    expect(warningText(warning)).toBe(text);
  });

  it('every code has its words', () => {
    for (const code of ACTION_REASON_CODES) expect(reasonText({ code }).length, code).toBeGreaterThan(0);
    for (const code of PLAN_WARNING_CODES) expect(warningText({ code }).length, code).toBeGreaterThan(0);
  });
});
