/**
 * kill -9 at random instants (invariant 3, and 1 and 2 after the restart): `apply` is killed during
 * the listing, mid-download, mid-upload, during purges, while it migrates a JSON ledger of an
 * earlier version into SQLite, and at uniformly random instants, and `watch` in its first and a
 * later cycle. Half the kills take the s5cmd
 * children down at the same instant (a power cut); the other half kill dualsync alone and leave
 * its s5cmd processes orphaned (an operator's kill -9; run without setpriv on the PATH, so that
 * nothing kills them with dualsync and the next run has to stop them). After each kill: the ledger loads, every
 * copy recorded as staged is on disk and byte-exact, and apply is run again until there are no
 * changes; nothing recorded as delivered before the kill is planned or uploaded again (the
 * destination bucket is versioned, so a second upload would show), and the destination ends
 * complete and byte-exact.
 *
 * The instants come from a seeded PRNG; the seed is printed, and DUALSYNC_CRASH_SEED repeats a run.
 */
import { seededRandom as prng } from '../harness/random.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, type FSWatcher, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { cp, mkdir, readdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ListObjectVersionsCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { cleanup, md5, s5cmdChildren, md5OfBucket, putObjects, startPair, tempDir, type MinioPair } from '../harness/index.ts';
import { DatabaseSync } from 'node:sqlite';
import { JOURNAL_FILE, LEDGER_FILE, LedgerStore, SNAPSHOT_FILE } from '../../src/ledger/store.ts';
import { legacyRecordAfterJournal, stageTally, writeLegacyLedger, type StageStamp } from '../harness/ledger.ts';
import { localPath } from '../../src/plan/volume-paths.ts';
import type { LedgerRecord } from '../../src/model/index.ts';
import { makeSite, type Site } from './site.ts';

const SEED = Number(process.env.DUALSYNC_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));


const random = prng(SEED);
const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SMALL_OBJECTS = 40;

interface Seeded {
  key: string;
  body: Buffer;
}

/** 40 objects of 0 to 256 KiB (some empty) and one of 12 MiB, so that every phase lasts a while. */
function objectsFor(prefix: string): Seeded[] {
  const objects: Seeded[] = [];
  for (let i = 0; i < SMALL_OBJECTS; i++) {
    const size = i % 13 === 0 ? 0 : between(1, 256 * 1024);
    objects.push({ key: `${prefix}/d${i % 4}/obj ${String(i).padStart(2, '0')}.bin`, body: randomBytes(size) });
  }
  objects.push({ key: `${prefix}/big/twelve-mib.bin`, body: randomBytes(12 * 1024 * 1024) });
  return objects;
}

function isS5cmd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 's5cmd';
  } catch {
    return false;
  }
}

const STAMPS: Record<'staged' | 'delivered' | 'purged', StageStamp> = { staged: 'staged_at', delivered: 'delivered_at', purged: 'purged_at' };

/** How many keys (under `keyPrefix`) the ledger's last commit records as having reached `stage`. */
function count(stateDir: string, stage: keyof typeof STAMPS, keyPrefix = ''): number {
  return stageTally(stateDir, STAMPS[stage], keyPrefix);
}

type Phase = 'listing' | 'download' | 'upload' | 'purge' | 'migration' | 'anywhere' | 'watch, first cycle' | 'watch, later cycle';
type Variant = 'power cut' | 'dualsync only';

interface CrashPoint {
  phase: Phase;
  variant: Variant;
}

const CRASH_POINTS: CrashPoint[] = [
  { phase: 'listing', variant: 'power cut' },
  { phase: 'listing', variant: 'dualsync only' },
  { phase: 'download', variant: 'power cut' },
  { phase: 'download', variant: 'dualsync only' },
  { phase: 'upload', variant: 'power cut' },
  { phase: 'upload', variant: 'dualsync only' },
  { phase: 'purge', variant: 'power cut' },
  { phase: 'purge', variant: 'dualsync only' },
  { phase: 'migration', variant: 'power cut' },
  { phase: 'migration', variant: 'dualsync only' },
  { phase: 'anywhere', variant: 'power cut' },
  { phase: 'anywhere', variant: 'dualsync only' },
  { phase: 'watch, first cycle', variant: 'power cut' },
  { phase: 'watch, later cycle', variant: 'dualsync only' },
];

