import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { Recorder } from '../../src/apply/recorder.ts';
import { emptyLedger, legacyFailure } from '../../src/ledger/merge.ts';
import { connect } from '../../src/ledger/db.ts';
import { COLUMNS } from '../../src/ledger/schema.ts';
import { skipReasonFromText } from '../../src/ledger/skip-text.ts';
import { verifyDatabase } from '../../src/ops/report.ts';
import { recordedFailureText } from '../../src/view/failure.ts';
import { JOURNAL_FILE, LEDGER_FILE, LedgerStore, SNAPSHOT_FILE } from '../../src/ledger/store.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import type { LedgerRecord, LedgerState } from '../../src/model/objects.ts';
import { compareKeys } from '../../src/plan/keys.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const FIXTURE = new URL('../../fixtures/ledger-v1/', import.meta.url).pathname;

const stagedEvent = (key: string, volume = '/vol/1'): LedgerEvent => ({ type: 'staged', key, size: 3, etag: `e-${key}`, volume, verifiedBy: 'size' });
const deliveredEvent = (key: string): LedgerEvent => ({ type: 'delivered', key, size: 3, etag: `e-${key}`, verifiedBy: 'size' });
const failedEvent = (key: string, cause = 'timeout'): LedgerEvent => ({ type: 'failed', key, size: 3, etag: `e-${key}`, hop: 'download', failure: { code: 's5cmd-error', cause } });

/** An event as the JSON ledger's journal wrote it: a failure as its text, with no code. */
function asJournalEvent(event: LedgerEvent): unknown {
  if (event.type !== 'failed') return event;
  const { failure, ...rest } = event;
  return { ...rest, error: 'cause' in failure ? failure.cause : failure.code };
}

/** A mix in which applying any event twice would show: failures count up. */
function history(count: number): LedgerEvent[] {
  const events: LedgerEvent[] = [];
  for (let i = 0; i < count; i++) {
    const key = `dir ${i % 7}/obj-${i}.bin`;
    events.push(failedEvent(key), failedEvent(key, 'reset'));
    if (i % 2 === 0) events.push(stagedEvent(key));
    if (i % 4 === 0) events.push(deliveredEvent(key));
  }
  return events;
}

async function storeWith(events: LedgerEvent[]): Promise<{ dir: string; state: LedgerState }> {
  const dir = await tempDir('ledger-');
  const store = await LedgerStore.open(dir);
  if (events.length > 0) await store.append(events);
  const state = store.state();
  await store.close();
  return { dir, state };
}

async function load(dir: string): Promise<{ state: LedgerState; warnings: string[] }> {
  const warnings: string[] = [];
  const store = await LedgerStore.open(dir, { onWarning: (message) => warnings.push(message) });
  const state = store.state();
  await store.close();
  return { state, warnings };
}

async function loadError(dir: string): Promise<unknown> {
  try {
    const store = await LedgerStore.open(dir);
    store.state();
    await store.close();
  } catch (error) {
    return error;
  }
  throw new Error('the ledger loaded although it should have been refused');
}

/** Records without the stamps of when stages were reached (a migrated ledger never had them). */
function unstamped(records: LedgerRecord[]): LedgerRecord[] {
  return records.map(({ stagedAt: _s, deliveredAt: _d, purgedAt: _p, failedAt: _f, ...rest }) => rest);
}

