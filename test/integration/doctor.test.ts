import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { join } from 'node:path';
import { listAll, putObjects, startMinio, tempDir, useMinioPair, type MinioPair } from '../harness/index.ts';
import type { DoctorCheck, DoctorReport } from '../../src/model/doctor.ts';
import { canMountTmpfs, mountTmpfs, unmount } from '../harness/tmpfs.ts';
import { makeSite, runCli, type Site, type SiteOptions } from './site.ts';

const pair = useMinioPair();

/** Whether this machine lets the tests mount a tmpfs; decides a test's name, so it runs at load. */
const CAN_MOUNT = canMountTmpfs();
const mounted: string[] = [];
afterAll(() => {
  for (const dir of mounted) unmount(dir);
});

/** A site whose config lists each volume by name (a glob cannot tell that one is missing). */
async function siteWithNamedVolumes(options: SiteOptions = {}, sitePair: MinioPair = pair): Promise<Site> {
  const site = await makeSite(sitePair, options);
  const text = await readFile(site.configPath, 'utf8');
  await writeFile(site.configPath, text.replace(/^ {2}volumes: .*$/m, `  volumes: [${site.volumes.map((v) => JSON.stringify(v)).join(', ')}]`));
  await putObjects(sitePair.edge, site.sourceBucket, [{ key: 'day-1/sensor-01.csv', body: 'a,b,c\n' }]);
  return site;
}

async function doctor(site: Site, ...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; report: DoctorReport }> {
  const result = await runCli(['doctor', '--json', ...args, '-c', site.configPath], site.env);
  expect(result.stderr).not.toMatch(/Internal error/);
  return { ...result, report: JSON.parse(result.stdout) as DoctorReport };
}

function row(report: DoctorReport, scope: string, check: string): DoctorCheck {
  const found = report.checks.find((c) => c.scope === scope && c.check === check);
  expect(found, `no ${scope}/${check} row in ${JSON.stringify(report.checks, null, 2)}`).toBeDefined();
  return found!;
}

