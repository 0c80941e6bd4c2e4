import { describe, expect, it } from 'vitest';
import { resolvePosix } from '../../src/config/meaning.ts';
import { parseConfig, type Diagnostic } from '../../src/config/parse.ts';
import { closest, editDistance } from '../../src/config/schema-errors.ts';
import { configSchema, DEFAULTS } from '../../src/config/schema.ts';

const BASE = '/srv/site7';

/** A small valid config; each test adds or replaces lines. */
const MINIMAL = `version: 1
source:
  bucket: field-data
  region: us-east-1
destination:
  bucket: archive
  region: us-east-1
staging:
  volumes: [/mnt/volume-*]
`;

function parse(text: string, env: Record<string, string> = {}) {
  return parseConfig(text, 'sync.yaml', env, BASE);
}

function errorsOf(text: string, env: Record<string, string> = {}): Diagnostic[] {
  return parse(text, env).diagnostics.filter((d) => d.severity === 'error');
}

function only<T>(items: T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}

describe('parseConfig: defaults', () => {
  it('a minimal config gets every documented default', () => {
    const { config, diagnostics } = parse(MINIMAL);
    expect(diagnostics).toEqual([]);
    expect(config).toEqual({
      version: 1,
      file: 'sync.yaml',
      source: {
        bucket: 'field-data',
        prefix: '',
        region: 'us-east-1',
        addressing: 'virtual',
        tls: { verify: true },
        listApi: 'v2',
        credentials: { kind: 'default' },
      },
      destination: {
        bucket: 'archive',
        prefix: '',
        region: 'us-east-1',
        addressing: 'virtual',
        tls: { verify: true },
        listApi: 'v2',
        credentials: { kind: 'default' },
      },
      staging: { volumes: ['/mnt/volume-*'], reserve: { kind: 'percent', percent: 5 } },
      stateDir: '/srv/site7/.dualsync',
      transfer: {
        maxBatchBytes: 500 * 1024 ** 3,
        maxUploadBatchBytes: 500 * 1024 ** 3,
        workers: 256,
        concurrency: 5,
        partSizeBytes: 50 * 1024 ** 2,
        verify: 'size',
        adopt: 'content',
        purgeAfterUpload: true,
        stallTimeoutMs: 120_000,
        include: ['**'],
        exclude: [],
        retryBackoff: { maxMs: 6 * 3_600_000 },
      },
      watch: { intervalMs: 30_000 },
    });
  });

  it('a Snowball source (region snow) lists with v1 and caps connections at 500', () => {
    const text = MINIMAL.replace('  region: us-east-1\ndestination', '  region: snow\n  endpoint: https://192.0.2.10:8443\ndestination');
    const { config } = parse(text);
    expect(config?.source).toMatchObject({ region: 'snow', listApi: 'v1', maxConnections: 500, addressing: 'path', endpoint: 'https://192.0.2.10:8443' });
    expect(config?.destination.maxConnections).toBeUndefined();
    expect(config?.destination.listApi).toBe('v2');
  });

  it('explicit settings win over the Snowball defaults', () => {
    const text = MINIMAL.replace('  region: us-east-1\ndestination', '  region: snow\n  listApi: v2\n  maxConnections: 200\n  addressing: virtual\ndestination');
    const { config, diagnostics } = parse(text);
    expect(config?.source).toMatchObject({ listApi: 'v2', maxConnections: 200, addressing: 'virtual' });
    expect(only(diagnostics)).toMatchObject({ severity: 'warning', path: 'source.listApi', line: 5, message: expect.stringContaining('1,000 keys') });
  });

  it('relative paths resolve against the config folder, absolute ones stay', () => {
    const text = `${MINIMAL.replace('[/mnt/volume-*]', '[./staging/vol-*, ../shared, /data/v1]')}stateDir: state/../.state\n`;
    const { config } = parse(text);
    expect(config?.staging.volumes).toEqual(['/srv/site7/staging/vol-*', '/srv/shared', '/data/v1']);
    expect(config?.stateDir).toBe('/srv/site7/.state');
  });

  it('a trailing slash on the endpoint is dropped', () => {
    const { config } = parse(MINIMAL.replace('  region: us-east-1\ndestination', '  region: us-east-1\n  endpoint: http://127.0.0.1:9000/\ndestination'));
    expect(config?.source.endpoint).toBe('http://127.0.0.1:9000');
  });

  it('the schema documents the same defaults the parser applies', () => {
    const transfer = configSchema.properties?.transfer?.properties ?? {};
    const hop = configSchema.definitions?.hop?.properties ?? {};
    expect({
      prefix: hop.prefix?.default,
      tlsVerify: hop.tls?.properties?.verify?.default,
      bandwidth: hop.bandwidth?.default,
      reserve: configSchema.properties?.staging?.properties?.reserve?.default,
      stateDir: configSchema.properties?.stateDir?.default,
      maxBatchBytes: transfer.maxBatchBytes?.default,
      maxUploadBatchBytes: transfer.maxUploadBatchBytes?.default,
      workers: transfer.workers?.default,
      concurrency: transfer.concurrency?.default,
      partSize: transfer.partSize?.default,
      verify: transfer.verify?.default,
      adopt: transfer.adopt?.default,
      purgeAfterUpload: transfer.purgeAfterUpload?.default,
      include: transfer.include?.default,
      exclude: transfer.exclude?.default,
      retryBackoffMax: transfer.retryBackoff?.properties?.max?.default,
      watchInterval: configSchema.properties?.watch?.properties?.interval?.default,
      stallTimeout: transfer.stallTimeout?.default,
    }).toEqual({ ...DEFAULTS, snowMaxConnections: undefined, include: [...DEFAULTS.include], exclude: [] });
    expect(hop.maxConnections?.description).toContain(`${DEFAULTS.snowMaxConnections} when region is \`snow\``);
  });
});