describe('LedgerStore basics', () => {
  it('a state directory that does not exist yet: empty ledger, nothing written', async () => {
    const dir = join(await tempDir('ledger-'), 'state');
    const store = await LedgerStore.open(dir);
    expect(store.state()).toEqual(emptyLedger());
    expect(store.summary(10).records).toBe(0);
    await store.close();
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it('appended events survive a reopen, one serial per event', async () => {
    const events = history(10);
    const { dir, state } = await storeWith(events);
    expect(state.serial).toBe(events.length);
    expect((await load(dir)).state).toEqual(state);
    expect(await readdir(dir)).toContain(LEDGER_FILE);
  });

  it('records come in UTF-8 byte order (S3 order), not UTF-16 order, and get() finds one', async () => {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir);
    // U+E000 is EE 80 80 in UTF-8 and sorts before an astral character (F0 ...), but its UTF-16
    // code unit sorts after the astral character's surrogate (D83D).
    await store.append([stagedEvent('b'), stagedEvent('p/😀'), stagedEvent('a'), stagedEvent('p/\uE000'), stagedEvent('c/ü'), stagedEvent('c/u')]);
    const order = ['a', 'b', 'c/u', 'c/ü', 'p/\uE000', 'p/😀'];
    // The planner's one key order agrees with the database's, so a merge never mis-pairs keys.
    expect(['p/😀', 'c/ü', 'b', 'p/\uE000', 'a', 'c/u'].sort(compareKeys)).toEqual(order);
    expect(store.state().records.map((record) => record.key)).toEqual(order);
    expect([...store.records()].map((record) => record.key)).toEqual(order);
    expect(store.get('b')?.stage).toBe('staged');
    expect(store.get('nope')).toBeUndefined();
    await store.close();
  });

  it('appends issued without waiting land in call order', async () => {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir);
    await Promise.all([store.append([stagedEvent('k')]), store.append([deliveredEvent('k')]), store.append([{ type: 'purged', key: 'k', size: 3, etag: 'e-k' }])]);
    expect(store.get('k')?.stage).toBe('purged');
    await store.close();
    expect((await load(dir)).state.records[0]?.stage).toBe('purged');
  });

  it('each stage reached is stamped with the time it was recorded; a new version starts unstamped', async () => {
    const dir = await tempDir('ledger-');
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const store = await LedgerStore.open(dir, { now: () => new Date((clock += 1000)) });
    await store.append([failedEvent('k')]);
    await store.append([stagedEvent('k')]);
    await store.append([deliveredEvent('k')]);
    await store.append([{ type: 'purged', key: 'k', size: 3, etag: 'e-k' }]);
    await store.append([stagedEvent('k')]); // repeated: changes nothing, stamps nothing
    expect(store.get('k')).toMatchObject({
      stage: 'purged',
      failedAt: '2026-01-01T00:00:01.000Z',
      stagedAt: '2026-01-01T00:00:02.000Z',
      deliveredAt: '2026-01-01T00:00:03.000Z',
      purgedAt: '2026-01-01T00:00:04.000Z',
    });
    await store.append([{ type: 'staged', key: 'k', size: 4, etag: 'new', volume: '/v', verifiedBy: 'size' }]);
    const fresh = store.get('k')!;
    expect(fresh).toMatchObject({ stage: 'staged', stagedAt: '2026-01-01T00:00:06.000Z' });
    expect([fresh.failedAt, fresh.deliveredAt, fresh.purgedAt]).toEqual([undefined, undefined, undefined]);
    await store.close();
  });

  it('the objects table has one column per LedgerRecord field, as COLUMNS maps them', async () => {
    const { dir } = await storeWith([stagedEvent('a')]);
    const db = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
    const columns = (db.prepare('PRAGMA table_info(objects)').all() as { name: string }[]).map((column) => column.name);
    db.close();
    expect(columns.sort()).toEqual(Object.values(COLUMNS).map((column) => column.name).sort());
  });

  it('the database is in WAL mode and every connection commits with synchronous=FULL', async () => {
    const { dir } = await storeWith([stagedEvent('a')]);
    const db = connect(join(dir, LEDGER_FILE));
    expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    expect(db.prepare('PRAGMA synchronous').get()).toEqual({ synchronous: 2 });
    db.close();
  });

  it('summary counts by stage, verification and failure without listing every record', async () => {
    const events: LedgerEvent[] = [
      stagedEvent('s1'),
      { type: 'staged', key: 's2', size: 5, etag: 'x', volume: '/v', verifiedBy: 'size+local-md5', etagComparable: false },
      stagedEvent('d1'),
      deliveredEvent('d1'),
      failedEvent('f1'),
      failedEvent('f2'),
      failedEvent('f2'),
      stagedEvent('f3'),
      failedEvent('f3'),
      { type: 'skipped', key: 'k//', size: 1, etag: 'y', reason: { code: 'key-empty-segment' } },
    ];
    const { dir } = await storeWith(events);
    const store = await LedgerStore.open(dir);
    const summary = store.summary(2);
    await store.close();
    expect(summary).toEqual({
      serial: events.length,
      records: 7,
      stages: { staged: { objects: 3, bytes: 11 }, delivered: { objects: 1, bytes: 3 }, purged: { objects: 0, bytes: 0 } },
      verifiedBy: { size: 3, 'size+local-md5': 1 },
      etagNotComparable: 1,
      failingCount: 3,
      failing: [
        { key: 'f1', attempts: 1, lastFailure: { code: 's5cmd-error', hop: 'download', cause: 'timeout' } },
        { key: 'f2', attempts: 2, lastFailure: { code: 's5cmd-error', hop: 'download', cause: 'timeout' } },
      ],
      stoppedCount: 0,
      stopped: [],
      skippedCount: 1,
      skipped: [{ key: 'k//', reason: { code: 'key-empty-segment' } }],
    });
  });
});

