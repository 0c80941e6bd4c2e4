/**
 * The ledger store against the ways a ledger goes missing or cannot be used: emptied, lost with
 * its -wal, behind what it committed, unwritable, holding numbers it cannot give back; and the
 * JSON-ledger migration against records it could not read back.
 */
import { copyFile, mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { ledgerError } from '../../src/ledger/db.ts';
import { HIGH_WATER_FILE, JOURNAL_FILE, LEDGER_FILE, LedgerStore, markStartedOver, SNAPSHOT_FILE } from '../../src/ledger/store.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';
import { bindReadOnly, canBindReadOnly, unmount } from '../harness/tmpfs.ts';

afterAll(removeTempDirs);

const staged = (key: string, size = 3): LedgerEvent => ({ type: 'staged', key, size, etag: `e-${key}`, volume: '/vol/1', verifiedBy: 'size' });

async function ledgerWith(count: number): Promise<string> {
  const dir = await tempDir('ledger-');
  const store = await LedgerStore.open(dir);
  await store.append(Array.from({ length: count }, (_, i) => staged(`k${i}`)));
  await store.close();
  return dir;
}

async function openError(dir: string, options: { allowLost?: boolean } = {}): Promise<unknown> {
  try {
    const store = await LedgerStore.open(dir, options);
    store.summary(10);
    for (const record of store.records()) expect(record.key).toBeTypeOf('string');
    await store.close();
  } catch (error) {
    return error;
  }
  return undefined;
}

async function expectLost(dir: string, message: RegExp): Promise<void> {
  const error = await openError(dir);
  expect(isDualsyncError(error) && error.code, String(error)).toBe('E_LEDGER_LOST');
  expect((error as Error).message).toMatch(message);
  expect(isDualsyncError(error) && error.hint).toMatch(/backup.*dualsync reset/s);
}

async function serialOf(dir: string): Promise<number> {
  const store = await LedgerStore.open(dir);
  try {
    return store.serial;
  } finally {
    await store.close();
  }
}

async function markOf(dir: string): Promise<string> {
  return readFile(join(dir, HIGH_WATER_FILE), 'utf8');
}

describe('the high-water mark beside the ledger', () => {
  it('follows every commit and is never ahead of the ledger', async () => {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir);
    await store.append([staged('a'), staged('b')]);
    expect(await markOf(dir)).toBe('serial 0000000000000002\n');
    await store.append([staged('c')]);
    expect(await markOf(dir)).toBe('serial 0000000000000003\n');
    await store.close();
    expect(await serialOf(dir)).toBe(3);
  });

  it('readers opening while a writer appends in a loop are never refused (the mark is read before the ledger)', async () => {
    const dir = await ledgerWith(1);
    const writer = await LedgerStore.open(dir);
    let writing = true;
    const appends = (async () => {
      for (let i = 0; writing; i++) await writer.append([staged(`loop-${i}`)]);
    })();
    let opens = 0;
    try {
      const until = Date.now() + 3000;
      while (Date.now() < until || opens < 50) {
        const reader = await LedgerStore.open(dir);
        expect(reader.serial).toBeGreaterThan(0);
        await reader.close();
        opens++;
      }
    } finally {
      writing = false;
      await appends;
      await writer.close();
    }
    expect(opens).toBeGreaterThanOrEqual(50);
  });
});

