/**
 * `npm run bench -- planfile [N]`: reading a saved plan back, as `apply PLANFILE` does. A plan
 * of N actions (default 1,000,000) is written once with the real writer (`plan --out`'s), then
 * read by `readSavedPlan` (the call apply makes: the reader, its checks and its digest, into
 * spools on disk), with a config other than the plan's so that it stops at the config check
 * and transfers nothing. Each read runs in its own process, so its peak RSS is its own, and
 * the readers alternate run by run, so a shared box's load falls on all of them alike:
 * - `reader`: this tree's reader (src/planfile/read.ts);
 * - `old line reader`: the layout-bound line reader it replaced (commit OLD_READER_COMMIT,
 *   taken out of git history into a temporary folder), when the history is there;
 * - `bytes floor`: reading the file's bytes, a megabyte at a time, and nothing else.
 * Target: the reader costs no more CPU than the old line reader (about 3.1 s per million
 * actions on a quiet box). BENCH_RUNS (default 3) reads of each; the least CPU of each is shown.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Action, ActionKind, ActionList, Plan } from '../src/model/plan.ts';
import { writeFileAtomically } from '../src/files/atomic.ts';
import { planFileOf } from '../src/planfile/save.ts';
import { writePlanFile } from '../src/planfile/write.ts';
import { planSummary, testConfig } from '../test/builders.ts';

/** The last commit whose `apply FILE` read a plan file line by line (src/apply/saved-plan.ts, manifest/planfile.ts). */
const OLD_READER_COMMIT = 'c7ab3f0^';
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One read's figures: CPU of all the process's threads and wall time around the call, and the process's peak RSS. */
interface Reading {
  cpuMs: number;
  wallMs: number;
  maxRss: number;
  /** What the call ended in: a refusal or error code (the config check, when the whole file was read and its digest matched). */
  outcome: string;
}

/** A key per index whose order is the index order, in the shape of a camera site's keys. */
function keyOf(i: number): string {
  return `site-7/cam-${String(Math.floor(i / 10_000)).padStart(5, '0')}/frame-${String(i).padStart(9, '0')}-${(i * 2654435761) % 1000}.jpg`;
}

function etagOf(i: number): string {
  return ((i * 2654435761) >>> 0).toString(16).padStart(8, '0').repeat(4);
}

const VOLUMES = ['/mnt/staging-a', '/mnt/staging-b'];

/** Shares of each kind in a plan of a site in mid-migration, in apply order. */
const MIX: [ActionKind, number][] = [
  ['download', 0.4],
  ['redownload', 0.01],
  ['adopt', 0.05],
  ['upload', 0.4],
  ['purge', 0.1],
  ['skip', 0.04],
];

/** The i-th action of a kind, with the fields the planner sets for it. */
function actionOf(kind: ActionKind, i: number): Action {
  const base = { kind, key: keyOf(i), size: 65_536 + ((i * 7919) % 4_000_000), etag: etagOf(i) };
  const volume = VOLUMES[i % 2] as string;
  switch (kind) {
    case 'download':
      return { ...base, volume };
    case 'redownload':
      return { ...base, volume, replaces: VOLUMES[(i + 1) % 2] as string, reason: { code: 'size-differs-locally' } };
    case 'adopt':
      return { ...base, adoptBy: 'md5', destinationEtag: etagOf(i + 1) };
    case 'upload':
      return i % 10 === 0 ? { ...base, volume, localProof: 'md5', reason: { code: 'local-copy-checked' } } : { ...base, volume, afterDownload: true };
    case 'purge':
      return { ...base, volume, afterDownload: i % 3 !== 0 };
    case 'skip':
      return { ...base, reason: { code: 'key-dot-segment' } };
  }
}

/** N actions in plan order (kinds in apply order, keys in order within each), made as they are read. */
function syntheticActions(count: number): ActionList {
  const counts = MIX.map(([, share]) => Math.floor(count * share));
  counts[0] = (counts[0] as number) + count - counts.reduce((sum, n) => sum + n, 0);
  return {
    length: count,
    *[Symbol.iterator]() {
      for (const [index, [kind]] of MIX.entries()) for (let i = 0; i < (counts[index] as number); i++) yield actionOf(kind, i);
    },
  };
}

/** Writes the plan file with the writer `plan --out` uses; its config digest is none a config has, so a read stops at the config check. */
function writeBenchPlan(path: string, count: number): void {
  const config = testConfig();
  const plan: Plan = {
    formatVersion: 1,
    actions: syntheticActions(count),
    summary: planSummary(),
    volumes: VOLUMES.map((root) => ({ root, freeBytes: 1024 ** 4, reserveBytes: 0, plannedDownloadBytes: 0, plannedDownloads: 0 })),
    hops: { download: { workers: 64, concurrency: 5 }, upload: { workers: 64, concurrency: 5 } },
    warnings: [],
    notes: [],
  };
  const file = { ...planFileOf({ plan, createdAt: new Date(0).toISOString(), inputDigest: 'bench', ledgerSerial: 0 }, config), configDigest: 'bench' };
  writeFileAtomically(path, (emit) => writePlanFile(file, emit));
}

/** Runs `work` and measures it in this process. */
async function timed(work: () => Promise<string> | string): Promise<Reading> {
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const outcome = await work();
  const cpu = process.cpuUsage(cpuStart);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - start, maxRss: process.resourceUsage().maxRSS * 1024, outcome };
}

