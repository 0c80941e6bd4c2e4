/**
 * What the schema cannot say, checked over the schema-valid value by field path: prefixes,
 * URLs, sizes and durations in range, globs, TLS and Snowball advice, inline secrets, source and
 * destination in one place, and the local paths that load.ts checks on disk. Pure. The values it
 * converts are kept in `Checked` for the config builder.
 */
import { isDualsyncError } from '../errors.ts';
import type { Bandwidth, Reserve } from '../model/config.ts';
import { parseBandwidth } from './bandwidth.ts';
import { compileGlob } from './glob.ts';
import { bucketForm } from './outposts.ts';
import { endpointPlace, nestedPrefixes, samePlaceByText } from './place.ts';
import { fieldPath, stringAt, valueAt, type Reporter, type Segment } from './positions.ts';
import { DEFAULTS, SNOW } from './schema.ts';
import { parseDuration, parsePercentOrSize, parseSize } from './units.ts';

/** A path named by the config that only the disk can check; load.ts checks each one. */
export interface PathReference {
  kind: 'volume' | 'caBundle' | 'stateDir';
  /** Absolute (resolved against the config file's folder); a volume entry may be a glob. */
  path: string;
  /** The entry as written, for messages. */
  written: string;
  field: string;
  line: number;
  column: number;
}

/**
 * Source and destination name one bucket with nested prefixes on two host names with one port:
 * the same place if the names resolve to one address, which load.ts asks DNS.
 */
export interface EndpointAliasCheck {
  field: string;
  line: number;
  column: number;
  hosts: [string, string];
  /** The error to report when the hosts are one. */
  message: string;
  hint: string;
}

const MIB = 1024 * 1024;
/** A Snowball Edge drops connections beyond this many. */
const SNOW_CONNECTION_LIMIT = 1000;

/** Values that the meaning checks already converted, so that the config builder reuses them. */
export interface Checked {
  sizes: Map<string, number>;
  reserve?: Reserve;
  intervalMs?: number;
  stallTimeoutMs?: number;
  /** Each hop's parsed `bandwidth`, by side. */
  bandwidth: Map<'source' | 'destination', Bandwidth>;
  /** Converted durations of `transfer.retryBackoff`, by field name. */
  retryBackoff: Map<string, number>;
  paths: Map<string, string>;
  references: PathReference[];
  aliases: EndpointAliasCheck[];
}

