/**
 * A Snowball Edge as the source, end to end: dualsync's CLI, real s5cmd and two real MinIO
 * servers, with the device simulator (test/harness/device-sim.ts) in front of the edge one, so
 * the source hop sees what a device does: v1 listings whole and unsorted, v2 listings cut at
 * 1,000 keys, a connection cap, requests signed for region `snow`, ETags that are not MD5s,
 * and HTTPS with a device-made certificate.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { s5cmdEnv, s5cmdGlobalArgs } from '../../src/apply/s5cmd.ts';
import { loadConfig } from '../../src/config/load.ts';
import { listAll, md5OfBucket, putObjects, requireTools, tempDir, useMinioPair } from '../harness/index.ts';
import { useDeviceSims, type DeviceSim, type DeviceSimOptions } from '../harness/device-sim.ts';
import { makeSite, type Site, type SiteOptions } from './site.ts';

const pair = useMinioPair();
const deviceSim = useDeviceSims();

const MIB = 1024 * 1024;

/** Keys a device at a field site may well hold, and that must arrive exactly as they are. */
const HOSTILE = [
  'odd/space in name.txt',
  'odd/quote "double" and \'single\'.txt',
  'odd/star*question?[bracket].txt',
  'odd/café ünïcode ✓ 日本語.txt',
  'odd/-leading-dash',
  'odd/dollar $HOME `tick` back\\slash.txt',
  'odd/percent %41 plus+ hash# amp& eq= semi; pipe|.txt',
  'odd/empty',
];

/** 1,100 small objects, the hostile keys, and two objects big enough for parallel parts. */
function deviceObjects(): { key: string; body: Buffer | string }[] {
  const objects: { key: string; body: Buffer | string }[] = [];
  for (let i = 0; i < 1100; i++) objects.push({ key: `sensors/day-${i % 7}/reading ${String(i).padStart(4, '0')}.csv`, body: `reading ${i};`.repeat(1 + (i % 40)) });
  for (const key of HOSTILE) objects.push({ key, body: key === 'odd/empty' ? '' : `content of ${key}` });
  for (let i = 0; i < 2; i++) objects.push({ key: `video/clip-${i}.bin`, body: Buffer.alloc(110 * MIB, 17 + i) });
  return objects;
}

function device(options: Partial<DeviceSimOptions> = {}): Promise<DeviceSim> {
  return deviceSim(pair.edge, options);
}

/**
 * A site whose source is the device: region `snow` on the source hop (the site template writes
 * us-east-1 for both hops; the source's line is the first).
 */
async function snowSite(sim: DeviceSim, options: SiteOptions = {}): Promise<Site> {
  const site = await makeSite(pair, { sourceEndpoint: sim.endpoint, ...options });
  const yaml = await readFile(site.configPath, 'utf8');
  const first = yaml.indexOf('  region: us-east-1\n');
  expect(first).toBeGreaterThan(yaml.indexOf('source:'));
  expect(first).toBeLessThan(yaml.indexOf('destination:'));
  await writeFile(site.configPath, `${yaml.slice(0, first)}  region: snow\n${yaml.slice(first + '  region: us-east-1\n'.length)}`);
  return site;
}

async function expectInSync(site: Site): Promise<void> {
  const [source, destination] = await Promise.all([md5OfBucket(pair.edge, site.sourceBucket), md5OfBucket(pair.cloud, site.destinationBucket)]);
  expect(destination.size).toBe(source.size);
  expect(destination).toEqual(source);
}

const IN_SYNC = /in sync/i;

