/**
 * `npm run demo`: the whole job on this machine, end to end, with nothing to set up.
 *
 * Two MinIO servers play the two ends: "edge" (the Snowball at the site) and "cloud" (the
 * archive), each on a free loopback port with its own keys. The edge bucket gets a few hundred
 * objects in the shape a site produces (site-7/2026-11-2x/sensor-NN/...), some hostile names,
 * an empty object and one multipart object. The demo writes a config for them and runs the real
 * CLI as an operator would: plan, apply, plan again (no changes), status. Then it checks every
 * object at the destination against the source by MD5 and prints one summary line.
 *
 * Everything lives in .demo/ (git-ignored; DUALSYNC_DEMO_DIR moves it), and the servers are
 * stopped on every way out: success, failure, Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaReferenceFrom } from '../src/config/load.ts';
import { formatBytes } from '../src/config/units.ts';
import { createBucket, listAll, md5OfBucket, putMultipart, putObjects, startPair, type MinioPair, type MinioServer } from '../test/harness/index.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const demoDir = resolve(process.env.DUALSYNC_DEMO_DIR ?? join(repoRoot, '.demo'));
/** Marks a folder as the demo's own, so that a fresh run may empty it. */
const MARKER = '.dualsync-demo';
const PREFIX = 'site-7/';
const MIB = 1024 * 1024;

const say = (text = '') => process.stdout.write(`${text}\n`);
const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
};

class DemoFailure extends Error {}

let running: ChildProcess | undefined;
let interrupted: NodeJS.Signals | undefined;

/**
 * Forward Ctrl-C or a kill to the running dualsync, so that it stops its own s5cmd cleanly. A
 * first signal lets dualsync finish the run in hand; the demo stops now, so it sends the second
 * that stops it at once (a terminal's Ctrl-C may have reached it already: a third is harmless).
 */
function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) return;
  interrupted = signal;
  process.stderr.write(`\nDemo interrupted (${signal}): stopping.\n`);
  running?.kill(signal);
  setTimeout(() => running?.kill(signal), 200).unref();
  // The servers go in the finally below; a stuck step must not keep the demo alive.
  setTimeout(() => process.exit(130), 15_000).unref();
}

/** An empty demo folder: created, or emptied when it is the demo's own from an earlier run. */
async function freshDemoDir(): Promise<void> {
  const entries = await readdir(demoDir).catch(() => undefined);
  if (entries !== undefined && entries.length > 0) {
    if (!entries.includes(MARKER)) {
      throw new DemoFailure(`${demoDir} exists and is not a demo folder (no ${MARKER} in it); move it away or set DUALSYNC_DEMO_DIR`);
    }
    await rm(demoDir, { recursive: true, force: true });
  }
  await mkdir(join(demoDir, 'servers'), { recursive: true });
  await writeFile(join(demoDir, MARKER), 'Made by `npm run demo`; emptied by the next run.\n');
}

/** A site's worth of objects: days x sensors x readings, plus the names that break naive tools. */
function sampleObjects(): { key: string; body: Buffer }[] {
  const objects: { key: string; body: Buffer }[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let day = 20; day <= 27; day++) {
    for (let sensor = 1; sensor <= 6; sensor++) {
      for (let reading = 1; reading <= 6; reading++) {
        const rows = 40 + (next() % 1500);
        const lines = [`time,sensor,value\n`];
        for (let row = 0; row < rows; row++) lines.push(`2026-11-${day}T${String(row % 24).padStart(2, '0')}:00:00Z,${sensor},${(next() % 100000) / 100}\n`);
        objects.push({ key: `${PREFIX}2026-11-${day}/sensor-${String(sensor).padStart(2, '0')}/reading-${String(reading).padStart(4, '0')}.csv`, body: Buffer.from(lines.join('')) });
      }
    }
  }
  const odd = [
    'notes/field log with spaces.txt',
    `notes/operator's "quoted" note.txt`,
    'notes/café ✓ 東京 ünïcode.txt',
    'notes/not a glob *?[ab].txt',
    'notes/-leading-dash and 100% + #hash & more.txt',
    'notes/log.1',
  ];
  for (const key of odd) objects.push({ key: `${PREFIX}${key}`, body: Buffer.from(`${key}\n`) });
  objects.push({ key: `${PREFIX}notes/empty-marker`, body: Buffer.alloc(0) });
  return objects;
}