interface PlanJson {
  summary: { noChanges: boolean };
  actions: { kind: string; key: string; size: number; etag: string }[];
}

let pair: MinioPair;
/** Time of one whole apply of objectsFor() as a child process, measured first. */
let fullRunMs = 0;
const report: string[] = [];
const orphans = new Set<number>();
const totals = { crashPoints: 0, objects: 0, migrationKills: 0, deliveredBeforeKills: 0, stagedBeforeKills: 0 };

beforeAll(async () => {
  pair = await startPair();
  console.log(`crash tests: seed ${SEED} (DUALSYNC_CRASH_SEED=${SEED} repeats the same instants)`);
});
afterAll(async () => {
  for (const pid of orphans) if (isS5cmd(pid)) process.kill(pid, 'SIGKILL');
  console.log(
    [
      `crash tests (seed ${SEED}): ${totals.crashPoints} kill -9 points, ${totals.migrationKills} inside a ledger migration, ` +
        `${totals.objects} objects seeded; ${totals.deliveredBeforeKills} were delivered and ${totals.stagedBeforeKills} staged at their kill; nothing lost, nothing delivered moved again`,
      ...report,
    ].join('\n'),
  );
  await pair?.stop();
  await cleanup();
});

interface Legacy {
  snapshot: string;
  journal: string;
  serial: number;
}

/** A site, with the JSON ledger of an earlier version in its state directory when `legacy` is asked for. */
async function newSite(options: { legacy?: boolean } = {}): Promise<{ site: Site; objects: Seeded[]; legacy?: Legacy }> {
  // The migrated records are of keys no listing has: the planner is told to leave them alone.
  const site = await makeSite(pair, { transfer: ['workers: 4', 'partSize: 5MiB', ...(options.legacy ? ['exclude: ["old/**"]'] : [])] });
  await pair.cloud.client.send(new PutBucketVersioningCommand({ Bucket: site.destinationBucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await mkdir(site.stateDir, { recursive: true });
  const objects = objectsFor('crash');
  await putObjects(pair.edge, site.sourceBucket, objects);
  totals.objects += objects.length;
  if (!options.legacy) return { site, objects };
  const serial = await writeLegacyLedger(site.stateDir, LEGACY_RECORDS);
  return { site, objects, legacy: { snapshot: sha256(join(site.stateDir, SNAPSHOT_FILE))!, journal: sha256(join(site.stateDir, JOURNAL_FILE))!, serial } };
}

/** How many versions of each key the destination holds; a delete marker fails the test (invariant 8). */
async function destinationVersions(site: Site): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const page = await pair.cloud.client.send(new ListObjectVersionsCommand({ Bucket: site.destinationBucket, KeyMarker, VersionIdMarker }));
    expect(page.DeleteMarkers ?? []).toEqual([]);
    for (const version of page.Versions ?? []) versions.set(version.Key!, (versions.get(version.Key!) ?? 0) + 1);
    if (!page.IsTruncated) return versions;
    KeyMarker = page.NextKeyMarker;
    VersionIdMarker = page.NextVersionIdMarker;
  }
}

async function stagedFiles(site: Site): Promise<string[]> {
  const files: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      // The volume's claim (.dualsync-volume in its root) is not a staged file.
      if (!entry.isDirectory() && !(entry.parentPath === volume && entry.name === '.dualsync-volume')) files.push(join(entry.parentPath, entry.name));
    }
  }
  return files;
}

interface Killed {
  at: string;
  s5cmd: string;
}

/** kill -9 of dualsync, and with a power cut of its s5cmd children in the same instant. */
function kill9(pid: number, variant: Variant, site: Site): Killed {
  const children = s5cmdChildren(pid);
  process.kill(pid, 'SIGKILL');
  if (variant === 'power cut') {
    for (const child of children) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } else {
    for (const child of children) orphans.add(child.pid);
  }
  const hops = children.map((child) => (child.args.includes(pair.edge.endpoint) ? 'download' : child.args.includes(pair.cloud.endpoint) ? 'upload' : 'other'));
  const tally = (stage: keyof typeof STAMPS) => count(site.stateDir, stage);
  return {
    at: `ledger ${tally('staged')} staged/${tally('delivered')} delivered/${tally('purged')} purged`,
    s5cmd: hops.length === 0 ? 'no s5cmd running' : `s5cmd running: ${hops.sort().join('+')}`,
  };
}

