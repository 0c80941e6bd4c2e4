import { describe, expect, it } from 'vitest';
import { applyEvent, emptyLedger } from '../../src/ledger/merge.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import type { LedgerRecord } from '../../src/model/objects.ts';

const v1 = { key: 'a/b.bin', size: 10, etag: 'e1' };
const v2 = { key: 'a/b.bin', size: 10, etag: 'e2' };

const staged = (extra: Partial<Extract<LedgerEvent, { type: 'staged' }>> = {}): LedgerEvent => ({
  ...v1,
  type: 'staged',
  volume: '/vol/1',
  verifiedBy: 'size',
  ...extra,
});
const delivered = (extra: Partial<Extract<LedgerEvent, { type: 'delivered' }>> = {}): LedgerEvent => ({
  ...v1,
  type: 'delivered',
  verifiedBy: 'size',
  ...extra,
});
const purged: LedgerEvent = { ...v1, type: 'purged' };
const failed = (hop: 'download' | 'upload', cause: string, version = v1, at?: string): LedgerEvent => ({ ...version, type: 'failed', hop, failure: { code: 's5cmd-error', cause }, ...(at === undefined ? {} : { at }) });
const T1 = '2026-11-29T10:00:00.000Z';
const T2 = '2026-11-29T10:05:00.000Z';

function fold(events: LedgerEvent[]): LedgerRecord | undefined {
  let record: LedgerRecord | undefined;
  for (const event of events) record = applyEvent(record, event);
  return record;
}