describe('Snowball Edge source: v1 listing, connection budget', () => {
  it('1,110 objects through a device that drops connections over 32: all arrive byte-exact, none dropped, and the next plan has no changes', async () => {
    const sim = await device({ maxConnections: 32 });
    const site = await snowSite(sim, { source: ['maxConnections: 24'], transfer: ['workers: 256'] });
    const objects = deviceObjects();
    await putObjects(pair.edge, site.sourceBucket, objects);

    // listApi is left out: v1 is the default for region snow.
    const planPath = join(site.dir, 'plan.json');
    const planned = await site.cli('plan', '--out', planPath);
    expect(planned.exitCode, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stdout).toContain('workers 256 capped to 4 by source.maxConnections 24 with concurrency 5');
    expect(planned.stdout).toMatch(/download \(source -> staging\)\s*│\s*4\s*│\s*5\s*│\s*1110\s*│.*│\s*24\s*│/);
    expect(planned.stdout).toMatch(/Plan: 1110 to download/);
    const manifest = await readFile(join(site.dir, 'plan.download.s5cmd'), 'utf8');
    expect(manifest).toMatch(/--numworkers 4 /);
    expect(manifest.split('\n').filter((line) => line.startsWith('cp ')).every((line) => line.startsWith('cp --raw --concurrency 5 '))).toBe(true);

    sim.resetCounters();
    const applied = await site.cli('apply', planPath);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/Apply complete! 1110 downloaded .*1110 delivered/);
    const during = { ...sim.counters, requests: { ...sim.counters.requests } };
    await expectInSync(site);

    expect(during.dropped).toBe(0);
    expect(during.wrongRegion).toBe(0);
    expect(during.requests.listV1).toBeGreaterThanOrEqual(1);
    expect(during.requests.listV2).toBe(0);
    expect(during.maxConcurrent).toBeLessThanOrEqual(24);
    console.info(`snowball budget: peak ${during.maxConcurrent} connections (cap 32, maxConnections 24), ${during.accepted} accepted, ${during.dropped} dropped`);

    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/No changes\./);
    expect(sim.counters.dropped).toBe(0);
  });
});

describe('Snowball Edge source: a budget used to the last connection', () => {
  it('s5cmd fills a budget of 6 (3 workers x 2 parts) at a device that accepts 7: nothing is dropped', async () => {
    // One connection of headroom: s5cmd's HTTP client can briefly hold one more while a used
    // connection closes (measured with s5cmd alone, 3 workers x 2 parts: a peak of 7 in 1 of 3 runs).
    const sim = await device({ maxConnections: 7 });
    const site = await snowSite(sim, { source: ['maxConnections: 6'], transfer: ['workers: 64', 'concurrency: 2'] });
    // Objects of three 50 MiB download parts each keep every worker on two connections at once.
    const objects = [
      ...Array.from({ length: 4 }, (_, i) => ({ key: `video/part-heavy-${i}.bin`, body: Buffer.alloc(101 * MIB, 40 + i) })),
      ...Array.from({ length: 60 }, (_, i) => ({ key: `small/${i}.txt`, body: `small ${i}` })),
    ];
    await putObjects(pair.edge, site.sourceBucket, objects);
    sim.resetCounters();
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain('workers 64 capped to 3 by source.maxConnections 6 with concurrency 2');
    console.info(`snowball tight budget: peak ${sim.counters.maxConcurrent} connections (maxConnections 6, device cap 7), ${sim.counters.dropped} dropped`);
    expect(sim.counters.dropped).toBe(0);
    // More than the 3 workers: parts ran in parallel, so the budget was really in use.
    expect(sim.counters.maxConcurrent).toBeGreaterThan(3);
    await expectInSync(site);
  });
});

