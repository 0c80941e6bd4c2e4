import { describe, expect, it } from 'vitest';
import { clockCheck, connectionCheck, credentialSource, listApiCheck } from '../../src/ops/doctor.ts';
import { endpointTarget } from '../../src/inventory/reach.ts';
import { doctorReport, type DoctorCheck } from '../../src/model/doctor.ts';
import { renderDoctor } from '../../src/view/doctor.ts';
import type { HopConfig, TransferConfig } from '../../src/model/config.ts';

const hop = (overrides: Partial<HopConfig> = {}): HopConfig => ({
  bucket: 'field-data',
  prefix: 'sensors/',
  region: 'us-east-1',
  addressing: 'path',
  tls: { verify: true },
  listApi: 'v2',
  credentials: { kind: 'static', accessKeyId: 'AKIA', secretAccessKey: 'secret', inline: false },
  ...overrides,
});

const transfer = (workers: number, concurrency: number): TransferConfig => ({
  maxBatchBytes: 1,
  maxUploadBatchBytes: 1,
  workers,
  concurrency,
  partSizeBytes: 50 * 1024 * 1024,
  verify: 'size',
  adopt: 'content',
  purgeAfterUpload: true,
  stallTimeoutMs: 120_000,
  include: ['**'],
  exclude: [],
  retryBackoff: { maxMs: 6 * 3_600_000 },
});

describe('endpointTarget: where a hop connects', () => {
  it.each([
    ['a Snowball over HTTPS', { endpoint: 'https://192.0.2.10:8443' }, { host: '192.0.2.10', port: 8443, https: true, derived: false }],
    ['a legacy Snowball over HTTP', { endpoint: 'http://192.0.2.10:8080' }, { host: '192.0.2.10', port: 8080, https: false, derived: false }],
    ['HTTPS without a port', { endpoint: 'https://minio.example.org' }, { host: 'minio.example.org', port: 443, https: true, derived: false }],
    ['an IPv6 literal', { endpoint: 'http://[::1]:9000' }, { host: '::1', port: 9000, https: false, derived: false }],
    ['AWS without an endpoint: the regional host', { region: 'eu-west-1' }, { host: 's3.eu-west-1.amazonaws.com', port: 443, https: true, derived: true }],
    ['AWS with virtual addressing: the bucket host', { region: 'us-west-2', addressing: 'virtual' as const }, { host: 'field-data.s3.us-west-2.amazonaws.com', port: 443, https: true, derived: true }],
    ['AWS China', { region: 'cn-north-1' }, { host: 's3.cn-north-1.amazonaws.com.cn', port: 443, https: true, derived: true }],
  ])('%s', (_situation, overrides, expected) => {
    expect(endpointTarget(hop(overrides))).toMatchObject(expected);
  });
});

describe('clockCheck: the server Date header against this machine', () => {
  it.each([
    ['in step', 400, 'pass', /agrees/],
    ['a minute behind', -61_000, 'pass', /61 s behind/],
    ['six minutes ahead: SigV4 still works but is close', 6 * 60_000, 'warn', /6 min ahead of .*fail at 15 min/],
    ['twenty minutes behind: every signed request fails', -20 * 60_000, 'fail', /20 min behind .*refused beyond 15 min/],
  ])('%s', (_situation, skew, status, detail) => {
    const check = clockCheck('source', skew);
    expect(check.status).toBe(status);
    expect(check.detail).toMatch(detail);
    if (status !== 'pass') expect(check.fix).toMatch(/timedatectl/);
  });

  it('is skipped, not passed, when the server gave no answer', () => {
    expect(clockCheck('source', undefined).status).toBe('skip');
  });
});

describe('connectionCheck: workers x concurrency against maxConnections', () => {
  it('passes under the budget and shows the product', () => {
    const check = connectionCheck('source', hop({ maxConnections: 500 }), transfer(64, 5));
    expect(check).toMatchObject({ status: 'pass', detail: 'up to 320 connections: workers 64 x concurrency 5 (within maxConnections 500)' });
  });

  it('warns over the budget and shows the effective workers', () => {
    const check = connectionCheck('source', hop({ region: 'snow', maxConnections: 500 }), transfer(256, 5));
    expect(check.status).toBe('warn');
    expect(check.detail).toMatch(/256 x concurrency 5 = 1280 connections exceeds maxConnections 500/);
    expect(check.detail).toMatch(/effective workers 100 x 5/);
    expect(check.fix).toMatch(/set transfer.workers to 100/);
  });

  it('warns about a Snowball hop without any budget', () => {
    const check = connectionCheck('source', hop({ region: 'snow' }), transfer(256, 5));
    expect(check.status).toBe('warn');
    expect(check.fix).toBe('set source.maxConnections: 500');
  });

  it('passes a cloud hop without a budget', () => {
    expect(connectionCheck('destination', hop(), transfer(256, 5)).status).toBe('pass');
  });
});