describe('LedgerStore group commit', () => {
  it('events recorded while a commit is in flight share the next one: far fewer commits than events, the event loop never stopped', async () => {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir);
    const batches: number[] = [];
    const recorder = new Recorder({ append: (events) => (batches.push(events.length), store.append(events)) });
    const recorded: Promise<void>[] = [];
    // One event per turn of the event loop, as verifications finish one by one during apply.
    for (let i = 0; i < 200; i++) {
      recorded.push(recorder.record(stagedEvent(`k${i}`)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(recorded);
    await recorder.flush();
    expect(store.serial).toBe(200);
    expect(batches.reduce((sum, n) => sum + n, 0)).toBe(200);
    expect(batches.length).toBeLessThan(100);
    await store.close();
  });
});

describe('LedgerStore counts', () => {
  it('the counts status reads stay equal to a count of the rows through new versions, failures and skips', async () => {
    const events: LedgerEvent[] = [...history(40)];
    for (let i = 0; i < 40; i += 3) {
      const key = `dir ${i % 7}/obj-${i}.bin`;
      events.push({ type: 'staged', key, size: 1000 + i, etag: 'v2', volume: '/vol/2', verifiedBy: 'size+local-md5', etagComparable: i % 2 === 0 });
      events.push({ type: 'purged', key, size: 3, etag: `e-${key}` }); // of the old version: ignored
      if (i % 2 === 0) events.push({ type: 'delivered', key, size: 1000 + i, etag: 'v2', verifiedBy: 'multipart-etag' });
      events.push({ type: 'skipped', key: `skip/${i}//x`, size: i, etag: 's', reason: { code: 'key-empty-segment' } });
    }
    const { dir } = await storeWith(events);
    const store = await LedgerStore.open(dir);
    const summary = store.summary(1000);
    const records = store.state().records;
    await store.close();
    const stages = { staged: { objects: 0, bytes: 0 }, delivered: { objects: 0, bytes: 0 }, purged: { objects: 0, bytes: 0 } };
    const verifiedBy: Record<string, number> = {};
    for (const record of records) {
      if (record.stage) {
        stages[record.stage].objects++;
        stages[record.stage].bytes += record.size;
      }
      if (record.verifiedBy) verifiedBy[record.verifiedBy] = (verifiedBy[record.verifiedBy] ?? 0) + 1;
    }
    expect(summary.records).toBe(records.length);
    expect(summary.stages).toEqual(stages);
    expect(summary.verifiedBy).toEqual(verifiedBy);
    expect(summary.etagNotComparable).toBe(records.filter((record) => record.etagComparable === false).length);
    expect(summary.failingCount).toBe(records.filter((record) => record.lastFailure && (record.stage ?? 'staged') === 'staged').length);
    expect(summary.skippedCount).toBe(records.filter((record) => record.skipReason).length);
  });
});

describe('LedgerStore migrates the JSON ledger of earlier versions', () => {
  async function fixtureCopy(): Promise<string> {
    const dir = await tempDir('ledger-v1-');
    for (const name of [SNAPSHOT_FILE, JOURNAL_FILE]) await copyFile(join(FIXTURE, name), join(dir, name));
    return dir;
  }
  /** The fixture's state as this version reads it: each last error (text) as a failure of code 'legacy', and no words kept. */
  const expected = async () => {
    const state = JSON.parse(await readFile(join(FIXTURE, 'expected-state.json'), 'utf8')) as { serial: number; records: (LedgerRecord & { lastError?: string })[] };
    const records = state.records.map(({ lastError, ...r }): LedgerRecord => (lastError === undefined ? r : { ...r, lastFailure: legacyFailure(lastError) }));
    // A skip reason (text) as the code it words, or `legacy` with the text.
    for (const record of records) if (typeof record.skipReason === 'string') record.skipReason = skipReasonFromText(record.skipReason);
    return { ...state, records } satisfies LedgerState;
  };
  /** The serial after a migration of `state`: its own, then one baseline event per record (the JSON ledger had no event log). */
  const migratedSerial = (state: LedgerState) => state.serial + state.records.length;
  const asSnapshotRecord = (record: LedgerRecord) => {
    // The JSON ledger kept a failure as its text: `hop: why`.
    const { lastFailure, ...rest } = record;
    return lastFailure === undefined ? rest : { ...rest, lastError: recordedFailureText(lastFailure) };
  };

  it('every record and the serial survive, the old files are kept as *.migrated, and appends continue', async () => {
    const dir = await fixtureCopy();
    const want = await expected();
    const { state, warnings } = await load(dir);
    expect(warnings).toEqual([]);
    expect(state.serial).toBe(migratedSerial(want));
    // The old store sorted by UTF-16 code units; the database hands records out in UTF-8 byte order.
    const byKey = (records: LedgerRecord[]) => [...records].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    expect(state.records).toEqual(byKey(want.records));
    expect((await readdir(dir)).sort()).toEqual([LEDGER_FILE, `${JOURNAL_FILE}.migrated`, `${SNAPSHOT_FILE}.migrated`]);
    expect(await readFile(join(dir, `${JOURNAL_FILE}.migrated`))).toEqual(await readFile(join(FIXTURE, JOURNAL_FILE)));

    // Opened again: read from the database, not migrated a second time.
    const store = await LedgerStore.open(dir);
    expect(store.state()).toEqual(state);
    await store.append([failedEvent('after')]);
    expect(store.serial).toBe(migratedSerial(want) + 1);
    // Every migrated record is covered by its baseline event: the ledger verifies, and nothing is left uncovered.
    expect(store.read((db) => verifyDatabase(db), () => undefined)).toMatchObject({ ok: true, uncovered: 0, events: want.records.length + 1 });
    await store.close();
  });

  it('a journal whose early lines are already in the snapshot (compaction cut short), with a torn last line: no event lost or applied twice', async () => {
    // Failures of code 'legacy': what the JSON ledger's texts read as.
    const events = history(30).map((e): LedgerEvent => (e.type === 'failed' && e.failure.code === 's5cmd-error' ? { ...e, failure: { code: 'legacy', cause: e.failure.cause } } : e));
    const snapshotSerial = 40;
    // The state after `snapshotSerial` events, written as the old compaction did.
    const { state: atSnapshot } = await storeWith(events.slice(0, snapshotSerial));
    const { state: full } = await storeWith(events);
    const dir = await tempDir('ledger-v1-');
    const lines = atSnapshot.records.map((record) => JSON.stringify(asSnapshotRecord(unstamped([record])[0]!)));
    await writeFile(join(dir, SNAPSHOT_FILE), `{"formatVersion":1,"serial":${snapshotSerial},"records":[\n${lines.join(',\n')}\n]}\n`);
    const journal = events.map((event, index) => `${JSON.stringify({ formatVersion: 1, serial: index + 1, event: asJournalEvent(event) })}\n`).join('');
    await writeFile(join(dir, JOURNAL_FILE), `${journal}{"formatVersion":1,"serial":${events.length + 1},"ev`);
    const { state, warnings } = await load(dir);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn last line/);
    expect(state.serial).toBe(migratedSerial(full));
    expect(state.records).toEqual(unstamped(full.records));
  });

  it('a kill after the commit, before the old files were renamed: the next open only renames them', async () => {
    const dir = await fixtureCopy();
    await load(dir);
    // Put the old files back as a kill before (or between) the renames would have left them.
    await copyFile(join(FIXTURE, SNAPSHOT_FILE), join(dir, SNAPSHOT_FILE));
    const store = await LedgerStore.open(dir);
    await store.append([failedEvent('after')]);
    await store.close();
    const { state } = await load(dir);
    expect(state.serial).toBe(migratedSerial(await expected()) + 1);
    expect((await readdir(dir)).filter((name) => !name.startsWith(LEDGER_FILE)).sort()).toEqual([`${JOURNAL_FILE}.migrated`, `${SNAPSHOT_FILE}.migrated`]);
  });

  it('a kill before the commit (an empty database beside the old files): the next open migrates', async () => {
    const dir = await fixtureCopy();
    await writeFile(join(dir, LEDGER_FILE), '');
    const { state } = await load(dir);
    expect(state.serial).toBe(migratedSerial(await expected()));
    expect(state.records).toHaveLength((await expected()).records.length);
  });

  it('a database in use beside JSON files it never migrated: refused, both left as they are', async () => {
    const { dir } = await storeWith([stagedEvent('a')]);
    await copyFile(join(FIXTURE, SNAPSHOT_FILE), join(dir, SNAPSHOT_FILE));
    const error = await loadError(dir);
    expect(isDualsyncError(error) && error.code).toBe('E_LEDGER_CONFLICT');
    expect(await readdir(dir)).toContain(SNAPSHOT_FILE);
    const db = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
    expect(db.prepare('SELECT key FROM objects').all()).toEqual([{ key: 'a' }]);
    db.close();
  });
});

describe('LedgerStore refuses what it cannot trust', () => {
  async function expectRefused(dir: string, code: string, pattern: RegExp) {
    const error = await loadError(dir);
    expect(isDualsyncError(error) && error.code).toBe(code);
    expect((error as Error).message).toMatch(pattern);
    return error;
  }

  it('a corrupt line in the middle of a JSON journal: E_LEDGER_CORRUPT naming file and line; nothing migrated, nothing written', async () => {
    const dir = await tempDir('ledger-v1-');
    const lines = history(3).map((event, index) => JSON.stringify({ formatVersion: 1, serial: index + 1, event: asJournalEvent(event) }));
    lines[2] = lines[2]!.slice(0, 20);
    await writeFile(join(dir, JOURNAL_FILE), `${lines.join('\n')}\n`);
    const error = await expectRefused(dir, 'E_LEDGER_CORRUPT', new RegExp(`${JOURNAL_FILE}:3`));
    expect(isDualsyncError(error) && error.hint).toMatch(/never delete it blindly/);
    expect(await readdir(dir)).toEqual([JOURNAL_FILE]);
    expect((await readFile(join(dir, JOURNAL_FILE), 'utf8')).split('\n')[2]).toBe(lines[2]);
  });

  it('a JSON journal line that parses but is no event: refused', async () => {
    const dir = await tempDir('ledger-v1-');
    await writeFile(join(dir, JOURNAL_FILE), `{"formatVersion":1,"serial":1,"event":{"type":"teleported","key":"a","size":1,"etag":"x"}}\n`);
    await expectRefused(dir, 'E_LEDGER_CORRUPT', /unknown event type/);
  });

  it('an unparsable or empty JSON snapshot: refused, not read as an empty ledger', async () => {
    const dir = await tempDir('ledger-v1-');
    await writeFile(join(dir, SNAPSHOT_FILE), '{"formatVersion":1,"serial":3,"records":[\n{"key":"a"');
    await expectRefused(dir, 'E_LEDGER_CORRUPT', new RegExp(SNAPSHOT_FILE));
    await writeFile(join(dir, SNAPSHOT_FILE), '');
    await expectRefused(dir, 'E_LEDGER_CORRUPT', /empty/);
  });

  it('a JSON snapshot from a newer dualsync: refused with "upgrade"', async () => {
    const dir = await tempDir('ledger-v1-');
    await writeFile(join(dir, SNAPSHOT_FILE), '{"formatVersion":2,"serial":3,"records":[\n]}\n');
    const error = await expectRefused(dir, 'E_LEDGER_NEWER', /newer dualsync/);
    expect(isDualsyncError(error) && error.hint).toMatch(/Upgrade/);
  });

  it('a database from a newer dualsync (a later schema): refused, not rewritten', async () => {
    const { dir } = await storeWith([stagedEvent('a')]);
    const db = new DatabaseSync(join(dir, LEDGER_FILE));
    db.exec('PRAGMA user_version = 99');
    db.close();
    const error = await expectRefused(dir, 'E_LEDGER_NEWER', /schema 99/);
    expect(isDualsyncError(error) && error.hint).toMatch(/Upgrade/);
  });

  it('a damaged ledger.db: E_LEDGER_CORRUPT naming the file, and the file left as it was', async () => {
    const dir = await tempDir('ledger-');
    const garbage = Buffer.alloc(8192, 'garbage ');
    await writeFile(join(dir, LEDGER_FILE), garbage);
    const error = await expectRefused(dir, 'E_LEDGER_CORRUPT', new RegExp(LEDGER_FILE));
    expect(isDualsyncError(error) && error.hint).toMatch(/never delete it blindly/);
    expect(await readFile(join(dir, LEDGER_FILE))).toEqual(garbage);
  });

  it('a -wal file left without its database is set aside with a warning, never replayed into a new ledger', async () => {
    const { dir: old } = await storeWith(history(3));
    const dir = await tempDir('ledger-');
    // A copy of a live database's -wal (taken while a store holds it open).
    const store = await LedgerStore.open(old);
    await store.append([failedEvent('x')]);
    await copyFile(join(old, `${LEDGER_FILE}-wal`), join(dir, `${LEDGER_FILE}-wal`));
    await store.close();
    const warnings: string[] = [];
    const writer = await LedgerStore.open(dir, { onWarning: (message) => warnings.push(message) });
    await writer.append([stagedEvent('new')]);
    expect(writer.state().records.map((record) => record.key)).toEqual(['new']);
    await writer.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/without .*ledger\.db; renamed it/);
  });
});