async function until(condition: () => boolean, what: string, exited: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (exited()) throw new Error(`the run ended before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(3);
  }
}

/** Records in the JSON ledger a migration crash test starts from: enough for the migration to last a while. */
const LEGACY_RECORDS = 50_000;

function sha256(file: string): string | undefined {
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined;
}

/**
 * Where a kill during the migration left the state directory: the old files as they were and no
 * committed schema, or a database that holds every record (with the old files renamed or not).
 * Anything else fails the test.
 */
function afterMigrationKill(stateDir: string, legacy: { snapshot: string; journal: string; serial: number }, records = LEGACY_RECORDS): string {
  const snapshot = sha256(join(stateDir, SNAPSHOT_FILE));
  const journal = sha256(join(stateDir, JOURNAL_FILE));
  let migrated: { serial: number; records: number } | undefined;
  if (existsSync(join(stateDir, LEDGER_FILE))) {
    // Read from a copy opened for writing, as the next open would read it: a kill before the
    // first commit can leave a hot journal, which SQLite rolls back on open and which a
    // read-only open refuses ("attempt to write a readonly database"). The original stays as the kill left it.
    const copy = mkdtempSync(join(tmpdir(), 'killed-ledger-'));
    for (const suffix of ['', '-journal', '-wal']) {
      if (existsSync(join(stateDir, LEDGER_FILE + suffix))) copyFileSync(join(stateDir, LEDGER_FILE + suffix), join(copy, LEDGER_FILE + suffix));
    }
    const db = new DatabaseSync(join(copy, LEDGER_FILE));
    try {
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
      if (version > 0) {
        const serial = (db.prepare(`SELECT value FROM meta WHERE name = 'serial'`).get() as { value: number }).value;
        const records = (db.prepare(`SELECT count(*) AS n FROM objects WHERE key LIKE 'old/%'`).get() as { n: number }).n;
        migrated = { serial, records };
      }
    } finally {
      db.close();
      rmSync(copy, { recursive: true, force: true });
    }
  }
  if (migrated === undefined) {
    expect({ snapshot, journal }, 'no committed database: the old files must be untouched').toEqual({ snapshot: legacy.snapshot, journal: legacy.journal });
    return 'before the commit: old files untouched, no schema';
  }
  expect(migrated.records, 'a committed database holds every migrated record').toBe(records);
  expect(migrated.serial).toBeGreaterThanOrEqual(legacy.serial);
  for (const [name, hash, original] of [[SNAPSHOT_FILE, snapshot, legacy.snapshot], [JOURNAL_FILE, journal, legacy.journal]] as const) {
    const kept = hash ?? sha256(join(stateDir, `${name}.migrated`));
    expect(kept, `${name} is kept, as it was, under its name or as ${name}.migrated`).toBe(original);
  }
  return snapshot !== undefined || journal !== undefined ? 'after the commit, old files not yet renamed' : 'after the migration';
}

/** Every record of the JSON ledger is in the database, as it was. */
async function expectLegacyMigrated(stateDir: string, serial: number, records = LEGACY_RECORDS): Promise<void> {
  const ledger = await LedgerStore.open(stateDir);
  try {
    let seen = 0;
    for (const record of ledger.records()) {
      if (!record.key.startsWith('old/')) continue;
      const index = Number(/frame-(\d+)\.jpg$/.exec(record.key)![1]);
      expect(record).toEqual(legacyRecordAfterJournal(index));
      seen++;
    }
    expect(seen).toBe(records);
    expect(ledger.serial).toBeGreaterThan(serial);
  } finally {
    await ledger.close();
  }
  expect(existsSync(join(stateDir, SNAPSHOT_FILE))).toBe(false);
  expect(existsSync(join(stateDir, `${SNAPSHOT_FILE}.migrated`))).toBe(true);
}

/** The run finished before its random instant came: not a crash point, draw again. */
class Missed extends Error {}

/** Shrinks the window of 'anywhere' kills after a run that was faster than the first one. */
let anywhereScale = 1;

/**
 * Starts apply (or watch) as a child, kills it at an instant of `point`, and returns what the kill
 * hit. The instant is drawn from the seeded PRNG.
 */
async function crash(site: Site, point: CrashPoint, objects: Seeded[], legacy?: Legacy): Promise<{ killed: Killed; instant: string; migration?: string }> {
  const isWatch = point.phase.startsWith('watch');
  // With setpriv on the PATH, s5cmd dies with dualsync (a parent-death signal); without it, a
  // kill of dualsync alone leaves real orphans, which the next run must stop from their records.
  site.env.PATH = point.variant === 'dualsync only' ? await tempDir('no-setpriv-') : process.env.PATH;
  const child = isWatch ? site.spawn('watch', '--interval', '1s') : site.spawn('apply', '--auto-approve');
  const pid = child.pid!;
  let exited = false;
  void child.finally(() => (exited = true));
  const hasExited = () => exited;
  let killed: Killed | undefined;
  let instant = '';
  let watcher: FSWatcher | undefined;
  try {
    switch (point.phase) {
      case 'listing': {
        const delay = between(0, 15);
        await until(() => existsSync(join(site.stateDir, 'lock')), 'the lock was taken', hasExited);
        await sleep(delay);
        instant = `${delay} ms after the lock was taken`;
        break;
      }
      case 'download': {
        const delay = between(0, 250);
        await until(() => s5cmdChildren(pid).some((c) => c.args.includes(pair.edge.endpoint)), 'the download hop started', hasExited);
        await sleep(delay);
        instant = `${delay} ms after the download hop started`;
        break;
      }
      case 'upload': {
        // Deliveries are read back and recorded in batches, so the count jumps and the run can
        // end a few tens of milliseconds after a batch: the kill follows it closely.
        const delivered = between(1, 10);
        const delay = between(0, 10);
        await until(() => count(site.stateDir, 'delivered') >= delivered, `${delivered} deliveries`, hasExited);
        await sleep(delay);
        instant = `${delay} ms after delivery ${delivered}`;
        break;
      }
      case 'purge': {
        const purged = between(1, 15);
        await until(() => count(site.stateDir, 'purged') >= purged, `${purged} purges`, hasExited);
        instant = `at purge ${purged}`;
        break;
      }
      case 'migration': {
        // The database appears when the migration starts; its commit comes at the end.
        const delay = between(0, 600);
        await new Promise<void>((resolve, reject) => {
          watcher = watch(site.stateDir, (_event, name) => {
            if (name !== LEDGER_FILE) return;
            watcher?.close();
            setTimeout(resolve, delay);
          });
          if (existsSync(join(site.stateDir, LEDGER_FILE))) setTimeout(resolve, delay);
          void child.finally(() => reject(new Missed('the run ended before the migration started')));
        });
        instant = `${delay} ms after ${LEDGER_FILE} appeared (migrating ${LEGACY_RECORDS} records)`;
        break;
      }
      case 'anywhere': {
        const delay = between(0, Math.round(fullRunMs * anywhereScale));
        await sleep(delay);
        instant = `${delay} ms after the start (a whole run takes ${fullRunMs} ms)`;
        break;
      }
      case 'watch, first cycle': {
        const delivered = between(1, 20);
        await until(() => count(site.stateDir, 'delivered') >= delivered, `${delivered} deliveries`, hasExited);
        instant = `at delivery ${delivered} of the first cycle`;
        break;
      }
      case 'watch, later cycle': {
        await until(() => count(site.stateDir, 'purged') >= objects.length, 'the first cycle delivered everything', hasExited);
        const late = Array.from({ length: 20 }, (_, i) => ({ key: `late/obj-${i}.bin`, body: randomBytes(between(1, 256 * 1024)) }));
        late.push({ key: 'late/big.bin', body: randomBytes(12 * 1024 * 1024) });
        await putObjects(pair.edge, site.sourceBucket, late);
        objects.push(...late);
        totals.objects += late.length;
        const delay = between(0, 60);
        await until(() => count(site.stateDir, 'staged', 'late/') >= 1, 'the later cycle staged a new object', hasExited);
        await sleep(delay);
        instant = `${delay} ms after the later cycle staged its first new object`;
        break;
      }
    }
    if (exited) throw new Missed(`the run ended before the kill (${instant})`);
    killed ??= kill9(pid, point.variant, site);
  } finally {
    watcher?.close();
  }
  const result = await child;
  // The run may end between the last look and the kill: then nothing was killed, and the point is drawn again.
  if (result.signal !== 'SIGKILL' && result.exitCode === 0) throw new Missed(`the run ended before the kill landed (${instant})`);
  expect(result.signal, `${String(result.stdout)}${String(result.stderr)}`).toBe('SIGKILL');
  return { killed, instant, migration: legacy === undefined ? undefined : afterMigrationKill(site.stateDir, legacy) };
}

interface Before {
  delivered: Map<string, LedgerRecord>;
  staged: Map<string, LedgerRecord>;
  warnings: string[];
}

/** The ledger right after the kill: it must load, and every staged copy must be on disk, byte-exact. */
async function ledgerAfterKill(site: Site, bodies: Map<string, Buffer>): Promise<Before> {
  const warnings: string[] = [];
  const ledger = await LedgerStore.open(site.stateDir, { onWarning: (message) => warnings.push(message) });
  const records = ledger.state().records.filter((record) => !record.key.startsWith('old/'));
  await ledger.close();
  const delivered = new Map(records.filter((r) => r.stage === 'delivered' || r.stage === 'purged').map((r) => [r.key, r]));
  const staged = new Map(records.filter((r) => r.stage === 'staged').map((r) => [r.key, r]));
  for (const record of [...delivered.values(), ...staged.values()]) {
    const body = bodies.get(record.key);
    expect(body, `the ledger knows ${record.key}`).toBeDefined();
    expect(record.size).toBe(body!.length);
  }
  for (const record of staged.values()) {
    const copy = await readFile(localPath(record.volume!, record.key)).catch(() => undefined);
    expect(copy, `the staged copy of ${record.key} is on ${record.volume}`).toBeDefined();
    expect(md5(copy!), `the staged copy of ${record.key} is byte-exact`).toBe(md5(bodies.get(record.key)!));
  }
  expect(warnings).toEqual([]);
  return { delivered, staged, warnings };
}

/** Applies again until a plan has no changes; no plan may move a delivered version or re-download a staged one. */
async function recover(site: Site, before: Before): Promise<{ applies: number; moved: number }> {
  let moved = 0;
  for (let applies = 0; applies <= 4; applies++) {
    const planned = await site.cli('plan', '--json');
    expect(planned.exitCode, planned.stderr).toBe(0);
    const plan = JSON.parse(planned.stdout) as PlanJson;
    for (const action of plan.actions) {
      if (action.kind === 'download' || action.kind === 'redownload' || action.kind === 'upload') {
        expect(before.delivered.has(action.key), `${action.kind} of ${action.key}, delivered before the kill`).toBe(false);
        moved++;
      }
      if (action.kind === 'download' || action.kind === 'redownload') {
        expect(before.staged.has(action.key), `${action.kind} of ${action.key}, staged before the kill`).toBe(false);
      }
    }
    if (plan.summary.noChanges) return { applies, moved };
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  }
  throw new Error('still changes after 4 applies');
}

async function expectComplete(site: Site, objects: Seeded[], before: Before): Promise<void> {
  const expected = new Map(objects.map((o) => [o.key, md5(o.body)]));
  expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(expected);
  const versions = await destinationVersions(site);
  for (const key of before.delivered.keys()) expect(versions.get(key), `versions of ${key}, delivered before the kill`).toBe(1);
  expect(await stagedFiles(site)).toEqual([]);
  // Everything ends purged, except a version whose purge the kill interrupted after the file was
  // deleted: it stays recorded as delivered (see the report), and its copy is gone (checked above).
  const ledger = await LedgerStore.open(site.stateDir);
  try {
    for (const object of objects) {
      const stage = ledger.get(object.key)?.stage;
      if (object.key.startsWith('old/')) continue;
      if (stage === 'delivered' && before.delivered.get(object.key)?.stage === 'delivered') continue;
      expect(stage, object.key).toBe('purged');
    }
  } finally {
    await ledger.close();
  }
  const status = await site.cli('status', '--json');
  expect(status.exitCode, status.stderr).toBe(0);
}

describe('kill -9 at random instants', () => {
  it('baseline: one uninterrupted apply as a child process completes (and sets the time scale)', async () => {
    const { site, objects } = await newSite();
    const started = Date.now();
    const result = await site.spawn('apply', '--auto-approve');
    fullRunMs = Date.now() - started;
    expect(result.exitCode, String(result.stdout) + String(result.stderr)).toBe(0);
    await expectComplete(site, objects, { delivered: new Map(), staged: new Map(), warnings: [] });
  });

  it.each(CRASH_POINTS.map((point, index) => ({ ...point, index: index + 1 })))('crash $index: $phase ($variant)', async (point) => {
    expect(fullRunMs).toBeGreaterThan(0);
    // A point that can miss the run's end (anywhere, or just after a batch of deliveries) is drawn more often.
    const attempts = point.phase === 'anywhere' || point.phase === 'upload' ? 6 : 3;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const { site, objects, legacy } = await newSite({ legacy: point.phase === 'migration' });
      let crashed: Awaited<ReturnType<typeof crash>>;
      try {
        crashed = await crash(site, point, objects, legacy);
      } catch (error) {
        if (!(error instanceof Missed) || attempt === attempts) throw error;
        report.push(`  (${point.phase} attempt ${attempt}: ${error.message}; drawing again${point.phase === 'anywhere' ? ' in a shorter window' : ''})`);
        if (point.phase === 'anywhere') anywhereScale /= 2;
        continue;
      }
      const { killed, instant, migration } = crashed;
      const bodies = new Map(objects.map((o) => [o.key, o.body]));
      const before = await ledgerAfterKill(site, bodies);
      const { applies, moved } = await recover(site, before);
      await expectComplete(site, objects, before);
      if (legacy !== undefined) await expectLegacyMigrated(site.stateDir, legacy.serial);
      totals.crashPoints++;
      if (migration !== undefined && migration !== 'after the migration') totals.migrationKills++;
      totals.deliveredBeforeKills += before.delivered.size;
      totals.stagedBeforeKills += before.staged.size;
      report.push(
        `  crash ${point.index} [${point.phase}, ${point.variant}] ${instant}${migration ? ` (${migration})` : ''}: ${killed.at}, ${killed.s5cmd}; ` +
          `ledger loaded with ${before.delivered.size} delivered, ${before.staged.size} staged; ` +
          `${applies} apply(s) to converge, ${moved} transfers planned, none of a delivered version`,
      );
      return;
    }
  });
});

/**
 * The ledger is never seen half-written: a child process appends batches in a loop while this
 * process loads the ledger over and over, and is killed -9 at random instants; every load, during
 * the run and after each kill, is whole. Each event adds one attempt to one record, so the
 * attempts of all records add up to the serial exactly when no event is lost or doubled.
 */
describe('ledger under kill -9 while appending in a loop', () => {
  const KEYS = 400;
  const script = (storeUrl: string, dir: string) => `
    const { LedgerStore } = await import(${JSON.stringify(storeUrl)});
    const store = await LedgerStore.open(${JSON.stringify(dir)});
    const pad = 'x'.repeat(300);
    for (let i = store.serial; ; ) {
      const events = [];
      for (let j = 0; j < 25; j++, i++) events.push({ type: 'failed', key: 'key-' + (i % ${KEYS}), size: 1, etag: 'e', hop: 'download', failure: { code: 's5cmd-error', cause: 'attempt ' + i + ' ' + pad } });
      await store.append(events);
      process.stdout.write(store.serial + '\\n');
    }
  `;

  async function loadWhole(dir: string): Promise<number> {
    const ledger = await LedgerStore.open(dir);
    try {
      const { serial, records } = ledger.state();
      const attempts = records.reduce((sum, record) => sum + record.attempts, 0);
      expect(attempts, `serial ${serial}`).toBe(serial);
      return serial;
    } finally {
      await ledger.close();
    }
  }

  it('every load while it appends and after each of 10 kills is whole, and no acknowledged batch is lost', async () => {
    const dir = await tempDir('dualsync-append-');
    const storeUrl = new URL('../../src/ledger/store.ts', import.meta.url).href;
    let loads = 0;
    let commits = 0;
    let acknowledged = 0;
    for (let kill = 1; kill <= 10; kill++) {
      const child = execa(process.execPath, ['--input-type=module', '-e', script(storeUrl, dir)], { reject: false, buffer: false });
      let lastAck = acknowledged;
      child.stdout!.on('data', (chunk: Buffer) => {
        const lines = chunk.toString('utf8').trim().split('\n');
        lastAck = Number(lines[lines.length - 1]);
        commits += lines.length;
      });
      try {
        // Start the clock once the child has acknowledged its first batch of this life.
        const started = Date.now();
        while (lastAck <= acknowledged) {
          expect(Date.now() - started, `kill ${kill}: the child acknowledged nothing`).toBeLessThan(30_000);
          await loadWhole(dir);
          loads++;
        }
        const stopAt = Date.now() + between(50, 400);
        while (Date.now() < stopAt) {
          await loadWhole(dir);
          loads++;
        }
      } finally {
        child.kill('SIGKILL');
        await child;
      }
      const serial = await loadWhole(dir);
      loads++;
      expect(serial, `kill ${kill}: acknowledged ${lastAck}`).toBeGreaterThanOrEqual(lastAck);
      acknowledged = lastAck;
    }
    expect(commits).toBeGreaterThan(50);
    report.push(`  append loop: 10 kills -9, ${commits} acknowledged commits, ${loads} loads, every one whole (serial ${acknowledged})`);
  });
});

/**
 * A kill -9 while the first open migrates the JSON ledger leaves either the old files untouched
 * (and no committed database) or a complete database; the next open finishes the job, and every
 * record survives.
 */
describe('ledger under kill -9 while migrating the JSON ledger', () => {
  const RECORDS = 20_000;
  it('8 kills at random instants of the migration, each followed by an open that finishes it', { timeout: 300_000 }, async () => {
    const storeUrl = new URL('../../src/ledger/store.ts', import.meta.url).href;
    const original = await tempDir('dualsync-migrate-');
    const serial = await writeLegacyLedger(original, RECORDS);
    const legacy = { snapshot: sha256(join(original, SNAPSHOT_FILE))!, journal: sha256(join(original, JOURNAL_FILE))!, serial };
    const outcomes = new Map<string, number>();
    /** Starts a migrating open of a copy of the JSON ledger; resolves once its database file appears. */
    const start = async () => {
      const dir = await tempDir('dualsync-migrate-');
      await cp(original, dir, { recursive: true });
      const script = `const { LedgerStore } = await import(${JSON.stringify(storeUrl)}); await LedgerStore.open(${JSON.stringify(dir)}); process.stdout.write('migrated\\n'); setInterval(() => {}, 1000);`;
      const child = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, buffer: false });
      const state = { done: false, doneAt: 0 };
      child.stdout!.on('data', () => {
        state.done = true;
        state.doneAt = Date.now();
      });
      const started = Date.now();
      while (!existsSync(join(dir, LEDGER_FILE)) && Date.now() - started < 30_000) await sleep(2);
      return { dir, child, state, appearedAt: Date.now() };
    };
    // How long a migration runs once its file appears, on this box under this load: the kills
    // are drawn within it (a fixed window missed every migration of a fast run).
    const timed = await start();
    while (!timed.state.done && Date.now() - timed.appearedAt < 120_000) await sleep(5);
    timed.child.kill('SIGKILL');
    await timed.child;
    const window = Math.max(20, timed.state.doneAt - timed.appearedAt);
    for (let kill = 1; kill <= 8; kill++) {
      const { dir, child, state } = await start();
      await sleep(between(0, window));
      const done = state.done;
      child.kill('SIGKILL');
      await child;
      const where = done ? 'after the migration' : afterMigrationKill(dir, legacy, RECORDS);
      outcomes.set(where, (outcomes.get(where) ?? 0) + 1);
      await expectLegacyMigrated(dir, serial - 1, RECORDS);
    }
    report.push(`  migration kills (${RECORDS} records, within the ${window} ms a migration took): ${[...outcomes].map(([where, n]) => `${n} ${where}`).join(', ')}`);
    expect([...outcomes.keys()].filter((where) => where !== 'after the migration').length, 'no kill landed inside a migration').toBeGreaterThan(0);
  });
});