describe('doctor against real MinIO servers', () => {
  it('a healthy site: every check passes or warns, exit 0, and the table says Ready', async () => {
    const site = await siteWithNamedVolumes();
    const { exitCode, report } = await doctor(site);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(exitCode).toBe(0);
    for (const side of ['source', 'destination']) {
      expect(row(report, side, 'reachable').status).toBe('pass');
      expect(row(report, side, 'list').status).toBe('pass');
      expect(row(report, side, 'clock').status).toBe('pass');
      expect(row(report, side, 'connections').status).toBe('pass');
      expect(row(report, side, 'tls')).toMatchObject({ status: 'skip', detail: expect.stringMatching(/plain HTTP/) });
    }
    expect(row(report, 'destination', 'write').status).toBe('skip');
    expect(row(report, 's5cmd', 'version')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^s5cmd 2\.3\.0\+nohead\.1 at /) });
    for (const volume of site.volumes) {
      expect(row(report, `volume ${volume}`, 'writable').status).toBe('pass');
      expect(row(report, `volume ${volume}`, 'space').status).toBe('pass');
    }
    expect(row(report, 'state', 'writable').status).toBe('pass');

    const human = await runCli(['doctor', '-c', site.configPath], site.env);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/Doctor: \d+ passed, \d+ warnings?, 0 failed, \d+ skipped\. Ready/);
  });

  it('--write-probe puts and deletes one object under the destination prefix, leaving nothing', async () => {
    const site = await siteWithNamedVolumes({ destinationPrefix: 'site-7/' });
    const { exitCode, report } = await doctor(site, '--write-probe');
    expect(exitCode).toBe(0);
    expect(row(report, 'destination', 'write')).toMatchObject({ status: 'pass', detail: expect.stringContaining('site-7/') });
    expect(await listAll(pair.cloud, site.destinationBucket)).toEqual([]);
  });

  it('wrong credentials: the list check fails naming the hop and the environment variables; the other hop still passes', async () => {
    const site = await siteWithNamedVolumes();
    site.env.EDGE_SECRET_ACCESS_KEY = 'not-the-secret';
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(1);
    const list = row(report, 'source', 'list');
    expect(list.status).toBe('fail');
    expect(list.detail).toMatch(/source hop's credentials were refused/);
    expect(list.fix).toMatch(/EDGE_ACCESS_KEY_ID and EDGE_SECRET_ACCESS_KEY/);
    expect(row(report, 'source', 'reachable').status).toBe('pass');
    expect(row(report, 'destination', 'list').status).toBe('pass');
    expect(report.checks.filter((c) => c.status === 'fail')).toHaveLength(1);

    const human = await runCli(['doctor', '-c', site.configPath], site.env);
    expect(human.exitCode).toBe(1);
    const flat = human.stdout.replace(/[│\s]+/g, ' ');
    expect(flat).toContain('FAIL the source hop');
    expect(flat).toContain('Fix: check the environment variables EDGE_ACCESS_KEY_ID and EDGE_SECRET_ACCESS_KEY');
    expect(human.stdout).toMatch(/Doctor: .* 1 failed/);
  });

  it('a profile that does not exist: the list check fails saying there are no credentials, naming the profile', async () => {
    const site = await siteWithNamedVolumes();
    const text = await readFile(site.configPath, 'utf8');
    await writeFile(site.configPath, text.replace(/ {4}accessKeyId: \$\{EDGE_ACCESS_KEY_ID\}\n {4}secretAccessKey: \$\{EDGE_SECRET_ACCESS_KEY\}/, '    profile: no-such-profile'));
    const empty = join(site.dir, 'empty-aws-file');
    await writeFile(empty, '');
    site.env.AWS_CONFIG_FILE = empty;
    site.env.AWS_SHARED_CREDENTIALS_FILE = empty;
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(1);
    expect(row(report, 'source', 'list')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^no credentials for the source hop/),
      fix: expect.stringContaining('the AWS profile "no-such-profile"'),
    });
    expect(row(report, 'destination', 'list').status).toBe('pass');
  });

  it('a stopped server: reachability fails with "connection refused"; volumes and the other hop are still checked', async () => {
    const gone = await startMinio('gone');
    const site = await siteWithNamedVolumes({}, { edge: gone, cloud: pair.cloud, stop: async () => {} });
    await gone.stop();
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(1);
    expect(row(report, 'source', 'reachable')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/connection refused/), fix: expect.stringMatching(/nothing listens there/) });
    expect(row(report, 'source', 'list').status).toBe('fail');
    expect(row(report, 'source', 'clock').status).toBe('skip');
    expect(row(report, 'destination', 'list').status).toBe('pass');
    expect(row(report, `volume ${site.volumes[0]}`, 'writable').status).toBe('pass');
  });

  it('a missing volume: fails naming that volume, and the volume still there passes', async () => {
    const site = await siteWithNamedVolumes();
    const [kept, missing] = site.volumes as [string, string];
    await rm(missing, { recursive: true });
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(1);
    expect(row(report, `volume ${missing}`, 'present')).toMatchObject({ status: 'fail', detail: expect.stringContaining(`staging volume ${missing} is missing`) });
    expect(row(report, `volume ${kept}`, 'writable').status).toBe('pass');
    expect(row(report, 'source', 'list').status).toBe('pass');
    expect(report.checks.filter((c) => c.status === 'fail')).toHaveLength(1);
  });

  it('a full volume (reserve above its free space) fails the space check', async () => {
    const site = await siteWithNamedVolumes({ reserve: '1000TiB' });
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(1);
    expect(row(report, `volume ${site.volumes[0]}`, 'space')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/no room above the reserve/) });
  });

  it('too many connections for the hop budget: a warning with the effective workers, still exit 0', async () => {
    const site = await siteWithNamedVolumes({ source: ['maxConnections: 40'], transfer: ['workers: 64', 'concurrency: 5'] });
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(0);
    expect(row(report, 'source', 'connections')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/effective workers 8 x 5/) });
  });
});