describe('applyEvent', () => {
  const cases: { name: string; events: LedgerEvent[]; expected: Partial<LedgerRecord> & { stage: LedgerRecord['stage'] } }[] = [
    {
      name: 'new key, staged: a staged record on that volume',
      events: [staged({ md5: 'abc', etagComparable: true })],
      expected: { stage: 'staged', volume: '/vol/1', md5: 'abc', etagComparable: true, verifiedBy: 'size', attempts: 0 },
    },
    {
      name: 'staged then delivered: delivered, the copy still on its volume',
      events: [staged(), delivered({ verifiedBy: 'md5' })],
      expected: { stage: 'delivered', volume: '/vol/1', verifiedBy: 'md5' },
    },
    {
      name: 'staged, delivered, purged: purged, no volume left',
      events: [staged(), delivered(), purged],
      expected: { stage: 'purged', volume: undefined },
    },
    {
      name: 'adopted at the destination without a local copy: delivered, no volume',
      events: [delivered({ adopted: true })],
      expected: { stage: 'delivered', volume: undefined },
    },
    {
      name: 'delivered then staged again without again: stage does not move back',
      events: [staged(), delivered(), staged({ volume: '/vol/2' })],
      expected: { stage: 'delivered', volume: '/vol/1' },
    },
    {
      name: 'purged then staged again (destination lost it): staged on the new volume',
      events: [staged(), delivered(), purged, staged({ volume: '/vol/2', again: true })],
      expected: { stage: 'staged', volume: '/vol/2' },
    },
    {
      name: 'purged, staged again, delivered: delivered forward without again',
      events: [staged(), delivered(), purged, staged({ volume: '/vol/2', again: true }), delivered()],
      expected: { stage: 'delivered', volume: '/vol/2' },
    },
    {
      name: 'purged then delivered again (re-verified at the destination): delivered, no volume',
      events: [staged(), delivered(), purged, delivered({ again: true })],
      expected: { stage: 'delivered', volume: undefined },
    },
    {
      name: 'purged before delivery: ignored, the copy is still the only one',
      events: [staged(), purged],
      expected: { stage: 'staged', volume: '/vol/1' },
    },
    {
      name: 'the same staged event twice (replay): no change',
      events: [staged(), staged()],
      expected: { stage: 'staged', volume: '/vol/1', attempts: 0 },
    },
    {
      name: 'download failed twice: two attempts, last error kept, no stage',
      events: [failed('download', 'timeout'), failed('download', 'reset')],
      expected: { stage: undefined, attempts: 2, lastFailure: { code: 's5cmd-error', hop: 'download', cause: 'reset' } },
    },
    {
      name: 'failed then staged: progress clears attempts and the error',
      events: [failed('download', 'timeout'), staged()],
      expected: { stage: 'staged', attempts: 0, lastFailure: undefined },
    },
    {
      name: 'upload failed on a staged record: stage kept, one attempt',
      events: [staged(), failed('upload', 'AccessDenied')],
      expected: { stage: 'staged', attempts: 1, lastFailure: { code: 's5cmd-error', hop: 'upload', cause: 'AccessDenied' }, volume: '/vol/1' },
    },
    {
      name: 'failed with a time: lastFailedAt is that time, the latest one wins',
      events: [failed('download', 'timeout', v1, T1), failed('download', 'reset', v1, T2)],
      expected: { stage: undefined, attempts: 2, lastFailedAt: T2 },
    },
    {
      name: 'failed without a time (an older journal) after one with a time: no time kept rather than a wrong one',
      events: [failed('download', 'timeout', v1, T1), failed('download', 'reset')],
      expected: { stage: undefined, attempts: 2, lastFailedAt: undefined },
    },
    {
      name: 'failed, then staged: progress clears lastFailedAt with the attempts',
      events: [failed('download', 'timeout', v1, T1), staged()],
      expected: { stage: 'staged', attempts: 0, lastFailedAt: undefined },
    },
    {
      name: 'upload failed on a staged record: its time is kept with the stage',
      events: [staged(), failed('upload', 'KeyTooLongError', v1, T2)],
      expected: { stage: 'staged', attempts: 1, lastFailedAt: T2 },
    },
    {
      name: 'a new version starts without the old version\'s failure time',
      events: [failed('upload', 'x', v1, T1), { ...v2, type: 'staged', volume: '/vol/3', verifiedBy: 'size' }],
      expected: { stage: 'staged', etag: 'e2', attempts: 0, lastFailedAt: undefined },
    },
    {
      name: 'delivered again after a failed re-upload: lastFailedAt cleared',
      events: [staged(), delivered(), failed('upload', 'lost', v1, T1), delivered({ again: true })],
      expected: { stage: 'delivered', attempts: 0, lastFailedAt: undefined },
    },
    {
      name: 'skipped: the reason is kept, no stage',
      events: [{ ...v1, type: 'skipped', reason: { code: 'key-segment-too-long', bytes: 300, maxBytes: 255 } }],
      expected: { stage: undefined, skipReason: { code: 'key-segment-too-long', bytes: 300, maxBytes: 255 } },
    },
    {
      name: 'skipped, then staged (the key became safe): skip reason cleared',
      events: [{ ...v1, type: 'skipped', reason: { code: 'key-empty-segment' } }, staged()],
      expected: { stage: 'staged', skipReason: undefined },
    },
    {
      name: 'delivered version, then a new version fails: a fresh record for the new version',
      events: [staged(), delivered(), failed('download', 'timeout', v2)],
      expected: { stage: undefined, etag: 'e2', attempts: 1, volume: undefined },
    },
    {
      name: 'new version staged after the old one was purged: staged anew, attempts 0',
      events: [failed('download', 'x'), staged(), delivered(), purged, { ...v2, type: 'staged', volume: '/vol/3', verifiedBy: 'size' }],
      expected: { stage: 'staged', etag: 'e2', volume: '/vol/3', attempts: 0 },
    },
    {
      name: 'same etag, other size: another version',
      events: [staged(), delivered(), { ...v1, size: 11, type: 'staged', volume: '/vol/2', verifiedBy: 'size' }],
      expected: { stage: 'staged', size: 11, volume: '/vol/2' },
    },
    {
      name: 'purge of a version the ledger no longer tracks: ignored',
      events: [staged(), delivered(), { ...v2, type: 'staged', volume: '/vol/2', verifiedBy: 'size' }, purged],
      expected: { stage: 'staged', etag: 'e2', volume: '/vol/2' },
    },
    {
      name: 'delivered keeps the destination ETag and the adoption rule',
      events: [delivered({ adopted: true, adoptedBy: 'content', destinationEtag: 'd1-2' })],
      expected: { stage: 'delivered', destinationEtag: 'd1-2', adoptedBy: 'content' },
    },
    {
      name: 'a new version after a delivered one remembers it: the destination still holds it',
      events: [staged(), delivered({ destinationEtag: 'd1' }), purged, failed('download', 'timeout', v2)],
      expected: { stage: undefined, etag: 'e2', attempts: 1, lastDelivered: { size: 10, etag: 'e1', destinationEtag: 'd1' } },
    },
    {
      name: 'the memory of the delivered version survives a further version and the new staging',
      events: [delivered({ destinationEtag: 'd1' }), failed('download', 'timeout', v2), { ...v1, etag: 'e3', type: 'staged', volume: '/vol/1', verifiedBy: 'size' }],
      expected: { stage: 'staged', etag: 'e3', lastDelivered: { size: 10, etag: 'e1', destinationEtag: 'd1' } },
    },
    {
      name: 'delivering the new version forgets the old one and what differed',
      events: [
        delivered({ destinationEtag: 'd1' }),
        { ...v2, type: 'failed', hop: 'upload', failure: { code: 'content-differs', sourceMd5: 'a', destinationMd5: 'b' }, destinationDiffers: 'd1' },
        { ...v2, type: 'staged', volume: '/vol/1', verifiedBy: 'md5' },
        { ...v2, type: 'delivered', verifiedBy: 'md5', destinationEtag: 'd2' },
      ],
      expected: { stage: 'delivered', etag: 'e2', destinationEtag: 'd2', lastDelivered: undefined, destinationDiffers: undefined, adoptedBy: undefined },
    },
    {
      name: 'a comparison that found the destination or a local copy different is kept with the failure',
      events: [{ ...v1, type: 'failed', hop: 'upload', failure: { code: 'local-not-proven', volume: '/vol/2' }, localDiffers: '/vol/2' }],
      expected: { stage: undefined, attempts: 1, localDiffers: '/vol/2' },
    },
    {
      name: 'a verified download replaces the local copy that differed',
      events: [{ ...v1, type: 'failed', hop: 'upload', failure: { code: 'local-not-proven', volume: '/vol/2' }, localDiffers: '/vol/2' }, staged({ volume: '/vol/2' })],
      expected: { stage: 'staged', localDiffers: undefined },
    },
    {
      name: 'purge of an unknown key: a record of that version with no stage',
      events: [purged],
      expected: { stage: undefined, etag: 'e1', attempts: 0 },
    },
  ];

  for (const { name, events, expected } of cases) {
    it(name, () => {
      const record = fold(events);
      expect(record).toBeDefined();
      for (const [field, value] of Object.entries(expected)) {
        expect(record?.[field as keyof LedgerRecord], field).toEqual(value);
      }
    });
  }

  it('never mutates the record it is given', () => {
    const before = fold([staged(), delivered()]);
    const snapshot = structuredClone(before);
    applyEvent(before, purged);
    applyEvent(before, failed('upload', 'x'));
    expect(before).toEqual(snapshot);
  });

  it('refuses an event for another key', () => {
    const record = fold([staged()]);
    expect(() => applyEvent(record, { ...staged(), key: 'other' })).toThrow(/assertion failed/);
  });
});

