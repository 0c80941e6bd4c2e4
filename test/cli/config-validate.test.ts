import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.ts';

const BROKEN = 'fixtures/config/broken';

/** Each broken fixture, the line its (first) problem is reported on, the field, and what is said. */
const cases: { file: string; line: number; path: string; says: string }[] = [
  { file: 'wrong-type-workers.yaml', line: 12, path: 'transfer.workers', says: 'expected a whole number, got a string' },
  { file: 'negative-workers.yaml', line: 12, path: 'transfer.workers', says: 'must be at least 1 (got -8)' },
  { file: 'missing-version.yaml', line: 1, path: 'version', says: 'missing required field `version`' },
  { file: 'wrong-version.yaml', line: 2, path: 'version', says: 'must be 1' },
  { file: 'missing-bucket.yaml', line: 3, path: 'source.bucket', says: 'missing required field `bucket`' },
  { file: 'unknown-key-typo.yaml', line: 12, path: 'transfer.maxBatchByte', says: 'did you mean `maxBatchBytes`?' },
  { file: 'misplaced-field.yaml', line: 11, path: 'workers', says: 'did you mean `transfer.workers`?' },
  { file: 'bad-size.yaml', line: 12, path: 'transfer.maxBatchBytes', says: 'expected a size such as 500GiB' },
  { file: 'bad-part-size.yaml', line: 12, path: 'transfer.partSize', says: 'whole number of MiB from 5MiB to 5GiB' },
  { file: 'zero-upload-batch.yaml', line: 12, path: 'transfer.maxUploadBatchBytes', says: 'must be greater than 0' },
  { file: 'reserve-too-large.yaml', line: 11, path: 'staging.reserve', says: 'from 0% to 99%' },
  { file: 'bad-duration.yaml', line: 12, path: 'watch.interval', says: 'expected a duration such as 30s' },
  { file: 'bad-endpoint-url.yaml', line: 6, path: 'source.endpoint', says: 'expected an http:// or https:// URL' },
  { file: 'bad-bucket-name.yaml', line: 4, path: 'source.bucket', says: 'expected an S3 bucket name' },
  { file: 'prefix-leading-slash.yaml', line: 5, path: 'source.prefix', says: 'must not start with `/` (write "sensors/")' },
  { file: 'prefix-no-trailing-slash.yaml', line: 8, path: 'destination.prefix', says: 'must end with `/`' },
  { file: 'same-source-destination.yaml', line: 7, path: 'destination.bucket', says: 'source and destination are the same place' },
  { file: 'bad-verify-mode.yaml', line: 12, path: 'transfer.verify', says: 'expected one of `size`, `etag`' },
  { file: 'missing-env-var.yaml', line: 8, path: 'source.credentials.secretAccessKey', says: 'environment variable DUALSYNC_FIXTURE_UNSET_SECRET is not set' },
  { file: 'profile-and-keys.yaml', line: 8, path: 'source.credentials.accessKeyId', says: 'cannot be combined with `profile`' },
  { file: 'yaml-syntax-error.yaml', line: 5, path: '(yaml)', says: 'Tabs are not allowed as indentation' },
  { file: 'volume-glob-no-match.yaml', line: 10, path: 'staging.volumes[0]', says: '../../volumes/missing-* matches no directory' },
  { file: 'empty-volumes.yaml', line: 10, path: 'staging.volumes', says: 'must list at least one entry' },
  { file: 'unreadable-ca-bundle.yaml', line: 8, path: 'source.tls.caBundle', says: 'CA bundle ./no-such-snowball.pem is not a readable file' },
  { file: 'state-dir-in-volume.yaml', line: 11, path: 'stateDir', says: 'the state directory is inside volume' },
  { file: 'many-problems.yaml', line: 5, path: 'source.prefix', says: 'must not start with `/`' },
];