describe('listApiCheck: only for a Snowball', () => {
  it.each([
    ['a Snowball on v2: warn, naming listApi: v1', { region: 'snow', listApi: 'v2' as const }, 'warn'],
    ['a Snowball on v1', { region: 'snow', listApi: 'v1' as const }, 'pass'],
  ])('%s', (_situation, overrides, status) => {
    const check = listApiCheck('source', hop(overrides));
    expect(check?.status).toBe(status);
    if (status === 'warn') expect(check?.fix).toBe('set `listApi: v1` under source');
  });

  it('has no row for another server', () => {
    expect(listApiCheck('destination', hop())).toBeUndefined();
  });
});

describe('credentialSource: what to check when keys are refused', () => {
  const yaml = [
    'source:',
    '  credentials:',
    '    accessKeyId: ${EDGE_ACCESS_KEY_ID}',
    '    secretAccessKey: ${EDGE_SECRET_ACCESS_KEY}',
    'destination:',
    '  credentials:',
    '    accessKeyId: AKIAINLINE',
    '    secretAccessKey: inline-secret',
  ].join('\n');

  it.each([
    ['environment references', 'source' as const, hop(), 'the environment variables EDGE_ACCESS_KEY_ID and EDGE_SECRET_ACCESS_KEY'],
    ['inline keys', 'destination' as const, hop(), 'the keys written in the config (destination.credentials)'],
    ['a profile', 'source' as const, hop({ credentials: { kind: 'profile', profile: 'snowball' } }), 'the AWS profile "snowball" (~/.aws/credentials and ~/.aws/config)'],
    ['the default chain', 'source' as const, hop({ credentials: { kind: 'default' } }), expect.stringMatching(/^the default AWS credential chain/)],
  ])('%s', (_situation, side, config, expected) => {
    expect(credentialSource(side, config, yaml)).toEqual(expected);
  });
});

describe('the doctor report and its table', () => {
  const checks: DoctorCheck[] = [
    { scope: 'source', check: 'reachable', status: 'pass', detail: 'TCP connect to 127.0.0.1:9000 in 1 ms' },
    { scope: 'source', check: 'clock', status: 'warn', detail: "the server's clock is 6 min ahead", fix: 'set the clocks right' },
    { scope: 'destination', check: 'list', status: 'fail', detail: 'credentials refused', fix: 'check CLOUD_ACCESS_KEY_ID' },
    { scope: 'destination', check: 'write', status: 'skip', detail: 'not tried' },
  ];

  it('counts each status and fails when any check fails', () => {
    const report = doctorReport('/site/sync.yaml', checks);
    expect(report.counts).toEqual({ pass: 1, warn: 1, fail: 1, skip: 1 });
    expect(report.ok).toBe(false);
    expect(doctorReport('/site/sync.yaml', checks.slice(0, 2)).ok).toBe(true);
  });

  it('shows every check with its result, a fix under each failure or warning, and one summary line', () => {
    const text = renderDoctor(doctorReport('/site/sync.yaml', checks), { width: 120 });
    expect(text).toMatch(/^Config: \/site\/sync.yaml\n/);
    for (const word of ['PASS', 'WARN', 'FAIL', 'SKIP']) expect(text).toContain(word);
    expect(text).toContain('Fix: check CLOUD_ACCESS_KEY_ID');
    expect(text).toContain('Fix: set the clocks right');
    expect(text.trimEnd().split('\n').at(-1)).toBe('Doctor: 1 passed, 1 warning, 1 failed, 1 skipped. Fix the failures above, then run `dualsync doctor` again.');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(120);
  });

  it('wraps a long volume path instead of cutting it', () => {
    const path = '/tmp/dualsync-site-ERhuzS/volumes-of-a-long-name/volume-01';
    const text = renderDoctor(doctorReport('/s.yaml', [{ scope: `volume ${path}`, check: 'space', status: 'pass', detail: 'room' }]), { width: 100 });
    expect(text).not.toContain('…');
    const firstColumn = text
      .split('\n')
      .filter((line) => line.startsWith('│'))
      .map((line) => (line.split('│')[1] ?? '').trim())
      .join('');
    expect(firstColumn).toBe(`scopevolume ${path}`);
  });

  it('says ready when nothing failed', () => {
    const text = renderDoctor(doctorReport('/site/sync.yaml', checks.slice(0, 1)));
    expect(text.trimEnd().split('\n').at(-1)).toBe('Doctor: 1 passed, 0 warnings, 0 failed. Ready.');
  });
});
