/**
 * The event log's canonical bytes and hashes are a format: a chain written by one version of
 * dualsync must verify with the next. These are the bytes and hashes that shipped, pinned.
 */
import { describe, expect, it } from 'vitest';
import { canonicalEvent, eventHash, GENESIS, recordDigest } from '../../src/ledger/events.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import type { LedgerRecord } from '../../src/model/objects.ts';

const version = { key: 'cam-01/frame "1" ✓.jpg', size: 4096, etag: 'ab'.repeat(16) };

describe('event log canonical bytes (a stored format)', () => {
  it.each<[string, LedgerEvent, string]>([
    ['fields in any order, absent ones left out', { volume: '/mnt/s-0', type: 'staged', verifiedBy: 'md5', ...version, md5: undefined, etagComparable: true } as LedgerEvent,
      '{"etag":"abababababababababababababababab","etagComparable":true,"size":4096,"verifiedBy":"md5","volume":"/mnt/s-0"}'],
    ['a failure nested, its facts sorted, an array kept in order', { ...version, type: 'failed', hop: 'download', at: '2026-11-29T10:00:00.000Z', failure: { lines: ['b', 'a'], code: 's5cmd-output', cause: null } } as unknown as LedgerEvent,
      '{"at":"2026-11-29T10:00:00.000Z","etag":"abababababababababababababababab","failure":{"code":"s5cmd-output","lines":["b","a"]},"hop":"download","size":4096}'],
    ['false and zero kept', { ...version, type: 'delivered', size: 0, again: false, verifiedBy: 'size', destinationEtag: 'x' } as LedgerEvent,
      '{"again":false,"destinationEtag":"x","etag":"abababababababababababababababab","size":0,"verifiedBy":"size"}'],
  ])('%s', (_name, event, bytes) => {
    expect(canonicalEvent(event)).toBe(bytes);
  });

  it('hashes as shipped (computed by the commit before the one-shot hash)', () => {
    const record = { key: version.key, size: 4096, etag: version.etag, stage: 'staged', attempts: 0, volume: '/mnt/s-0' } as unknown as LedgerRecord;
    const recordHash = recordDigest(record);
    expect(recordHash).toBe('773e7bc0e305c8ca2ff16564048aca14b79722d12832664ce759963711b49373');
    expect(eventHash(GENESIS, { seq: 7, at: '2026-11-29T10:00:00.000Z', type: 'staged', key: version.key, body: '{"size":4096}', recordHash })).toBe(
      '0e79a36ef1a82698cec0d2ac82b3085089b1e85a21a17db550008b2edaa84ec1',
    );
  });
});
