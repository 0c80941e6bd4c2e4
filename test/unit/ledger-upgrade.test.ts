/**
 * Schema step 5 on a site's old ledger, attacked as a week at a site goes: the process is killed
 * (kill -9) while it migrates 200k rows, two processes open the same old ledger at once, and a
 * read-only backup of a step-4 ledger is verified. The step runs in the one transaction that
 * takes the schema up: a ledger is at its old schema untouched or at 5 whole, every row once
 * vouched for by one baseline event, never two.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { LEDGER_FILE } from '../../src/ledger/store.ts';
import { EventLog, GENESIS } from '../../src/ledger/events.ts';
import { LedgerQueries } from '../../src/ledger/queries.ts';
import { COLUMN_NAMES, MIGRATIONS, SCHEMA_VERSION } from '../../src/ledger/schema.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';
import { verifyLedgerDir } from '../harness/ledger.ts';
import { waitFor } from '../harness/wait.ts';
import { bindReadOnly, canBindReadOnly, unmount } from '../harness/tmpfs.ts';

afterAll(removeTempDirs);

const CAN_BIND_READ_ONLY = canBindReadOnly();
const STORE = resolve(import.meta.dirname, '../../src/ledger/store.ts');
const REPORT = resolve(import.meta.dirname, '../../src/ops/report.ts');

/**
 * A ledger whose `rows` rows predate its event log, as schema step `steps` left it (2: no log;
 * 4: an empty log): every 50th row skipped with a sentence, as dualsync stored them until step 5.
 */
function oldSiteLedger(dir: string, steps: number, rows: number): void {
  const db = new DatabaseSync(join(dir, LEDGER_FILE));
  db.exec('PRAGMA journal_mode = WAL');
  for (const step of MIGRATIONS.slice(0, steps)) db.exec(step as string);
  db.exec(`PRAGMA user_version = ${steps}`);
  db.exec('BEGIN');
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
     INSERT INTO objects (key, size, etag, stage, volume, verified_by, attempts, skip_reason, staged_at, delivered_at, purged_at)
     SELECT printf('site-7/cam-%02d/frame-%08d.jpg', i % 97, i), 65536 + i, printf('%08x%08x%08x%08x', i, i * 7, i * 13, i * 31),
            CASE WHEN i % 50 = 0 THEN NULL ELSE 'purged' END, '/mnt/staging-0', 'size', 0,
            CASE WHEN i % 50 = 0 THEN (CASE WHEN i % 100 = 0 THEN 'empty key' ELSE 'a reason no dualsync wrote' END) END,
            '2025-11-29T10:00:00.000Z', '2025-11-29T10:01:00.000Z', '2025-11-29T10:02:00.000Z'
     FROM n`,
  ).run(rows);
  db.prepare(`UPDATE meta SET value = ? WHERE name = 'serial'`).run(rows * 3);
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
}

/** What the ledger of `dir` holds: schema, rows (with a digest of their keys and sizes), baselines. */
function ledgerFacts(dir: string): { version: number; rows: number; keys: string; events: number; baselines: number; baselineKeys: number; serial: number } {
  const db = new DatabaseSync(join(dir, LEDGER_FILE), { readOnly: true });
  try {
    const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
    const rows = (db.prepare('SELECT count(*) AS n FROM objects').get() as { n: number }).n;
    const hash = createHash('sha256');
    for (const row of db.prepare('SELECT key, size, etag, stage FROM objects ORDER BY key').iterate()) hash.update(JSON.stringify(row));
    const hasEvents = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'events'`).get() !== undefined;
    const count = (sql: string) => (hasEvents ? (db.prepare(sql).get() as { n: number }).n : 0);
    return {
      version,
      rows,
      keys: hash.digest('hex'),
      events: count('SELECT count(*) AS n FROM events'),
      baselines: count(`SELECT count(*) AS n FROM events WHERE type = 'baseline'`),
      baselineKeys: count(`SELECT count(DISTINCT key) AS n FROM events WHERE type = 'baseline'`),
      serial: (db.prepare(`SELECT value FROM meta WHERE name = 'serial'`).get() as { value: number }).value,
    };
  } finally {
    db.close();
  }
}

/** A child process that opens the ledger of `dir` as every command does (migrating it), then verifies it; prints the outcome as JSON. */
function openInChild(dir: string): ChildProcess & { output: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const script = `
    import { LedgerStore } from ${JSON.stringify(STORE)};
    import { verifyDatabase } from ${JSON.stringify(REPORT)};
    try {
      const store = await LedgerStore.open(${JSON.stringify(dir)});
      const result = store.read((db) => verifyDatabase(db), () => ({ ok: false, problem: 'no ledger' }));
      await store.close();
      process.stdout.write(JSON.stringify(result));
    } catch (error) {
      process.stdout.write(JSON.stringify({ error: error.code ?? 'none', message: error.message }));
      process.exitCode = 3;
    }`;
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const output = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
  return Object.assign(child, { output });
}

function walBytes(dir: string): number {
  const wal = join(dir, `${LEDGER_FILE}-wal`);
  return existsSync(wal) ? statSync(wal).size : 0;
}

const ROWS = 200_000;

