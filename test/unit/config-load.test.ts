import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkAliases, expandVolumes, formatDiagnostic, loadConfig } from '../../src/config/load.ts';
import { isDualsyncError, type DualsyncError } from '../../src/errors.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-config-'));
  await mkdir(join(dir, 'vol-a'));
  await mkdir(join(dir, 'vol-b'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configText(volumes: string, extra = ''): string {
  return `version: 1
source:
  bucket: field-data
  region: eu-west-1
  endpoint: https://192.0.2.10:8443
destination:
  bucket: archive
  region: us-east-1
staging:
  volumes: ${volumes}
${extra}`;
}

async function loadError(text: string): Promise<DualsyncError> {
  await writeFile(join(dir, 'sync.yaml'), text);
  const error: unknown = await loadConfig(join(dir, 'sync.yaml'), {}).catch((e: unknown) => e);
  if (!isDualsyncError(error)) throw new Error(`expected a DualsyncError, got ${String(error)}`);
  return error;
}

describe('loadConfig', () => {
  it('loads a valid file: absolute file name, volumes as written, warnings returned', async () => {
    const text = configText('[./vol-*]').replace('  endpoint: https://192.0.2.10:8443\n', '  endpoint: https://192.0.2.10:8443\n  tls: { verify: false }\n');
    await writeFile(join(dir, 'sync.yaml'), text);
    const { config, warnings } = await loadConfig(join(dir, 'sync.yaml'), {});
    expect(config.file).toBe(join(dir, 'sync.yaml'));
    expect(config.staging.volumes).toEqual([join(dir, 'vol-*')]);
    expect(config.stateDir).toBe(join(dir, '.dualsync'));
    expect(warnings.map((w) => w.path)).toEqual(['source.tls.verify']);
  });

  it('a missing file is a user error that suggests dualsync init', async () => {
    const error: unknown = await loadConfig(join(dir, 'nope.yaml'), {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'user', code: 'E_CONFIG_MISSING' });
    expect((error as DualsyncError).message).toContain('nope.yaml does not exist');
    expect((error as DualsyncError).hint).toContain('dualsync init');
  });

  it('a volume glob matching nothing is reported at its entry', async () => {
    const error = await loadError(configText('[./vol-*, ./missing-*]'));
    expect(error.code).toBe('E_CONFIG');
    expect(error.message).toBe(`${join(dir, 'sync.yaml')}: 1 problem`);
    expect(error.details).toEqual([
      `${join(dir, 'sync.yaml')}:10:22  staging.volumes[1]: ./missing-* matches no directory (create or mount the directory, or fix the path or glob; \`dualsync volumes provision\` prepares volumes)`,
    ]);
  });

  it('a volume entry that is a file is refused', async () => {
    await writeFile(join(dir, 'plain-file'), 'x');
    const error = await loadError(configText('[./plain-file]'));
    expect(error.details[0]).toContain('staging.volumes[0]: ./plain-file is a file, not a directory');
  });

  it('a volume inside another volume is refused', async () => {
    await mkdir(join(dir, 'vol-a', 'inner'));
    const error = await loadError(configText('[./vol-a, ./vol-a/inner]'));
    expect(error.details[0]).toContain(`staging.volumes[1]: volume ${join(dir, 'vol-a', 'inner')} is inside volume ${join(dir, 'vol-a')}`);
  });

  it('a state directory inside a volume is refused (the ledger would look like staged data)', async () => {
    const error = await loadError(configText('[./vol-a]', 'stateDir: ./vol-a/.state\n'));
    expect(error.details[0]).toContain('stateDir: the state directory is inside volume');
  });

  it('the default state directory is checked too', async () => {
    const error = await loadError(configText('["."]'));
    expect(error.details[0]).toContain(':1:1  stateDir: the state directory is inside volume');
  });

  it('a state directory reached through a symbolic link into a volume is refused (real paths are compared)', async () => {
    await mkdir(join(dir, 'vol-a', 'hidden-state'));
    await symlink(join(dir, 'vol-a', 'hidden-state'), join(dir, 'state-link'));
    const error = await loadError(configText('[./vol-a]', 'stateDir: ./state-link\n'));
    expect(error.details[0]).toContain(`stateDir: the state directory (really ${join(dir, 'vol-a', 'hidden-state')}) is inside volume ${join(dir, 'vol-a')}, which staging.volumes[0] "./vol-a" names`);
  });

  it('a state directory not yet created is refused when a volume glob would match it once it exists', async () => {
    await mkdir(join(dir, 'w', 'disk-1'), { recursive: true });
    const error = await loadError(configText('["./w/*"]', 'stateDir: ./w/state\n'));
    expect(error.details).toHaveLength(1);
    expect(error.details[0]).toContain(':11:11  stateDir: the state directory ./w/state would become a staging volume: staging.volumes[0] "./w/*" matches');
    expect(error.details[0]).toContain(join(dir, 'w', 'state'));
  });

  it('a state directory below a folder a volume glob would match is refused too', async () => {
    await mkdir(join(dir, 'w', 'disk-1'), { recursive: true });
    const error = await loadError(configText('["./w/*"]', 'stateDir: ./w/later/state\n'));
    expect(error.details[0]).toContain(`staging.volumes[0] "./w/*" matches ${join(dir, 'w', 'later')} once it exists`);
  });

  it('a volume glob that cannot match the state directory passes', async () => {
    await mkdir(join(dir, 'w', 'disk-1'), { recursive: true });
    await writeFile(join(dir, 'sync.yaml'), configText('["./w/disk-*"]', 'stateDir: ./w/state\n'));
    await expect(loadConfig(join(dir, 'sync.yaml'), {})).resolves.toBeDefined();
  });

  it('a volume inside the state directory is refused', async () => {
    await mkdir(join(dir, 'state', 'staging'), { recursive: true });
    const error = await loadError(configText('[./state/staging]', 'stateDir: ./state\n'));
    expect(error.details[0]).toContain(`staging.volumes[0]: volume ${join(dir, 'state', 'staging')} is inside the state directory ${join(dir, 'state')} (stateDir)`);
  });

  it('a CA bundle that is missing or not PEM is reported at the field', async () => {
    await writeFile(join(dir, 'not-pem.txt'), 'hello');
    const tls = (file: string) => configText('[./vol-a]').replace('  endpoint: https://192.0.2.10:8443\n', `  endpoint: https://192.0.2.10:8443\n  tls:\n    caBundle: ${file}\n`);
    expect((await loadError(tls('./snowball.pem'))).details[0]).toContain(':7:15  source.tls.caBundle: CA bundle ./snowball.pem is not a readable file');
    expect((await loadError(tls('./not-pem.txt'))).details[0]).toContain('source.tls.caBundle: CA bundle ./not-pem.txt holds no PEM certificate');
  });

  it('parse problems and disk problems come together, sorted by line, warnings included', async () => {
    const text = configText('[./missing]', 'transfer:\n  workers: 0\n').replace('  region: us-east-1\n', '  region: us-east-1\n  credentials: { accessKeyId: AKID, secretAccessKey: inline-secret }\n');
    const error = await loadError(text);
    expect(error.message).toMatch(/: 2 problems, 1 warning$/);
    expect(error.details.map((line) => line.replace(`${join(dir, 'sync.yaml')}:`, ''))).toEqual([
      expect.stringMatching(/^9:31 {2}warning: destination.credentials.accessKeyId: inline secrets/),
      expect.stringMatching(/^11:13 {2}staging.volumes\[0\]: \.\/missing matches no directory/),
      expect.stringMatching(/^13:12 {2}transfer.workers: must be at least 1/),
    ]);
    expect(error.details.join('\n')).not.toContain('inline-secret');
  });
});

describe('expandVolumes', () => {
  it('expands globs and plain directories to absolute, sorted, unique paths', async () => {
    await mkdir(join(dir, 'vol-[weird]'));
    await writeFile(join(dir, 'vol-file'), 'x');
    const volumes = await expandVolumes([join(dir, 'vol-b'), join(dir, 'vol-*'), join(dir, 'vol-[weird]'), join(dir, 'none-*')]);
    expect(volumes).toEqual([join(dir, 'vol-[weird]'), join(dir, 'vol-a'), join(dir, 'vol-b')].sort());
  });
});

describe('formatDiagnostic', () => {
  it('errors and warnings, with and without a hint', () => {
    const base = { file: 'sync.yaml', line: 3, column: 5, path: 'transfer.workers', message: 'must be at least 1' };
    expect(formatDiagnostic({ severity: 'error', ...base })).toBe('sync.yaml:3:5  transfer.workers: must be at least 1');
    expect(formatDiagnostic({ severity: 'warning', ...base, hint: 'h' })).toBe('sync.yaml:3:5  warning: transfer.workers: must be at least 1 (h)');
  });
});

describe('checkAliases: two host names on one port', () => {
  const alias = { field: 'destination.bucket', line: 9, column: 11, hosts: ['minio-a.site', 'minio-b.site'] as [string, string], message: 'source and destination are the same place', hint: 'use another bucket' };
  const resolver = (answers: Record<string, string[] | undefined>) => async (host: string) => answers[host];

  it('names that share an address are one server: refused at the destination bucket', async () => {
    const problems = await checkAliases([alias], 'sync.yaml', resolver({ 'minio-a.site': ['192.0.2.7', '192.0.2.8'], 'minio-b.site': ['192.0.2.8'] }));
    expect(problems).toEqual([{ severity: 'error', file: 'sync.yaml', line: 9, column: 11, path: 'destination.bucket', message: alias.message, hint: alias.hint }]);
  });

  it('names with other addresses are two servers', async () => {
    expect(await checkAliases([alias], 'sync.yaml', resolver({ 'minio-a.site': ['192.0.2.7'], 'minio-b.site': ['192.0.2.8'] }))).toEqual([]);
  });

  it('a name DNS does not answer for proves nothing', async () => {
    expect(await checkAliases([alias], 'sync.yaml', resolver({ 'minio-a.site': ['192.0.2.7'] }))).toEqual([]);
  });

  it('with the real resolver, localhost and this machine\'s loopback name are one server', async () => {
    const problems = await checkAliases([{ ...alias, hosts: ['localhost', '127.0.0.1'] }], 'sync.yaml');
    expect(problems).toHaveLength(1);
  });
});
