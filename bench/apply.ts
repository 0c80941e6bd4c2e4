/**
 * `npm run bench -- apply [NAME]`: dualsync apply against raw s5cmd in the same run, same servers,
 * same objects, each row beside its peer with the ratio and issue 20's target. Raw s5cmd runs hop
 * after hop (source -> local, then local -> destination, with a wildcard), which is what an
 * operator scripts by hand.
 *
 * Scenarios (scale the counts with BENCH_SCALE=0.1 for a quick look):
 *   mib     400 x 1 MiB, uncapped: vs `s5cmd cp` wildcard hop after hop      target <= 1.00
 *   small   2,000 x 64 KiB: vs `s5cmd sync` twice                          target <= 0.80
 *                           vs `s5cmd cp` wildcard twice                    target <= 1.10
 *   links   100 x 1 MiB over two ~10 MB/s links: vs cp hop after hop        target <= 0.53
 *   large   8 x 256 MiB, one fast box: vs cp hop after hop                  target <= 1.10
 * The links are test/harness/link.ts forwarders whose connections share one byte budget.
 *
 * BENCH_PAIRS=N runs each scenario N times. BENCH_TIMELINE=1 also prints, per step, the median
 * and 90th percentile of each object's time since its previous step (DUALSYNC_TIMELINE, see
 * src/apply/timeline.ts). BENCH_COMPARE=DIR runs the dualsync of another checkout (DIR/bin/dualsync)
 * on its own fresh site right after this one's, alternating which goes first, so that a change is
 * measured in pairs on the same machine and servers. BENCH_CPU_PROF=DIR writes a CPU profile of
 * each dualsync apply into DIR (node --cpu-prof).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { cleanup, listAll, putObjects, requireTools, startPair, type MinioPair } from '../test/harness/index.ts';
import { startLink, type Link } from '../test/harness/link.ts';
import { makeSite, type Site } from '../test/integration/site.ts';
import { summariseTimeline, type TimelineMark } from '../src/apply/timeline.ts';

/** A raw s5cmd way to move the same objects: the verb of both hops. */
interface Peer {
  verb: 'cp' | 'sync';
  label: string;
  target: number;
}

interface Scenario {
  name: string;
  count: number;
  size: number;
  linkKBps?: number;
  peers: Peer[];
}

const MIB = 1024 * 1024;
const scale = Number(process.env.BENCH_SCALE ?? '1');
const pairs = Math.max(1, Number(process.env.BENCH_PAIRS ?? '1'));
const showTimeline = process.env.BENCH_TIMELINE === '1';
const compareWith = process.env.BENCH_COMPARE;
const cpuProfiles = process.env.BENCH_CPU_PROF;
const WORKERS = 64;
const GNU_TIME = '/usr/bin/time';
const here = resolve(import.meta.dirname, '..');

function scenarios(only?: string): Scenario[] {
  const cpHopAfterHop = (target: number): Peer => ({ verb: 'cp', label: 's5cmd cp wildcard, hop after hop', target });
  const all: Scenario[] = [
    { name: 'mib', count: Math.max(10, Math.round(400 * scale)), size: MIB, peers: [cpHopAfterHop(1.0)] },
    {
      name: 'small',
      count: Math.max(10, Math.round(2000 * scale)),
      size: 64 * 1024,
      peers: [{ verb: 'sync', label: 's5cmd sync twice', target: 0.8 }, { verb: 'cp', label: 's5cmd cp wildcard twice', target: 1.1 }],
    },
    { name: 'links', count: Math.max(10, Math.round(100 * scale)), size: MIB, linkKBps: 10 * 1024, peers: [cpHopAfterHop(0.53)] },
    { name: 'large', count: Math.max(2, Math.round(8 * scale)), size: 256 * MIB, peers: [cpHopAfterHop(1.1)] },
  ];
  return only ? all.filter((s) => s.name === only) : all;
}

