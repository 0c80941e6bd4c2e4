/**
 * Network faults between dualsync/s5cmd and MinIO, with Toxiproxy on loopback in front of each
 * server: reset_peer, timeout, latency, bandwidth and limit_data on the download hop and on the
 * upload hop. Under each fault apply either completes or fails with a clear error (exit 1, no
 * stack, failing objects named); a copy recorded as staged is always byte-exact, and so is every
 * object at the destination. Once the fault is gone, a later run completes.
 */
import { describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { md5, md5OfBucket, putObjects } from '../harness/index.ts';
import { useProxiedPair, type Toxic } from '../harness/toxiproxy.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import { TEMP_DIR } from '../../src/model/volume-layout.ts';
import { localPath } from '../../src/plan/volume-paths.ts';
import { makeSite, type Site } from './site.ts';

/** The longest an apply may take under a fault before the test calls it hung. */
const APPLY_BOUND_MS = 90_000;

interface Fault {
  name: string;
  hop: 'download' | 'upload';
  toxic: Toxic;
  /** The toxic goes away while apply runs (a link that comes back). */
  removeAfterMs?: number;
}

/**
 * Downstream toxics (server -> client) hurt the download hop's bodies and every response;
 * upstream ones (client -> server) hurt the upload hop's request bodies.
 */
const FAULTS: Fault[] = [
  { name: 'reset_peer on a third of the connections', hop: 'download', toxic: { type: 'reset_peer', stream: 'downstream', toxicity: 0.33, attributes: { timeout: 20 } } },
  { name: 'reset_peer on a third of the connections', hop: 'upload', toxic: { type: 'reset_peer', stream: 'upstream', toxicity: 0.33, attributes: { timeout: 20 } } },
  { name: 'timeout: a third of the connections stall, closed after 1 s', hop: 'download', toxic: { type: 'timeout', stream: 'downstream', toxicity: 0.33, attributes: { timeout: 1000 } } },
  { name: 'timeout: a third of the connections stall, closed after 1 s', hop: 'upload', toxic: { type: 'timeout', stream: 'upstream', toxicity: 0.33, attributes: { timeout: 1000 } } },
  { name: 'latency 150 ms +- 100 ms', hop: 'download', toxic: { type: 'latency', stream: 'downstream', attributes: { latency: 150, jitter: 100 } } },
  { name: 'latency 150 ms +- 100 ms', hop: 'upload', toxic: { type: 'latency', stream: 'upstream', attributes: { latency: 150, jitter: 100 } } },
  { name: 'bandwidth 2 MB/s', hop: 'download', toxic: { type: 'bandwidth', stream: 'downstream', attributes: { rate: 2000 } } },
  { name: 'bandwidth 2 MB/s', hop: 'upload', toxic: { type: 'bandwidth', stream: 'upstream', attributes: { rate: 2000 } } },
  { name: 'limit_data: half the connections cut after 300 kB', hop: 'download', toxic: { type: 'limit_data', stream: 'downstream', toxicity: 0.5, attributes: { bytes: 300_000 } } },
  { name: 'limit_data: half the connections cut after 300 kB', hop: 'upload', toxic: { type: 'limit_data', stream: 'upstream', toxicity: 0.5, attributes: { bytes: 300_000 } } },
  // Harsh ones, that no retry can get through: the run must fail clearly and leave nothing wrong.
  { name: 'reset_peer on every connection', hop: 'download', toxic: { type: 'reset_peer', stream: 'downstream', attributes: { timeout: 0 } } },
  { name: 'limit_data: every connection cut after 400 kB', hop: 'download', toxic: { type: 'limit_data', stream: 'downstream', attributes: { bytes: 400_000 } } },
  { name: 'limit_data: every connection cut after 400 kB', hop: 'upload', toxic: { type: 'limit_data', stream: 'upstream', attributes: { bytes: 400_000 } } },
  { name: 'black hole for 4 s', hop: 'download', toxic: { type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } }, removeAfterMs: 4000 },
];

const report: string[] = [];
const outcomes = { completed: 0, failedWithTable: 0, failedWithError: 0, hopDown: 0, stagedChecked: 0 };
const { pair, edge, cloud } = useProxiedPair(() => [
  `network faults: ${report.length} runs under a toxic (${JSON.stringify(outcomes)}), nothing at the destination or in the staging ever differed from the source`,
  ...report,
]);

interface Seeded {
  key: string;
  body: Buffer;
}

/** Small and large objects (one multipart-sized), about 9 MB in all. */
function objects(): Seeded[] {
  const sizes = [0, 1, 1024, 64 * 1024, 200 * 1024, 300 * 1024, 700 * 1024, 1024 * 1024, 2 * 1024 * 1024, 6 * 1024 * 1024];
  return sizes.map((size, i) => ({ key: `faults/obj-${i} (${size} B).bin`, body: randomBytes(size) }));
}

async function volumeFiles(site: Site): Promise<{ volume: string; key: string }[]> {
  const files: { volume: string; key: string }[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      // The volume's claim (.dualsync-volume in its root) is not a staged file.
      if (!entry.isDirectory() && !(entry.parentPath === volume && entry.name === '.dualsync-volume')) files.push({ volume, key: relative(volume, join(entry.parentPath, entry.name)) });
    }
  }
  return files;
}