/**
 * The read with `readSavedPlan` of the tree at `root` (this one, or the old one, whose version
 * throws its refusals rather than returning them) into spools on disk under `spoolParent`;
 * its modules loaded first, so that loading them is not timed.
 */
async function readerOf(root: string, module: string, path: string, spoolParent: string): Promise<() => Promise<string>> {
  const { readSavedPlan } = (await import(pathToFileURL(join(root, module)).href)) as {
    readSavedPlan: (path: string, config: unknown, spools: unknown) => Promise<{ refusal?: { code: string } }>;
  };
  const { SpoolFolder } = (await import(pathToFileURL(join(root, 'src/files/spool.ts')).href)) as typeof import('../src/files/spool.ts');
  return async () => {
    const folder = SpoolFolder.at(spoolParent);
    try {
      const read = await readSavedPlan(path, testConfig(), folder.spools);
      return read.refusal?.code ?? 'read';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    } finally {
      folder.remove();
    }
  };
}

/** The floor: the file's bytes read a megabyte at a time, as the readers read them. */
function readBytes(path: string): string {
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let total = 0;
  for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) total += read;
  closeSync(fd);
  return `${total} bytes`;
}

/** The old reader's source taken out of git history, beside this tree's node_modules; undefined without the history. */
function oldTree(parent: string): string | undefined {
  const root = join(parent, 'old');
  try {
    mkdirSync(root);
    const archive = execFileSync('git', ['-C', REPO, 'archive', OLD_READER_COMMIT, 'src', 'schemas', 'package.json'], { maxBuffer: 256 << 20 });
    execFileSync('tar', ['-x', '-C', root], { input: archive });
    symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
    return root;
  } catch (error) {
    console.log(`  (no old line reader: ${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/**
 * Writes a plan of N actions, reads it BENCH_RUNS times with each reader in turn, and prints
 * each one's least CPU beside the others. Exits non-zero when the reader costs more CPU than the
 * old line reader of the same run.
 */
export async function benchPlanfile(args: string[]): Promise<void> {
  const count = Number(args[0] ?? '1000000');
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? '3'));
  const script = fileURLToPath(import.meta.url);
  const parent = mkdtempSync(join(os.tmpdir(), 'bench-planfile-'));
  try {
    const path = join(parent, 'plan.json');
    const written = performance.now();
    execFileSync(process.execPath, [script, '--child', 'write', path, String(count)], { stdio: 'inherit' });
    console.log(`planfile bench: ${count.toLocaleString('en')} actions, ${mib(statSync(path).size)} written in ${sec(performance.now() - written)}; read ${runs} times each, alternating`);
    const old = oldTree(parent);
    const readers: [string, string[]][] = [
      ['reader', ['read', path, REPO, 'src/planfile/check.ts']],
      ...(old === undefined ? [] : ([['old line reader', ['read', path, old, 'src/apply/saved-plan.ts']]] as [string, string[]][])),
      ['bytes floor', ['bytes', path]],
    ];
    const readings = new Map<string, Reading[]>(readers.map(([name]) => [name, []]));
    const loads: string[] = [];
    for (let run = 0; run < runs; run++) {
      loads.push(os.loadavg()[0]?.toFixed(1) ?? '?');
      for (const [name, childArgs] of readers) {
        const output = execFileSync(process.execPath, [script, '--child', ...childArgs, join(parent, 'spools')], { encoding: 'utf8', maxBuffer: 1 << 20 });
        readings.get(name)?.push(JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Reading);
      }
    }
    const best = (name: string): Reading | undefined => readings.get(name)?.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
    const reader = best('reader') as Reading;
    const oldReader = best('old line reader');
    const floor = best('bytes floor') as Reading;
    const perMillion = (reading: Reading) => sec((reading.cpuMs * 1_000_000) / count);
    for (const [name] of readers) {
      const reading = best(name) as Reading;
      const all = (readings.get(name) ?? []).map((r) => sec(r.cpuMs)).join(', ');
      console.log(`  ${name.padEnd(16)} cpu ${sec(reading.cpuMs)} (${perMillion(reading)} per 1M; runs ${all})  wall ${sec(reading.wallMs)}  peak RSS ${mib(reading.maxRss)}  -> ${reading.outcome}`);
    }
    console.log(`  reader / bytes floor: ${(reader.cpuMs / Math.max(floor.cpuMs, 1)).toFixed(1)}x cpu; load ${loads.join(', ')} on ${os.availableParallelism()} cores`);
    if (reader.outcome !== 'config-changed') {
      console.log(`  the reader did not read the plan whole (${reader.outcome}; expected config-changed)`);
      process.exitCode = 1;
    }
    if (oldReader !== undefined) {
      const ratio = reader.cpuMs / oldReader.cpuMs;
      const met = ratio <= 1;
      console.log(`  reader / old line reader: ${ratio.toFixed(2)}x cpu, ${(reader.maxRss / oldReader.maxRss).toFixed(2)}x peak RSS (target 1.00x cpu: ${met ? 'met' : 'missed'})`);
      if (!met) process.exitCode = 1;
    }
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const [mode, path, ...rest] = process.argv.slice(3);
  if (mode === 'write') {
    writeBenchPlan(path as string, Number(rest[0]));
  } else {
    const read = mode === 'bytes' ? () => readBytes(path as string) : await readerOf(rest[0] as string, rest[1] as string, path as string, rest[2] as string);
    const reading = await timed(read);
    process.stdout.write(`${JSON.stringify(reading)}\n`);
  }
}