export function checkMeaning(raw: unknown, referenced: Set<string>, baseDir: string, report: Reporter): Checked {
  const checked: Checked = { sizes: new Map(), bandwidth: new Map(), retryBackoff: new Map(), paths: new Map(), references: [], aliases: [] };
  const usable = (segments: Segment[]): boolean => valueAt(raw, segments) !== undefined && !report.hasFailed(segments);

  for (const side of ['source', 'destination'] as const) {
    checkHop(raw, side, referenced, report, usable);
    if (usable([side, 'bandwidth'])) {
      const bandwidth = convert(report, [side, 'bandwidth'], () => parseBandwidth(valueAt(raw, [side, 'bandwidth']) as string));
      if (bandwidth !== undefined) checked.bandwidth.set(side, bandwidth);
    }
    checkOutposts(raw, side, report, usable);
  }
  checkSamePlace(raw, report, usable, checked);

  for (const field of ['maxBatchBytes', 'maxUploadBatchBytes', 'partSize'] as const) {
    const segments = ['transfer', field];
    if (!usable(segments)) continue;
    const bytes = convert(report, segments, () => parseSize(valueAt(raw, segments) as string | number));
    if (bytes === undefined) continue;
    if (field === 'partSize') {
      if (bytes % MIB !== 0 || bytes < 5 * MIB || bytes > 5 * 1024 * MIB) {
        report.at('error', segments, 'must be a whole number of MiB from 5MiB to 5GiB', 'S3 parts are 5 MiB to 5 GiB, and s5cmd takes the part size in MiB');
        continue;
      }
    } else if (bytes <= 0) {
      report.at('error', segments, 'must be greater than 0', 'a plan with a budget of 0 bytes would never move anything');
      continue;
    }
    checked.sizes.set(field, bytes);
  }
  if (usable(['staging', 'reserve'])) {
    checked.reserve = convert(report, ['staging', 'reserve'], () => parsePercentOrSize(valueAt(raw, ['staging', 'reserve']) as string | number));
  }
  if (usable(['watch', 'interval'])) {
    const ms = convert(report, ['watch', 'interval'], () => parseDuration(valueAt(raw, ['watch', 'interval']) as string));
    if (ms !== undefined && ms <= 0) report.at('error', ['watch', 'interval'], 'must be longer than 0', 'e.g. 30s');
    else checked.intervalMs = ms;
  }
  if (usable(['transfer', 'stallTimeout'])) {
    const ms = convert(report, ['transfer', 'stallTimeout'], () => parseDuration(valueAt(raw, ['transfer', 'stallTimeout']) as string));
    if (ms !== undefined && ms < 1000) report.at('error', ['transfer', 'stallTimeout'], 'must be at least 1s', 'e.g. 2m; a link can pause for seconds without being dead');
    else checked.stallTimeoutMs = ms;
  }
  for (const field of ['base', 'max'] as const) {
    const segments = ['transfer', 'retryBackoff', field];
    if (!usable(segments)) continue;
    const ms = convert(report, segments, () => parseDuration(valueAt(raw, segments) as string));
    if (ms !== undefined && ms <= 0) report.at('error', segments, 'must be longer than 0', field === 'base' ? 'e.g. 30s, or leave it out to wait one watch.interval' : 'e.g. 6h');
    else if (ms !== undefined) checked.retryBackoff.set(field, ms);
  }

  for (const list of ['include', 'exclude'] as const) {
    const globs = valueAt(raw, ['transfer', list]);
    if (!Array.isArray(globs)) continue;
    globs.forEach((glob, index) => {
      const segments = ['transfer', list, index];
      if (typeof glob === 'string' && usable(segments)) convert(report, segments, () => compileGlob(glob));
    });
  }

  const volumes = valueAt(raw, ['staging', 'volumes']);
  if (Array.isArray(volumes) && !report.hasFailed(['staging', 'volumes'])) {
    volumes.forEach((_entry, index) => localPath(raw, ['staging', 'volumes', index], 'volume', baseDir, report, checked));
  }
  for (const side of ['source', 'destination'] as const) {
    // On http:// the tls settings have no effect (a warning says so): a bundle that is not
    // there cannot be an error then.
    if (stringAt(raw, [side, 'endpoint'])?.toLowerCase().startsWith('http:')) continue;
    localPath(raw, [side, 'tls', 'caBundle'], 'caBundle', baseDir, report, checked);
  }
  if (valueAt(raw, ['stateDir']) === undefined) {
    const path = resolvePosix(baseDir, DEFAULTS.stateDir);
    checked.paths.set('stateDir', path);
    checked.references.push({ kind: 'stateDir', path, written: `${DEFAULTS.stateDir} (the default)`, field: 'stateDir', line: 1, column: 1 });
  } else {
    localPath(raw, ['stateDir'], 'stateDir', baseDir, report, checked);
  }
  return checked;
}