describe('Snowball Edge source: listApi v2 forced', () => {
  it('every plan warns that the listing was cut and names listApi: v1; none reads "No changes", and apply never claims sync', async () => {
    const sim = await device({ maxConnections: 32 });
    const site = await snowSite(sim, { source: ['listApi: v2', 'maxConnections: 24'], transfer: ['workers: 256'] });
    const objects = deviceObjects().filter((object) => !object.key.startsWith('video/'));
    await putObjects(pair.edge, site.sourceBucket, objects);
    const warned = (output: string) => {
      expect(output).toMatch(/returned exactly 1,000 keys: it was probably cut .* set listApi: v1 for this hop/);
      expect(output).toMatch(/The source listing is incomplete/);
      expect(output).not.toMatch(/No changes\. /);
      expect(output).not.toMatch(IN_SYNC);
    };

    const first = await site.cli('plan', '--detailed-exitcode');
    expect(first.exitCode, first.stdout + first.stderr).toBe(2);
    warned(first.stdout);
    expect(first.stdout).toMatch(/Plan: 1000 to download/);

    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    warned(applied.stdout);
    expect(applied.stdout).toMatch(/1000 downloaded .*1000 delivered/);
    expect(await listAll(pair.cloud, site.destinationBucket)).toHaveLength(1000);
    // Nothing is taken as gone: the source still holds everything.
    expect(await listAll(pair.edge, site.sourceBucket)).toHaveLength(objects.length);

    for (const again of [await site.cli('plan'), await site.cli('plan', '--detailed-exitcode')]) {
      warned(again.stdout);
      expect(again.stdout).toMatch(/No changes in what could be listed; the listing is incomplete/);
    }
    expect((await site.cli('plan', '--detailed-exitcode')).exitCode).toBe(2);
    const json = JSON.parse((await site.cli('plan', '--json')).stdout) as { summary: { noChanges: boolean }; messages: string[] };
    expect(json.summary.noChanges).toBe(false);
    expect(json.messages.join('\n')).toMatch(/listApi: v1/);

    const second = await site.cli('apply', '--auto-approve');
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    warned(second.stdout);
    expect(sim.counters.requests.listV1).toBe(0);
    expect(sim.counters.dropped).toBe(0);
  });
});

describe('Snowball Edge source: what the budget prevents', () => {
  it('without a tight maxConnections (snow default 500), 256 workers open more connections than a 32-connection device accepts', async () => {
    const sim = await device({ maxConnections: 32 });
    const site = await snowSite(sim, { transfer: ['workers: 256'] });
    const objects = Array.from({ length: 600 }, (_, i) => ({ key: `burst/${String(i).padStart(3, '0')}.bin`, body: Buffer.alloc(64 * 1024, i % 251) }));
    await putObjects(pair.edge, site.sourceBucket, objects);
    const applied = await site.cli('apply', '--auto-approve');
    console.info(`snowball control: peak ${sim.counters.maxConcurrent} connections, ${sim.counters.dropped} dropped (cap 32, 100 workers x 5); apply exit ${applied.exitCode}`);
    expect(applied.stdout).toMatch(/workers 256 capped to 100 by source\.maxConnections 500/);
    expect(sim.counters.maxConcurrent).toBeGreaterThan(32);
    expect(sim.counters.dropped).toBeGreaterThan(0);
  });
});

describe('Snowball Edge source: ETags that are not MD5s', () => {
  it('verify: etag verifies by size + local MD5, says so in apply and status, fails nothing, and the next plan has no changes', async () => {
    const sim = await device({ opaqueEtags: true });
    const site = await snowSite(sim, { source: ['maxConnections: 24'], transfer: ['verify: etag', 'purgeAfterUpload: false'] });
    const objects = [
      ...HOSTILE.map((key) => ({ key, body: `etag test ${key}` })),
      ...Array.from({ length: 40 }, (_, i) => ({ key: `logs/${i}.txt`, body: `line ${i}\n`.repeat(i + 1) })),
      { key: 'big/twelve-mib.bin', body: Buffer.alloc(12 * MIB, 3) },
    ];
    await putObjects(pair.edge, site.sourceBucket, objects);
    const listed = await site.cli('plan', '--json');
    const sourceEtags = (JSON.parse(listed.stdout) as { actions: { kind: string; etag: string }[] }).actions.filter((a) => a.kind === 'download').map((a) => a.etag);
    expect(sourceEtags).toHaveLength(objects.length);
    expect(sourceEtags.every((etag) => etag.startsWith('snow-'))).toBe(true);

    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    const count = objects.length;
    expect(applied.stdout).toContain(`${count} by size+local-md5`);
    expect(applied.stdout).toContain(`${count} by md5`);
    expect(applied.stdout).toMatch(new RegExp(`Apply complete! ${count} downloaded .*${count} delivered`));
    await expectInSync(site);

    const status = await site.cli('status', '--json');
    const report = JSON.parse(status.stdout) as { etagNotComparable: number; verifiedBy: Record<string, number>; failing: unknown[] };
    expect(report.etagNotComparable).toBe(count);
    expect(report.failing).toEqual([]);
    expect((await site.cli('status')).stdout).toContain(`${count} source ETag(s) not comparable (checked by size + local MD5)`);

    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/No changes\./);
  });
});