describe('an emptied or lost ledger is refused, not taken for a fresh one (invariant 12)', () => {
  it('ledger.db truncated to 0 bytes', async () => {
    const dir = await ledgerWith(5);
    await truncate(join(dir, LEDGER_FILE), 0);
    await expectLost(dir, /ledger\.db is empty \(0 bytes\).*committed serial 5/);
    expect((await stat(join(dir, LEDGER_FILE))).size).toBe(0);
  });

  it('ledger.db deleted', async () => {
    const dir = await ledgerWith(2);
    await rm(join(dir, LEDGER_FILE));
    await expectLost(dir, /ledger\.db is missing.*committed serial 2/);
    expect(await readdir(dir)).toEqual([HIGH_WATER_FILE]);
  });

  it('the -wal lost while it held the last commits: behind the mark, refused, and the hint says how to accept an older copy on purpose', async () => {
    const dir = await ledgerWith(3);
    const store = await LedgerStore.open(dir);
    await store.append([staged('x'), staged('y')]);
    // Copied while open: ledger.db without its -wal is the ledger as of the last checkpoint.
    const copy = await tempDir('ledger-copy-');
    await copyFile(join(dir, LEDGER_FILE), join(copy, LEDGER_FILE));
    await copyFile(join(dir, HIGH_WATER_FILE), join(copy, HIGH_WATER_FILE));
    await store.close();
    const error = await openError(copy);
    expect(isDualsyncError(error) && error.code).toBe('E_LEDGER_LOST');
    expect((error as Error).message).toMatch(/is at serial 3, .*committed serial 5.*ledger\.db-wal was lost/);
    expect(isDualsyncError(error) && error.hint).toMatch(new RegExp(`restored an older copy .* delete .*${HIGH_WATER_FILE}`));
    // The operator's choice: without the mark, the older ledger is read as it is.
    await rm(join(copy, HIGH_WATER_FILE));
    expect(await serialOf(copy)).toBe(3);
  });

  it('without a mark (a state directory of an earlier version): its id or a last-run.json that recorded work is the evidence', async () => {
    const withId = await tempDir('ledger-');
    await writeFile(join(withId, 'id'), '0b5c1d8e-6f4a-4c3b-9a2d-1e0f2a3b4c5d\n');
    await expectLost(withId, /ledger\.db is missing.*id \(it has claimed staging volumes\)/);

    const withRun = await tempDir('ledger-');
    await writeFile(join(withRun, 'last-run.json'), JSON.stringify({ downloaded: { count: 4, bytes: 10 }, uploaded: { count: 0, bytes: 0 }, failures: 0 }));
    await expectLost(withRun, /last-run\.json \(a run recorded work\)/);

    // A header-only ledger.db (the WAL with the schema and every commit lost) beside an id.
    const headerOnly = await tempDir('ledger-');
    await writeFile(join(headerOnly, 'id'), '0b5c1d8e-6f4a-4c3b-9a2d-1e0f2a3b4c5d\n');
    const db = new DatabaseSync(join(headerOnly, LEDGER_FILE));
    db.exec('PRAGMA journal_mode = WAL');
    db.close();
    expect((await stat(join(headerOnly, LEDGER_FILE))).size).toBeGreaterThan(0);
    await expectLost(headerOnly, /is empty \(\d+ bytes, no tables\)/);
  });

  it('a fresh state directory, or a last run that recorded nothing, is no evidence: the ledger starts', async () => {
    const dir = await tempDir('ledger-');
    await writeFile(join(dir, 'last-run.json'), JSON.stringify({ downloaded: { count: 0, bytes: 0 }, uploaded: { count: 0, bytes: 0 }, purged: { count: 0 }, adopted: { count: 0 }, failures: 0 }));
    expect(await serialOf(dir)).toBe(0);
    const store = await LedgerStore.open(dir);
    await store.append([staged('first')]);
    await store.close();
    expect(await serialOf(dir)).toBe(1);
  });

  it('a first run killed between creating ledger.db and committing its schema: no evidence yet, the next open builds it', async () => {
    const dir = await tempDir('ledger-');
    const db = new DatabaseSync(join(dir, LEDGER_FILE));
    db.exec('PRAGMA journal_mode = WAL');
    db.close();
    expect(await serialOf(dir)).toBe(0);
  });

  it('reset: allowLost reads what is left without writing; the started-over note lets the next run begin a new ledger, and the first write removes it', async () => {
    const dir = await ledgerWith(4);
    await writeFile(join(dir, 'id'), '0b5c1d8e-6f4a-4c3b-9a2d-1e0f2a3b4c5d\n');
    await truncate(join(dir, LEDGER_FILE), 0);
    const left = await LedgerStore.open(dir, { allowLost: true });
    expect(left.summary(0).records).toBe(0);
    await left.close();
    expect((await stat(join(dir, LEDGER_FILE))).size).toBe(0);

    // What reset does: the ledger files go into a backup, the id stays.
    await mkdir(join(dir, 'backup'));
    for (const name of [LEDGER_FILE, HIGH_WATER_FILE]) await copyFile(join(dir, name), join(dir, 'backup', name)).then(() => rm(join(dir, name)));
    await expectLost(dir, /missing.*id/);
    await markStartedOver(dir, new Date());
    const fresh = await LedgerStore.open(dir);
    expect(fresh.serial).toBe(0);
    await fresh.proveWritable();
    await fresh.close();
    expect((await readdir(dir)).sort()).toEqual(['backup', 'id', LEDGER_FILE, HIGH_WATER_FILE].sort());
    expect(await markOf(dir)).toBe('serial 0000000000000000\n');
    expect(await serialOf(dir)).toBe(0);
  });
});

