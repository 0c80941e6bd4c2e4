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
 * `npm run bench -- ledger events [N]`: the cost of the event log. N objects (default 100,000)
 * go through `applyEvents` as apply records them (staged, delivered, purged: 3 events each, in
 * batches of 1,000 per commit) three times: into a ledger without any log (the records alone),
 * through the log's hashing with its rows discarded, and with the whole log; prints the log's
 * bytes per event and per million objects, and the wall and CPU time per 100,000 events of each.
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

/** The events apply records for object `i`: staged, delivered, purged. */
function objectEvents(i: number): LedgerEvent[] {
  const key = `site-7/cam-${String(i % 97).padStart(2, '0')}/day-${String(Math.floor(i / 128) % 365).padStart(3, '0')}/frame-${String(i).padStart(8, '0')}.jpg`;
  const size = 65536 + ((i * 2654435761) % 4194304);
  const etag = [i, i * 7, i * 13, i * 31].map((n) => (n >>> 0).toString(16).padStart(8, '0')).join('');
  const volume = `/mnt/staging-${i % 2}`;
  return [
    { type: 'staged', key, size, etag, volume, verifiedBy: 'size', etagComparable: true },
    { type: 'delivered', key, size, etag, verifiedBy: 'size', destinationEtag: etag },
    { type: 'purged', key, size, etag },
  ];
}

/** What a run writes besides the records: nothing, the log's hashes alone (rows discarded), or the whole log. */
type LogMode = 'none' | 'hashes' | 'log';

const MODE_LABEL: Record<LogMode, string> = { none: 'no event log', hashes: 'hashes, no rows', log: 'with event log' };

/**
 * Applies the events of `objects` objects, 1,000 per commit, into a new ledger in `stateDir`: the
 * wall time, and the CPU time of this process (which a loaded machine moves far less).
 */
async function applyObjectEvents(stateDir: string, objects: number, mode: LogMode): Promise<{ ms: number; cpuMs: number; events: number; logBytes: number; fileBytes: number }> {
  const file = join(stateDir, LEDGER_FILE);
  const db = connect(file);
  await upgradeSchema(db, file);
  if (mode === 'hashes') {
    // The same inserts, discarded: what a ledger without its event log's rows writes.
    db.exec(`DROP TABLE events;
      CREATE VIEW events (seq, at, type, key, body, record_hash, hash) AS SELECT 0, '', '', '', '', x'', x'' WHERE 0;
      CREATE TRIGGER events_discard INSTEAD OF INSERT ON events BEGIN SELECT 1; END;`);
  }
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
    batch.push(...objectEvents(i));
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
  const logBytes = mode === 'log' ? ((db.prepare(`SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN ('events', 'events_by_key')`).get() as { bytes: number }).bytes) : 0;
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, events, logBytes, fileBytes: statSync(file).size };
}

/** `ledger events [N]`: the event log's bytes and time, beside the same events without it. */
async function benchEvents(args: string[]): Promise<void> {
  const objects = Number(args[0] ?? 100_000);
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'dualsync-bench-events-'));
  try {
    console.log(`\n${objects} objects, ${objects * 3} events (in ${dir}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`);
    for (const mode of ['none', 'hashes', 'log'] as const) {
      const stateDir = join(dir, mode);
      mkdirSync(stateDir);
      const m = await applyObjectEvents(stateDir, objects, mode);
      const per100k = `${sec((m.ms * 100_000) / m.events)} wall, ${sec((m.cpuMs * 100_000) / m.events)} CPU per 100k events`;
      const size = `ledger.db ${mib(m.fileBytes)} (${((m.fileBytes / objects) * 1_000_000 / MIB).toFixed(0)} MiB per million objects)`;
      const log = mode === 'log'
        ? `; event log ${(m.logBytes / m.events).toFixed(0)} bytes per event, ${((m.logBytes / objects) * 1_000_000 / MIB).toFixed(0)} MiB per million objects`
        : '';
      console.log(`  ${MODE_LABEL[mode].padEnd(16)} ${per100k}   ${size}${log}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchLedger(args: string[]): Promise<void> {
  if (args[0] === 'events') return benchEvents(args.slice(1));
  const sizes = args.length > 0 ? args.map(Number) : [1_000_000, 10_000_000];
  const migrateMax = Number(process.env.BENCH_MIGRATE_MAX ?? 1_000_000);
  const stateMax = Number(process.env.BENCH_STATE_MAX ?? 2_000_000);
  let missed = false;
  for (const rows of sizes) {
    const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'dualsync-bench-ledger-'));
    try {
      const stateDir = join(dir, 'state');
      mkdirSync(stateDir);
      console.log(`\n${rows} rows (in ${dir}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`);
      const line = (name: string, m: Measured) => console.log(`  ${name.padEnd(22)} ${sec(m.wallMs).padStart(9)} (cpu ${sec(m.cpuMs ?? 0)})   peak RSS ${mib(m.maxRss).padStart(8)}   ${m.detail ?? ''}`);
      line('insert (SQL)', runChild('insert', stateDir, rows));
      const status = runStatus(dir, stateDir);
      line('status (CLI, --json)', status);
      if (rows >= 10_000_000 && status.wallMs > STATUS_TARGET_MS) missed = true;
      line('read: records() cursor', runChild('cursor', stateDir, rows));
      // Every record in one array is what today's planner takes; past a few million it outgrows the heap.
      if (rows <= stateMax) line('read: state() array', runChild('state', stateDir, rows));
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