async function loadSampleData(edge: MinioServer): Promise<{ count: number; bytes: number }> {
  await createBucket(edge, 'field-data');
  const objects = sampleObjects();
  await putObjects(edge, 'field-data', objects);
  // Large enough that it is uploaded in parts at the edge: its ETag is not an MD5.
  const video = randomBytes(20 * MIB);
  await putMultipart(edge, 'field-data', `${PREFIX}2026-11-27/camera-01/clip-0001.mp4`, video, 5 * MIB);
  return { count: objects.length + 1, bytes: objects.reduce((n, o) => n + o.body.length, 0) + video.length };
}

async function writeConfig(edge: MinioServer, cloud: MinioServer): Promise<string> {
  for (const volume of ['volume-01', 'volume-02']) await mkdir(join(demoDir, volume));
  const path = join(demoDir, 'sync.yaml');
  const yaml = [
    `# yaml-language-server: $schema=${schemaReferenceFrom(demoDir)}`,
    '# Written by `npm run demo`. The "edge" MinIO plays the Snowball at the site, the "cloud" MinIO',
    '# the archive. The keys are ${ENV} references: their values were only in the environment.',
    'version: 1',
    'source:',
    '  bucket: field-data',
    `  prefix: ${PREFIX}`,
    '  region: us-east-1',
    `  endpoint: ${edge.endpoint}`,
    '  addressing: path',
    '  maxConnections: 200',
    '  credentials:',
    '    accessKeyId: ${EDGE_ACCESS_KEY_ID}',
    '    secretAccessKey: ${EDGE_SECRET_ACCESS_KEY}',
    'destination:',
    '  bucket: archive',
    `  prefix: ${PREFIX}`,
    '  region: us-east-1',
    `  endpoint: ${cloud.endpoint}`,
    '  addressing: path',
    '  credentials:',
    '    accessKeyId: ${CLOUD_ACCESS_KEY_ID}',
    '    secretAccessKey: ${CLOUD_SECRET_ACCESS_KEY}',
    'staging:',
    '  volumes: ["./volume-*"]     # two staging volumes, so downloads are spread over both',
    '  reserve: 1%',
    'stateDir: ./state              # the ledger, the lock and the last run',
    'transfer:',
    '  maxBatchBytes: 1GiB',
    '  workers: 32',
    '  verify: size',
    '  purgeAfterUpload: true       # staged copies are deleted once the destination copy is verified',
    '',
  ].join('\n');
  await writeFile(path, yaml);
  return path;
}

/** Runs `dualsync ARGS -c CONFIG` on this same Node, its output straight to the terminal. */
async function dualsync(config: string, env: Record<string, string>, args: string[]): Promise<number> {
  if (interrupted) throw new DemoFailure('interrupted');
  say(`\n==> dualsync ${args.join(' ')}\n`);
  // Run inside the demo folder, so that every process of the demo (s5cmd too) is easy to account for.
  const child = spawn(process.execPath, [join(repoRoot, 'bin/dualsync'), ...args, '-c', config], { env, cwd: demoDir, stdio: ['ignore', 'inherit', 'inherit'] });
  running = child;
  const code = await new Promise<number>((resolveCode) => {
    child.once('exit', (exitCode, signal) => resolveCode(exitCode ?? (signal ? 128 : 1)));
    child.once('error', () => resolveCode(1));
  });
  running = undefined;
  if (interrupted) throw new DemoFailure('interrupted');
  return code;
}

async function expectCode(config: string, env: Record<string, string>, args: string[], wanted: number, meaning: string): Promise<void> {
  const code = await dualsync(config, env, args);
  if (code !== wanted) throw new DemoFailure(`\`dualsync ${args.join(' ')}\` exited ${code}; expected ${wanted} (${meaning})`);
}