/** Nothing in the staging or at the destination differs from the source, and the ledger agrees. */
async function expectNothingWrong(site: Site, bodies: Map<string, Buffer>): Promise<{ staged: number; delivered: number }> {
  const ledger = await LedgerStore.open(site.stateDir);
  const records = ledger.state().records;
  await ledger.close();
  const destination = await md5OfBucket(pair.cloud, site.destinationBucket);
  for (const [key, digest] of destination) expect(digest, `destination copy of ${key}`).toBe(md5(bodies.get(key)!));
  let staged = 0;
  let delivered = 0;
  for (const record of records) {
    if (record.stage === 'staged') {
      staged++;
      const copy = await readFile(localPath(record.volume!, record.key));
      expect(md5(copy), `staged copy of ${record.key}`).toBe(md5(bodies.get(record.key)!));
    } else if (record.stage === 'delivered' || record.stage === 'purged') {
      delivered++;
      expect(destination.get(record.key), `delivered ${record.key}`).toBe(md5(bodies.get(record.key)!));
    }
  }
  // A file at its final path got there only by a verified rename: byte-exact, whatever the ledger says.
  for (const file of await volumeFiles(site)) {
    if (file.key.startsWith(`${TEMP_DIR}/`)) continue;
    expect(md5(await readFile(join(file.volume, file.key))), `local copy of ${file.key}`).toBe(md5(bodies.get(file.key)!));
  }
  return { staged, delivered };
}

/** Runs apply as a child process, killed if it outlives the bound. */
async function boundedApply(site: Site): Promise<{ exitCode: number | undefined; stdout: string; stderr: string; ms: number; hung: boolean }> {
  const started = Date.now();
  const child = site.spawn('apply', '--auto-approve');
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, APPLY_BOUND_MS);
  const result = await child;
  clearTimeout(timer);
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr), ms: Date.now() - started, hung };
}

describe('network faults on both hops (Toxiproxy)', () => {
  it.each(FAULTS)('$hop hop, $name: completes or fails clearly, nothing wrong anywhere, a later run completes', async (fault) => {
    const site = await makeSite(pair, {
      sourceEndpoint: edge.endpoint,
      destinationEndpoint: cloud.endpoint,
      transfer: ['workers: 4', 'partSize: 5MiB', 'verify: etag'],
    });
    const seeded = objects();
    const bodies = new Map(seeded.map((o) => [o.key, o.body]));
    await putObjects(pair.edge, site.sourceBucket, seeded);
    const proxy = fault.hop === 'download' ? edge : cloud;
    await proxy.addToxic({ ...fault.toxic, name: 'fault' });
    let faulted;
    const lift = fault.removeAfterMs === undefined ? undefined : setTimeout(() => void proxy.reset(), fault.removeAfterMs);
    try {
      faulted = await boundedApply(site);
    } finally {
      clearTimeout(lift);
      await proxy.reset();
    }
    const output = `${faulted.stdout}\n${faulted.stderr}`;
    expect(faulted.hung, `apply still ran after ${APPLY_BOUND_MS} ms:\n${output}`).toBe(false);
    expect([0, 1], output).toContain(faulted.exitCode);
    expect(output).not.toMatch(/\n\s+at |Internal error|assertion failed/);
    if (faulted.exitCode === 1) {
      // Either a failure table that names the objects, or one error line saying what failed.
      const table = /Apply finished with (\d+) failure\(s\)/.exec(faulted.stdout);
      if (table) {
        const named = seeded.filter((o) => faulted.stdout.includes(o.key.slice(0, 30)));
        expect(named.length, faulted.stdout).toBeGreaterThan(0);
        outcomes.failedWithTable++;
      } else {
        expect(faulted.stderr, output).toMatch(/^Error \[E_\w+\]: .*(list|s3:\/\/|failed)/m);
        outcomes.failedWithError++;
      }
    } else {
      outcomes.completed++;
    }
    // A hop whose listing cannot be had is down: the other hop worked meanwhile (invariant 11).
    if (/(source|destination) unreachable: (downloads|uploads) wait/.test(output)) outcomes.hopDown++;
    const during = await expectNothingWrong(site, bodies);
    outcomes.stagedChecked += during.staged;

    let applies = 0;
    for (;;) {
      const plan = await site.cli('plan', '--detailed-exitcode');
      if (plan.exitCode === 0) break;
      expect(plan.exitCode, plan.stdout + plan.stderr).toBe(2);
      expect(++applies, 'applies after the fault was removed').toBeLessThanOrEqual(3);
      const again = await site.cli('apply', '--auto-approve');
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    }
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(seeded.map((o) => [o.key, md5(o.body)])));
    expect((await volumeFiles(site)).filter((f) => !f.key.startsWith(`${TEMP_DIR}/`))).toEqual([]);
    report.push(
      `  ${fault.toxic.type} on the ${fault.hop} hop (${fault.name}): exit ${faulted.exitCode} after ${faulted.ms} ms ` +
        `(${during.delivered} delivered, ${during.staged} staged, all byte-exact); ${applies} apply(s) after the fault completed it`,
    );
  });

  // A listing that fails is no longer a run that fails as a whole: that hop is down and the other
  // works on (invariant 11). So "one hop down" is the outcome to reach, beside the others.
  it('the table reached every outcome: completed, failed per object, one hop down while the other worked, and copies left staged', () => {
    expect(outcomes.completed).toBeGreaterThan(0);
    expect(outcomes.failedWithTable).toBeGreaterThan(0);
    expect(outcomes.hopDown).toBeGreaterThan(0);
    expect(outcomes.stagedChecked).toBeGreaterThan(0);
  });
});
