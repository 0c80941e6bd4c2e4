/**
 * Every ledger row is covered by the event log (schema step 5): a row that no event wrote was
 * added by hand, and `report --verify` names it. A ledger whose rows predate its log (schema 1
 * and 2, or the JSON ledger) gets one `baseline` event per such row when it is migrated, so that
 * from then on the same rule holds for it; a skip reason kept as text becomes a code and its
 * facts, and the chain still verifies.
 */
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LEDGER_FILE, LedgerStore } from '../../src/ledger/store.ts';
import { EventLog, GENESIS } from '../../src/ledger/events.ts';
import { LedgerQueries } from '../../src/ledger/queries.ts';
import { COLUMN_NAMES, MIGRATIONS, recordToRow, SCHEMA_VERSION } from '../../src/ledger/schema.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import type { LedgerRecord } from '../../src/model/objects.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';
import { editLedger, verifyLedgerDir } from '../harness/ledger.ts';

afterAll(removeTempDirs);

const FORGE = `INSERT INTO objects (key, size, etag, stage, attempts, delivered_at) VALUES ('cam/forged.jpg', 10, 'e', 'delivered', 0, '2026-01-01T00:00:00.000Z')`;

const delivered = (key: string): LedgerEvent[] => [
  { type: 'staged', key, size: 3, etag: 'e3', volume: '/mnt/s-0', verifiedBy: 'size' },
  { type: 'delivered', key, size: 3, etag: 'e3', verifiedBy: 'size' },
];

/** A ledger as schema step `steps` left it, written with the statements of those steps only. */
function oldLedger(dir: string, steps: number): DatabaseSync {
  const db = new DatabaseSync(join(dir, LEDGER_FILE));
  db.exec('PRAGMA journal_mode = WAL');
  for (const step of MIGRATIONS.slice(0, steps)) db.exec(step as string);
  db.exec(`PRAGMA user_version = ${steps}`);
  return db;
}

describe('report --verify: a row no event wrote', () => {
  it('a row inserted by hand into a ledger that had its event log from the start fails verify, naming the key', async () => {
    const dir = await tempDir('ledger-cover-');
    const store = await LedgerStore.open(dir);
    await store.append([...delivered('cam/a.jpg'), ...delivered('cam/z.jpg')]);
    await store.close();
    expect(await verifyLedgerDir(dir)).toMatchObject({ ok: true, uncovered: 0 });
    editLedger(dir, FORGE);
    const result = await verifyLedgerDir(dir);
    expect(result.ok).toBe(false);
    expect(result.problem).toContain('"cam/forged.jpg"');
    expect(result.problem).toContain('no event');
  });

  it('a ledger whose rows predate its log (schema 2) gets one baseline event per row, verifies, and then catches a hand insert', async () => {
    const dir = await tempDir('ledger-cover-');
    const db = oldLedger(dir, 2);
    const queries = new LedgerQueries(db);
    const keys = Array.from({ length: 2500 }, (_, i) => `pre/${String(i).padStart(5, '0')}.jpg`);
    db.exec('BEGIN');
    for (const key of keys) queries.put({ key, size: 5, etag: 'e5', stage: 'purged', verifiedBy: 'size', attempts: 0, deliveredAt: '2025-01-01T00:00:00.000Z' });
    queries.setSerial(7500);
    db.exec('COMMIT');
    db.close();

    const result = await verifyLedgerDir(dir);
    expect(result).toMatchObject({ ok: true, uncovered: 0, events: keys.length });
    const store = await LedgerStore.open(dir);
    expect(store.serial).toBe(7500 + keys.length);
    // The baselines start where the serial was: the log says where it began.
    const first = store.read((raw) => raw.prepare('SELECT seq, type, key FROM events ORDER BY seq LIMIT 1').get(), () => undefined);
    expect(first).toEqual({ seq: 7501, type: 'baseline', key: keys[0] });
    // The chain goes on after the baselines.
    await store.append(delivered('new/1.jpg'));
    await store.close();
    expect(await verifyLedgerDir(dir)).toMatchObject({ ok: true, uncovered: 0, events: keys.length + 2 });

    editLedger(dir, FORGE);
    const forged = await verifyLedgerDir(dir);
    expect(forged.ok).toBe(false);
    expect(forged.problem).toContain('"cam/forged.jpg"');
  });

  it('a row inserted by hand before the upgrade of a ledger that had its log from the start is not made covered by it', async () => {
    const dir = await tempDir('ledger-cover-');
    const db = oldLedger(dir, 4);
    const queries = new LedgerQueries(db);
    const log = new EventLog(db);
    let hash = GENESIS;
    const events = delivered('cam/a.jpg');
    events.forEach((event, i) => {
      const record = queries.get(event.key);
      const next: LedgerRecord = { key: event.key, size: 3, etag: 'e3', attempts: 0, stage: event.type as 'staged', volume: '/mnt/s-0', verifiedBy: 'size' };
      void record;
      hash = log.append(hash, i + 1, '2026-01-01T00:00:00.000Z', event, queries.put(next));
    });
    queries.setSerial(2);
    db.exec(FORGE);
    db.close();
    const result = await verifyLedgerDir(dir);
    expect(result.ok).toBe(false);
    expect(result.problem).toContain('"cam/forged.jpg"');
  });
});

