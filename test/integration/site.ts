/**
 * A "site" for end-to-end tests: a source bucket on the edge server, a destination bucket on the
 * cloud server, staging volumes and a state directory in a temp folder, and a sync.yaml whose
 * credentials are ${ENV} references — the secrets live only in the environment given to the CLI.
 */
import { PassThrough } from 'node:stream';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildCli } from '../../src/cli/main.ts';
import { createBucket, putObjects, tempDir, type MinioPair } from '../harness/index.ts';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Site {
  dir: string;
  configPath: string;
  sourceBucket: string;
  destinationBucket: string;
  volumes: string[];
  stateDir: string;
  env: Record<string, string | undefined>;
  /** Runs `dualsync ARGS -c sync.yaml` in this process with captured streams. */
  cli(...args: string[]): Promise<CliResult>;
  /** Runs `bin/dualsync ARGS -c sync.yaml` as a child process (for kill -9 tests). */
  spawn(...args: string[]): ReturnType<typeof execa>;
  /** The same as the leader of a process group of its own, as a shell starts a foreground job (for signal tests). */
  spawnGroupLeader(...args: string[]): ReturnType<typeof execa>;
}

export interface SiteOptions {
  volumes?: number;
  sourcePrefix?: string;
  destinationPrefix?: string;
  /** Extra YAML lines under `transfer:`. */
  transfer?: string[];
  /** Extra YAML lines under `source:`. */
  source?: string[];
  /** Extra YAML lines under `destination:`. */
  destination?: string[];
  reserve?: string;
  /** Reach the servers through these endpoints instead (a Toxiproxy in between). */
  sourceEndpoint?: string;
  destinationEndpoint?: string;
}

const repoRoot = new URL('../..', import.meta.url).pathname;

/** Runs the CLI in-process, as an operator would call it, and captures what it prints. */
export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const stdin = new PassThrough();
  stdin.end();
  const exitCode = await buildCli().run(argv, { stdin, stdout, stderr, env, colorDepth: 1 });
  return { exitCode, stdout: out, stderr: err };
}

/** Creates the buckets, folders and config of one test site. */
/** `bin/dualsync ARGS -c CONFIG` as a child process with exactly `env`; `detached` makes it a process group's leader. */
function spawnCli(args: string[], configPath: string, env: Record<string, string | undefined>, detached: boolean): ReturnType<typeof execa> {
  return execa(process.execPath, [join(repoRoot, 'bin/dualsync'), ...args, '-c', configPath], {
    env: env as Record<string, string>,
    extendEnv: false,
    reject: false,
    detached,
  });
}

export async function makeSite(pair: MinioPair, options: SiteOptions = {}): Promise<Site> {
  const dir = await tempDir('dualsync-site-');
  const [sourceBucket, destinationBucket] = await Promise.all([createBucket(pair.edge), createBucket(pair.cloud)]);
  const volumes: string[] = [];
  for (let i = 1; i <= (options.volumes ?? 2); i++) {
    const volume = join(dir, `volume-${String(i).padStart(2, '0')}`);
    await mkdir(volume, { recursive: true });
    volumes.push(volume);
  }
  const stateDir = join(dir, 'state');
  const yaml = [
    'version: 1',
    'source:',
    `  bucket: ${sourceBucket}`,
    `  prefix: "${options.sourcePrefix ?? ''}"`,
    '  region: us-east-1',
    `  endpoint: ${options.sourceEndpoint ?? pair.edge.endpoint}`,
    '  addressing: path',
    '  credentials:',
    '    accessKeyId: ${EDGE_ACCESS_KEY_ID}',
    '    secretAccessKey: ${EDGE_SECRET_ACCESS_KEY}',
    ...(options.source ?? []).map((line) => `  ${line}`),
    'destination:',
    `  bucket: ${destinationBucket}`,
    `  prefix: "${options.destinationPrefix ?? ''}"`,
    '  region: us-east-1',
    `  endpoint: ${options.destinationEndpoint ?? pair.cloud.endpoint}`,
    '  addressing: path',
    '  credentials:',
    '    accessKeyId: ${CLOUD_ACCESS_KEY_ID}',
    '    secretAccessKey: ${CLOUD_SECRET_ACCESS_KEY}',
    ...(options.destination ?? []).map((line) => `  ${line}`),
    'staging:',
    `  volumes: ["${join(dir, 'volume-*')}"]`,
    `  reserve: ${options.reserve ?? '0%'}`,
    `stateDir: ${stateDir}`,
    'transfer:',
    ...(options.transfer?.some((line) => line.startsWith('workers:')) ? [] : ['  workers: 16']),
    ...(options.transfer ?? []).map((line) => `  ${line}`),
    '',
  ].join('\n');
  const configPath = join(dir, 'sync.yaml');
  await writeFile(configPath, yaml);
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    EDGE_ACCESS_KEY_ID: pair.edge.accessKeyId,
    EDGE_SECRET_ACCESS_KEY: pair.edge.secretAccessKey,
    CLOUD_ACCESS_KEY_ID: pair.cloud.accessKeyId,
    CLOUD_SECRET_ACCESS_KEY: pair.cloud.secretAccessKey,
  };
  return {
    dir,
    configPath,
    sourceBucket,
    destinationBucket,
    volumes,
    stateDir,
    env,
    cli: (...args) => runCli([...args, '-c', configPath], env),
    spawn: (...args) => spawnCli(args, configPath, env, false),
    spawnGroupLeader: (...args) => spawnCli(args, configPath, env, true),
  };
}

/**
 * A site whose first apply moved `objects` (staged copies kept, so a reset has files to remove),
 * and whose `reset` was then killed (kill -9) after `step`, stopped there by DUALSYNC_CRASH_AT.
 * `afterApply` runs between the two (to read the ledger as the apply left it).
 */
export async function siteWithResetKilledAt(
  pair: MinioPair,
  objects: { key: string; body: string }[],
  step: string,
  afterApply: (site: Site) => Promise<void> = async () => {},
): Promise<Site> {
  const site = await makeSite(pair, { transfer: ['purgeAfterUpload: false'] });
  await putObjects(pair.edge, site.sourceBucket, objects);
  const applied = await site.cli('apply', '--auto-approve');
  if (applied.exitCode !== 0) throw new Error(`the first apply failed: ${applied.stdout}${applied.stderr}`);
  await afterApply(site);
  site.env.DUALSYNC_CRASH_AT = `reset:${step}`;
  const killed = await site.spawn('reset', '--yes');
  delete site.env.DUALSYNC_CRASH_AT;
  if (killed.signal !== 'SIGKILL') throw new Error(`reset was not killed at ${step}: ${String(killed.signal)} ${String(killed.stdout)}${String(killed.stderr)}`);
  return site;
}