describe('Snowball Edge source over HTTPS with the device certificate', () => {
  /** A self-signed certificate for 127.0.0.1, as a device makes one for its own IP. */
  async function certificate(name: string): Promise<{ key: string; cert: string; pem: string }> {
    const dir = await tempDir(`snowball-cert-${name}-`);
    const [key, pem] = [join(dir, 'key.pem'), join(dir, `${name}.pem`)];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', pem], { stdio: 'ignore' });
    return { key: await readFile(key, 'utf8'), cert: await readFile(pem, 'utf8'), pem };
  }

  async function withCaBundle(site: Site, pem: string | undefined): Promise<void> {
    const yaml = (await readFile(site.configPath, 'utf8')).replace(/^ {2}tls: .*\n/m, '');
    const line = pem === undefined ? '' : `  tls: { verify: true, caBundle: ${JSON.stringify(pem)} }\n`;
    await writeFile(site.configPath, yaml.replace('destination:\n', `${line}destination:\n`));
  }

  it('no CA bundle, then the wrong one: plan fails and says how to fetch the certificate; with the right one a full apply works, s5cmd included', async () => {
    const deviceCert = await certificate('device');
    const otherCert = await certificate('old-device');
    const sim = await device({ tls: { key: deviceCert.key, cert: deviceCert.cert } });
    expect(sim.endpoint).toMatch(/^https:/);
    const site = await snowSite(sim, { source: ['maxConnections: 24'] });
    await putObjects(pair.edge, site.sourceBucket, [...HOSTILE.map((key) => ({ key, body: `tls ${key}` })), { key: 'big/parts.bin', body: Buffer.alloc(60 * MIB, 9) }]);

    const missing = await site.cli('plan');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/snowballEdge list-certificates.*snowballEdge get-certificate --certificate-arn ARN.*PEM.*tls\.caBundle/s);
    expect(missing.stderr).not.toMatch(/\n\s+at /);

    await withCaBundle(site, otherCert.pem);
    const wrong = await site.cli('plan');
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain(`not signed by tls.caBundle (${otherCert.pem})`);
    expect(wrong.stderr).toMatch(/get-certificate/);

    await withCaBundle(site, deviceCert.pem);
    sim.resetCounters();
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/Apply complete! 9 downloaded .*9 delivered/);
    await expectInSync(site);
    // The downloads went through the device over TLS, so s5cmd trusted it via AWS_CA_BUNDLE.
    expect(sim.counters.requests.get).toBeGreaterThanOrEqual(9);
    expect(sim.counters.dropped).toBe(0);
    expect((await site.cli('plan', '--detailed-exitcode')).exitCode).toBe(0);

    // And s5cmd does verify: without the bundle in its environment it refuses the device.
    const { config } = await loadConfig(site.configPath, site.env);
    const untrusted = { ...config.source, tls: { verify: true } };
    // No retries: s5cmd would otherwise retry the refused handshake for most of a minute.
    const bare = await execa(requireTools().s5cmd, [...s5cmdGlobalArgs(untrusted, 1), '--retry-count', '0', 'ls', `s3://${site.sourceBucket}/odd/`], {
      env: s5cmdEnv(untrusted, site.env),
      extendEnv: false,
      reject: false,
    });
    expect(bare.exitCode).not.toBe(0);
    expect(`${bare.stdout}${bare.stderr}`).toMatch(/certificate/i);
    const trusted = await execa(requireTools().s5cmd, [...s5cmdGlobalArgs(config.source, 1), 'ls', `s3://${site.sourceBucket}/odd/`], {
      env: s5cmdEnv(config.source, site.env),
      extendEnv: false,
      reject: false,
    });
    expect(trusted.exitCode, trusted.stderr).toBe(0);
    expect(trusted.stdout.split('\n').filter((line) => line.trim() !== '')).toHaveLength(HOSTILE.length);
  });
});
