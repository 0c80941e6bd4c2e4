/**
 * `npm run bench -- apply`: dualsync apply against raw s5cmd in the same run, same servers,
 * same objects. Raw s5cmd runs hop after hop (cp source -> local, then local -> destination),
 * which is what an operator scripts by hand. Prints both times and their ratio.
 *
 * Scenarios (scale with BENCH_SCALE=0.1 for a quick look):
 *   small   2,000 x 256 KiB, one fast box (CPU-bound)       target ratio <= 1.10
 *   large   8 x 256 MiB, one fast box                      target ratio <= 1.10
 *   links   100 x 1 MiB over two ~10 MB/s links             target ratio <= 0.60
 * The links are test/harness/link.ts forwarders whose connections share one byte budget.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanup, listAll, putObjects, requireTools, startPair, type MinioPair } from '../test/harness/index.ts';
import { startLink, type Link } from '../test/harness/link.ts';
import { makeSite } from '../test/integration/site.ts';

interface Scenario {
  name: string;
  count: number;
  size: number;
  linkKBps?: number;
  target: number;
}

const MIB = 1024 * 1024;
const scale = Number(process.env.BENCH_SCALE ?? '1');
const WORKERS = 64;

function scenarios(only?: string): Scenario[] {
  const all: Scenario[] = [
    { name: 'small', count: Math.max(10, Math.round(2000 * scale)), size: 256 * 1024, target: 1.1 },
    { name: 'large', count: Math.max(2, Math.round(8 * scale)), size: 256 * MIB, target: 1.1 },
    { name: 'links', count: Math.max(10, Math.round(100 * scale)), size: MIB, linkKBps: 10 * 1024, target: 0.6 },
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
    await putObjects(pair.edge, bucket, entries);
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { seconds: (performance.now() - started) / 1000, value };
}

async function runScenario(pair: MinioPair, scenario: Scenario): Promise<string> {
  const { s5cmd } = requireTools();
  let sourceEndpoint = pair.edge.endpoint;
  let destinationEndpoint = pair.cloud.endpoint;
  const links: Link[] = [];
  try {
    if (scenario.linkKBps) {
      const rate = scenario.linkKBps * 1024;
      const device = await startLink(pair.edge.endpoint, { downBytesPerSecond: rate, upBytesPerSecond: rate });
      const uplink = await startLink(pair.cloud.endpoint, { downBytesPerSecond: rate, upBytesPerSecond: rate });
      links.push(device, uplink);
      sourceEndpoint = device.endpoint;
      destinationEndpoint = uplink.endpoint;
    }
    // Raw s5cmd, hop after hop.
    const raw = await makeSite(pair, { sourceEndpoint, destinationEndpoint, volumes: 1 });
    await seed(pair, raw.sourceBucket, scenario);
    const local = await mkdtemp(join(tmpdir(), 'bench-raw-'));
    const edgeEnv = { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: pair.edge.accessKeyId, AWS_SECRET_ACCESS_KEY: pair.edge.secretAccessKey, AWS_REGION: 'us-east-1' };
    const cloudEnv = { PATH: process.env.PATH ?? '', AWS_ACCESS_KEY_ID: pair.cloud.accessKeyId, AWS_SECRET_ACCESS_KEY: pair.cloud.secretAccessKey, AWS_REGION: 'us-east-1' };
    const rawRun = await timed(async () => {
      await execa(s5cmd, ['--endpoint-url', sourceEndpoint, '--numworkers', String(WORKERS), 'cp', `s3://${raw.sourceBucket}/*`, `${local}/`], { env: edgeEnv, extendEnv: false });
      await execa(s5cmd, ['--endpoint-url', destinationEndpoint, '--numworkers', String(WORKERS), 'cp', `${local}/*`, `s3://${raw.destinationBucket}/`], { env: cloudEnv, extendEnv: false });
    });
    await rm(local, { recursive: true, force: true });
    const rawCount = (await listAll(pair.cloud, raw.destinationBucket)).length;

    // dualsync apply: both hops at once, verified and recorded.
    const site = await makeSite(pair, { sourceEndpoint, destinationEndpoint, volumes: 2, transfer: [`workers: ${WORKERS}`] });
    await seed(pair, site.sourceBucket, scenario);
    const applied = await timed(() => site.spawn('apply', '--auto-approve'));
    if (applied.value.exitCode !== 0) throw new Error(`dualsync apply failed: ${applied.value.stderr}`);
    const count = (await listAll(pair.cloud, site.destinationBucket)).length;
    if (count !== scenario.count || rawCount !== scenario.count) throw new Error(`expected ${scenario.count} objects, dualsync ${count}, raw ${rawCount}`);

    const ratio = applied.seconds / rawRun.seconds;
    const mib = (scenario.count * scenario.size) / MIB;
    const verdict = ratio <= scenario.target ? 'meets' : 'MISSES';
    return `${scenario.name.padEnd(6)} ${String(scenario.count).padStart(5)} x ${(scenario.size / 1024).toFixed(0).padStart(6)} KiB (${mib.toFixed(0)} MiB)${scenario.linkKBps ? `, links ${scenario.linkKBps / 1024} MiB/s` : ''}: raw s5cmd ${rawRun.seconds.toFixed(2)} s, dualsync apply ${applied.seconds.toFixed(2)} s, ratio ${ratio.toFixed(2)} (target <= ${scenario.target}: ${verdict})`;
  } finally {
    for (const link of links) await link.close();
  }
}

/** Runs the apply scenarios (all, or the one named) and prints a line each. */
export async function benchApply(only?: string): Promise<void> {
  const pair = await startPair();
  try {
    for (const scenario of scenarios(only)) {
      process.stdout.write(`${await runScenario(pair, scenario)}\n`);
    }
  } finally {
    await pair.stop();
    await cleanup();
  }
}
