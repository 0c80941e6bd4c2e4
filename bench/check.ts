/**
 * `npm run bench -- check [small|large]`: `dualsync check --content` against its peer in the same
 * run, on the same servers and objects: raw s5cmd reading both buckets' bytes at once (one
 * `s5cmd run` of `cat` lines per bucket, output thrown away), which is the floor for reading
 * everything twice over the network. Prints both times, their ratio, the throughput and check's
 * peak RSS and CPU time (GNU time's maxrss, user + system): CPU time near the wall time says
 * check is bound by its one JavaScript thread (MD5 and HTTP), not by the links.
 *
 * The machine may be shared, so a change is judged paired: BENCH_CHECK_BASELINE=DIR (another
 * checkout of dualsync, e.g. `git archive main | tar -x -C DIR` with node_modules linked) times
 * that checkout's check too, alternating with this one's, BENCH_CHECK_ROUNDS times (default 1),
 * each round beside its own raw s5cmd read.
 *
 * Scenarios (scale with BENCH_SCALE=0.1 for a quick look):
 *   small   2,000 x 256 KiB   target ratio <= 1.5
 *   large   200 x 8 MiB       target ratio <= 1.5
 *   link    40 x 8 MiB over an emulated site link, one row per rate of the slower side
 *           (20 and 40 MB/s; the other side twice that): check --content's MiB/s against the
 *           slower link's, measured in the same run by raw s5cmd reading both buckets at once through
 *           the same link; target >= 0.85 of the link.
 *
 * The link is test/harness/link.ts, a forwarder whose connections share one byte budget as a
 * site's uplink does, not Toxiproxy's bandwidth toxic: that one limits each connection on its
 * own, so the rate would grow with the number of connections (s5cmd's 64 workers against
 * check's 8 objects) and the ratio would measure connection counts, not check.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startLink } from '../test/harness/link.ts';
import { cleanup, putObjects, requireTools, startPair, type MinioPair, type MinioServer } from '../test/harness/index.ts';
import { makeSite } from '../test/integration/site.ts';
import { CONTENT_CONCURRENCY } from '../src/model/check.ts';

interface Scenario {
  name: string;
  count: number;
  size: number;
  target: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const scale = Number(process.env.BENCH_SCALE ?? '1');
const WORKERS = 64;
/** check's --concurrency: objects read at once (each on both sides). */
const CONCURRENCY = Number(process.env.BENCH_CHECK_CONCURRENCY ?? '16');

function scenarios(only?: string): Scenario[] {
  const all: Scenario[] = [
    { name: 'small', count: Math.max(10, Math.round(2000 * scale)), size: 256 * KIB, target: 1.5 },
    { name: 'large', count: Math.max(4, Math.round(200 * scale)), size: 8 * MIB, target: 1.5 },
  ];
  return only ? all.filter((s) => s.name === only) : all;
}

/** The same objects into `bucket` of `server`, in batches. */
async function seed(server: MinioServer, bucket: string, scenario: Scenario): Promise<string[]> {
  const body = Buffer.alloc(scenario.size);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
  const keys: string[] = [];
  const batch = 16;
  for (let start = 0; start < scenario.count; start += batch) {
    const entries = [];
    for (let i = start; i < Math.min(scenario.count, start + batch); i++) {
      const copy = Buffer.from(body);
      copy.writeUInt32LE(i, 0);
      const key = `bench/${scenario.name}/obj-${String(i).padStart(5, '0')}`;
      keys.push(key);
      entries.push({ key, body: copy });
    }
    await putObjects(server, bucket, entries);
  }
  return keys;
}