describe('parseConfig: credentials', () => {
  const withCredentials = (lines: string) => MINIMAL.replace('  region: us-east-1\ndestination', `  region: us-east-1\n  credentials:\n${lines}destination`);

  it('${VAR} references are resolved from the environment and are not inline', () => {
    const text = withCredentials('    accessKeyId: ${EDGE_ID}\n    secretAccessKey: ${EDGE_SECRET}\n');
    const { config, diagnostics } = parse(text, { EDGE_ID: 'AKIDEDGE', EDGE_SECRET: 's3cr3t-edge' });
    expect(diagnostics).toEqual([]);
    expect(config?.source.credentials).toEqual({ kind: 'static', accessKeyId: 'AKIDEDGE', secretAccessKey: 's3cr3t-edge', inline: false });
  });

  it('a reference inside a longer value is resolved in place', () => {
    const text = MINIMAL.replace('bucket: archive', 'bucket: archive-${SITE}');
    expect(parse(text, { SITE: 'site7' }).config?.destination.bucket).toBe('archive-site7');
  });

  it('inline secrets are accepted with one warning per hop that never shows the secret', () => {
    const text = withCredentials('    accessKeyId: AKIDLITERAL\n    secretAccessKey: literal-secret-value\n    sessionToken: literal-token\n');
    const { config, diagnostics } = parse(text);
    expect(config?.source.credentials).toMatchObject({ kind: 'static', inline: true, sessionToken: 'literal-token' });
    const warning = only(diagnostics);
    expect(warning).toMatchObject({ severity: 'warning', path: 'source.credentials.accessKeyId', line: 6, column: 18 });
    expect(warning.message).toContain('accessKeyId, secretAccessKey, sessionToken');
    expect(JSON.stringify(diagnostics)).not.toMatch(/literal-secret-value|literal-token|AKIDLITERAL/);
  });

  it('a missing variable is an error naming the variable and the field', () => {
    const text = withCredentials('    accessKeyId: ${EDGE_ID}\n    secretAccessKey: ${EDGE_SECRET}\n');
    const error = only(errorsOf(text, { EDGE_ID: 'x' }));
    expect(error).toMatchObject({ path: 'source.credentials.secretAccessKey', line: 7, column: 22 });
    expect(error.message).toBe('environment variable EDGE_SECRET is not set');
  });

  it('a profile alone is a profile', () => {
    expect(parse(withCredentials('    profile: snowball\n')).config?.source.credentials).toEqual({ kind: 'profile', profile: 'snowball' });
  });

  it('a profile with static keys is refused at the key', () => {
    const error = only(errorsOf(withCredentials('    profile: snowball\n    accessKeyId: AKID\n')));
    expect(error).toMatchObject({ path: 'source.credentials.accessKeyId', line: 7, column: 5, message: '`accessKeyId` cannot be combined with `profile`' });
  });

  it('a key without its secret names the missing field', () => {
    const error = only(errorsOf(withCredentials('    accessKeyId: ${ID}\n'), { ID: 'x' }));
    expect(error).toMatchObject({ path: 'source.credentials.secretAccessKey', line: 5, message: 'missing required field `secretAccessKey`' });
    expect(error.hint).toContain('default AWS chain');
  });
});