async function seed(pair: MinioPair, bucket: string, scenario: Scenario): Promise<void> {
  const body = Buffer.alloc(scenario.size);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
  const batch = 32;
  for (let start = 0; start < scenario.count; start += batch) {
    const entries = [];
    for (let i = start; i < Math.min(scenario.count, start + batch); i++) {
      const copy = Buffer.from(body);
      copy.writeUInt32LE(i, 0);
      entries.push({ key: `bench/${scenario.name}/obj-${String(i).padStart(5, '0')}`, body: copy });
    }
    // A MinIO shared with other work on a busy box can time a request out: the seed tries again.
    for (let attempt = 1; ; attempt++) {
      try {
        await putObjects(pair.edge, bucket, entries);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { seconds: (performance.now() - started) / 1000, value };
}

interface Endpoints {
  source: string;
  destination: string;
}

/** Raw s5cmd, hop after hop with `verb`, on a fresh site: seconds. */
async function rawRun(pair: MinioPair, scenario: Scenario, endpoints: Endpoints, verb: Peer['verb']): Promise<number> {
  const { s5cmd } = requireTools();
  const raw = await makeSite(pair, { sourceEndpoint: endpoints.source, destinationEndpoint: endpoints.destination, volumes: 1 });
  await seed(pair, raw.sourceBucket, scenario);
  const local = await mkdtemp(join(tmpdir(), 'bench-raw-'));
  const edgeEnv = { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: pair.edge.accessKeyId, AWS_SECRET_ACCESS_KEY: pair.edge.secretAccessKey, AWS_REGION: 'us-east-1' };
  const cloudEnv = { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: pair.cloud.accessKeyId, AWS_SECRET_ACCESS_KEY: pair.cloud.secretAccessKey, AWS_REGION: 'us-east-1' };
  const run = await timed(async () => {
    await execa(s5cmd, ['--endpoint-url', endpoints.source, '--numworkers', String(WORKERS), verb, `s3://${raw.sourceBucket}/*`, `${local}/`], { env: edgeEnv, extendEnv: false });
    await execa(s5cmd, ['--endpoint-url', endpoints.destination, '--numworkers', String(WORKERS), verb, `${local}/*`, `s3://${raw.destinationBucket}/`], { env: cloudEnv, extendEnv: false });
  });
  await rm(local, { recursive: true, force: true });
  const count = (await listAll(pair.cloud, raw.destinationBucket)).length;
  if (count !== scenario.count) throw new Error(`raw s5cmd ${verb}: expected ${scenario.count} objects, got ${count}`);
  return run.seconds;
}

/** `apply --auto-approve` of the dualsync in `checkout` on a fresh site: seconds, and the timeline's marks when asked. */
async function dualsyncRun(pair: MinioPair, scenario: Scenario, endpoints: Endpoints, checkout: string): Promise<{ seconds: number; cpuSeconds?: number; marks?: TimelineMark[] }> {
  const site: Site = await makeSite(pair, { sourceEndpoint: endpoints.source, destinationEndpoint: endpoints.destination, volumes: 2, transfer: [`workers: ${WORKERS}`] });
  await seed(pair, site.sourceBucket, scenario);
  const timelineFile = showTimeline ? join(site.dir, 'timeline.jsonl') : undefined;
  const env = {
    ...site.env,
    ...(timelineFile === undefined ? {} : { DUALSYNC_TIMELINE: timelineFile }),
    ...(cpuProfiles === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${cpuProfiles}` }),
  } as Record<string, string>;
  // GNU time, where there is one, tells the CPU of dualsync and the s5cmd it ran: steadier than wall time on a busy box.
  const cpuFile = existsSync(GNU_TIME) ? join(site.dir, 'cpu.txt') : undefined;
  const command = [process.execPath, join(checkout, 'bin/dualsync'), 'apply', '--auto-approve', '-c', site.configPath];
  const [file, ...args] = cpuFile === undefined ? command : [GNU_TIME, '-f', '%U %S', '-o', cpuFile, ...command];
  const applied = await timed(() => execa(file!, args, { env, extendEnv: false, reject: false }));
  if (applied.value.exitCode !== 0) throw new Error(`dualsync apply (${checkout}) failed: ${applied.value.stderr}`);
  const cpuSeconds = cpuFile === undefined ? undefined : (await readFile(cpuFile, 'utf8')).trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0);
  const count = (await listAll(pair.cloud, site.destinationBucket)).length;
  if (count !== scenario.count) throw new Error(`dualsync apply (${checkout}): expected ${scenario.count} objects, got ${count}`);
  if (timelineFile === undefined) return { seconds: applied.seconds, cpuSeconds };
  const text = await readFile(timelineFile, 'utf8').catch(() => ''); // an older checkout writes none
  return { seconds: applied.seconds, cpuSeconds, marks: text.trim() === '' ? [] : text.trim().split('\n').map((line) => JSON.parse(line) as TimelineMark) };
}

function describeScenario(scenario: Scenario): string {
  const mib = (scenario.count * scenario.size) / MIB;
  return `${scenario.name.padEnd(6)} ${String(scenario.count).padStart(5)} x ${(scenario.size / 1024).toFixed(0).padStart(6)} KiB (${mib.toFixed(0)} MiB)${scenario.linkKBps ? `, links ${scenario.linkKBps / 1024} MiB/s` : ''}`;
}

function timelineLines(marks: readonly TimelineMark[]): string[] {
  const lines = ['    timeline (per object, time since its previous step): step  median ms  p90 ms'];
  for (const figure of summariseTimeline(marks)) lines.push(`      ${figure.step.padEnd(20)} ${figure.medianMs.toFixed(1).padStart(8)} ${figure.p90Ms.toFixed(1).padStart(8)}  (${figure.objects} objects)`);
  const at = (step: TimelineMark['step'], key?: string) => marks.find((m) => m.step === step && (key === undefined || m.key === key))?.ms;
  const run = ['execute-started', 'downloads-done', 'uploads-done', 'deliveries-done', 'execute-ended'] as const;
  const firstUpload = at('upload-sent');
  lines.push(`      ms after process start: ${run.map((step) => `${step} ${at(step, '')?.toFixed(0) ?? '-'}`).join(', ')}; first upload line ${firstUpload?.toFixed(0) ?? '-'}`);
  const cpu = (step: TimelineMark['step']) => marks.find((m) => m.step === step && m.key === '')?.cpuMs;
  const [before, after] = [cpu('execute-started'), cpu('execute-ended')];
  if (before !== undefined && after !== undefined) lines.push(`      dualsync's own CPU: ${before} ms before executing the plan, ${after - before} ms while executing it`);
  return lines;
}

/** One pass of a scenario: each peer and dualsync (and the compared checkout) on fresh sites, one line per peer. */
async function runScenario(pair: MinioPair, scenario: Scenario, pass: number): Promise<string[]> {
  const links: Link[] = [];
  try {
    const endpoints: Endpoints = { source: pair.edge.endpoint, destination: pair.cloud.endpoint };
    if (scenario.linkKBps) {
      const rate = scenario.linkKBps * 1024;
      const device = await startLink(pair.edge.endpoint, { downBytesPerSecond: rate, upBytesPerSecond: rate });
      const uplink = await startLink(pair.cloud.endpoint, { downBytesPerSecond: rate, upBytesPerSecond: rate });
      links.push(device, uplink);
      endpoints.source = device.endpoint;
      endpoints.destination = uplink.endpoint;
    }
    const peerSeconds = new Map<Peer, number>();
    for (const peer of scenario.peers) peerSeconds.set(peer, await rawRun(pair, scenario, endpoints, peer.verb));
    // With a checkout to compare, the two dualsyncs alternate which runs first from pass to pass.
    const order = compareWith === undefined ? [here] : pass % 2 === 0 ? [here, resolve(compareWith)] : [resolve(compareWith), here];
    const results = new Map<string, { seconds: number; cpuSeconds?: number; marks?: TimelineMark[] }>();
    for (const checkout of order) results.set(checkout, await dualsyncRun(pair, scenario, endpoints, checkout));
    const ours = results.get(here)!;
    const lines: string[] = [];
    for (const peer of scenario.peers) {
      const seconds = peerSeconds.get(peer)!;
      const ratio = ours.seconds / seconds;
      lines.push(`${describeScenario(scenario)}: ${peer.label} ${seconds.toFixed(2)} s, dualsync apply ${ours.seconds.toFixed(2)} s, ratio ${ratio.toFixed(2)} (target <= ${peer.target.toFixed(2)}: ${ratio <= peer.target ? 'meets' : 'MISSES'})`);
    }
    if (compareWith !== undefined) {
      const theirs = results.get(resolve(compareWith))!;
      const cpu = ours.cpuSeconds !== undefined && theirs.cpuSeconds !== undefined
        ? `; CPU of dualsync and its s5cmd: this ${ours.cpuSeconds.toFixed(2)} s, that ${theirs.cpuSeconds.toFixed(2)} s (this/that ${(ours.cpuSeconds / theirs.cpuSeconds).toFixed(3)})`
        : '';
      lines.push(`    paired: this checkout ${ours.seconds.toFixed(2)} s, ${compareWith} ${theirs.seconds.toFixed(2)} s (this/that ${(ours.seconds / theirs.seconds).toFixed(3)}; ${order[0] === here ? 'this' : 'that'} ran first)${cpu}`);
    }
    if (ours.marks !== undefined) lines.push(...timelineLines(ours.marks));
    return lines;
  } finally {
    for (const link of links) await link.close();
  }
}

/** Runs the apply scenarios (all, or the one named) and prints their rows. */
export async function benchApply(only?: string): Promise<void> {
  const pair = await startPair();
  try {
    for (const scenario of scenarios(only)) {
      for (let pass = 0; pass < pairs; pass++) {
        process.stdout.write(`${(await runScenario(pair, scenario, pass)).join('\n')}\n`);
      }
    }
  } finally {
    await pair.stop();
    await cleanup();
  }
}
