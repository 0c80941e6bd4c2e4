import { chmod, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findS5cmd, parseS5cmdVersion, s5cmdEnv, s5cmdGlobalArgs, s5cmdPatchOf } from '../../src/apply/s5cmd.ts';
import { isDualsyncError } from '../../src/errors.ts';
import type { HopConfig } from '../../src/model/config.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const SECRET = 'wJalrXUtnFEMI-secret-K7MDENG';

function hop(extra: Partial<HopConfig> = {}): HopConfig {
  return {
    bucket: 'field-data',
    prefix: 'sensors/',
    region: 'us-east-1',
    addressing: 'path',
    tls: { verify: true },
    listApi: 'v2',
    credentials: { kind: 'static', accessKeyId: 'AKIDEDGE', secretAccessKey: SECRET, inline: false },
    ...extra,
  };
}

const inherited = {
  PATH: '/usr/bin',
  HOME: '/home/op',
  AWS_ACCESS_KEY_ID: 'AKIDPARENT',
  AWS_SECRET_ACCESS_KEY: 'parent-secret',
  AWS_SESSION_TOKEN: 'parent-token',
  AWS_PROFILE: 'parent-profile',
  AWS_DEFAULT_REGION: 'eu-west-1',
  AWS_REGION: 'eu-west-1',
  AWS_CONFIG_FILE: '/home/op/.aws/config',
  AWS_CA_BUNDLE: '/etc/parent.pem',
  S3_ENDPOINT_URL: 'http://10.0.0.9:9000',
  https_proxy: 'http://parent-proxy:3128',
};

