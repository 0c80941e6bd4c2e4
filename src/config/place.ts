/**
 * Whether the two hops name the same bucket on the same server, so that one could read the
 * other's output. Pure: what can be told from the config text alone; load.ts adds what DNS tells.
 */

/**
 * Where a hop's requests go. AWS S3 is one place per partition, whatever the regional or dualstack
 * host: bucket names are unique within a partition, so one bucket name on two AWS endpoints is one
 * bucket. Any other endpoint is its host and port (the scheme's default when none is written).
 */
export type EndpointPlace = { kind: 'aws'; partition: string } | { kind: 'host'; host: string; port: number };

/** The place of an endpoint as written in the config (undefined: AWS's own for `region`). */
export function endpointPlace(endpoint: string | undefined, region: string): EndpointPlace | undefined {
  if (endpoint === undefined) return { kind: 'aws', partition: awsPartition(region, '') };
  const url = URL.parse(endpoint);
  if (url === null || url.hostname === '') return undefined;
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (isAwsS3Host(host)) return { kind: 'aws', partition: awsPartition(region, host) };
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { kind: 'host', host, port };
}

/**
 * AWS's S3 hosts: s3.amazonaws.com, s3.<region>.amazonaws.com, s3-<region>.amazonaws.com,
 * s3.dualstack.<region>.amazonaws.com, s3-fips.<region>.amazonaws.com, and the .com.cn twins.
 */
function isAwsS3Host(host: string): boolean {
  return /^s3[.-]([a-z0-9-]+\.)*amazonaws\.com(\.cn)?$/.test(host);
}

function awsPartition(region: string, host: string): string {
  if (host.endsWith('.amazonaws.com.cn') || region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-') || host.includes('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** True when the two places are the same by the text alone (DNS may tell more of `host` places). */
export function samePlaceByText(a: EndpointPlace, b: EndpointPlace): boolean {
  if (a.kind === 'aws') return b.kind === 'aws' && a.partition === b.partition;
  if (b.kind === 'aws') return false;
  return a.port === b.port && loopbackOr(a.host) === loopbackOr(b.host);
}

/**
 * 'loopback' for a name or address of this machine's loopback interface (localhost, 127.0.0.0/8,
 * ::1, and 0.0.0.0, which connects there too), else the host itself. A server listening on a port
 * of all interfaces answers on every one of them, so these are one place.
 */
export function loopbackOr(host: string): string {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || bare === '0.0.0.0' || bare === '::') return 'loopback';
  if (/^127\.\d+\.\d+\.\d+$/.test(bare) || /^::ffff:127\./.test(bare)) return 'loopback';
  return bare;
}

/** One prefix contains the other ('' contains every prefix); prefixes end in '/' or are ''. */
export function nestedPrefixes(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}
