/**
 * `npm run bench -- ledger [N...]`: the SQLite ledger at N rows (default 1,000,000 and
 * 10,000,000). For each N it prints:
 * - insert: N rows written by SQL into a fresh ledger.db (schema and indexes as dualsync makes
 *   them), the way a bench gets a large ledger fast;
 * - migrate (N <= BENCH_MIGRATE_MAX, default 1,000,000): the first open of a JSON ledger of N
 *   records (snapshot + a journal of N/10 events), as an upgraded dualsync does it;
 * - status: `dualsync status --json` through the real CLI (target at 10M: within 2 s);
 * - read in key order: every record through the store's cursor (`records()`), and the whole
 *   ledger as today's planner takes it (`state()`, an array of every record; N <= BENCH_STATE_MAX,
 *   default 2,000,000);
 * each in its own process, with its wall time and peak RSS.
 *
 * - verify (N <= BENCH_VERIFY_MAX, default 1,000,000): `report --verify` over the N rows and one
 *   event per row (written in an order other than key order, as apply's batches interleave keys).
 *
 * `npm run bench -- ledger events [--key-order] [N] [ROUNDS]`: the cost of the event log. N objects (default
 * 100,000) go through `applyEvents` as apply records them (staged, delivered, purged: 3 events
 * each, in batches of 1,000 per commit) in five ways, one after the other, ROUNDS times (default
 * 3; alternating, so that a shared machine's load falls on each alike): into a ledger without any
 * log (the records alone); through the log's hashing with its rows discarded; with a slim row
 * (seq and hash only, the least a checkable chain keeps); with the whole row and no index; with
 * the whole row and an index on (key, seq). It prints the log's bytes per event and per million
 * objects, the wall and CPU time per 100,000 events of each run, and each way's median CPU.
 * Object after object the keys jump between cameras; `--key-order` writes them in key order.
 *
 * `npm run bench -- ledger verify [N...]`: the verify row alone, at each N (default 1,000,000).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, LEDGER_FILE, upgradeSchema } from '../src/ledger/db.ts';
import { LedgerStore } from '../src/ledger/store.ts';
import { LedgerQueries } from '../src/ledger/queries.ts';
import { applyEvent } from '../src/ledger/merge.ts';
import type { LedgerEvent } from '../src/model/ledger.ts';
import { EventLog } from '../src/ledger/events.ts';
import { arrayToRecord, COLUMN_NAMES, recordToRow, type SqlValue } from '../src/ledger/schema.ts';
import { verifyDatabase } from '../src/ops/report.ts';
import { writeLegacyLedger } from '../test/harness/ledger.ts';

const MIB = 1024 * 1024;
const STATUS_TARGET_MS = 2000;

interface Measured {
  wallMs: number;
  /** CPU time of the process (all threads): moves less than wall time when the box is shared. */
  cpuMs?: number;
  maxRss: number;
  detail?: string;
}