/** The row the code of schema step 4 wrote for a record skipped with `text`: the skip reason as that text. */
function step4Row(record: LedgerRecord, text: string): (string | number | null)[] {
  const row = recordToRow(record);
  row[COLUMN_NAMES.indexOf('skip_reason')] = text;
  return row;
}

describe('schema step 5: skip reasons as codes', () => {
  it('a step-4 ledger keeps its chain: known sentences become codes, others legacy with their text, and verify passes', async () => {
    const dir = await tempDir('ledger-skip-');
    const db = oldLedger(dir, 4);
    const queries = new LedgerQueries(db);
    const log = new EventLog(db);
    const insert = db.prepare(`INSERT INTO objects (${COLUMN_NAMES.join(', ')}) VALUES (${COLUMN_NAMES.map(() => '?').join(', ')})`);
    const skips: [string, string][] = [
      ['a//b.jpg', "empty path segment ('//' or a leading '/')"],
      ['b/', "ends with '/' (a directory marker, not a file)"],
      ['c/../x', "'..' path segment (would leave its folder)"],
      ['d/odd', 'a reason no dualsync wrote'],
      ['e/long', 'path segment of 300 bytes (a file or folder name holds at most 255)'],
    ];
    let hash = GENESIS;
    let seq = 0;
    for (const [key, text] of skips) {
      const row = step4Row({ key, size: 1, etag: 'x', attempts: 0 }, text);
      insert.run(...row);
      // As the code of step 4 logged it: the reason's text in the body.
      const event = { type: 'skipped', key, size: 1, etag: 'x', reason: text } as unknown as LedgerEvent;
      hash = log.append(hash, ++seq, '2026-01-01T00:00:00.000Z', event, row);
    }
    hash = log.append(hash, ++seq, '2026-01-01T00:00:00.000Z', delivered('f/ok.jpg')[1]!, queries.put({ key: 'f/ok.jpg', size: 3, etag: 'e3', attempts: 0, stage: 'delivered', verifiedBy: 'size' }));
    queries.setSerial(seq);
    const before = db.prepare('SELECT * FROM events ORDER BY seq').all();
    db.close();

    const result = await verifyLedgerDir(dir);
    expect(result).toMatchObject({ ok: true, uncovered: 0 });
    const store = await LedgerStore.open(dir);
    try {
      expect(store.get('a//b.jpg')?.skipReason).toEqual({ code: 'key-empty-segment' });
      expect(store.get('b/')?.skipReason).toEqual({ code: 'key-directory-marker' });
      expect(store.get('c/../x')?.skipReason).toEqual({ code: 'key-dot-segment', segment: '..' });
      expect(store.get('d/odd')?.skipReason).toEqual({ code: 'legacy', text: 'a reason no dualsync wrote' });
      expect(store.get('e/long')?.skipReason).toEqual({ code: 'key-segment-too-long', bytes: 300, maxBytes: 255 });
      const after = store.read((raw) => raw.prepare('SELECT * FROM events ORDER BY seq').all(), () => []);
      // The old events are as they were; one baseline per rewritten row follows them.
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after.slice(before.length).map((row) => [(row as { type: string }).type, (row as { key: string }).key])).toEqual(skips.map(([key]) => ['baseline', key]));
      expect(store.summary(10).skipped).toContainEqual({ key: 'c/../x', reason: { code: 'key-dot-segment', segment: '..' } });
    } finally {
      await store.close();
    }
    const raw = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
    expect((raw.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
    raw.close();
  });

  it('a skip row edited by hand before the upgrade still fails verify after it: the step does not vouch for it', async () => {
    const dir = await tempDir('ledger-skip-');
    const db = oldLedger(dir, 4);
    const log = new EventLog(db);
    const insert = db.prepare(`INSERT INTO objects (${COLUMN_NAMES.join(', ')}) VALUES (${COLUMN_NAMES.map(() => '?').join(', ')})`);
    const row = step4Row({ key: 'a//b', size: 1, etag: 'x', attempts: 0 }, 'empty key');
    insert.run(...row);
    log.append(GENESIS, 1, '2026-01-01T00:00:00.000Z', { type: 'skipped', key: 'a//b', size: 1, etag: 'x', reason: 'empty key' } as unknown as LedgerEvent, row);
    new LedgerQueries(db).setSerial(1);
    db.exec(`UPDATE objects SET skip_reason = 'empty key', size = 2 WHERE key = 'a//b'`);
    db.close();
    const result = await verifyLedgerDir(dir);
    expect(result.ok).toBe(false);
    expect(result.problem).toContain('"a//b"');
  });
});