describe('LedgerStore after a power cut (SQLite write-ahead log)', () => {
  /** A live database copied while its -wal still holds every commit, with the state after each commit. */
  async function liveCopy(batches: LedgerEvent[][]): Promise<{ dir: string; states: LedgerState[]; wal: Buffer }> {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir);
    const states: LedgerState[] = [emptyLedger()];
    for (const batch of batches) {
      await store.append(batch);
      states.push(store.state());
    }
    const copy = await tempDir('ledger-live-');
    // Copied while the store is open: the commits are in the -wal, not yet checkpointed into
    // ledger.db, as a power cut would find them.
    await copyFile(join(dir, LEDGER_FILE), join(copy, LEDGER_FILE));
    const wal = await readFile(join(dir, `${LEDGER_FILE}-wal`));
    await store.close();
    return { dir: copy, states, wal };
  }

  const batches = Array.from({ length: 8 }, (_, batch) => history(6).map((event) => ({ ...event, key: `b${batch}/${event.key}` })));
  const serialsOf = (states: LedgerState[]) => states.map((state) => state.serial);

  it('a -wal cut at any point: the ledger is the state after some whole commit, never half of one, and later cuts never go back', async () => {
    const { dir, states, wal } = await liveCopy(batches);
    expect(wal.length).toBeGreaterThan(4096 * batches.length);
    let lastSerial = 0;
    const seen = new Set<number>();
    for (let cut = 0; cut <= wal.length; cut += cut < 64 ? 8 : 1031) {
      const at = await tempDir('ledger-cut-');
      await copyFile(join(dir, LEDGER_FILE), join(at, LEDGER_FILE));
      await writeFile(join(at, `${LEDGER_FILE}-wal`), wal.subarray(0, cut));
      const { state } = await load(at);
      const index = serialsOf(states).indexOf(state.serial);
      expect(index, `cut at byte ${cut}: serial ${state.serial} is no commit's`).toBeGreaterThanOrEqual(0);
      expect(state, `cut at byte ${cut}`).toEqual(states[index]);
      expect(state.serial).toBeGreaterThanOrEqual(lastSerial);
      lastSerial = state.serial;
      seen.add(state.serial);
    }
    const whole = await tempDir('ledger-cut-');
    await copyFile(join(dir, LEDGER_FILE), join(whole, LEDGER_FILE));
    await writeFile(join(whole, `${LEDGER_FILE}-wal`), wal);
    expect((await load(whole)).state).toEqual(states.at(-1));
    expect(seen.size).toBeGreaterThan(batches.length / 2);
  });

  it('a damaged frame in the middle of the -wal: the ledger stops at the last whole commit before it, and appends continue', async () => {
    const { dir, states, wal } = await liveCopy(batches);
    const damaged = Buffer.from(wal);
    const middle = Math.floor(damaged.length / 2);
    for (let i = 0; i < 64; i++) damaged[middle + i] = damaged[middle + i]! ^ 0xff;
    await writeFile(join(dir, `${LEDGER_FILE}-wal`), damaged);
    const { state } = await load(dir);
    const index = serialsOf(states).indexOf(state.serial);
    expect(index).toBeGreaterThan(0);
    expect(index).toBeLessThan(states.length - 1);
    expect(state).toEqual(states[index]);
    const store = await LedgerStore.open(dir);
    await store.append([failedEvent('after the cut')]);
    await store.close();
    expect((await load(dir)).state.serial).toBe(state.serial + 1);
  });

  it('a -wal of zero bytes after a valid header (the file grew, the data never came): the commits before stay', async () => {
    const { dir, states, wal } = await liveCopy(batches.slice(0, 3));
    await writeFile(join(dir, `${LEDGER_FILE}-wal`), Buffer.concat([wal, Buffer.alloc(8192)]));
    expect((await load(dir)).state).toEqual(states.at(-1));
  });

  it('an empty -wal beside a database that never saw a checkpoint: an empty ledger, not an error', async () => {
    const { dir } = await liveCopy(batches.slice(0, 3));
    await writeFile(join(dir, `${LEDGER_FILE}-wal`), '');
    expect((await load(dir)).state).toEqual(emptyLedger());
  });
});