describe('dualsync validate on broken configs', () => {
  it('every broken fixture has a case', () => {
    expect(readdirSync(BROKEN).sort()).toEqual(cases.map((c) => c.file).sort());
  });

  it.each(cases)('$file: exit 1, $path at line $line', async ({ file, line, path, says }) => {
    const result = await runCli(['validate', '-c', `${BROKEN}/${file}`], { env: { DUALSYNC_FIXTURE_UNSET_SECRET: undefined } });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^Error \\[E_CONFIG\\]: ${BROKEN}/${file}: \\d+ problems?(, \\d+ warnings?)?$`, 'm'));
    const reported = result.stderr.split('\n').find((l) => l.includes(`${BROKEN}/${file}:${line}:`) && l.includes(`  ${path}: `));
    expect(reported, result.stderr).toBeDefined();
    expect(reported).toContain(says);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('Internal error');
  });

  it('all problems of a file are listed at once, in line order', async () => {
    const result = await runCli(['validate', '-c', `${BROKEN}/many-problems.yaml`]);
    const lines = result.stderr.split('\n').filter((l) => l.startsWith(`  ${BROKEN}/many-problems.yaml:`));
    expect(lines.map((l) => l.replace(/^ {2}\S+?:(\d+):\d+ {2}(\S+):.*$/, '$1 $2'))).toEqual([
      '5 source.prefix',
      '7 source.listAPI',
      '12 staging.volumes[0]',
      '14 transfer.workers',
      '15 transfer.verify',
    ]);
    expect(result.stderr).toContain('Error [E_CONFIG]: fixtures/config/broken/many-problems.yaml: 5 problems');
    expect(result.stderr).toContain('unknown field `listAPI` (did you mean `listApi`?)');
  });

  it('an inline secret is never echoed, even next to an error', async () => {
    const result = await runCli(['validate', '-c', `${BROKEN}/missing-env-var.yaml`]);
    expect(result.stderr).toContain('warning: source.credentials.accessKeyId: inline secret in the config file');
    expect(result.stderr).not.toContain('AKIAIOSFODNN7EXAMPLE');
  });

  it('a missing config file says so and suggests dualsync init', async () => {
    const result = await runCli(['validate', '-c', 'fixtures/config/no-such.yaml']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Error [E_CONFIG_MISSING]: config file fixtures/config/no-such.yaml does not exist');
    expect(result.stderr).toContain('dualsync init');
  });
});

describe('dualsync validate on good configs', () => {
  it('sync.example.yaml validates in a fresh checkout', async () => {
    const result = await runCli(['validate', '-c', 'sync.example.yaml']);
    expect(result).toEqual({
      exitCode: 0,
      stdout: 'sync.example.yaml is valid: source s3://field-data/sensors/ (https://192.0.2.10:8443) -> 2 volumes -> destination s3://archive/site-7/ (AWS us-east-1)\n',
      stderr: '',
    });
  });

  it('the minimal fixture validates with every default', async () => {
    const result = await runCli(['validate', '-c', 'fixtures/config/good/minimal.yaml']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('fixtures/config/good/minimal.yaml is valid: source s3://field-data/ (AWS us-east-1) -> 2 volumes -> destination s3://archive/ (AWS us-east-1)\n');
  });

  it('the Snowball fixture validates when its variables are set, and prints its warnings', async () => {
    const env = { EDGE_ACCESS_KEY_ID: 'AKIDEDGE', EDGE_SECRET_ACCESS_KEY: 'edge-secret' };
    const result = await runCli(['validate', '-c', 'fixtures/config/good/snowball.yaml'], { env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('-> 2 volumes ->');
    expect(result.stderr).toBe('');
  });

  it('warnings are printed with their line but do not fail validation, and secrets stay hidden', async () => {
    const result = await runCli(['validate', '-c', 'fixtures/config/good/inline-secrets.yaml']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('is valid: source s3://field-data/ (https://192.0.2.10:8443) -> 1 volume -> destination');
    expect(result.stderr.split('\n').filter(Boolean).map((l) => l.replace(/ \(.*$/, ''))).toEqual([
      'fixtures/config/good/inline-secrets.yaml:7:18  warning: source.tls.verify: TLS certificates are not verified on this hop',
      'fixtures/config/good/inline-secrets.yaml:9:18  warning: source.credentials.accessKeyId: inline secrets in the config file',
    ]);
    expect(result.stderr).not.toMatch(/AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI/);
  });
});

describe('dualsync validate on slips a new operator makes', () => {
  /** A config in a fresh folder with one volume; `hop` is the source's lines after its bucket. */
  async function withConfig(source: string, destinationExtra: string, run: (path: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'dualsync-validate-'));
    try {
      await mkdir(join(dir, 'volume-a'));
      const text = `version: 1\nsource:\n  bucket: field-data\n${source}destination:\n  bucket: archive\n  region: us-east-1\n${destinationExtra}staging:\n  volumes: [./volume-a]\n`;
      await writeFile(join(dir, 'sync.yaml'), text);
      await run(join(dir, 'sync.yaml'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('an HTTPS Snowball source without tls.caBundle (as import-legacy writes it) passes with a warning saying what to do', async () => {
    await withConfig('  region: snow\n  endpoint: https://192.0.2.10:8443\n', '', async (path) => {
      const result = await runCli(['validate', '-c', path]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain('is valid');
      const warning = result.stderr.split('\n').find((l) => l.startsWith(`${path}:5:13  warning: source.endpoint: `));
      expect(warning, result.stderr).toBeDefined();
      expect(warning).toMatch(/E_S3_TLS.*snowballEdge get-certificate.*tls\.caBundle/);
    });
  });

  it('one unquoted ${VAR} slip in flow style is one problem naming its line, not a page of token errors', async () => {
    const env = { DST_KEY: 'AKID', DST_SECRET: 'secret' };
    await withConfig('  region: us-east-1\n', '  credentials: { accessKeyId: ${DST_KEY}, secretAccessKey: ${DST_SECRET} }\n', async (path) => {
      const result = await runCli(['validate', '-c', path], { env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^Error \\[E_CONFIG\\]: ${path}: 1 problem$`, 'm'));
      expect(result.stderr).toContain(`${path}:8:31  (yaml): `);
      expect(result.stderr).toContain('quote it');
    });
  });
});