const CAN_BIND_READ_ONLY = canBindReadOnly();

describe('a ledger that cannot be written', () => {
  it('the codes say what failed: a write (a read-only database) is E_LEDGER_WRITE, an open or a read is E_LEDGER_READ', () => {
    const readonly = Object.assign(new Error('attempt to write a readonly database'), { errcode: 8 });
    const cantOpen = Object.assign(new Error('unable to open database file'), { errcode: 14 });
    const code = (error: Error) => (isDualsyncError(error) ? error.code : undefined);
    expect(code(ledgerError('/s/ledger.db', 'cannot write', readonly))).toBe('E_LEDGER_WRITE');
    expect(code(ledgerError('/s/ledger.db', 'cannot read', readonly))).toBe('E_LEDGER_WRITE');
    expect(code(ledgerError('/s/ledger.db', 'cannot open', cantOpen))).toBe('E_LEDGER_READ');
    expect(code(ledgerError('/s/ledger.db', 'cannot write', cantOpen))).toBe('E_LEDGER_WRITE');
    expect(code(ledgerError('/s/ledger.db', 'cannot read', new Error('something else')))).toBe('E_LEDGER_READ');
    expect(code(ledgerError('/s/ledger.db', 'cannot write', new Error('something else')))).toBe('E_LEDGER_WRITE');
    expect(code(ledgerError('/s/ledger.db', 'cannot write', Object.assign(new Error('disk full'), { errcode: 13 })))).toBe('E_LEDGER_WRITE');
  });

  it.skipIf(!CAN_BIND_READ_ONLY)('ledger.db on a read-only mount: read as it is; proveWritable fails with E_LEDGER_WRITE and changes nothing', async () => {
    const dir = await ledgerWith(3);
    const file = join(dir, LEDGER_FILE);
    const before = await readFile(file);
    expect(bindReadOnly(file)).toBe(true);
    try {
      const store = await LedgerStore.open(dir);
      expect(store.serial).toBe(3);
      const error = await store.proveWritable().then(() => undefined, (failure: unknown) => failure);
      expect(isDualsyncError(error) && error.code, String(error)).toBe('E_LEDGER_WRITE');
      expect((error as Error).message).toMatch(/readonly|read-only/);
      await store.close().catch(() => undefined);
    } finally {
      unmount(file);
    }
    expect(await readFile(file)).toEqual(before);
    expect(await serialOf(dir)).toBe(3);
  });

  it.skipIf(!CAN_BIND_READ_ONLY)('a read-only state directory: read without a -wal (immutable); with a -wal holding commits but no -shm, refused clearly rather than read stale', async () => {
    const dir = await ledgerWith(2);
    expect(bindReadOnly(dir)).toBe(true);
    try {
      expect(await serialOf(dir)).toBe(2);
    } finally {
      unmount(dir);
    }
    // A copy taken while a run was writing: commits in the -wal, no -shm.
    const live = await LedgerStore.open(dir);
    await live.append([staged('late')]);
    const copy = await tempDir('ledger-snapshot-');
    for (const name of [LEDGER_FILE, `${LEDGER_FILE}-wal`, HIGH_WATER_FILE]) await copyFile(join(dir, name), join(copy, name));
    await live.close();
    expect(bindReadOnly(copy)).toBe(true);
    try {
      const error = await openError(copy);
      expect(isDualsyncError(error) && error.code, String(error)).toBe('E_LEDGER_READ');
      expect((error as Error).message).toMatch(/ledger\.db-wal holds commits/);
      expect(isDualsyncError(error) && error.hint).toMatch(/writable place/);
    } finally {
      unmount(copy);
    }
  });
});