describe('parseConfig: diagnostics', () => {
  it('an unknown key is reported at the key, with the sibling it was meant to be', () => {
    const error = only(errorsOf(`${MINIMAL}transfer:\n  wokrers: 16\n`));
    expect(error).toMatchObject({ path: 'transfer.wokrers', line: 11, column: 3, message: 'unknown field `wokrers`', hint: 'did you mean `workers`?' });
  });

  it('a field written at the wrong level points at where it belongs', () => {
    const error = only(errorsOf(`${MINIMAL}workers: 16\n`));
    expect(error).toMatchObject({ path: 'workers', line: 10, column: 1 });
    expect(error.hint).toBe('`workers` belongs under `transfer`: did you mean `transfer.workers`?');
  });

  it('snake_case spellings are recognised as the camelCase field', () => {
    const error = only(errorsOf(`${MINIMAL}transfer:\n  max_batch_bytes: 1GiB\n`));
    expect(error.hint).toBe('did you mean `maxBatchBytes`?');
  });

  it('a value error is placed on the value', () => {
    const error = only(errorsOf(`${MINIMAL}transfer:\n  workers: -4\n`));
    expect(error).toMatchObject({ path: 'transfer.workers', line: 11, column: 12, message: 'must be at least 1 (got -4)' });
  });

  it('transfer.stallTimeout: a duration of at least 1s', () => {
    expect(parse(`${MINIMAL}transfer:\n  stallTimeout: 45s\n`).config?.transfer.stallTimeoutMs).toBe(45_000);
    expect(only(errorsOf(`${MINIMAL}transfer:\n  stallTimeout: 200ms\n`))).toMatchObject({ path: 'transfer.stallTimeout', message: 'must be at least 1s' });
    expect(only(errorsOf(`${MINIMAL}transfer:\n  stallTimeout: soon\n`)).message).toContain('a duration such as 30s');
  });

  it('a bad enum value suggests the closest allowed value', () => {
    const error = only(errorsOf(`${MINIMAL}transfer:\n  verify: etags\n`));
    expect(error).toMatchObject({ path: 'transfer.verify', message: 'expected one of `size`, `etag`', hint: 'did you mean `etag`?' });
  });

  it('a size, duration or bucket name gets one message saying what is expected', () => {
    const text = `${MINIMAL.replace('bucket: archive', 'bucket: Archive_7')}transfer:\n  maxBatchBytes: 5 gigs\nwatch:\n  interval: 30\n`;
    const errors = errorsOf(text);
    expect(errors.map((e) => [e.path, e.line])).toEqual([
      ['destination.bucket', 6],
      ['transfer.maxBatchBytes', 11],
      ['watch.interval', 13],
    ]);
    expect(errors[0]?.message).toContain('an S3 bucket name');
    expect(errors[1]?.message).toBe('expected a size such as 500GiB, 1.5TB or a byte count (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) (got "5 gigs")');
    expect(errors[2]?.message).toContain('a duration such as 30s');
  });

  it('transfer.retryBackoff: base and max as durations; base left out means the watch interval', () => {
    expect(parse(`${MINIMAL}transfer:\n  retryBackoff: { base: 1m, max: 2h }\n`).config?.transfer.retryBackoff).toEqual({ baseMs: 60_000, maxMs: 2 * 3_600_000 });
    expect(parse(`${MINIMAL}transfer:\n  retryBackoff: { max: 1h }\n`).config?.transfer.retryBackoff).toEqual({ maxMs: 3_600_000 });
    const errors = errorsOf(`${MINIMAL}transfer:\n  retryBackoff: { base: 0s, max: soon, maxx: 1h }\n`);
    expect(errors.map((e) => e.path)).toEqual(['transfer.retryBackoff.base', 'transfer.retryBackoff.max', 'transfer.retryBackoff.maxx']);
    expect(errors.find((e) => e.path === 'transfer.retryBackoff.base')?.message).toBe('must be longer than 0');
  });

  it('a missing required section is reported at the top, and one in a hop at the hop', () => {
    const errors = errorsOf(MINIMAL.replace('staging:\n  volumes: [/mnt/volume-*]\n', '').replace('  bucket: archive\n', ''));
    expect(errors.map((e) => [e.path, e.line, e.column])).toEqual([
      ['staging', 1, 1],
      ['destination.bucket', 5, 1],
    ]);
  });

  it('every problem is reported at once, sorted by line', () => {
    const text = `version: 2
source:
  bucket: field-data
  prefix: /sensors
  region: us-east-1
  endpoint: ftp://192.0.2.10
destination:
  bucket: archive
  prefix: site-7
  region: us-east-1
staging:
  volumes: []
  reserve: 100%
transfer:
  partSize: 7.5MiB
  maxUploadBatchBytes: 0
  concurrency: 65
`;
    const errors = errorsOf(text);
    expect(errors.map((e) => `${e.line}:${e.path}`)).toEqual([
      '1:version',
      '4:source.prefix',
      '6:source.endpoint',
      '9:destination.prefix',
      '12:staging.volumes',
      '13:staging.reserve',
      '15:transfer.partSize',
      '16:transfer.maxUploadBatchBytes',
      '17:transfer.concurrency',
    ]);
    expect(errors[1]?.hint).toBe('write "sensors/"');
    expect(errors[3]?.hint).toBe('write "site-7/"');
  });

  it('a YAML syntax error is reported at its line and stops there', () => {
    const errors = errorsOf('version: 1\nsource:\n  bucket: field-data\n region: snow\n');
    expect(only(errors)).toMatchObject({ path: '(yaml)', line: 4, column: 1, message: 'All mapping items must start at the same column' });
  });

  it('a duplicate key is a syntax error at the second key', () => {
    const errors = errorsOf(MINIMAL.replace('  region: us-east-1\ndestination', '  region: us-east-1\n  region: snow\ndestination'));
    expect(only(errors)).toMatchObject({ path: '(yaml)', line: 5, hint: 'a field may appear once; remove one of the two' });
  });

  it('an empty file says what the top level must hold', () => {
    const errors = errorsOf('');
    expect(errors[0]).toMatchObject({ path: '(root)', line: 1, message: 'is empty; expected a mapping of fields' });
  });

  it('source and destination in one bucket with overlapping prefixes are refused', () => {
    const text = MINIMAL.replace('bucket: archive', 'bucket: field-data\n  prefix: sensors/a/').replace('  bucket: field-data\n  region', '  bucket: field-data\n  prefix: sensors/\n  region');
    expect(only(errorsOf(text))).toMatchObject({ path: 'destination.bucket', message: expect.stringContaining('the same place') });
  });

  it('the same bucket name on two different endpoints is two places', () => {
    const text = MINIMAL.replace('bucket: archive', 'bucket: field-data\n  endpoint: http://127.0.0.1:9001');
    expect(errorsOf(text)).toEqual([]);
  });

  it('volumes and stateDir become references for the disk checks, with positions', () => {
    const { references } = parse(`${MINIMAL}stateDir: /var/lib/dualsync\n`);
    expect(references).toEqual([
      { kind: 'volume', path: '/mnt/volume-*', written: '/mnt/volume-*', field: 'staging.volumes[0]', line: 9, column: 13 },
      { kind: 'stateDir', path: '/var/lib/dualsync', written: '/var/lib/dualsync', field: 'stateDir', line: 10, column: 11 },
    ]);
  });

  it('a path starting with ~ is refused rather than taken literally', () => {
    expect(only(errorsOf(`${MINIMAL}stateDir: ~/dualsync\n`))).toMatchObject({ path: 'stateDir', message: '`~` is not expanded in paths' });
  });
});