function checkHop(raw: unknown, side: 'source' | 'destination', referenced: Set<string>, report: Reporter, usable: (s: Segment[]) => boolean): void {
  const prefix = stringAt(raw, [side, 'prefix']);
  if (prefix !== undefined && usable([side, 'prefix'])) {
    if (prefix.startsWith('/')) {
      report.at('error', [side, 'prefix'], 'must not start with `/`', `write ${JSON.stringify(withTrailingSlash(prefix.replace(/^\/+/, '')))}`);
    } else if (prefix !== '' && !prefix.endsWith('/')) {
      report.at('error', [side, 'prefix'], 'must end with `/` (or be "" for the whole bucket)', `write ${JSON.stringify(`${prefix}/`)}`);
    }
  }
  for (const field of ['endpoint', 'proxy'] as const) {
    const url = stringAt(raw, [side, field]);
    if (url === undefined || !usable([side, field])) continue;
    const parsed = URL.parse(url);
    if (parsed === null || parsed.hostname === '') {
      report.at('error', [side, field], 'is not a valid URL', 'e.g. https://192.0.2.10:8443');
    } else if (field === 'endpoint' && (parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '')) {
      report.at('error', [side, field], 'an endpoint is a scheme, host and port only', `write ${parsed.protocol}//${parsed.host}; the bucket and prefix have their own fields`);
    }
  }
  const endpoint = stringAt(raw, [side, 'endpoint']);
  const tlsVerify = valueAt(raw, [side, 'tls', 'verify']);
  if (tlsVerify === false) {
    report.at('warning', [side, 'tls', 'verify'], 'TLS certificates are not verified on this hop', 'prefer tls.caBundle with the server certificate (Snowball Edge: snowballEdge get-certificate)');
  }
  if (endpoint?.toLowerCase().startsWith('http:') && valueAt(raw, [side, 'tls']) !== undefined) {
    report.at('warning', [side, 'tls'], 'tls settings have no effect on an http:// endpoint', 'they are ignored, tls.caBundle included; use https:// to have them checked');
  }

  const region = stringAt(raw, [side, 'region']);
  // What import-legacy writes for an https device: validate passed it and only plan failed.
  if (region === SNOW && endpoint?.toLowerCase().startsWith('https:') && tlsVerify !== false && valueAt(raw, [side, 'tls', 'caBundle']) === undefined) {
    report.at(
      'warning',
      [side, 'endpoint'],
      'a Snowball Edge serves HTTPS with a certificate it makes itself, and no tls.caBundle is set: plan, apply and watch will stop with E_S3_TLS',
      'fetch the device certificate (`snowballEdge list-certificates`, then `snowballEdge get-certificate --certificate-arn ARN`), save it as a PEM file, and set tls.caBundle to that file (docs/snowball.md)',
    );
  }
  if (region === SNOW && valueAt(raw, [side, 'listApi']) === 'v2') {
    report.at('warning', [side, 'listApi'], 'a Snowball Edge cuts ListObjectsV2 listings at 1,000 keys', 'use listApi: v1 (the default for region snow)');
  }
  const maxConnections = valueAt(raw, [side, 'maxConnections']);
  if (region === SNOW && typeof maxConnections === 'number' && maxConnections > SNOW_CONNECTION_LIMIT) {
    report.at('warning', [side, 'maxConnections'], `a Snowball Edge drops connections beyond ${SNOW_CONNECTION_LIMIT}`, `keep it at ${SNOW_CONNECTION_LIMIT} or below`);
  }

  const inline = (['accessKeyId', 'secretAccessKey', 'sessionToken'] as const).filter(
    (field) => stringAt(raw, [side, 'credentials', field]) !== undefined && !referenced.has(fieldPath([side, 'credentials', field])),
  );
  const first = inline[0];
  if (first !== undefined) {
    const variable = `DUALSYNC_${side.toUpperCase()}_${first.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    report.at(
      'warning',
      [side, 'credentials', first],
      `inline secret${inline.length > 1 ? 's' : ''} in the config file (${inline.join(', ')})`,
      `write \${${variable}} and set that variable, or use a profile, so the secret stays out of this file`,
    );
  }
}

/**
 * An S3 on Outposts access point as the bucket: a well-formed ARN, the region it lives in, and
 * AWS's endpoint reached virtual-host style, since access points answer nothing else and s5cmd
 * turns any `--endpoint-url` into path-style requests. The alias (`...--op-s3`) lists through the
 * SDK but cannot be transferred: s5cmd's SDK (aws-sdk-go 1.44.298) has no rule for it and would
 * send it to s3.REGION.amazonaws.com signed for `s3`.
 */
function checkOutposts(raw: unknown, side: 'source' | 'destination', report: Reporter, usable: (s: Segment[]) => boolean): void {
  const bucket = stringAt(raw, [side, 'bucket']);
  if (bucket === undefined || !usable([side, 'bucket'])) return;
  const form = bucketForm(bucket);
  const useArnRegion = valueAt(raw, [side, 'useArnRegion']);
  if (form.kind === 'name') {
    if (useArnRegion !== undefined) report.at('warning', [side, 'useArnRegion'], 'has no effect: the bucket is not an S3 on Outposts access point ARN', 'remove it');
    return;
  }
  if (form.kind === 'bad-arn') {
    report.at('error', [side, 'bucket'], `${form.problem}`, form.hint);
    return;
  }
  if (form.kind === 'outposts-alias') {
    report.at(
      'error',
      [side, 'bucket'],
      'an S3 on Outposts access point alias cannot be used: s5cmd (aws-sdk-go 1.44.298) would send it to s3.REGION.amazonaws.com signed for `s3`, not to the Outpost',
      'write the access point ARN (arn:aws:s3-outposts:REGION:ACCOUNT:outpost/OUTPOST-ID/accesspoint/NAME; `aws s3control get-access-point` shows it)',
    );
    return;
  }
  const arnRegion = form.accessPoint.region;
  const region = stringAt(raw, [side, 'region']);
  if (region !== undefined && usable([side, 'region']) && region !== arnRegion && useArnRegion !== true) {
    report.at(
      'error',
      [side, 'region'],
      `is ${JSON.stringify(region)}, but the access point in ${side}.bucket is in ${JSON.stringify(arnRegion)}`,
      `set region: ${arnRegion}, or useArnRegion: true to sign for the ARN's region`,
    );
  }
  const endpoint = stringAt(raw, [side, 'endpoint']);
  if (endpoint !== undefined) {
    report.at(
      'error',
      [side, 'endpoint'],
      'cannot be used with an S3 on Outposts access point: the host is made from the ARN (NAME-ACCOUNT.OUTPOST-ID.s3-outposts.REGION.amazonaws.com), and s5cmd turns any --endpoint-url into path-style requests, which access points refuse',
      'remove endpoint; to route the traffic, set proxy',
    );
  }
  if (valueAt(raw, [side, 'addressing']) === 'path') {
    report.at('error', [side, 'addressing'], 'S3 on Outposts access points answer virtual-host-style requests only', 'remove addressing (or write addressing: virtual)');
  }
}