describe('numbers the ledger cannot give back', () => {
  it('a size past 2^53 in a row: E_LEDGER_CORRUPT naming the key, from get, records and summary; never a raw RangeError', async () => {
    const dir = await ledgerWith(2);
    const db = new DatabaseSync(join(dir, LEDGER_FILE));
    db.prepare('UPDATE objects SET size = ? WHERE key = ?').run(9007199254740993n, 'k1');
    db.close();
    const store = await LedgerStore.open(dir);
    try {
      for (const read of [() => store.get('k1'), () => [...store.records()], () => store.summary(10), () => store.state()]) {
        let error: unknown;
        try {
          read();
        } catch (failure) {
          error = failure;
        }
        expect(isDualsyncError(error) && error.code, String(error)).toBe('E_LEDGER_CORRUPT');
        expect((error as Error).message).toMatch(/key 'k1': size 9007199254740993/);
      }
      expect(store.get('k0')?.size).toBe(3);
    } finally {
      await store.close();
    }
  });
});

describe('the JSON-ledger migration refuses what it could not read back, and leaves the directory as it was', () => {
  const record = (key: string, extra: Record<string, unknown> = {}) => JSON.stringify({ key, size: 3, etag: `e-${key}`, attempts: 0, stage: 'delivered', verifiedBy: 'size', ...extra });

  async function refusedMigration(files: Record<string, string>, where: RegExp, problem: RegExp): Promise<void> {
    const dir = await tempDir('ledger-v1-');
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const error = await openError(dir);
    expect(isDualsyncError(error) && error.code, String(error)).toBe('E_LEDGER_CORRUPT');
    expect((error as Error).message).toMatch(where);
    expect((error as Error).message).toMatch(problem);
    expect((await readdir(dir)).sort()).toEqual(Object.keys(files).sort());
    for (const [name, text] of Object.entries(files)) expect(await readFile(join(dir, name), 'utf8')).toBe(text);
  }

  const snapshot = (...lines: string[]) => `{"formatVersion":1,"serial":${lines.length},"records":[\n${lines.join(',\n')}\n]}\n`;

  it.each([
    ['a size past 2^53', record('huge', { size: 9007199254740993 }), /size is not a byte count/],
    ['verifiedBy an object', record('odd', { verifiedBy: { by: 'size' } }), /verifiedBy is not a string/],
    ['attempts past 2^53', record('many', { attempts: 2 ** 60 }), /attempts is not a count/],
    ['etagComparable a string', record('flag', { etagComparable: 'yes' }), /etagComparable is not true or false/],
    ['lastDelivered without a size', record('last', { lastDelivered: { etag: 'x' } }), /lastDelivered\.size is not a byte count/],
  ])('%s: refused naming the snapshot line', async (_name, bad, problem) => {
    await refusedMigration({ [SNAPSHOT_FILE]: snapshot(record('a'), bad) }, new RegExp(`${SNAPSHOT_FILE}:3`), problem);
  });

  it('sizes that sum past 2^53: refused at the line where the sum passed it', async () => {
    const big = 2 ** 52;
    await refusedMigration({ [SNAPSHOT_FILE]: snapshot(record('a', { size: big }), record('b', { size: big - 1 }), record('c', { size: 5 })) }, new RegExp(`${SNAPSHOT_FILE}:4`), /sum past 2\^53/);
  });

  it('a snapshot read whole (not one record per line): the record is named by its index', async () => {
    const whole = JSON.stringify({ formatVersion: 1, serial: 2, records: [JSON.parse(record('a')), JSON.parse(record('odd', { md5: 42 }))] });
    await refusedMigration({ [SNAPSHOT_FILE]: whole }, new RegExp(`${SNAPSHOT_FILE} \\(record 2\\)`), /md5 is not a string/);
  });

  it('a journal event with a field of the wrong type, or one that grows the sum past 2^53: refused naming the journal line', async () => {
    const event = (serial: number, fields: Record<string, unknown>) => `${JSON.stringify({ formatVersion: 1, serial, event: { type: 'staged', key: 'a', size: 3, etag: 'e-a2', volume: '/v', verifiedBy: 'size', ...fields } })}\n`;
    await refusedMigration({ [SNAPSHOT_FILE]: snapshot(record('a')), [JOURNAL_FILE]: event(2, {}) + event(3, { md5: { x: 1 } }) }, new RegExp(`${JOURNAL_FILE}:2`), /md5 is not a string/);
    const nearly = Number.MAX_SAFE_INTEGER - 10;
    await refusedMigration(
      { [SNAPSHOT_FILE]: snapshot(record('a'), record('b', { size: nearly })), [JOURNAL_FILE]: event(3, {}) + event(4, { key: 'a', size: 100 }) },
      new RegExp(`${JOURNAL_FILE}:2`),
      /sum past 2\^53/,
    );
  });
});
