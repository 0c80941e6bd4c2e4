/**
 * The release archive (`npm run release`) on a machine without Node or npm: it is built once for
 * this file (and a second time to check that the build is reproducible), unpacked into an empty
 * folder, and its `dualsync` single executable runs validate, doctor, plan, apply and status
 * against two real MinIO servers with a PATH that holds no node, npm or node_modules. The only
 * s5cmd it may use is the one in the archive: the one on the PATH is a decoy that fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBucket, listAll, putObjects, requireTools, runProcess, tempDir, toolsDir, useMinioPair, type MinioServer } from '../harness/index.ts';
import { waitFor } from '../harness/wait.ts';

const pair = useMinioPair();
const REPO = resolve(new URL('../..', import.meta.url).pathname);
const PROJECT_NODE = join(REPO, 'node_modules/node/bin/node');
const VERSION = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const NAME = `dualsync-${VERSION}-linux-x64`;

interface Build {
  archive: string;
  log: string;
}

/** Runs `npm run release`'s script on the project's Node, into `out`. */
async function buildRelease(out: string): Promise<Build> {
  const result = await runProcess(PROJECT_NODE, [join(REPO, 'scripts/release.ts'), '--out', out], {
    cwd: REPO,
    env: { ...(process.env as Record<string, string>), DUALSYNC_TOOLS: toolsDir() },
    timeoutMs: 600_000,
  });
  const log = `${result.stdout}\n${result.stderr}`;
  if (result.code !== 0) throw new Error(`the release build failed (exit ${result.code}):\n${log}`);
  return { archive: join(out, `${NAME}.tar.gz`), log };
}

/** Unpacks an archive into a new empty folder with the system tar; returns the release folder. */
async function unpack(archive: string): Promise<string> {
  const into = await tempDir('dualsync-release-unpacked-');
  expect(readdirSync(into)).toEqual([]);
  const result = await runProcess('/bin/tar', ['-xzf', archive, '-C', into], { env: { PATH: '/usr/bin:/bin' } });
  expect(result.code, result.stderr).toBe(0);
  expect(readdirSync(into)).toEqual([NAME]);
  return join(into, NAME);
}

let first: Build;
let release: string;

beforeAll(async () => {
  requireTools();
  first = await buildRelease(await tempDir('dualsync-release-a-'));
  release = await unpack(first.archive);
}, 600_000);

interface Site {
  dir: string;
  env: Record<string, string>;
  /** The `dualsync` the operator runs: a symlink on the PATH to the unpacked executable. */
  dualsync: string;
}

/**
 * A folder with a bin/ that is the whole PATH: a symlink to the unpacked dualsync and a decoy
 * s5cmd that answers an old version, so picking the PATH's s5cmd over the archive's fails.
 */
async function makeSite(): Promise<Site> {
  const dir = await tempDir('dualsync-release-site-');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await symlink(join(release, 'dualsync'), join(bin, 'dualsync'));
  await writeFile(join(bin, 's5cmd'), '#!/bin/sh\necho "v2.0.0-decoy"\nexit 3\n');
  await chmod(join(bin, 's5cmd'), 0o755);
  for (const entry of readdirSync(bin)) expect(['node', 'nodejs', 'npm', 'npx', 'node_modules']).not.toContain(entry);
  return {
    dir,
    dualsync: join(bin, 'dualsync'),
    env: {
      PATH: bin,
      HOME: dir,
      EDGE_ACCESS_KEY_ID: pair.edge.accessKeyId,
      EDGE_SECRET_ACCESS_KEY: pair.edge.secretAccessKey,
      ARCHIVE_ACCESS_KEY_ID: pair.cloud.accessKeyId,
      ARCHIVE_SECRET_ACCESS_KEY: pair.cloud.secretAccessKey,
    },
  };
}

async function writeConfig(site: Site, source: string, destination: string): Promise<void> {
  const hop = (server: MinioServer, bucket: string, variables: string) => [
    `  bucket: ${bucket}`,
    '  prefix: "site-7/"',
    `  region: ${server.region}`,
    `  endpoint: ${server.endpoint}`,
    '  credentials:',
    `    accessKeyId: \${${variables}_ACCESS_KEY_ID}`,
    `    secretAccessKey: \${${variables}_SECRET_ACCESS_KEY}`,
  ];
  for (const volume of ['volume-01', 'volume-02']) await mkdir(join(site.dir, volume));
  const lines = ['version: 1', 'source:', ...hop(pair.edge, source, 'EDGE'), 'destination:', ...hop(pair.cloud, destination, 'ARCHIVE')];
  lines.push('staging:', '  volumes: ["./volume-*"]', '  reserve: 0%', '');
  await writeFile(join(site.dir, 'sync.yaml'), lines.join('\n'));
}

function dualsync(site: Site, args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return runProcess(site.dualsync, args, { cwd: site.dir, env: site.env, timeoutMs: 300_000 });
}

