/**
 * The ledger's event log at its stored size: hashes as 32-byte BLOBs, a body of only the fields
 * the event has and the row does not hold (type, key), every fact of a failure inside the chain;
 * and the `reset` event that opens a new ledger's chain with the head of the one it replaced.
 */
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LEDGER_FILE, LedgerStore } from '../../src/ledger/store.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const version = { key: 'cam-01/frame-00000001.jpg', size: 4096, etag: 'ab'.repeat(16) };
const events: LedgerEvent[] = [
  { ...version, type: 'staged', volume: '/mnt/staging-0', verifiedBy: 'size' },
  { ...version, type: 'failed', hop: 'upload', failure: { code: 's5cmd-error', cause: 'SlowDown' }, at: '2026-11-29T10:00:00.000Z' },
  { ...version, type: 'delivered', verifiedBy: 'size', destinationEtag: version.etag },
];

describe('ledger event log: stored size', () => {
  it('stores hashes as 32-byte BLOBs and a body without absent fields, type or key; a failure is inside the chain', async () => {
    const dir = await tempDir('ledger-events-');
    const store = await LedgerStore.open(dir);
    await store.append(events);
    await store.close();
    const db = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
    try {
      const rows = db.prepare('SELECT type, key, body, typeof(hash) AS hashType, length(hash) AS hashBytes, typeof(record_hash) AS recordType, length(record_hash) AS recordBytes FROM events ORDER BY seq').all() as {
        type: string;
        key: string;
        body: string;
        hashType: string;
        hashBytes: number;
        recordType: string;
        recordBytes: number;
      }[];
      expect(rows.map((row) => [row.type, row.key, row.hashType, row.hashBytes, row.recordType, row.recordBytes])).toEqual(
        events.map((event) => [event.type, version.key, 'blob', 32, 'blob', 32]),
      );
      for (const row of rows) {
        expect(row.body).not.toContain('null');
        const body = JSON.parse(row.body) as Record<string, unknown>;
        expect(body).not.toHaveProperty('type');
        expect(body).not.toHaveProperty('key');
      }
      expect(JSON.parse(rows[0]!.body)).toEqual({ etag: version.etag, size: 4096, verifiedBy: 'size', volume: '/mnt/staging-0' });
      // The failure's facts are hashed with the event, not dropped from its canonical bytes.
      expect(JSON.parse(rows[1]!.body)).toMatchObject({ failure: { code: 's5cmd-error', cause: 'SlowDown' }, hop: 'upload' });
    } finally {
      db.close();
    }
  });
});