/**
 * Source and destination in the same bucket on the same server with nested prefixes: every run
 * would copy dualsync's own output again, one level deeper. Decided here from the text (AWS
 * endpoints of one partition, one host and port, loopback names); two host names on one port may
 * still be one server, which only DNS can tell, so that pair goes to load.ts as an alias check.
 */
function checkSamePlace(raw: unknown, report: Reporter, usable: (s: Segment[]) => boolean, checked: Checked): void {
  if (!usable(['source', 'bucket']) || !usable(['destination', 'bucket'])) return;
  if (!usable(['source', 'region']) || !usable(['destination', 'region'])) return;
  const hop = (side: 'source' | 'destination') => {
    const endpoint = stringAt(raw, [side, 'endpoint']);
    return {
      bucket: stringAt(raw, [side, 'bucket']) ?? '',
      prefix: stringAt(raw, [side, 'prefix']) ?? '',
      endpoint,
      place: endpointPlace(endpoint, stringAt(raw, [side, 'region']) ?? ''),
    };
  };
  const source = hop('source');
  const destination = hop('destination');
  if (source.bucket !== destination.bucket || !nestedPrefixes(source.prefix, destination.prefix)) return;
  if (source.place === undefined || destination.place === undefined) return;
  const described = samePlaceMessage(source, destination);
  if (samePlaceByText(source.place, destination.place)) {
    report.at('error', ['destination', 'bucket'], described.message('are the same place'), described.hint);
    return;
  }
  if (source.place.kind === 'host' && destination.place.kind === 'host' && source.place.port === destination.place.port) {
    checked.aliases.push({
      field: 'destination.bucket',
      ...report.valuePosition(['destination', 'bucket']),
      hosts: [source.place.host, destination.place.host],
      message: described.message('are the same place: both host names resolve to one address'),
      hint: described.hint,
    });
  }
}

/** The words of a same-place refusal: both hops, every field involved, and what to do. */
function samePlaceMessage(
  source: { bucket: string; prefix: string; endpoint: string | undefined },
  destination: { bucket: string; prefix: string; endpoint: string | undefined },
): { message: (why: string) => string; hint: string } {
  const where = (side: string, hop: typeof source) =>
    `s3://${hop.bucket}/${hop.prefix} (${side}.bucket, ${side}.prefix ${JSON.stringify(hop.prefix)}, ${hop.endpoint === undefined ? `no ${side}.endpoint: AWS` : `${side}.endpoint ${normalizedEndpoint(hop.endpoint)}`})`;
  return {
    message: (why) => `source and destination ${why}: ${where('source', source)} and ${where('destination', destination)}, and one prefix contains the other`,
    hint: 'dualsync would copy its own output again on every run; use another destination bucket, or a source.prefix and destination.prefix that do not contain each other (e.g. "data/" and "archive/")',
  };
}

function normalizedEndpoint(endpoint: string): string {
  const parsed = URL.parse(endpoint);
  return parsed === null ? endpoint : `${parsed.protocol}//${parsed.host}`;
}

function withTrailingSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function convert<T>(report: Reporter, segments: Segment[], conversion: () => T): T | undefined {
  try {
    return conversion();
  } catch (error) {
    if (!isDualsyncError(error)) throw error;
    report.at('error', segments, error.message.replace(/^invalid \w+ /, 'invalid value '), error.hint);
    return undefined;
  }
}

function localPath(raw: unknown, segments: Segment[], kind: PathReference['kind'], baseDir: string, report: Reporter, checked: Checked): void {
  const written = stringAt(raw, segments);
  if (written === undefined || report.hasFailed(segments)) return;
  if (written.startsWith('~')) {
    report.at('error', segments, '`~` is not expanded in paths', 'write the full path, e.g. /home/ops/staging');
    return;
  }
  const path = resolvePosix(baseDir, written);
  checked.paths.set(fieldPath(segments), path);
  checked.references.push({ kind, path, written, field: fieldPath(segments), ...report.valuePosition(segments) });
}

/** `baseDir` + `path` with `.` and `..` folded, by string logic only (POSIX paths). */
export function resolvePosix(baseDir: string, path: string): string {
  const joined = path.startsWith('/') ? path : `${baseDir}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}