/** Fills `stateDir`'s ledger with N synthetic rows by one INSERT ... SELECT over a counter. */
async function insertRows(stateDir: string, rows: number): Promise<void> {
  const file = join(stateDir, LEDGER_FILE);
  const db = connect(file);
  await upgradeSchema(db, file);
  db.exec('BEGIN');
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
     INSERT INTO objects (key, size, etag, stage, volume, verified_by, attempts, last_error, staged_at, delivered_at, purged_at)
     SELECT printf('site-7/cam-%02d/day-%03d/frame-%08d.jpg', i % 97, (i / 128) % 365, i),
            65536 + (i * 2654435761) % 4194304,
            printf('%08x%08x%08x%08x', i, i * 7, i * 13, i * 31),
            CASE i % 6 WHEN 0 THEN NULL WHEN 1 THEN NULL WHEN 4 THEN 'staged' WHEN 5 THEN 'delivered' ELSE 'purged' END,
            CASE WHEN i % 6 IN (4, 5) THEN '/mnt/staging-' || (i % 2) END,
            CASE WHEN i % 6 >= 2 THEN 'size' END,
            CASE WHEN i % 1000 = 1 THEN 3 ELSE 0 END,
            CASE WHEN i % 1000 = 1 THEN 'download: connection reset' END,
            CASE WHEN i % 6 >= 2 THEN '2026-11-29T10:00:00.000Z' END,
            CASE WHEN i % 6 IN (2, 3, 5) THEN '2026-11-29T10:01:00.000Z' END,
            CASE WHEN i % 6 IN (2, 3) THEN '2026-11-29T10:02:00.000Z' END
     FROM n`,
  ).run(rows);
  db.prepare(`UPDATE meta SET value = ? WHERE name = 'serial'`).run(rows);
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
}

/**
 * One event per row of `stateDir`'s ledger, chained and matching the row, so that `report --verify`
 * passes: written in frame order, which is not key order (the keys start with the camera), as
 * apply's batches are not; the serial moves to the last event.
 */
function logRows(stateDir: string): number {
  const db = connect(join(stateDir, LEDGER_FILE));
  const log = new EventLog(db);
  const rows = db.prepare(`SELECT ${COLUMN_NAMES.join(', ')} FROM objects ORDER BY substr(key, -12)`);
  rows.setReturnArrays(true);
  const first = (db.prepare(`SELECT value FROM meta WHERE name = 'serial'`).get() as { value: number }).value;
  let seq = first;
  let hash = log.head();
  db.exec('BEGIN');
  for (const values of rows.iterate()) {
    const record = arrayToRecord(values as unknown as SqlValue[]);
    hash = log.append(hash, ++seq, '2026-11-29T10:03:00.000Z', { type: 'staged', key: record.key, size: record.size, etag: record.etag, volume: '/mnt/staging-0', verifiedBy: 'size' }, recordToRow(record));
  }
  db.prepare(`UPDATE meta SET value = ? WHERE name = 'serial'`).run(seq);
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  return seq - first;
}

/** One step, run in this (child) process; prints what it measured as one JSON line. */
async function child(step: string, stateDir: string, rows: number): Promise<void> {
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let detail = '';
  if (step === 'insert') {
    await insertRows(stateDir, rows);
    detail = `${(statSync(join(stateDir, LEDGER_FILE)).size / MIB).toFixed(0)} MiB on disk`;
  } else if (step === 'write-legacy') {
    await writeLegacyLedger(stateDir, rows);
  } else if (step === 'migrate') {
    const store = await LedgerStore.open(stateDir);
    detail = `serial ${store.serial}`;
    await store.close();
  } else if (step === 'cursor') {
    const store = await LedgerStore.open(stateDir);
    let count = 0;
    for (const record of store.records()) if (record.size >= 0) count++;
    await store.close();
    detail = `${count} records`;
  } else if (step === 'log') {
    detail = `${logRows(stateDir)} events`;
  } else if (step === 'verify') {
    const store = await LedgerStore.open(stateDir);
    const result = store.read((db) => verifyDatabase(db), () => undefined);
    await store.close();
    if (result?.ok !== true) throw new Error(`verify failed: ${result?.problem ?? 'no ledger'}`);
    detail = `${result.events} events verified`;
  } else if (step === 'state') {
    const store = await LedgerStore.open(stateDir);
    detail = `${store.state().records.length} records`;
    await store.close();
  }
  const cpu = process.cpuUsage(cpuStart);
  const measured: Measured = { wallMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000, maxRss: process.resourceUsage().maxRSS * 1024, detail };
  process.stdout.write(`${JSON.stringify(measured)}\n`);
}

function runChild(step: string, stateDir: string, rows: number): Measured {
  const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', step, stateDir, String(rows)], { encoding: 'utf8', maxBuffer: MIB });
  return JSON.parse(output.trim().split('\n').at(-1)!) as Measured;
}

/** `dualsync status --json` through the real CLI, timed from outside (Node's start included); peak RSS from /usr/bin/time. */
function runStatus(dir: string, stateDir: string): Measured {
  const config = join(dir, 'sync.yaml');
  mkdirSync(join(dir, 'volume'), { recursive: true });
  writeFileSync(
    config,
    [
      'version: 1',
      'source: { bucket: edge, region: us-east-1, endpoint: "http://127.0.0.1:9" }',
      'destination: { bucket: cloud, region: us-east-1, endpoint: "http://127.0.0.1:9" }',
      `staging: { volumes: [${JSON.stringify(join(dir, 'volume'))}] }`,
      `stateDir: ${JSON.stringify(stateDir)}`,
      '',
    ].join('\n'),
  );
  const bin = fileURLToPath(new URL('../bin/dualsync', import.meta.url));
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', 'maxrss %M cpu %U %S', process.execPath, bin, 'status', '--json', '-c', config], { encoding: 'utf8', maxBuffer: 64 * MIB });
  const wallMs = performance.now() - started;
  if (run.status !== 0) throw new Error(`dualsync status failed: ${run.stderr}`);
  const report = JSON.parse(run.stdout) as { stages: Record<string, { objects: number }>; failingCount: number };
  const times = /maxrss (\d+) cpu ([\d.]+) ([\d.]+)/.exec(run.stderr);
  const maxRss = Number(times?.[1] ?? 0) * 1024;
  const cpuMs = (Number(times?.[2] ?? 0) + Number(times?.[3] ?? 0)) * 1000;
  return { wallMs, cpuMs, maxRss, detail: `${Object.entries(report.stages).map(([stage, count]) => `${count.objects} ${stage}`).join(', ')}, ${report.failingCount} failing` };
}

const mib = (bytes: number): string => (bytes === 0 ? '?' : `${(bytes / MIB).toFixed(0)} MiB`);
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/**
 * The events apply records for object `i`: staged, delivered, purged. Object after object, the
 * keys jump between 97 cameras (an index takes them at scattered places), or with `keyOrder` follow
 * key order, as apply's keys mostly do (a plan is in key order), where an index only appends.
 */
function objectEvents(i: number, keyOrder: boolean): LedgerEvent[] {
  const camera = keyOrder ? Math.floor(i / 10_000) % 100 : i % 97;
  const key = `site-7/cam-${String(camera).padStart(2, '0')}/day-${String(Math.floor(i / 128) % 365).padStart(3, '0')}/frame-${String(i).padStart(8, '0')}.jpg`;
  const size = 65536 + ((i * 2654435761) % 4194304);
  const etag = [i, i * 7, i * 13, i * 31].map((n) => (n >>> 0).toString(16).padStart(8, '0')).join('');
  const volume = `/mnt/staging-${i % 2}`;
  return [
    { type: 'staged', key, size, etag, volume, verifiedBy: 'size', etagComparable: true },
    { type: 'delivered', key, size, etag, verifiedBy: 'size', destinationEtag: etag },
    { type: 'purged', key, size, etag },
  ];
}

/**
 * What a run writes besides the records: nothing; the log's hashes alone (rows discarded); a slim
 * row (seq and hash); the whole row without an index; the whole row with the index on (key, seq).
 */
type LogMode = 'none' | 'hashes' | 'slim' | 'log' | 'indexed';

const MODES: readonly LogMode[] = ['none', 'hashes', 'slim', 'log', 'indexed'];

const MODE_LABEL: Record<LogMode, string> = {
  none: 'no event log',
  hashes: 'hashes, no rows',
  slim: 'row: seq, hash',
  log: 'whole row',
  indexed: 'row + key index',
};

/**
 * Applies the events of `objects` objects, 1,000 per commit, into a new ledger in `stateDir`: the
 * wall time, and the CPU time of this process (which a loaded machine moves far less).
 */
async function applyObjectEvents(stateDir: string, objects: number, mode: LogMode, keyOrder: boolean): Promise<{ ms: number; cpuMs: number; events: number; logBytes: number; fileBytes: number }> {
  const file = join(stateDir, LEDGER_FILE);
  const db = connect(file);
  await upgradeSchema(db, file);
  if (mode === 'hashes' || mode === 'slim') {
    // The same inserts, discarded (or cut to seq and hash): what a ledger without the log's rows
    // writes. Both go through a trigger, so 'slim' against 'hashes' is the cost of the slim row.
    const keep = mode === 'slim' ? 'INSERT INTO events_slim VALUES (new.seq, new.hash)' : 'SELECT 1';
    db.exec(`DROP TABLE events;
      CREATE TABLE events_slim (seq INTEGER NOT NULL PRIMARY KEY, hash BLOB NOT NULL);
      CREATE VIEW events (seq, at, type, key, body, record_hash, hash) AS SELECT 0, '', '', '', '', x'', x'' WHERE 0;
      CREATE TRIGGER events_discard INSTEAD OF INSERT ON events BEGIN ${keep}; END;`);
  }
  // The index the log had until schema step 4 (report --verify's lookup of a key's last event).
  if (mode === 'log') db.exec('DROP INDEX IF EXISTS events_by_key');
  if (mode === 'indexed') db.exec('CREATE INDEX IF NOT EXISTS events_by_key ON events (key, seq)');
  const queries = new LedgerQueries(db, file);
  // Without any log: the records and the serial, in one transaction per batch, as applyEvents writes them.
  const apply = (events: LedgerEvent[], at: string) => {
    if (mode !== 'none') return queries.applyEvents(events, at);
    db.exec('BEGIN IMMEDIATE');
    const first = queries.serial();
    for (const event of events) queries.put(applyEvent(queries.get(event.key), event, at));
    queries.setSerial(first + events.length);
    db.exec('COMMIT');
    return first + events.length;
  };
  const batch: LedgerEvent[] = [];
  let events = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const at = '2026-11-29T10:00:00.000Z';
  for (let i = 0; i < objects; i++) {
    batch.push(...objectEvents(i, keyOrder));
    if (batch.length >= 1000) {
      events += batch.length;
      apply(batch, at);
      batch.length = 0;
    }
  }
  if (batch.length > 0) {
    events += batch.length;
    apply(batch, at);
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const logBytes = (db.prepare(`SELECT coalesce(sum(pgsize), 0) AS bytes FROM dbstat WHERE name IN ('events', 'events_by_key', 'events_slim')`).get() as { bytes: number }).bytes;
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, events, logBytes, fileBytes: statSync(file).size };
}

/** `ledger events [N] [ROUNDS]`: the event log's bytes and time, beside the same events without it, ROUNDS times alternating. */
async function benchEvents(args: string[]): Promise<void> {
  const keyOrder = args.includes('--key-order');
  const numbers = args.filter((arg) => !arg.startsWith('--'));
  const objects = Number(numbers[0] ?? 100_000);
  const rounds = Number(numbers[1] ?? 3);
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'dualsync-bench-events-'));
  const cpuPer100k: Record<LogMode, number[]> = { none: [], hashes: [], slim: [], log: [], indexed: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      console.log(`\n${objects} objects, ${objects * 3} events, round ${round} of ${rounds}, keys ${keyOrder ? 'in key order' : 'scattered'} (in ${dir}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`);
      for (const mode of MODES) {
        const stateDir = join(dir, `${mode}-${round}`);
        mkdirSync(stateDir);
        const m = await applyObjectEvents(stateDir, objects, mode, keyOrder);
        rmSync(stateDir, { recursive: true, force: true });
        cpuPer100k[mode].push((m.cpuMs * 100_000) / m.events);
        const per100k = `${sec((m.ms * 100_000) / m.events)} wall, ${sec((m.cpuMs * 100_000) / m.events)} CPU per 100k events`;
        const size = `ledger.db ${mib(m.fileBytes)} (${((m.fileBytes / objects) * 1_000_000 / MIB).toFixed(0)} MiB per million objects)`;
        const log = mode !== 'none' && mode !== 'hashes'
          ? `; event log ${(m.logBytes / m.events).toFixed(0)} bytes per event, ${((m.logBytes / objects) * 1_000_000 / MIB).toFixed(0)} MiB per million objects`
          : '';
        console.log(`  ${MODE_LABEL[mode].padEnd(16)} ${per100k}   ${size}${log}`);
      }
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(`\nmedian CPU per 100k events over ${rounds} round(s): ${MODES.map((mode) => `${MODE_LABEL[mode]} ${sec(median(cpuPer100k[mode]))}`).join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `ledger verify [N...]`: N rows, one event each, and `report --verify` over them: its time and peak RSS. */
function benchVerify(args: string[]): void {
  for (const rows of args.length > 0 ? args.map(Number) : [1_000_000]) {
    const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'dualsync-bench-verify-'));
    try {
      console.log(`\n${rows} rows (in ${dir}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`);
      verifyRows(dir, rows);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The verify row: a ledger of `rows` rows with one event each in `dir`/state-verify, then `report --verify` over it. */
function verifyRows(dir: string, rows: number): void {
  const stateDir = join(dir, 'state-verify');
  mkdirSync(stateDir);
  runChild('insert', stateDir, rows);
  line('write 1 event per row', runChild('log', stateDir, rows));
  line('report --verify', runChild('verify', stateDir, rows));
}

const line = (name: string, m: Measured) => console.log(`  ${name.padEnd(22)} ${sec(m.wallMs).padStart(9)} (cpu ${sec(m.cpuMs ?? 0)})   peak RSS ${mib(m.maxRss).padStart(8)}   ${m.detail ?? ''}`);

export async function benchLedger(args: string[]): Promise<void> {
  if (args[0] === 'events') return benchEvents(args.slice(1));
  if (args[0] === 'verify') return benchVerify(args.slice(1));
  const sizes = args.length > 0 ? args.map(Number) : [1_000_000, 10_000_000];
  const migrateMax = Number(process.env.BENCH_MIGRATE_MAX ?? 1_000_000);
  const stateMax = Number(process.env.BENCH_STATE_MAX ?? 2_000_000);
  const verifyMax = Number(process.env.BENCH_VERIFY_MAX ?? 1_000_000);
  let missed = false;
  for (const rows of sizes) {
    const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'dualsync-bench-ledger-'));
    try {
      const stateDir = join(dir, 'state');
      mkdirSync(stateDir);
      console.log(`\n${rows} rows (in ${dir}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`);
      line('insert (SQL)', runChild('insert', stateDir, rows));
      const status = runStatus(dir, stateDir);
      line('status (CLI, --json)', status);
      if (rows >= 10_000_000 && status.wallMs > STATUS_TARGET_MS) missed = true;
      line('read: records() cursor', runChild('cursor', stateDir, rows));
      // Every record in one array is what today's planner takes; past a few million it outgrows the heap.
      if (rows <= stateMax) line('read: state() array', runChild('state', stateDir, rows));
      if (rows <= verifyMax) verifyRows(dir, rows);
      if (rows <= migrateMax) {
        const legacyDir = join(dir, 'legacy');
        mkdirSync(legacyDir);
        runChild('write-legacy', legacyDir, rows);
        line('migrate JSON ledger', runChild('migrate', legacyDir, rows));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (missed) {
    console.log(`target missed: status on a 10M-row ledger within ${sec(STATUS_TARGET_MS)}`);
    process.exitCode = 1;
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
}