async function bodyOf(server: MinioServer, bucket: string, key: string): Promise<Buffer> {
  const response = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

describe('the release archive, unpacked where there is no Node', () => {
  it('holds the executable, s5cmd, the docs, the schema, the example config, LICENSES and SHA256SUMS that match', async () => {
    for (const file of ['dualsync', 's5cmd', 'native/build/malloc-trim.node', 'sync.example.yaml', 'schemas/sync.schema.json', 'README.md', 'docs/release.md', 'LICENSES', 'SHA256SUMS']) {
      expect(existsSync(join(release, file)), file).toBe(true);
    }
    const check = await runProcess('/usr/bin/sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: release, env: { PATH: '/usr/bin:/bin' } });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const sums = await readFile(join(release, 'SHA256SUMS'), 'utf8');
    expect(sums).toMatch(/  dualsync\n/);
    expect(sums).toMatch(/  s5cmd\n/);
    const licenses = await readFile(join(release, 'LICENSES'), 'utf8');
    // The runtime packages esbuild bundled, Node itself, s5cmd and the Go modules in it.
    for (const name of ['@aws-sdk/client-s3', 'clipanion', 'yaml', 'ajv', 'execa', 'Node.js', 'github.com/peak/s5cmd/v2', 'github.com/aws/aws-sdk-go', 'Go standard library']) {
      expect(licenses, name).toContain(name);
    }
    expect(licenses).not.toMatch(/\b(vitest|eslint|typescript)@/);
  });

  it('`dualsync version` names both versions, and the s5cmd beside the executable wins over the PATH', async () => {
    const site = await makeSite();
    const result = await dualsync(site, ['version']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`dualsync ${VERSION} (single executable, Node.js v24.`);
    expect(result.stdout).toContain(`s5cmd 2.3.0+nohead.1 at ${join(release, 's5cmd')} (beside the dualsync executable)\n`);
  });

  it("README's offline install, its two lines run as printed (with a temporary folder for /opt)", async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8');
    const block = /installs in two commands:\n\n```sh\n([\s\S]*?)```/.exec(readme);
    expect(block, 'README.md: the offline install block').not.toBeNull();
    const lines = block![1]!.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`${NAME}.tar.gz`);
    const site = await makeSite();
    const opt = await tempDir('dualsync-release-opt-');
    for (const line of lines) {
      const result = await runProcess('/bin/bash', ['-c', line.replaceAll('/opt', opt)], { cwd: dirname(first.archive), env: { ...site.env, PATH: `${site.env.PATH}:/usr/bin:/bin` } });
      expect(result.code, `${line}\n${result.stdout}${result.stderr}`).toBe(0);
      if (line === lines[1]) expect(result.stdout).toContain(`s5cmd 2.3.0+nohead.1 at ${join(opt, NAME, 's5cmd')} (beside the dualsync executable)`);
    }
  });

  it('starts in well under a second: best of 5 under 500 ms of CPU, its code cache accepted', async () => {
    const site = await makeSite();
    // CPU time (user + system), not the wall clock: other tests share the machine's cores.
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const timed = await runProcess('/bin/bash', ['-c', `TIMEFORMAT='%3U %3S'; time "$0" --version`, site.dualsync], { env: site.env });
      expect(timed.code, timed.stderr).toBe(0);
      expect(timed.stdout.trim()).toBe(VERSION);
      // V8 says "Code cache data rejected" when the cache in the executable does not fit it.
      const [user, system] = timed.stderr.trim().split(/\s+/).map(Number);
      expect(timed.stderr.trim(), 'nothing on stderr but the times').toMatch(/^\d+\.\d+ \d+\.\d+$/);
      best = Math.min(best, (user! + system!) * 1000);
    }
    expect(best).toBeLessThan(500);
  });

  it('runs validate, doctor, plan, apply and status against MinIO and delivers every byte', async () => {
    const site = await makeSite();
    const [source, destination] = await Promise.all([createBucket(pair.edge), createBucket(pair.cloud)]);
    const bodies = new Map<string, Buffer>();
    bodies.set('site-7/empty.bin', Buffer.alloc(0));
    bodies.set('site-7/big/raw 7 MiB.bin', Buffer.from(Array.from({ length: 7 * 1024 * 1024 }, (_, i) => (i * 2654435761) >>> 24)));
    for (let i = 0; i < 24; i++) bodies.set(`site-7/day-${i % 3}/sensor ${i}.csv`, Buffer.from(`reading ${i}\n`.repeat(50 + i)));
    await putObjects(pair.edge, source, [...bodies].map(([key, body]) => ({ key, body })));
    await writeConfig(site, source, destination);

    for (const args of [['validate'], ['doctor'], ['plan', '--out', 'plan.json'], ['apply', 'plan.json', '--auto-approve'], ['status']]) {
      const result = await dualsync(site, args);
      const where = `dualsync ${args.join(' ')}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
      expect(result.code, where).toBe(0);
      expect(result.stderr, where).not.toMatch(/Internal error|ExperimentalWarning|\n\s+at /);
    }

    const delivered = await listAll(pair.cloud, destination);
    expect(delivered.map((o) => o.key).sort()).toEqual([...bodies.keys()].sort());
    for (const [key, body] of bodies) expect((await bodyOf(pair.cloud, destination, key)).equals(body), key).toBe(true);
    // The ledger (written by its worker thread inside the executable) knows every object.
    const status = await dualsync(site, ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('"delivered"');
  }, 300_000);

  it('watch runs its writer thread and s5cmd from the executable, and Ctrl-C stops it cleanly with nothing left running', async () => {
    const site = await makeSite();
    const [source, destination] = await Promise.all([createBucket(pair.edge), createBucket(pair.cloud)]);
    const bodies = Array.from({ length: 8 }, (_, i) => ({ key: `site-7/watch/${i}.csv`, body: `row ${i}\n`.repeat(100 + i) }));
    await putObjects(pair.edge, source, bodies);
    await writeConfig(site, source, destination);
    await writeFile(join(site.dir, 'sync.yaml'), `${await readFile(join(site.dir, 'sync.yaml'), 'utf8')}watch:\n  interval: 1s\n`);
    // Its own process group, as a terminal's foreground job: Ctrl-C goes to the whole group.
    const child = spawn(site.dualsync, ['watch'], { cwd: site.dir, env: site.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | string>((done) => child.on('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
    const inSync = new Promise<void>((done) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (/cycle \d+: in sync/.test(stdout)) done();
      });
    });
    await Promise.race([inSync, exited]);
    expect(stdout, stderr).toMatch(/cycle \d+: in sync/);
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, `${stdout}\n${stderr}`).toBe(0);
    expect(stderr).not.toMatch(/Internal error|Warning/);
    // Nothing of the group outlives it: no dualsync, no s5cmd.
    expect(() => process.kill(-child.pid!, 0)).toThrow();
    for (const { key, body } of bodies) expect((await bodyOf(pair.cloud, destination, key)).toString()).toBe(body);
  }, 300_000);

  it("watch re-executes once as the same process with watch's memory settings and trims with the addon beside it; the operator's own win", async () => {
    const site = await makeSite();
    const [source, destination] = await Promise.all([createBucket(pair.edge), createBucket(pair.cloud)]);
    await writeConfig(site, source, destination);
    /** Starts `watch`, waits for its first traced cycle, and returns what /proc says of its environment and command line. */
    const watchOnce = async (env: Record<string, string>) => {
      const trace = join(await tempDir('dualsync-release-trace-'), 'memory.jsonl');
      const child = spawn(site.dualsync, ['watch', '--interval', '200ms'], { cwd: site.dir, env: { ...env, DUALSYNC_MEMORY_TRACE: trace }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | string>((done) => child.on('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
      try {
        await waitFor(() => (existsSync(trace) && readFileSync(trace, 'utf8').includes('\n') ? true : undefined), 120_000, 'a traced cycle');
        const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
        const samples = readFileSync(trace, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { spaces: Record<string, number>; trimmed?: boolean });
        const newSpace = Math.max(...samples.map((sample) => sample.spaces.new_space ?? 0));
        return { environ, nodeOptions: environ.find((entry) => entry.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length), newSpace, trimmed: samples[0]!.trimmed };
      } finally {
        child.kill('SIGTERM');
        expect(await exited, stderr).toBe(0);
        expect(stderr).not.toMatch(/without its memory settings|Warning|cannot give freed memory back/);
      }
    };
    // The pid that `spawn` saw is the one that runs the cycles: /proc/PID is the tuned process.
    const tuned = await watchOnce(site.env);
    expect(tuned.environ).toContain('MALLOC_MMAP_THRESHOLD_=131072');
    expect(tuned.nodeOptions?.split(/\s+/)).toContain('--max-semi-space-size=16');
    // The malloc_trim addon beside the executable is loaded, and called after the cycle.
    expect(typeof tuned.trimmed).toBe('boolean');
    const operators = await watchOnce({ ...site.env, NODE_OPTIONS: '--max-semi-space-size=1', MALLOC_MMAP_THRESHOLD_: '65536' });
    expect(operators.environ).toContain('MALLOC_MMAP_THRESHOLD_=65536');
    expect(operators.nodeOptions).toBe('--max-semi-space-size=1');
    // The executable's V8 takes a semi-space size from NODE_OPTIONS: 1 MiB semi-spaces make a new space of 2 MiB.
    expect(operators.newSpace / 1024 / 1024).toBeLessThanOrEqual(3);
    expect(tuned.newSpace / 1024 / 1024).toBeLessThanOrEqual(48);
  }, 300_000);

  it('is reproducible: a second build from the same commit gives the same archive, byte for byte', async () => {
    const second = await buildRelease(await tempDir('dualsync-release-b-'));
    const other = await unpack(second.archive);
    expect(await readFile(join(other, 'SHA256SUMS'), 'utf8')).toBe(await readFile(join(release, 'SHA256SUMS'), 'utf8'));
    expect((await readFile(second.archive)).equals(await readFile(first.archive))).toBe(true);
  }, 600_000);
});