describe('s5cmdEnv', () => {
  it('static credentials: exactly the hop keys, nothing inherited that names other credentials or endpoints', () => {
    const env = s5cmdEnv(hop(), inherited);
    expect(env.AWS_ACCESS_KEY_ID).toBe('AKIDEDGE');
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(SECRET);
    expect(env.AWS_SESSION_TOKEN).toBeUndefined();
    expect(env.AWS_PROFILE).toBeUndefined();
    expect(env.S3_ENDPOINT_URL).toBeUndefined();
    expect(env.AWS_DEFAULT_REGION).toBeUndefined();
    expect(env.AWS_CA_BUNDLE).toBeUndefined();
    expect(env.AWS_REGION).toBe('us-east-1');
    expect(env.PATH).toBe('/usr/bin');
    expect(env.HOME).toBe('/home/op');
    expect(env.AWS_CONFIG_FILE).toBe('/home/op/.aws/config');
  });

  it('static credentials with a session token: token passed', () => {
    const env = s5cmdEnv(hop({ credentials: { kind: 'static', accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T', inline: true } }), inherited);
    expect(env.AWS_SESSION_TOKEN).toBe('T');
  });

  it('profile: AWS_PROFILE only, no inherited keys', () => {
    const env = s5cmdEnv(hop({ credentials: { kind: 'profile', profile: 'snowball' } }), inherited);
    expect(env.AWS_PROFILE).toBe('snowball');
    expect(env.AWS_ACCESS_KEY_ID).toBeUndefined();
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(env.AWS_SESSION_TOKEN).toBeUndefined();
    expect(env.AWS_CONFIG_FILE).toBe('/home/op/.aws/config');
  });

  it('default chain: inherited credentials kept, region and endpoint still from the hop', () => {
    const env = s5cmdEnv(hop({ credentials: { kind: 'default' } }), inherited);
    expect(env.AWS_ACCESS_KEY_ID).toBe('AKIDPARENT');
    expect(env.AWS_PROFILE).toBe('parent-profile');
    expect(env.AWS_REGION).toBe('us-east-1');
    expect(env.AWS_DEFAULT_REGION).toBeUndefined();
    expect(env.S3_ENDPOINT_URL).toBeUndefined();
  });

  it('Snowball: region "snow" passes through as it is, CA bundle set', () => {
    const env = s5cmdEnv(hop({ region: 'snow', tls: { verify: true, caBundle: '/etc/dualsync/snowball.pem' } }), inherited);
    expect(env.AWS_REGION).toBe('snow');
    expect(env.AWS_CA_BUNDLE).toBe('/etc/dualsync/snowball.pem');
  });

  it('hop proxy replaces inherited proxies (both cases); without one the inherited proxy stays', () => {
    const withProxy = s5cmdEnv(hop({ proxy: 'http://proxy.site:8080' }), inherited);
    expect(withProxy.HTTPS_PROXY).toBe('http://proxy.site:8080');
    expect(withProxy.HTTP_PROXY).toBe('http://proxy.site:8080');
    expect(withProxy.https_proxy).toBeUndefined();
    expect(s5cmdEnv(hop(), inherited).https_proxy).toBe('http://parent-proxy:3128');
  });
});

describe('s5cmdGlobalArgs', () => {
  const cases: { name: string; hop: HopConfig; workers: number; expected: string[] }[] = [
    { name: 'AWS, defaults', hop: hop({ addressing: 'virtual' }), workers: 256, expected: ['--json', '--numworkers', '256'] },
    {
      name: 'MinIO endpoint',
      hop: hop({ endpoint: 'http://127.0.0.1:9000' }),
      workers: 8,
      expected: ['--json', '--numworkers', '8', '--endpoint-url', 'http://127.0.0.1:9000'],
    },
    {
      name: 'Snowball: v1 listing, unverified TLS, connection cap below workers',
      hop: hop({ region: 'snow', endpoint: 'https://192.0.2.10:8443', tls: { verify: false }, listApi: 'v1', maxConnections: 100 }),
      workers: 256,
      expected: ['--json', '--numworkers', '100', '--endpoint-url', 'https://192.0.2.10:8443', '--no-verify-ssl', '--use-list-objects-v1'],
    },
    { name: 'connection cap above workers: workers stay', hop: hop({ maxConnections: 1000 }), workers: 64, expected: ['--json', '--numworkers', '64'] },
  ];
  for (const { name, hop: config, workers, expected } of cases) {
    it(name, () => {
      const args = s5cmdGlobalArgs(config, workers);
      expect(args).toEqual(expected);
      expect(args.join(' ')).not.toContain(SECRET);
      expect(args.join(' ')).not.toContain('AKIDEDGE');
    });
  }

  it('virtual addressing on a custom endpoint: refused with a hint to use path', () => {
    let error: unknown;
    try {
      s5cmdGlobalArgs(hop({ endpoint: 'https://s3.example.net', addressing: 'virtual' }), 4);
    } catch (caught) {
      error = caught;
    }
    expect(isDualsyncError(error) && error.code).toBe('E_S5CMD_ADDRESSING');
    expect(isDualsyncError(error) && error.hint).toMatch(/addressing: path/);
  });
});

describe('findS5cmd', () => {
  async function fakeS5cmd(versionLine: string): Promise<string> {
    const dir = await tempDir('fake-s5cmd-');
    const path = join(dir, 's5cmd');
    await writeFile(path, `#!/bin/sh\necho '${versionLine}'\n`);
    await chmod(path, 0o755);
    return path;
  }

  it('finds the package .tools/s5cmd, the patched 2.3.0 that makes no HEAD before a download', async () => {
    const found = await findS5cmd({ PATH: '/usr/bin:/bin' });
    expect(found.path).toMatch(/\.tools\/s5cmd$/);
    expect(found.version).toBe('2.3.0+nohead.1');
    expect(found.headPerDownload).toBe(false);
  });

  it('DUALSYNC_S5CMD comes first', async () => {
    const path = await fakeS5cmd('v2.3.0-abcdef');
    expect(await findS5cmd({ PATH: '/usr/bin', DUALSYNC_S5CMD: path })).toEqual({ path, version: '2.3.0', origin: 'DUALSYNC_S5CMD', headPerDownload: true });
  });

  it('in a release: the s5cmd beside the executable, before the PATH and instead of .tools/', async () => {
    const release = dirname(await fakeS5cmd('v2.2.2'));
    const decoy = dirname(await fakeS5cmd('v2.0.0-on-the-path'));
    expect(await findS5cmd({ PATH: `${decoy}:/usr/bin` }, release)).toEqual({ path: join(release, 's5cmd'), version: '2.2.2', origin: 'beside the dualsync executable', headPerDownload: true });
  });

  it('in a release: DUALSYNC_S5CMD still wins over the s5cmd beside the executable', async () => {
    const release = dirname(await fakeS5cmd('v2.2.2'));
    const chosen = await fakeS5cmd('v2.3.0');
    expect(await findS5cmd({ PATH: '/usr/bin', DUALSYNC_S5CMD: chosen }, release)).toEqual({ path: chosen, version: '2.3.0', origin: 'DUALSYNC_S5CMD', headPerDownload: true });
  });

  it('in a release without s5cmd beside the executable: the PATH, and a missing one says to keep the archive s5cmd', async () => {
    const empty = await tempDir('release-without-s5cmd-');
    const onPath = dirname(await fakeS5cmd('v2.2.5'));
    expect(await findS5cmd({ PATH: onPath }, empty)).toEqual({ path: join(onPath, 's5cmd'), version: '2.2.5', origin: 'PATH', headPerDownload: true });
    let error: unknown;
    try {
      await findS5cmd({ PATH: empty }, empty);
    } catch (caught) {
      error = caught;
    }
    expect(isDualsyncError(error) && error.code).toBe('E_S5CMD_MISSING');
    expect(isDualsyncError(error) && error.message).toContain(join(empty, 's5cmd'));
    expect(isDualsyncError(error) && error.hint).toMatch(/beside the dualsync executable/);
  });

  const refusals: { name: string; version: string | undefined; code: string }[] = [
    { name: 'too old: refused with the install hint', version: 'v2.1.0-dev', code: 'E_S5CMD_VERSION' },
    { name: 'answers nonsense: refused', version: 'hello', code: 'E_S5CMD_VERSION' },
    { name: 'DUALSYNC_S5CMD names a missing file: refused, not silently replaced', version: undefined, code: 'E_S5CMD_MISSING' },
  ];
  for (const { name, version, code } of refusals) {
    it(name, async () => {
      const path = version === undefined ? '/nonexistent/s5cmd' : await fakeS5cmd(version);
      let error: unknown;
      try {
        await findS5cmd({ PATH: '/usr/bin', DUALSYNC_S5CMD: path });
      } catch (caught) {
        error = caught;
      }
      expect(isDualsyncError(error) && error.code).toBe(code);
      expect(isDualsyncError(error) && error.hint).toMatch(/npm run tools/);
    });
  }
});

describe('parseS5cmdVersion', () => {
  it.each([
    ['v2.2.2-dev', [2, 2, 2]],
    ['v2.3.0+nohead.1-dev', [2, 3, 0]],
    ['v2.3.0-6bb4f2a\n', [2, 3, 0]],
    ['2.10.1', [2, 10, 1]],
    ['s5cmd', undefined],
  ])('%s', (output, expected) => {
    expect(parseS5cmdVersion(output)).toEqual(expected);
  });
});

describe('s5cmdPatchOf', () => {
  it.each([
    ['v2.3.0+nohead.1-dev\n', 'nohead.1'],
    ['v2.3.0+nohead.12-dev', 'nohead.12'],
    ['v2.3.0-dev', undefined],
    ['v2.2.2-6bb4f2a', undefined],
    ['v2.3.0+other.1-dev', undefined],
  ])('%s', (output, expected) => {
    expect(s5cmdPatchOf(output)).toEqual(expected);
  });

  it('a patched build is taken as making no HEAD; its version keeps the patch', async () => {
    const dir = await tempDir('fake-s5cmd-');
    const path = join(dir, 's5cmd');
    await writeFile(path, "#!/bin/sh\necho 'v2.3.0+nohead.1-dev'\n");
    await chmod(path, 0o755);
    expect(await findS5cmd({ PATH: '/usr/bin', DUALSYNC_S5CMD: path })).toEqual({ path, version: '2.3.0+nohead.1', origin: 'DUALSYNC_S5CMD', headPerDownload: false });
  });
});
