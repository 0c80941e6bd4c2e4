/**
 * The crash suite's upload-orphan case (invariant 13): dualsync is killed with kill -9 while its
 * upload s5cmd sends v1 of a key over a slow link. That s5cmd runs in a process group of its
 * own, so it survives the kill and keeps sending. The source then gets v2 of the key, same
 * size, and apply runs again over a fast route to the same destination: it must stop the
 * leftover upload before it moves anything, or the leftover finishes after v2 was delivered and
 * puts v1 back while the ledger says v2. After the orphan's whole remaining lifetime, the
 * destination must hold v2, byte for byte, and the ledger must agree.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { alive, getObjectMd5, md5, putObjects, s5cmdChildren, tempDir } from '../harness/index.ts';
import { useProxiedPair } from '../harness/toxiproxy.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { makeSite } from './site.ts';

const MiB = 1024 * 1024;
const report: string[] = [];
const { pair, cloud } = useProxiedPair(() => ['upload orphans after kill -9:', ...report]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes a process has read so far (/proc/PID/io rchar): an upload reads its staged file. */
function bytesRead(pid: number): number {
  try {
    return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('kill -9 during a slow upload, then a new version of the same key', () => {
  it('the next apply stops the leftover upload before it moves anything: the destination ends with v2, as the ledger says', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4'] });
    // No setpriv on the PATH (a host without util-linux): nothing kills s5cmd with dualsync, only its record can.
    site.env.PATH = await tempDir('empty-path-');
    const key = 'orphan/k.bin';
    const v1 = randomBytes(6 * MiB);
    const v2 = randomBytes(6 * MiB);
    await putObjects(pair.edge, site.sourceBucket, [{ key, body: v1 }]);
    // ~150 KB/s towards the destination: v1's upload lasts about 40 s.
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 150 } });
    let orphan = 0;
    let orphanAfterNext = true;
    let nextWarnings = '';
    try {
      const child = site.spawn('apply', '--auto-approve');
      void child.catch(() => undefined);
      const upload = await until(() => s5cmdChildren(child.pid!).find((c) => c.args.includes(cloud.endpoint) && bytesRead(c.pid) >= MiB), 'the upload of v1 to be under way', 120_000);
      orphan = upload.pid;
      process.kill(child.pid!, 'SIGKILL');
      await child;
      expect(alive(orphan), 'the upload s5cmd outlived dualsync (its own process group)').toBe(true);

      await putObjects(pair.edge, site.sourceBucket, [{ key, body: v2 }]);
      // The next run reaches the destination by a fast route; the orphan still crawls on the slow one.
      await writeFile(site.configPath, (await readFile(site.configPath, 'utf8')).replace(cloud.endpoint, pair.cloud.endpoint));
      const next = await site.cli('apply', '--auto-approve');
      expect(next.exitCode, next.stdout + next.stderr).toBe(0);
      orphanAfterNext = alive(orphan);
      nextWarnings = next.stderr;
      // Whatever the orphan could still do, it has done by now (its whole remaining lifetime).
      await until(() => (alive(orphan) ? undefined : true), 'the orphan to end', 120_000);
    } finally {
      await cloud.reset();
    }
    expect(await getObjectMd5(pair.cloud, site.destinationBucket, key), 'the destination holds v2').toBe(md5(v2));
    expect(orphanAfterNext, 'the upload of the killed run was still alive after the next apply').toBe(false);
    expect(nextWarnings).toMatch(new RegExp(`stopped 1 s5cmd process\\(es\\) that an earlier run left running \\(pid ${orphan}, upload hop`));
    const ledger = await LedgerStore.open(site.stateDir);
    try {
      expect(ledger.get(key)).toMatchObject({ size: v2.length, etag: md5(v2) });
    } finally {
      await ledger.close();
    }
    const again = await site.cli('plan', '--json');
    expect(JSON.parse(again.stdout).summary.noChanges).toBe(true);
    expect(readdirSync(join(site.stateDir, 'children')), 'no record is left once the children are gone').toEqual([]);
    report.push(`  kill -9 mid-upload of v1, v2 at the source, apply again: the orphan (pid ${orphan}) was stopped first; destination holds v2`);
  });

  it('with setpriv on the PATH, the upload s5cmd dies with dualsync at once; the next apply finishes', async () => {
    const site = await makeSite(pair, { volumes: 1, destinationEndpoint: cloud.endpoint, transfer: ['workers: 4'] });
    const key = 'orphan/dies-with-parent.bin';
    const body = randomBytes(6 * MiB);
    await putObjects(pair.edge, site.sourceBucket, [{ key, body }]);
    await cloud.addToxic({ name: 'slow', type: 'bandwidth', stream: 'upstream', attributes: { rate: 150 } });
    let goneAfterMs: number;
    try {
      const child = site.spawn('apply', '--auto-approve');
      void child.catch(() => undefined);
      const upload = await until(() => s5cmdChildren(child.pid!).find((c) => c.args.includes(cloud.endpoint) && bytesRead(c.pid) >= MiB), 'the upload to be under way', 120_000);
      const killedAt = performance.now();
      process.kill(child.pid!, 'SIGKILL');
      await child;
      await until(() => (alive(upload.pid) ? undefined : true), 'the upload s5cmd to die with dualsync', 5_000);
      goneAfterMs = performance.now() - killedAt;
    } finally {
      await cloud.reset();
    }
    const next = await site.cli('apply', '--auto-approve');
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    expect(await getObjectMd5(pair.cloud, site.destinationBucket, key)).toBe(md5(body));
    expect(readdirSync(join(site.stateDir, 'children'))).toEqual([]);
    report.push(`  with setpriv: the upload s5cmd was gone ${Math.round(goneAfterMs)} ms after kill -9 of dualsync; the next apply delivered it`);
  });
});