describe('doctor and a device with its own certificate (as a Snowball has)', () => {
  let proxy: Server | undefined;
  const sockets = new Set<Socket>();
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    proxy?.close();
  });

  /** A TLS front for the edge MinIO with a self-signed certificate: what a Snowball's port 8443 looks like. */
  async function tlsFront(): Promise<{ endpoint: string; pem: string }> {
    const dir = await tempDir('doctor-cert-');
    const [key, pem] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', pem], { stdio: 'ignore' });
    const target = new URL(pair.edge.endpoint);
    proxy = createServer({ key: await readFile(key), cert: await readFile(pem) }, (client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => socket.destroy());
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    const address = proxy.address() as { port: number };
    return { endpoint: `https://127.0.0.1:${address.port}`, pem };
  }

  it('without the certificate: TLS fails with the hint to fetch it; as tls.caBundle: the whole hop passes', async () => {
    const front = await tlsFront();
    const untrusted = await siteWithNamedVolumes({ sourceEndpoint: front.endpoint });
    const before = await doctor(untrusted);
    expect(before.exitCode).toBe(1);
    const tls = row(before.report, 'source', 'tls');
    expect(tls).toMatchObject({ status: 'fail', detail: expect.stringMatching(/self-signed or from an unknown CA/) });
    expect(tls.fix).toMatch(/snowballEdge get-certificate .* tls\.caBundle/);
    expect(row(before.report, 'source', 'reachable').status).toBe('pass');

    const trusted = await siteWithNamedVolumes({ sourceEndpoint: front.endpoint, source: [`tls: { verify: true, caBundle: ${front.pem} }`] });
    const after = await doctor(trusted);
    expect(after.report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(row(after.report, 'source', 'tls')).toMatchObject({ status: 'pass', detail: expect.stringContaining(`trusted through tls.caBundle ${front.pem}`) });
    expect(row(after.report, 'source', 'list').status).toBe('pass');
  });

  it('with a wrong certificate as tls.caBundle: the fix says to save the device certificate over that file, as plan does', async () => {
    const front = await tlsFront();
    const dir = await tempDir('doctor-other-cert-');
    const [otherKey, otherPem] = [join(dir, 'other-key.pem'), join(dir, 'other.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=127.0.0.1', '-keyout', otherKey, '-out', otherPem], { stdio: 'ignore' });
    const site = await siteWithNamedVolumes({ sourceEndpoint: front.endpoint, source: [`tls: { verify: true, caBundle: ${otherPem} }`] });
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(1);
    const tls = row(report, 'source', 'tls');
    expect(tls).toMatchObject({ status: 'fail', detail: expect.stringContaining(`tls.caBundle ${otherPem} does not vouch for it`) });
    expect(tls.fix).toMatch(/snowballEdge get-certificate .* save it as a PEM file over /);
    expect(tls.fix).toContain(`over ${otherPem}`);
    expect(tls.fix).not.toMatch(/set tls\.caBundle to that file/);
  });
});

describe('doctor and volumes that share a filesystem', () => {
  it('two staging volumes on one filesystem: a warning row names both and says what to do; the volume rows stay', async () => {
    // The site's volumes are two folders of one temporary folder: one filesystem.
    const site = await siteWithNamedVolumes();
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(0);
    const shared = report.checks.filter((c) => c.check === 'shared-filesystem');
    expect(shared).toHaveLength(1);
    expect(shared[0]).toMatchObject({ scope: 'volumes', status: 'warn' });
    for (const volume of site.volumes) expect(shared[0]!.detail).toContain(volume);
    expect(shared[0]!.detail).toMatch(/share its free space and reserve/);
    expect(shared[0]!.fix).toMatch(/a filesystem of its own.*accept the shared space/);
    for (const volume of site.volumes) expect(row(report, `volume ${volume}`, 'space').status).toBe('pass');
    const human = await runCli(['doctor', '-c', site.configPath], site.env);
    expect(human.stdout).toMatch(/shared-filesystem/);
  });

  it.runIf(CAN_MOUNT)('two staging volumes on two filesystems (two tmpfs mounts): no sharing warning', async () => {
    const site = await siteWithNamedVolumes();
    for (const volume of site.volumes) {
      expect(mountTmpfs(volume, '4m'), `mount -t tmpfs on ${volume}`).toBe(true);
      mounted.push(volume);
    }
    const { exitCode, report } = await doctor(site);
    expect(exitCode).toBe(0);
    expect(report.checks.filter((c) => c.check === 'shared-filesystem')).toEqual([]);
    for (const volume of site.volumes) expect(row(report, `volume ${volume}`, 'present').detail).toMatch(/^tmpfs on /);
  });
});