describe('LedgerStore readers while a writer holds the lock', () => {
  /** A child that takes the state directory's lock, then holds one write transaction open until told to commit. */
  const holder = (dir: string) => `
    const { acquireLock } = await import(${JSON.stringify(new URL('../../src/apply/lock.ts', import.meta.url).href)});
    const { LedgerStore } = await import(${JSON.stringify(new URL('../../src/ledger/store.ts', import.meta.url).href)});
    const { DatabaseSync } = await import('node:sqlite');
    const lock = await acquireLock(${JSON.stringify(dir)}, 'test writer');
    const store = await LedgerStore.open(${JSON.stringify(dir)});
    await store.append([{ type: 'failed', key: 'k', size: 1, etag: 'e', hop: 'download', failure: { code: 's5cmd-error', cause: 'one' } }]);
    const db = new DatabaseSync(${JSON.stringify(join(dir, LEDGER_FILE))}, { timeout: 1000 });
    db.exec('BEGIN IMMEDIATE');
    db.exec("UPDATE meta SET value = 999 WHERE name = 'serial'");
    process.stdout.write('holding\\n');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.stdout.write('committed\\n'); });
  `;

  it('plan and status read the last commit at once while another process writes under the lock', async () => {
    const dir = await tempDir('ledger-');
    const child = execa(process.execPath, ['--input-type=module', '-e', holder(dir)], { reject: false, buffer: { stdout: false, stderr: true }, stdin: 'pipe' });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('holding') && resolve());
        void child.then((result) => reject(new Error(`the writer ended (${result.exitCode}): ${String(result.stderr)}`)));
      });
      expect(await readdir(dir)).toContain('lock');
      const started = Date.now();
      const store = await LedgerStore.open(dir);
      expect(store.serial).toBe(1);
      expect(store.get('k')?.attempts).toBe(1);
      expect(store.summary(5).failingCount).toBe(1);
      await store.close();
      // Well under the busy timeout: the reader did not wait for the writer's transaction.
      expect(Date.now() - started).toBeLessThan(2000);
      child.stdin!.write('go\n');
      await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('committed') && resolve()));
      const after = await LedgerStore.open(dir);
      expect(after.serial).toBe(999);
      await after.close();
    } finally {
      child.kill('SIGKILL');
      await child;
    }
  });

  it('a reader sees whole batches only while a writer appends in a loop', async () => {
    const dir = await tempDir('ledger-');
    const script = `
      const { LedgerStore } = await import(${JSON.stringify(new URL('../../src/ledger/store.ts', import.meta.url).href)});
      const store = await LedgerStore.open(${JSON.stringify(dir)});
      for (let i = 0; ; ) {
        const events = [];
        for (let j = 0; j < 25; j++, i++) events.push({ type: 'failed', key: 'key-' + (i % 40), size: 1, etag: 'e', hop: 'download', failure: { code: 's5cmd-error', cause: 'attempt ' + i } });
        await store.append(events);
        process.stdout.write(store.serial + '\\n');
      }
    `;
    const child = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, buffer: false });
    let acknowledged = 0;
    child.stdout!.on('data', (chunk: Buffer) => (acknowledged = Number(chunk.toString().trim().split('\n').at(-1))));
    try {
      let reads = 0;
      const until = Date.now() + 1500;
      while (Date.now() < until || acknowledged < 100) {
        expect(Date.now() - until, 'the writer acknowledged too little').toBeLessThan(30_000);
        const store = await LedgerStore.open(dir);
        const { serial, records } = store.state();
        await store.close();
        expect(serial % 25).toBe(0);
        expect(records.reduce((sum, record) => sum + record.attempts, 0)).toBe(serial);
        reads++;
      }
      expect(reads).toBeGreaterThan(5);
    } finally {
      child.kill('SIGKILL');
      await child;
    }
    const { state } = await load(dir);
    expect(state.serial).toBeGreaterThanOrEqual(acknowledged);
    expect(state.records.reduce((sum, record) => sum + record.attempts, 0)).toBe(state.serial);
  });
});