/** Compares every object under the prefix at both ends by the MD5 of its bytes. */
async function verifyInSync(edge: MinioServer, cloud: MinioServer): Promise<{ count: number; bytes: number }> {
  const [source, destination, listed] = await Promise.all([md5OfBucket(edge, 'field-data', PREFIX), md5OfBucket(cloud, 'archive', PREFIX), listAll(edge, 'field-data', PREFIX)]);
  const problems: string[] = [];
  for (const [key, md5] of source) {
    const there = destination.get(key);
    if (there === undefined) problems.push(`missing at the destination: ${key}`);
    else if (there !== md5) problems.push(`different content at the destination: ${key}`);
  }
  for (const key of destination.keys()) if (!source.has(key)) problems.push(`at the destination only: ${key}`);
  if (problems.length > 0) throw new DemoFailure(`the destination does not match the source:\n  ${problems.slice(0, 10).join('\n  ')}`);
  return { count: source.size, bytes: listed.reduce((n, o) => n + o.size, 0) };
}

/** Regular files under `path`; empty folders left by purges, and the volume's claim, do not count. */
async function filesUnder(path: string): Promise<number> {
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile() && !(entry.parentPath === path && entry.name === '.dualsync-volume')).length;
}

async function main(): Promise<number> {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  await freshDemoDir();
  // The harness keeps each server's files in os.tmpdir(): here, inside the demo folder.
  process.env.TMPDIR = join(demoDir, 'servers');
  let pair: MinioPair | undefined;
  try {
    say('Starting two MinIO servers on loopback ports: "edge" (the site) and "cloud" (the archive)...');
    pair = await startPair();
    const { edge, cloud } = pair;
    say(`  edge   ${edge.endpoint}  (bucket field-data)`);
    say(`  cloud  ${cloud.endpoint}  (bucket archive)`);
    if (interrupted) throw new DemoFailure('interrupted');

    const loaded = await loadSampleData(edge);
    await createBucket(cloud, 'archive');
    say(`Loaded ${loaded.count} objects (${formatBytes(loaded.bytes)}) into s3://field-data/${PREFIX}: nested prefixes, odd names, an empty object, a 20 MiB multipart object.`);
    const config = await writeConfig(edge, cloud);
    say(`Wrote ${shown(config)}.`);

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? demoDir,
      EDGE_ACCESS_KEY_ID: edge.accessKeyId,
      EDGE_SECRET_ACCESS_KEY: edge.secretAccessKey,
      CLOUD_ACCESS_KEY_ID: cloud.accessKeyId,
      CLOUD_SECRET_ACCESS_KEY: cloud.secretAccessKey,
    };
    for (const name of ['DUALSYNC_S5CMD', 'DUALSYNC_TOOLS', 'TERM', 'COLUMNS', 'NO_COLOR']) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    const planFile = join(demoDir, 'plan.json');
    await expectCode(config, env, ['plan', '--out', planFile, '--limit', '5'], 0, 'a plan');
    // Exactly the plan shown above is applied, or none at all if the world moved since.
    await expectCode(config, env, ['apply', planFile], 0, 'every object delivered');
    await expectCode(config, env, ['plan', '--detailed-exitcode'], 0, '"No changes": everything was delivered');
    await expectCode(config, env, ['status'], 0, 'the ledger by stage');

    const synced = await verifyInSync(edge, cloud);
    const staging = [join(demoDir, 'volume-01'), join(demoDir, 'volume-02')];
    const left = (await Promise.all(staging.map(filesUnder))).reduce((a, b) => a + b, 0);
    const state = join(demoDir, 'state');
    say('\nWhere to look:');
    say(`  config             ${shown(config)}`);
    say(`  reviewed plan      ${shown(planFile)}, with its s5cmd run files ${shown(join(demoDir, 'plan.download.s5cmd'))} and ${shown(join(demoDir, 'plan.upload.s5cmd'))}`);
    say(`  ledger             ${shown(state)}/ (ledger.db, SQLite; last-run.json)`);
    say(`  staging volumes    ${staging.map(shown).join(', ')}${left === 0 ? ' (no files left: each was purged once delivered)' : ` (${left} file(s) still staged)`}`);
    say('  The servers stop now; run `npm run demo` again to see it all from the start.');
    if ((await stat(state).catch(() => undefined)) === undefined) throw new DemoFailure(`the state directory ${state} was not created`);
    say(`\nDemo complete: ${synced.count} objects (${formatBytes(synced.bytes)}) delivered and verified; the destination is in sync.`);
    return 0;
  } finally {
    await pair?.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = interrupted ? 130 : code;
  },
  (error: unknown) => {
    if (interrupted) {
      process.exitCode = 130;
      return;
    }
    process.stderr.write(`\nDemo failed: ${error instanceof DemoFailure ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
