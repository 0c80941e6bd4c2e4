import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertLegacyConfig, LEGACY_SECRET_VARIABLES, normalizeLegacyKey } from '../../src/config/legacy.ts';
import { parseConfig } from '../../src/config/parse.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/legacy/${name}`, import.meta.url), 'utf8');
const SECRETS = ['AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AKIAI44QH8DHBEXAMPLE', 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY'];
const ENV = Object.fromEntries(Object.values(LEGACY_SECRET_VARIABLES).map((name) => [name, `env-${name}`]));

function convertAndParse(name: string) {
  const conversion = convertLegacyConfig(fixture(name), `legacy/${name}`, '/opt/transfer_v5', './schemas/sync.schema.json');
  const parsed = parseConfig(conversion.yaml, 'sync.yaml', ENV, '/srv/site7');
  return { conversion, parsed };
}

describe('normalizeLegacyKey', () => {
  it.each([
    ['snake_case with src', 'src_bucket_name', 'source_bucket_name'],
    ['words with spaces', 'Source Bucket Name', 'source_bucket_name'],
    ['dashes and dest', 'dest-secret-access-key', 'destination_secret_access_key'],
    ['parentheses', 'Max Transfer Size (Source to Local)', 'max_transfer_size_source_to_local'],
    ['dst and stray spaces', '  dst_Region ', 'destination_region'],
  ])('%s: %s', (_situation, key, normalized) => {
    expect(normalizeLegacyKey(key)).toBe(normalized);
  });
});

describe('convertLegacyConfig', () => {
  it('snake_case keys: a legacy Snowball over http to AWS, limits carried over', () => {
    const { conversion, parsed } = convertAndParse('config.yaml');
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.config?.source).toMatchObject({
      bucket: 'field-data',
      prefix: 'sensors/',
      region: 'snow',
      endpoint: 'http://192.168.1.50:8080',
      listApi: 'v1',
      maxConnections: 500,
      credentials: { kind: 'static', accessKeyId: 'env-DUALSYNC_SOURCE_ACCESS_KEY_ID', secretAccessKey: 'env-DUALSYNC_SOURCE_SECRET_ACCESS_KEY', inline: false },
    });
    expect(parsed.config?.destination).toMatchObject({ bucket: 'archive', prefix: 'site-7/', region: 'us-east-1', addressing: 'virtual' });
    expect(parsed.config?.destination.endpoint).toBeUndefined();
    expect(parsed.config?.destination.credentials).toMatchObject({ kind: 'static', accessKeyId: 'env-DUALSYNC_DESTINATION_ACCESS_KEY_ID' });
    expect(parsed.config?.staging.volumes).toEqual(['/mnt/transfer']);
    expect(parsed.config?.transfer).toMatchObject({ maxBatchBytes: 500_000_000_000, maxUploadBatchBytes: 400_000_000_000 });
    expect(conversion.secrets).toEqual([
      { variable: 'DUALSYNC_SOURCE_ACCESS_KEY_ID', legacyKey: 'src_access_key' },
      { variable: 'DUALSYNC_SOURCE_SECRET_ACCESS_KEY', legacyKey: 'src_secret_access_key' },
      { variable: 'DUALSYNC_DESTINATION_ACCESS_KEY_ID', legacyKey: 'dest_access_key' },
      { variable: 'DUALSYNC_DESTINATION_SECRET_ACCESS_KEY', legacyKey: 'dest_secret_access_key' },
    ]);
    expect(conversion.notes).toEqual([expect.stringContaining('was not implemented in transfer_v5')]);
  });

  it('space-separated keys in sections: prefix repaired, relative directory made absolute, empty keys mean the default chain', () => {
    const { conversion, parsed } = convertAndParse('config-spaced.yaml');
    // The device's certificate is not in the legacy file: validate warns until tls.caBundle is set.
    expect(parsed.diagnostics).toEqual([expect.objectContaining({ severity: 'warning', path: 'source.endpoint', message: expect.stringContaining('E_S3_TLS') })]);
    expect(parsed.config?.source).toMatchObject({ prefix: 'sensors/', endpoint: 'https://192.168.1.50', region: 'snow' });
    expect(parsed.config?.destination).toMatchObject({ prefix: '', credentials: { kind: 'default' } });
    expect(parsed.config?.staging.volumes).toEqual(['/opt/transfer_v5/staging']);
    expect(parsed.config?.transfer.maxBatchBytes).toBe(1024 ** 3);
    expect(parsed.config?.transfer.maxUploadBatchBytes).toBe(500 * 1024 ** 3);
    expect(conversion.yaml).toContain('# tls: { caBundle: ./snowball.pem }');
    expect(conversion.secrets.map((s) => s.legacyKey)).toEqual(['Source Access Key', 'Source Secret Access Key']);
    expect(conversion.notes).toEqual([
      'ignored the unknown key "Log Level"',
      'source prefix "/sensors" became "sensors/" (no leading \'/\', a trailing \'/\')',
      'the source is a Snowball Edge over https: save its certificate and set source.tls.caBundle',
      'the destination had no access keys: dualsync will use the default AWS credential chain',
      'the relative intermediary directory "./staging" became /opt/transfer_v5/staging',
    ]);
  });

  it.each(['config.yaml', 'config-spaced.yaml'])('%s: no secret reaches the new file', (name) => {
    const { conversion } = convertAndParse(name);
    for (const secret of SECRETS) expect(conversion.yaml).not.toContain(secret);
  });

  it('an unfilled legacy file is refused with every missing field', () => {
    expect(() => convertLegacyConfig(fixture('unfilled.yaml'), 'config.yaml', '/opt', 'x')).toThrow(
      expect.objectContaining({
        code: 'E_LEGACY',
        details: [
          'source bucket name is missing or empty (key src_bucket_name)',
          'source region is missing or empty (key src_region)',
          'destination bucket name is missing or empty (key dest_bucket_name)',
          'destination region is missing or empty (key dest_region)',
          'intermediary directory is missing or empty (key intermediary_directory)',
        ],
      }),
    );
  });

  it('values that dualsync would refuse are reported by field before anything is written', () => {
    const text = fixture('config.yaml').replace('"archive"', '"Archive_Bucket"');
    expect(() => convertLegacyConfig(text, 'config.yaml', '/opt', 'x')).toThrow(
      expect.objectContaining({ message: 'config.yaml: the converted config would not be valid', details: [expect.stringMatching(/^destination.bucket: expected an S3 bucket name/)] }),
    );
  });

  it('a limit that is not a number is refused', () => {
    const text = fixture('config.yaml').replace('max_transfer_size_src_to_local: 500000000000', 'max_transfer_size_src_to_local: "lots"');
    expect(() => convertLegacyConfig(text, 'config.yaml', '/opt', 'x')).toThrow(
      expect.objectContaining({ details: ['max transfer size (source to local), in bytes, "lots" is not a number'] }),
    );
  });

  it('a file that is not a mapping is refused', () => {
    expect(() => convertLegacyConfig('- a\n- b\n', 'config.yaml', '/opt', 'x')).toThrow(/is not a transfer_v5 config.yaml/);
  });
});