describe('applyEvent with a time: stamps of the stages reached', () => {
  const at = (n: number) => `2026-11-29T10:00:0${n}.000Z`;

  it('each stage reached and each failure is stamped with the time given', () => {
    let record = applyEvent(undefined, failed('download', 'timeout'), at(1));
    record = applyEvent(record, staged(), at(2));
    record = applyEvent(record, delivered(), at(3));
    record = applyEvent(record, purged, at(4));
    expect(record).toMatchObject({ stage: 'purged', failedAt: at(1), stagedAt: at(2), deliveredAt: at(3), purgedAt: at(4) });
  });

  it('an event that changes nothing stamps nothing', () => {
    const record = applyEvent(applyEvent(undefined, staged(), at(1)), delivered(), at(2));
    expect(applyEvent(record, staged(), at(3))).toBe(record);
    const unknownPurge = applyEvent(undefined, purged, at(4));
    expect(unknownPurge.purgedAt).toBeUndefined();
  });

  it('a new version starts without the stamps of the old one', () => {
    const old = applyEvent(applyEvent(undefined, staged(), at(1)), delivered(), at(2));
    const next = applyEvent(old, { ...v2, type: 'staged', volume: '/vol/2', verifiedBy: 'size' }, at(3));
    expect(next).toMatchObject({ etag: 'e2', stage: 'staged', stagedAt: at(3) });
    expect(next.deliveredAt).toBeUndefined();
  });

  it('without a time, nothing is stamped (a migrated journal has no times)', () => {
    expect(fold([failed('download', 'x'), staged(), delivered()])).not.toHaveProperty('stagedAt');
  });
});

describe('emptyLedger', () => {
  it('starts at serial 0 with no records', () => {
    expect(emptyLedger()).toEqual({ serial: 0, records: [] });
  });
});