/** Raw s5cmd reading every object of both buckets at once; seconds. */
async function rawRead(pair: MinioPair, buckets: { source: string; destination: string }, keys: string[]): Promise<number> {
  const { s5cmd } = requireTools();
  const dir = await mkdtemp(join(tmpdir(), 'bench-check-'));
  try {
    const read = async (server: MinioServer, bucket: string, name: string) => {
      const file = join(dir, `${name}.s5cmd`);
      await writeFile(file, keys.map((key) => `cat "s3://${bucket}/${key}"\n`).join(''));
      const env = { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_REGION: 'us-east-1' };
      await execa(s5cmd, ['--endpoint-url', server.endpoint, '--numworkers', String(WORKERS), 'run', file], { env, extendEnv: false, stdout: 'ignore' });
    };
    const started = performance.now();
    await Promise.all([read(pair.edge, buckets.source, 'source'), read(pair.cloud, buckets.destination, 'destination')]);
    return (performance.now() - started) / 1000;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `dualsync check --content` under GNU time: wall seconds, peak RSS in bytes, exit code and output. */
async function timedCheck(bin: string, configPath: string, env: Record<string, string | undefined>, concurrency = CONCURRENCY): Promise<{ seconds: number; cpuSeconds: number; maxRss: number; exitCode: number | null; stdout: string }> {
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', 'bench-time %e %M %U %S', process.execPath, bin, 'check', '--content', '--concurrency', String(concurrency), '--combined', '/dev/null', '-c', configPath], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const seconds = (performance.now() - started) / 1000;
  const times = /bench-time [\d.]+ (\d+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  const cpuSeconds = times ? Number(times[2]) + Number(times[3]) : 0;
  return { seconds, cpuSeconds, maxRss: times ? Number(times[1]) * KIB : 0, exitCode, stdout: stdout + stderr.replace(/bench-time .*\s*$/, '') };
}

const THIS_BIN = fileURLToPath(new URL('../bin/dualsync', import.meta.url));
const BASELINE = process.env.BENCH_CHECK_BASELINE;
const ROUNDS = Math.max(1, Number(process.env.BENCH_CHECK_ROUNDS ?? '1'));

/** One row: check's time against the raw read of the same round, its ratio and the target. */
function row(label: string, scenario: Scenario, raw: number, check: Awaited<ReturnType<typeof timedCheck>>): string {
  const bytes = 2 * scenario.count * scenario.size;
  const ratio = check.seconds / raw;
  const verdict = ratio <= scenario.target ? 'met' : `missed by ${((ratio / scenario.target - 1) * 100).toFixed(0)}%`;
  const rate = (seconds: number) => `${(bytes / MIB / seconds).toFixed(0)} MiB/s`;
  return (
    `${label.padEnd(6)} ${String(scenario.count).padStart(5)} x ${(scenario.size / KIB).toFixed(0).padStart(5)} KiB, both sides read: ` +
    `raw s5cmd ${raw.toFixed(2)} s (${rate(raw)}), check --content ${check.seconds.toFixed(2)} s (${rate(check.seconds)}, cpu ${check.cpuSeconds.toFixed(1)} s), ` +
    `ratio ${ratio.toFixed(2)} (target <= ${scenario.target}: ${verdict}), peak RSS ${(check.maxRss / MIB).toFixed(0)} MiB`
  );
}

async function runScenario(pair: MinioPair, scenario: Scenario): Promise<string[]> {
  const site = await makeSite(pair, { volumes: 1 });
  const keys = await seed(pair.edge, site.sourceBucket, scenario);
  await seed(pair.cloud, site.destinationBucket, scenario);
  const rows: string[] = [];
  const bins = BASELINE === undefined ? [{ label: scenario.name, bin: THIS_BIN }] : [{ label: scenario.name, bin: THIS_BIN }, { label: 'base', bin: join(BASELINE, 'bin/dualsync') }];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which checkout goes first, so that neither always follows the raw read.
    for (const { label, bin } of round % 2 === 0 ? bins : [...bins].reverse()) {
      const raw = await rawRead(pair, { source: site.sourceBucket, destination: site.destinationBucket }, keys);
      const check = await timedCheck(bin, site.configPath, site.env);
      if (process.env.BENCH_CHECK_VERBOSE) console.log(check.stdout);
      if (check.exitCode !== 0) throw new Error(`check --content (${bin}) exited ${check.exitCode}:\n${check.stdout}`);
      rows.push(row(label, scenario, raw, check));
      console.log(rows.at(-1));
    }
  }
  return rows;
}

interface LinkScenario {
  name: string;
  count: number;
  size: number;
  /** Bytes per second the slower side (the destination, as over a site's WAN) carries towards the reader. */
  slowerBytesPerSecond: number;
  fasterBytesPerSecond: number;
  /** check --content's throughput as a share of the slower link's, at least. */
  target: number;
}

const MB = 1_000_000;
/** check's own default (CONTENT_CONCURRENCY): what an operator at a site runs. */
const LINK_CONCURRENCY = Number(process.env.BENCH_CHECK_LINK_CONCURRENCY ?? String(CONTENT_CONCURRENCY));

function linkScenarios(): LinkScenario[] {
  return [20, 40].map((rate) => ({
    name: `link-${rate}`,
    count: Math.max(4, Math.round(40 * scale)),
    size: 8 * MIB,
    slowerBytesPerSecond: rate * MB,
    fasterBytesPerSecond: 2 * rate * MB,
    target: 0.85,
  }));
}

/** Raw s5cmd reading every object of `bucket` through `endpoint` (the link), output thrown away; seconds. */
async function rawReadThrough(endpoint: string, server: MinioServer, bucket: string, keys: string[]): Promise<number> {
  const { s5cmd } = requireTools();
  const dir = await mkdtemp(join(tmpdir(), 'bench-check-'));
  try {
    const file = join(dir, 'read.s5cmd');
    await writeFile(file, keys.map((key) => `cat "s3://${bucket}/${key}"\n`).join(''));
    const env = { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey, AWS_REGION: 'us-east-1' };
    const started = performance.now();
    await execa(s5cmd, ['--endpoint-url', endpoint, '--numworkers', String(WORKERS), 'run', file], { env, extendEnv: false, stdout: 'ignore' });
    return (performance.now() - started) / 1000;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One link row: both servers behind their own link (the destination's the slower), the slower
 * link's rate as raw s5cmd gets it, then check --content through both links; MiB/s of each
 * side's objects, their ratio and the target.
 */
async function runLinkScenario(pair: MinioPair, scenario: LinkScenario): Promise<string> {
  const edgeLink = await startLink(pair.edge.endpoint, { downBytesPerSecond: scenario.fasterBytesPerSecond });
  const cloudLink = await startLink(pair.cloud.endpoint, { downBytesPerSecond: scenario.slowerBytesPerSecond });
  try {
    const site = await makeSite(pair, { volumes: 1, sourceEndpoint: edgeLink.endpoint, destinationEndpoint: cloudLink.endpoint });
    const keys = await seed(pair.edge, site.sourceBucket, { name: scenario.name, count: scenario.count, size: scenario.size, target: 0 });
    await seed(pair.cloud, site.destinationBucket, { name: scenario.name, count: scenario.count, size: scenario.size, target: 0 });
    const mib = (scenario.count * scenario.size) / MIB;
    // Both buckets at once through their links, as check reads them: the forwarders then carry
    // the same bytes for both, and the slower link sets the time. (Reading the slower side alone
    // gave the peer a forwarder with a third of check's traffic on this shared 2-core box.)
    const started = performance.now();
    const [rawSlower] = await Promise.all([
      rawReadThrough(cloudLink.endpoint, pair.cloud, site.destinationBucket, keys),
      rawReadThrough(edgeLink.endpoint, pair.edge, site.sourceBucket, keys),
    ]);
    const raw = (performance.now() - started) / 1000;
    const check = await timedCheck(THIS_BIN, site.configPath, site.env, LINK_CONCURRENCY);
    if (process.env.BENCH_CHECK_VERBOSE) console.log(check.stdout);
    if (check.exitCode !== 0) throw new Error(`check --content exited ${check.exitCode}:\n${check.stdout}`);
    const linkRate = mib / raw;
    const checkRate = mib / check.seconds;
    const share = checkRate / linkRate;
    const verdict = share >= scenario.target ? 'met' : `missed by ${((1 - share / scenario.target) * 100).toFixed(0)}%`;
    return (
      `${scenario.name.padEnd(7)} ${String(scenario.count).padStart(4)} x ${(scenario.size / MIB).toFixed(0)} MiB, links ${(scenario.slowerBytesPerSecond / MB).toFixed(0)}/${(scenario.fasterBytesPerSecond / MB).toFixed(0)} MB/s: ` +
      `slower link (raw s5cmd, both sides at once) ${linkRate.toFixed(1)} MiB/s in ${raw.toFixed(1)} s (its side alone done in ${rawSlower.toFixed(1)} s), check --content ${checkRate.toFixed(1)} MiB/s in ${check.seconds.toFixed(1)} s (cpu ${check.cpuSeconds.toFixed(1)} s, concurrency ${LINK_CONCURRENCY}), ` +
      `share of the link ${share.toFixed(2)} (target >= ${scenario.target}: ${verdict}), peak RSS ${(check.maxRss / MIB).toFixed(0)} MiB`
    );
  } finally {
    await Promise.all([edgeLink.close(), cloudLink.close()]);
  }
}

/** Runs the scenarios (or the one named: small, large, link) and prints one row each. */
export async function benchCheck(only?: string): Promise<void> {
  const pair = await startPair();
  try {
    for (const scenario of scenarios(only)) await runScenario(pair, scenario);
    if (only === undefined || only === 'link') {
      for (const scenario of linkScenarios()) console.log(await runLinkScenario(pair, scenario));
    }
  } finally {
    await pair.stop();
    await cleanup();
  }
}
