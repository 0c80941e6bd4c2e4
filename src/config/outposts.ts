/**
 * S3 on Outposts access points as a hop's bucket: their ARN
 * (`arn:aws:s3-outposts:REGION:ACCOUNT:outpost/OUTPOST-ID/accesspoint/NAME`) and their alias
 * (`...--op-s3`). What is wrong with one, in words, and the form s5cmd can be given. Pure.
 */

/** The parts of an S3 on Outposts access point ARN. */
export interface OutpostsAccessPoint {
  partition: string;
  region: string;
  account: string;
  outpostId: string;
  name: string;
}

/** What a bucket field holds: a bucket name, an Outposts access point (ARN or alias), or an ARN that is not one. */
export type BucketForm =
  | { kind: 'name' }
  | { kind: 'outposts-arn'; accessPoint: OutpostsAccessPoint }
  | { kind: 'outposts-alias' }
  | { kind: 'bad-arn'; problem: string; hint: string };

const EXAMPLE = 'arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01234567890123456/accesspoint/reports';
const PARTITION = /^aws(-[a-z]+)*$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const ACCOUNT = /^\d{12}$/;
const OUTPOST_ID = /^(op|ec2)-[0-9a-f]{17}$/;
/** Access point names: 3 to 50 lower-case letters, digits and `-`, starting and ending with a letter or digit. */
const ACCESS_POINT_NAME = /^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/;
/** The suffix S3 on Outposts gives every access point alias. */
export const OUTPOSTS_ALIAS_SUFFIX = '--op-s3';

/** Whether a bucket field names an S3 on Outposts access point (by ARN or alias). */
export function isOutpostsBucket(bucket: string): boolean {
  const form = bucketForm(bucket).kind;
  return form === 'outposts-arn' || form === 'outposts-alias';
}

/** Reads a bucket field: a plain name, an Outposts access point ARN or alias, or an ARN and what is wrong with it. */
export function bucketForm(bucket: string): BucketForm {
  if (!bucket.startsWith('arn:')) return bucket.endsWith(OUTPOSTS_ALIAS_SUFFIX) ? { kind: 'outposts-alias' } : { kind: 'name' };
  const bad = (problem: string, hint = `write it as ${EXAMPLE}`): BucketForm => ({ kind: 'bad-arn', problem, hint });
  // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, the resource keeping any further `:`.
  const parts = bucket.split(':');
  if (parts.length < 6) return bad(`is not a complete ARN: it needs six \`:\`-separated parts (arn, partition, service, region, account, resource), it has ${parts.length}`);
  const [, partition = '', service = '', region = '', account = '', ...rest] = parts;
  const resource = rest.join(':');
  if (service !== 's3-outposts') {
    return bad(
      `names the service ${JSON.stringify(service)}; only S3 on Outposts access points (service \`s3-outposts\`) are accepted as an ARN`,
      service === 's3' ? 'for a bucket in a Region, write the bucket name; an S3 access point ARN is not supported' : `write it as ${EXAMPLE}`,
    );
  }
  if (!PARTITION.test(partition)) return bad(`has the partition ${JSON.stringify(partition)}; expected \`aws\` (or another AWS partition such as \`aws-us-gov\`)`);
  if (region === '') return bad('has no region (the fourth part)');
  if (!REGION.test(region)) return bad(`has the region ${JSON.stringify(region)}, which is not a Region name such as us-west-2`);
  if (!ACCOUNT.test(account)) return bad(`has the account ${JSON.stringify(account)}; an account ID is 12 digits`);
  // The resource is `outpost/ID/accesspoint/NAME`; the SDKs also read `:` between its parts.
  const pieces = resource.split(/[/:]/);
  if (pieces[0] !== 'outpost') return bad(`has the resource ${JSON.stringify(resource)}; expected outpost/OUTPOST-ID/accesspoint/NAME`);
  const [, outpostId = '', type = '', name = '', ...extra] = pieces;
  if (!OUTPOST_ID.test(outpostId)) return bad(`has the Outpost ID ${JSON.stringify(outpostId)}; an Outpost ID is \`op-\` and 17 hexadecimal digits`);
  if (type === 'bucket') {
    return bad('names an Outposts bucket, not an access point: Outposts objects are read through an access point', 'create an access point for the bucket (s3control create-access-point) and write its ARN');
  }
  if (type !== 'accesspoint') return bad(`has the resource ${JSON.stringify(resource)}; expected outpost/${outpostId}/accesspoint/NAME`);
  if (!ACCESS_POINT_NAME.test(name) || extra.length > 0) {
    return bad(`has the access point name ${JSON.stringify([name, ...extra].join('/'))}; a name is 3 to 50 lower-case letters, digits and \`-\``);
  }
  return { kind: 'outposts-arn', accessPoint: { partition, region, account, outpostId, name } };
}

/**
 * The bucket as s5cmd must be given it. s5cmd cuts an `s3://` URL's bucket at its first `/`, so an
 * access point ARN goes in its `:`-separated form (`...:outpost:ID:accesspoint:NAME`), which its
 * SDK (aws-sdk-go 1.44.298, which splits an ARN's resource at `/` and `:` alike) reads as the same
 * access point. Any other bucket is given as it is.
 */
export function s5cmdBucket(bucket: string): string {
  const form = bucketForm(bucket);
  if (form.kind !== 'outposts-arn') return bucket;
  const { partition, region, account, outpostId, name } = form.accessPoint;
  return `arn:${partition}:s3-outposts:${region}:${account}:outpost:${outpostId}:accesspoint:${name}`;
}
