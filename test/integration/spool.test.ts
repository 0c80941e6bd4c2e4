/**
 * A plan of many actions spools them to files in STATEDIR/spool, and a device's unsorted v1
 * listing is sorted in a temporary file there. Those files are the run's own: gone when it ends,
 * and when a run is killed (kill -9, a power cut), removed by the next run. The listings come
 * from the synthetic listing server (nothing stored), through the real CLI. Also here: `doctor`
 * against a device's v1 answer, which lists every key whatever MaxKeys says.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListingServer, type ListingServer } from '../harness/listing-server.ts';
import { tempDir } from '../harness/index.ts';
import { canMountTmpfs, mountTmpfs, unmount } from '../harness/tmpfs.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const COUNT = 60_000;
/** A device bucket whose one v1 answer is about 100 MB of XML. */
const DEVICE_COUNT = 500_000;
let server: ListingServer;

beforeAll(async () => {
  server = await startListingServer({ buckets: { edge: { count: COUNT, prefix: 'data/' }, archive: { count: COUNT, prefix: '' }, device: { count: DEVICE_COUNT, prefix: 'data/' } } });
});
afterAll(async () => {
  await server?.close();
});

async function site(sourceBucket = 'edge', sourceApi: 'v1' | 'v2' = 'v1'): Promise<{ dir: string; config: string; spool: string }> {
  const dir = await tempDir('dualsync-spool-');
  for (const folder of ['volume', 'state']) mkdirSync(join(dir, folder));
  const credentials = '{ accessKeyId: "k", secretAccessKey: "s" }';
  const config = join(dir, 'sync.yaml');
  writeFileSync(
    config,
    [
      'version: 1',
      `source: { bucket: ${sourceBucket}, prefix: data/, region: us-east-1, endpoint: "${server.endpoint}", listApi: ${sourceApi}, credentials: ${credentials} }`,
      `destination: { bucket: archive, region: us-east-1, endpoint: "${server.endpoint}", listApi: v2, credentials: ${credentials} }`,
      `staging: { volumes: [${JSON.stringify(join(dir, 'volume'))}] }`,
      `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
      '',
    ].join('\n'),
  );
  return { dir, config, spool: join(dir, 'state', 'spool') };
}

function dualsync(args: string[]) {
  return execa(process.execPath, [join(repoRoot, 'bin/dualsync'), ...args], { reject: false, env: { ...process.env, NO_COLOR: '1' } });
}

describe('spool files of a run', () => {
  it('a plan of 60,000 adopts spools them and leaves nothing behind; its plan file holds every one', async () => {
    const s = await site();
    const planFile = join(s.dir, 'plan.json');
    const result = await dualsync(['plan', '-c', s.config, '--out', planFile]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${COUNT} adopted`);
    const adopts = readFileSync(planFile, 'utf8').split('\n').filter((line) => line.includes('{"kind":"adopt",'));
    expect(adopts).toHaveLength(COUNT);
    expect(readdirSync(s.spool)).toEqual([]);
  }, 120_000);

  it('killed while it sorts the device listing: the next plan removes the sort file and spools the dead run left', async () => {
    const s = await site();
    const killed = dualsync(['plan', '-c', s.config]);
    // Wait for the sort file of the v1 listing, then kill -9 (a power cut as far as the files go).
    const deadline = Date.now() + 60_000;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = existsSync(s.spool) ? readdirSync(s.spool) : [];
      if (seen.some((name) => name.startsWith('dualsync-sort-'))) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    killed.kill('SIGKILL');
    await killed;
    expect(seen.some((name) => name.startsWith('dualsync-sort-')), `spool folder held ${seen.join(', ')}`).toBe(true);
    // And a dead run's spooled actions, as a kill during a large plan leaves them.
    mkdirSync(join(s.spool, 'run-999999999-abcdef'));
    writeFileSync(join(s.spool, 'run-999999999-abcdef', '1.tsv'), '0\tadopt\tk\t1\te\t\t\t\t=md5\t=e\t\t\n');
    // Someone else's file in the folder is not ours to remove.
    writeFileSync(join(s.spool, 'notes.txt'), 'kept');
    expect(readdirSync(s.spool).length).toBeGreaterThanOrEqual(3);

    const again = await dualsync(['plan', '-c', s.config]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain(`${COUNT} adopted`);
    expect(readdirSync(s.spool)).toEqual(['notes.txt']);
  }, 120_000);
});

describe('Ctrl-C during a plan', () => {
  it('while the device listing is sorted: the plan stops and leaves no temporary file', async () => {
    const s = await site();
    const plan = dualsync(['plan', '-c', s.config]);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(existsSync(s.spool) && readdirSync(s.spool).some((name) => name.startsWith('dualsync-sort-')))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    plan.kill('SIGINT');
    const result = await plan;
    expect(result.exitCode, result.stdout).not.toBe(0);
    expect(result.stderr).toMatch(/SIGINT: stopping the plan; nothing was changed/);
    expect(result.stderr).toMatch(/E_ABORTED/);
    expect(result.stderr).not.toMatch(/Internal error/);
    expect(readdirSync(s.spool)).toEqual([]);
  }, 120_000);
});

describe('a full state disk', () => {
  it('a plan whose spooled actions fill it fails with the one clear error, and leaves nothing there', async (context) => {
    if (!canMountTmpfs()) context.skip();
    const s = await site('edge', 'v2');
    expect(mountTmpfs(join(s.dir, 'state'), '512k'), 'mount -t tmpfs').toBe(true);
    try {
      const result = await dualsync(['plan', '-c', s.config]);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain(`Error [E_STATE_DISK_FULL]: the state directory's disk is full: ${join(s.dir, 'state')}`);
      expect(result.stderr).not.toMatch(/\n\s+at |Internal error|ENOSPC: no space left on device, write\n/);
      expect(readdirSync(s.spool)).toEqual([]);
    } finally {
      unmount(join(s.dir, 'state'));
    }
  }, 120_000);
});

describe('a plan before the first apply', () => {
  it('sorts the device listing outside the state directory, which it does not create', async () => {
    const s = await site();
    await rm(join(s.dir, 'state'), { recursive: true });
    const result = await dualsync(['plan', '-c', s.config]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${COUNT} adopted`);
    expect(existsSync(join(s.dir, 'state'))).toBe(false);
  }, 120_000);
});

describe('doctor on a device bucket', () => {
  it('reads the v1 answer only to its first object: the list check passes without receiving the whole document', async () => {
    const s = await site('device');
    const before = { requests: server.requests.listV1, whole: server.wholeV1Answers() };
    const result = await dualsync(['doctor', '--json', '-c', s.config]);
    const report = JSON.parse(result.stdout) as { checks: { scope: string; check: string; status: string; detail: string }[] };
    const list = report.checks.find((check) => check.scope === 'source' && check.check === 'list');
    expect(list, result.stdout).toMatchObject({ status: 'pass', detail: expect.stringMatching(/ListObjects \(v1\) on s3:\/\/device\/data\/ works/) });
    expect(server.requests.listV1 - before.requests).toBe(1);
    // Stopped reading at its first object: the server never wrote the answer to its end.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server.wholeV1Answers() - before.whole).toBe(0);
  }, 120_000);
});