describe('schema step 5 killed (kill -9) while it migrates a large old ledger', () => {
  // Killed early (the skip reasons' rewrite), in the middle of the baselines and late in them.
  it.each([[1 << 20], [16 << 20], [32 << 20]])(
    'killed once the write-ahead log holds %i bytes: schema 4 untouched or 5 whole; the reopen migrates once, verify passes, no row lost',
    async (walThreshold) => {
      const dir = await tempDir('ledger-upgrade-kill-');
      oldSiteLedger(dir, 4, ROWS);
      const before = ledgerFacts(dir);
      expect(before).toMatchObject({ version: 4, rows: ROWS, events: 0 });

      const child = openInChild(dir);
      await waitFor(() => (walBytes(dir) >= walThreshold || child.exitCode !== null ? true : undefined), 120_000, `the WAL to hold ${walThreshold} bytes`, 5);
      child.kill('SIGKILL');
      const ended = await child.output;

      // The full migration leaves ~49 MB in the log: each threshold is reached before its commit.
      expect(ended.signal, ended.stdout + ended.stderr).toBe('SIGKILL');
      // Untouched: schema 4, no event, the rows and the serial as they were; never half of step 5.
      expect(ledgerFacts(dir)).toEqual(before);

      expect(await verifyLedgerDir(dir)).toMatchObject({ ok: true, uncovered: 0, events: ROWS });
      const reopened = ledgerFacts(dir);
      expect(reopened).toMatchObject({ version: SCHEMA_VERSION, rows: ROWS, keys: before.keys, events: ROWS, baselines: ROWS, baselineKeys: ROWS, serial: before.serial + ROWS });
      // A second open migrates nothing again.
      expect(await verifyLedgerDir(dir)).toMatchObject({ ok: true, events: ROWS });
      expect(ledgerFacts(dir)).toEqual(reopened);
    },
    300_000,
  );
});

describe('two processes open the same old ledger at once', () => {
  it.each([[2], [4]])('a step-%i ledger, 6 rounds of two opens started together: one migration, baselines once per row, both verify', async (steps) => {
    const rows = 30_000;
    for (let round = 0; round < 6; round++) {
      const dir = await tempDir('ledger-upgrade-race-');
      oldSiteLedger(dir, steps, rows);
      const before = ledgerFacts(dir);
      const children = [openInChild(dir), openInChild(dir)];
      const results = await Promise.all(children.map((child) => child.output));
      for (const result of results) {
        expect(result, `round ${round}: ${result.stdout}${result.stderr}`).toMatchObject({ code: 0, signal: null });
        expect(JSON.parse(result.stdout), `round ${round}`).toMatchObject({ ok: true, uncovered: 0, events: rows });
      }
      expect(ledgerFacts(dir)).toMatchObject({ version: SCHEMA_VERSION, rows, keys: before.keys, events: rows, baselines: rows, baselineKeys: rows, serial: before.serial + rows });
    }
  }, 300_000);
});

/** Every file under `dir` with the sha256 of its bytes. */
function filesWithDigests(dir: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) found[name] = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
  return found;
}

describe('a read-only state directory holding a step-4 ledger (a backup)', () => {
  it.skipIf(!CAN_BIND_READ_ONLY)('verifies as a step-4 ledger (rows that predate the log counted, not failed) and no byte of it changes', async () => {
    const dir = await tempDir('ledger-upgrade-ro-');
    oldSiteLedger(dir, 4, 2000);
    // Some events after the rows that predate the log, as a step-4 dualsync wrote them.
    const db = new DatabaseSync(join(dir, LEDGER_FILE));
    const queries = new LedgerQueries(db);
    const log = new EventLog(db);
    let hash = GENESIS;
    const serial = queries.serial();
    const events: LedgerEvent[] = [
      { type: 'staged', key: 'new/a.jpg', size: 3, etag: 'e3', volume: '/mnt/s-0', verifiedBy: 'size' },
      { type: 'skipped', key: 'new/b/', size: 0, etag: 'e0', reason: "ends with '/' (a directory marker, not a file)" } as unknown as LedgerEvent,
    ];
    const rowOf = (event: LedgerEvent) =>
      event.type === 'staged'
        ? queries.put({ key: event.key, size: 3, etag: 'e3', attempts: 0, stage: 'staged', volume: '/mnt/s-0', verifiedBy: 'size' })
        : (() => {
            db.prepare(`INSERT INTO objects (key, size, etag, attempts, skip_reason) VALUES (?, 0, 'e0', 0, ?)`).run(event.key, "ends with '/' (a directory marker, not a file)");
            const select = db.prepare(`SELECT ${COLUMN_NAMES.join(', ')} FROM objects WHERE key = ?`);
            select.setReturnArrays(true);
            return select.get(event.key) as unknown as (string | number | null)[];
          })();
    events.forEach((event, i) => {
      hash = log.append(hash, serial + i + 1, '2026-01-01T00:00:00.000Z', event, rowOf(event));
    });
    queries.setSerial(serial + events.length);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const files = filesWithDigests(dir);

    expect(bindReadOnly(dir)).toBe(true);
    let result;
    try {
      result = await verifyLedgerDir(dir);
    } finally {
      unmount(dir);
    }
    expect(result).toMatchObject({ ok: true, events: 2, uncovered: 2000 });
    expect(filesWithDigests(dir)).toEqual(files);
    expect(ledgerFacts(dir).version).toBe(4);
  });
});
