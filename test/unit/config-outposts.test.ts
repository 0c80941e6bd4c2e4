/**
 * S3 on Outposts access points as a hop's bucket: the config accepts the ARN, names what is wrong
 * with a bad one, and refuses what cannot work with an access point (an endpoint, path-style, a
 * region other than the ARN's unless useArnRegion says so, the alias that s5cmd cannot address).
 * The run files carry the ARN in the form s5cmd reads whole.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type Diagnostic } from '../../src/config/parse.ts';
import { bucketForm, s5cmdBucket } from '../../src/config/outposts.ts';
import { downloadLine } from '../../src/manifest/s5cmd.ts';
import type { Action } from '../../src/model/plan.ts';

const ARN = 'arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01234567890123456/accesspoint/reports';
const ALIAS = 'reports-o01ac5d28a6a232904e8xz5w8ijx1qzlbp3i3kuse10--op-s3';

function configWith(sourceLines: string): string {
  return `version: 1
source:
${sourceLines}destination:
  bucket: archive
  region: us-east-1
staging:
  volumes: [/mnt/volume-*]
`;
}

function diagnosticsOf(sourceLines: string): Diagnostic[] {
  return parseConfig(configWith(sourceLines), 'sync.yaml', {}, '/srv/site').diagnostics;
}

function errorsOf(sourceLines: string): { path: string; message: string; hint?: string }[] {
  return diagnosticsOf(sourceLines)
    .filter((d) => d.severity === 'error')
    .map((d) => ({ path: d.path, message: d.message, ...(d.hint === undefined ? {} : { hint: d.hint }) }));
}

describe('S3 on Outposts access point as a bucket', () => {
  it('the ARN in its region is a valid source, reached virtual-host style at AWS', () => {
    const result = parseConfig(configWith(`  bucket: ${ARN}\n  region: us-west-2\n`), 'sync.yaml', {}, '/srv/site');
    expect(result.diagnostics).toEqual([]);
    expect(result.config?.source).toMatchObject({ bucket: ARN, region: 'us-west-2', addressing: 'virtual' });
    expect(result.config?.source.endpoint).toBeUndefined();
    expect(result.config?.source.useArnRegion).toBeUndefined();
  });

  it('another region is refused unless useArnRegion is set, and then kept', () => {
    expect(errorsOf(`  bucket: ${ARN}\n  region: us-east-1\n`)).toEqual([
      {
        path: 'source.region',
        message: 'is "us-east-1", but the access point in source.bucket is in "us-west-2"',
        hint: "set region: us-west-2, or useArnRegion: true to sign for the ARN's region",
      },
    ]);
    const allowed = parseConfig(configWith(`  bucket: ${ARN}\n  region: us-east-1\n  useArnRegion: true\n`), 'sync.yaml', {}, '/srv/site');
    expect(allowed.diagnostics).toEqual([]);
    expect(allowed.config?.source.useArnRegion).toBe(true);
  });

  it('an endpoint and path-style addressing are refused, each on its field', () => {
    const errors = errorsOf(`  bucket: ${ARN}\n  region: us-west-2\n  endpoint: https://outpost.example:443\n  addressing: path\n`);
    expect(errors.map((e) => e.path)).toEqual(['source.endpoint', 'source.addressing']);
    expect(errors[0]?.message).toContain('s5cmd turns any --endpoint-url into path-style requests');
    expect(errors[1]?.message).toBe('S3 on Outposts access points answer virtual-host-style requests only');
  });

  it('the alias is refused with the reason and what to write instead', () => {
    const [error] = errorsOf(`  bucket: ${ALIAS}\n  region: us-west-2\n`);
    expect(error?.path).toBe('source.bucket');
    expect(error?.message).toContain('access point alias cannot be used');
    expect(error?.hint).toContain('write the access point ARN');
  });

  it('useArnRegion on a plain bucket is a warning that it does nothing', () => {
    const diagnostics = diagnosticsOf('  bucket: field-data\n  region: us-east-1\n  useArnRegion: true\n');
    expect(diagnostics.map((d) => [d.severity, d.path, d.message])).toEqual([['warning', 'source.useArnRegion', 'has no effect: the bucket is not an S3 on Outposts access point ARN']]);
  });

  const malformed: [string, string, string][] = [
    ['too few parts', 'arn:aws:s3-outposts:us-west-2', 'is not a complete ARN'],
    ['a regional S3 access point', 'arn:aws:s3:us-west-2:123456789012:accesspoint/reports', 'only S3 on Outposts access points'],
    ['an unknown partition', 'arn:amazon:s3-outposts:us-west-2:123456789012:outpost/op-01234567890123456/accesspoint/reports', 'has the partition "amazon"'],
    ['no region', 'arn:aws:s3-outposts::123456789012:outpost/op-01234567890123456/accesspoint/reports', 'has no region'],
    ['a bad region', 'arn:aws:s3-outposts:uswest2:123456789012:outpost/op-01234567890123456/accesspoint/reports', 'has the region "uswest2"'],
    ['a short account', 'arn:aws:s3-outposts:us-west-2:12345:outpost/op-01234567890123456/accesspoint/reports', 'has the account "12345"'],
    ['a bad Outpost ID', 'arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-123/accesspoint/reports', 'has the Outpost ID "op-123"'],
    ['an Outposts bucket', 'arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01234567890123456/bucket/raw', 'names an Outposts bucket, not an access point'],
    ['no access point name', 'arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01234567890123456/accesspoint/', 'has the access point name ""'],
    ['upper-case name', 'arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01234567890123456/accesspoint/Reports', 'has the access point name "Reports"'],
  ];
  it.each(malformed)('a malformed ARN (%s) is refused on source.bucket, naming the part', (_situation, bucket, words) => {
    const errors = errorsOf(`  bucket: ${JSON.stringify(bucket)}\n  region: us-west-2\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe('source.bucket');
    expect(errors[0]?.message).toContain(words);
  });

  it('a plain bad bucket name still gets the schema message, which mentions the ARN form', () => {
    const [error] = errorsOf('  bucket: Field_Data\n  region: us-east-1\n');
    expect(error?.path).toBe('source.bucket');
    expect(error?.message).toContain('an S3 bucket name');
    expect(error?.message).toContain('S3 on Outposts access point ARN');
  });

  it('the run file names the access point in its `:` form, which s5cmd does not cut at a `/`', () => {
    expect(bucketForm(ARN).kind).toBe('outposts-arn');
    const colonForm = 'arn:aws:s3-outposts:us-west-2:123456789012:outpost:op-01234567890123456:accesspoint:reports';
    expect(s5cmdBucket(ARN)).toBe(colonForm);
    expect(s5cmdBucket('field-data')).toBe('field-data');
    const config = parseConfig(configWith(`  bucket: ${ARN}\n  region: us-west-2\n  prefix: logs/\n`), 'sync.yaml', {}, '/srv/site').config!;
    const action = { kind: 'download', key: 'a b.txt', size: 3, etag: 'e', volume: '/mnt/volume-1' } as Action;
    const lineText = downloadLine(action, config, { concurrency: 5 } as never);
    expect(lineText).toContain(`"s3://${colonForm}/logs/a b.txt"`);
    expect(lineText).not.toContain('outpost/op-');
  });
});