describe('did you mean', () => {
  it.each([
    ['a transposition', 'wokrers', ['workers', 'verify'], 'workers'],
    ['a missing letter', 'concurency', ['concurrency', 'partSize'], 'concurrency'],
    ['another case', 'StateDir', ['stateDir', 'staging'], 'stateDir'],
    ['snake_case', 'purge_after_upload', ['purgeAfterUpload'], 'purgeAfterUpload'],
    ['nothing close', 'colour', ['workers', 'verify'], undefined],
  ])('%s: %s', (_situation, name, candidates, expected) => {
    expect(closest(name, candidates)).toBe(expected);
  });

  it('edit distance counts insertions, deletions, substitutions and swaps', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('resolvePosix', () => {
  it.each([
    ['a relative path', '/a/b', 'c', '/a/b/c'],
    ['a dot path', '/a/b', './c/./d', '/a/b/c/d'],
    ['a parent path', '/a/b', '../c', '/a/c'],
    ['an absolute path', '/a/b', '/x/y/', '/x/y'],
    ['a glob', '/a', './vol-*', '/a/vol-*'],
    ['above the root', '/a', '../../x', '/x'],
  ])('%s', (_situation, base, path, expected) => {
    expect(resolvePosix(base, path)).toBe(expected);
  });
});

describe('parseConfig: include and exclude', () => {
  it('an invalid glob is reported at its entry', () => {
    const error = only(errorsOf(`${MINIMAL}transfer:\n  exclude: ["**/*.tmp", "data/[z-a]*"]\n`));
    expect(error).toMatchObject({ path: 'transfer.exclude[1]', line: 11, column: 25 });
    expect(error.message).toContain('goes from high to low');
  });
});

describe('parseConfig: the same bucket under two names', () => {
  /** Both hops name bucket `edge`: source prefix "" and destination prefix archive/, at the given endpoints and regions. */
  function sameBucket(source: { endpoint?: string; region?: string }, destination: { endpoint?: string; region?: string }, prefixes = ['""', 'archive/']): string {
    const hop = (name: string, prefix: string, side: { endpoint?: string; region?: string }) =>
      [`${name}:`, '  bucket: edge', `  prefix: ${prefix}`, `  region: ${side.region ?? 'us-east-1'}`, ...(side.endpoint === undefined ? [] : [`  endpoint: ${side.endpoint}`])];
    return [
      'version: 1',
      ...hop('source', prefixes[0] as string, source),
      ...hop('destination', prefixes[1] as string, destination),
      'staging:',
      '  volumes: [/mnt/volume-*]',
      '',
    ].join('\n');
  }

  it.each<[string, { endpoint?: string; region?: string }, { endpoint?: string; region?: string }]>([
    ['127.0.0.1 and localhost on one port', { endpoint: 'http://127.0.0.1:9000' }, { endpoint: 'http://localhost:9000' }],
    ['[::1] and 127.0.0.1 on one port', { endpoint: 'http://[::1]:9000' }, { endpoint: 'http://127.0.0.1:9000' }],
    ['host names in another case, trailing slash', { endpoint: 'http://Minio.Site:9000/' }, { endpoint: 'http://minio.site:9000' }],
    ['an explicit default port', { endpoint: 'https://minio.site' }, { endpoint: 'https://minio.site:443' }],
    ['an omitted endpoint and the regional AWS endpoint', {}, { endpoint: 'https://s3.us-east-1.amazonaws.com' }],
    ['an omitted endpoint and the global AWS endpoint', {}, { endpoint: 'https://s3.amazonaws.com' }],
    ['regional and dualstack AWS endpoints', { endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1' }, { endpoint: 'https://s3.dualstack.eu-west-1.amazonaws.com', region: 'eu-west-1' }],
    ['AWS endpoints of two regions (bucket names are global on AWS)', { region: 'eu-west-1' }, { endpoint: 'https://s3-us-west-2.amazonaws.com', region: 'us-west-2' }],
  ])('%s: refused, naming both hops and their fields', (_name, source, destination) => {
    const error = only(errorsOf(sameBucket(source, destination)));
    expect(error).toMatchObject({ path: 'destination.bucket', message: expect.stringContaining('source and destination are the same place') });
    expect(error.message).toContain('source.prefix ""');
    expect(error.message).toContain('destination.prefix "archive/"');
    expect(error.message).toMatch(/source\.endpoint|no source\.endpoint/);
    expect(error.hint).toContain('do not contain each other');
  });

  it.each<[string, { endpoint?: string; region?: string }, { endpoint?: string; region?: string }]>([
    ['two ports of one host', { endpoint: 'http://127.0.0.1:9000' }, { endpoint: 'http://127.0.0.1:9001' }],
    ['AWS and a device', {}, { endpoint: 'https://192.0.2.10:8443' }],
    ['AWS and AWS China', {}, { endpoint: 'https://s3.cn-north-1.amazonaws.com.cn', region: 'cn-north-1' }],
  ])('%s: two places', (_name, source, destination) => {
    expect(errorsOf(sameBucket(source, destination))).toEqual([]);
  });

  it('one place with prefixes side by side is allowed', () => {
    expect(errorsOf(sameBucket({ endpoint: 'http://127.0.0.1:9000' }, { endpoint: 'http://localhost:9000' }, ['data/', 'archive/']))).toEqual([]);
  });

  it('two host names on one port are handed to the DNS check, not decided here', () => {
    const result = parse(sameBucket({ endpoint: 'http://minio-a.site:9000' }, { endpoint: 'http://minio-b.site:9000' }));
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(result.aliases).toEqual([expect.objectContaining({ field: 'destination.bucket', hosts: ['minio-a.site', 'minio-b.site'], message: expect.stringContaining('resolve to one address') })]);
  });

  it('no DNS check when the buckets differ or the prefixes do not nest', () => {
    expect(parse(sameBucket({ endpoint: 'http://minio-a.site:9000' }, { endpoint: 'http://minio-b.site:9000' }, ['data/', 'archive/'])).aliases).toEqual([]);
    expect(parse(MINIMAL).aliases).toEqual([]);
  });
});

describe('parseConfig: slips a new operator makes', () => {
  it('an unquoted ${VAR} in a flow mapping is one problem on its line that says to quote it', () => {
    const text = MINIMAL.replace(
      '  region: us-east-1\nstaging',
      '  region: us-east-1\n  credentials: { accessKeyId: ${DST_KEY}, secretAccessKey: ${DST_SECRET} }\nstaging',
    );
    const error = only(errorsOf(text, { DST_KEY: 'AKID', DST_SECRET: 'secret' }));
    expect(error).toMatchObject({ path: '(yaml)', line: 8, column: 31 });
    expect(error.message).toContain('${DST_KEY}');
    expect(error.hint).toContain('quote it');
    expect(error.hint).toContain('"${DST_KEY}"');
  });

  it('an unquoted ${VAR} in a flow list is found too, one problem per line', () => {
    const text = MINIMAL.replace('[/mnt/volume-*]', '[${STAGING}/a, ${STAGING}/b]');
    const error = only(errorsOf(text, { STAGING: '/mnt' }));
    expect(error).toMatchObject({ path: '(yaml)', line: 9, message: expect.stringContaining('${STAGING}') });
  });

  it('quoted in flow style, or unquoted in block style, ${VAR} is fine', () => {
    const env = { DST_KEY: 'AKID', DST_SECRET: 'secret' };
    const quoted = MINIMAL.replace('  region: us-east-1\nstaging', '  region: us-east-1\n  credentials: { accessKeyId: "${DST_KEY}", secretAccessKey: \'${DST_SECRET}\' }\nstaging');
    expect(parse(quoted, env).diagnostics).toEqual([]);
    const block = MINIMAL.replace('  region: us-east-1\nstaging', '  region: us-east-1\n  credentials:\n    accessKeyId: ${DST_KEY}\n    secretAccessKey: ${DST_SECRET}\nstaging');
    expect(parse(block, env).diagnostics).toEqual([]);
  });

  it('an HTTPS Snowball source without tls.caBundle is a warning that says how to get the certificate', () => {
    const text = MINIMAL.replace('  region: us-east-1\ndestination', '  region: snow\n  endpoint: https://192.0.2.10:8443\ndestination');
    const { config, diagnostics } = parse(text);
    expect(config).toBeDefined();
    const warning = only(diagnostics);
    expect(warning).toMatchObject({ severity: 'warning', path: 'source.endpoint', line: 5 });
    expect(warning.message).toContain('E_S3_TLS');
    expect(warning.hint).toMatch(/snowballEdge get-certificate.*tls\.caBundle/);
  });

  it('no such warning with a caBundle, over http://, with tls.verify: false (warned itself), or off a Snowball', () => {
    const hop = (lines: string) => MINIMAL.replace('  region: us-east-1\ndestination', `${lines}destination`);
    expect(parse(hop('  region: snow\n  endpoint: https://192.0.2.10:8443\n  tls: { caBundle: ./snowball.pem }\n')).diagnostics).toEqual([]);
    expect(parse(hop('  region: snow\n  endpoint: http://192.0.2.10:8080\n')).diagnostics).toEqual([]);
    expect(parse(hop('  region: us-east-1\n  endpoint: https://minio.example:9000\n')).diagnostics).toEqual([]);
    expect(only(parse(hop('  region: snow\n  endpoint: https://192.0.2.10:8443\n  tls: { verify: false }\n')).diagnostics).path).toBe('source.tls.verify');
  });
});
