/**
 * The Config model from a config that passed every check: the schema's defaults filled in,
 * the region's defaults (`snow`), the values the meaning checks converted, and credentials as
 * their kind. Pure.
 */
import type { Config, Credentials, HopConfig, UnsetVariable } from '../model/config.ts';
import type { Checked } from './meaning.ts';
import { DEFAULTS, SNOW } from './schema.ts';
import { isLimited, parseBandwidth } from './bandwidth.ts';
import { parseDuration, parsePercentOrSize, parseSize } from './units.ts';

/** sync.yaml as the schema admits it (after the schema check, before defaults). */
type RawHop = {
  bucket: string;
  prefix?: string;
  region: string;
  useArnRegion?: boolean;
  endpoint?: string;
  addressing?: 'path' | 'virtual';
  tls?: { verify?: boolean; caBundle?: string };
  proxy?: string;
  listApi?: 'v1' | 'v2';
  maxConnections?: number;
  bandwidth?: string;
  credentials?: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; profile?: string };
};
export type RawConfig = {
  version: 1;
  source: RawHop;
  destination: RawHop;
  staging: { volumes: string[]; reserve?: string | number };
  stateDir?: string;
  transfer?: {
    maxBatchBytes?: string | number;
    maxUploadBatchBytes?: string | number;
    workers?: number;
    concurrency?: number;
    partSize?: string | number;
    verify?: 'size' | 'etag';
    adopt?: 'content' | 'transfer' | 'size';
    purgeAfterUpload?: boolean;
    stallTimeout?: string;
    include?: string[];
    exclude?: string[];
    retryBackoff?: { base?: string; max?: string };
  };
  watch?: { interval?: string };
};

export function buildConfig(raw: RawConfig, checked: Checked, referenced: Set<string>, file: string, unset: UnsetVariable[]): Config {
  const transfer = raw.transfer ?? {};
  const sizeOf = (field: string, fallback: string): number => checked.sizes.get(field) ?? parseSize(fallback);
  return {
    version: 1,
    file,
    source: buildHop(raw.source, 'source', checked, referenced, unset),
    destination: buildHop(raw.destination, 'destination', checked, referenced, unset),
    staging: {
      volumes: raw.staging.volumes.map((_, index) => checked.paths.get(`staging.volumes[${index}]`) ?? ''),
      reserve: checked.reserve ?? parsePercentOrSize(DEFAULTS.reserve),
    },
    stateDir: checked.paths.get('stateDir') ?? '',
    transfer: {
      maxBatchBytes: sizeOf('maxBatchBytes', DEFAULTS.maxBatchBytes),
      maxUploadBatchBytes: sizeOf('maxUploadBatchBytes', DEFAULTS.maxUploadBatchBytes),
      workers: transfer.workers ?? DEFAULTS.workers,
      concurrency: transfer.concurrency ?? DEFAULTS.concurrency,
      partSizeBytes: sizeOf('partSize', DEFAULTS.partSize),
      verify: transfer.verify ?? DEFAULTS.verify,
      adopt: transfer.adopt ?? DEFAULTS.adopt,
      purgeAfterUpload: transfer.purgeAfterUpload ?? DEFAULTS.purgeAfterUpload,
      stallTimeoutMs: checked.stallTimeoutMs ?? parseDuration(DEFAULTS.stallTimeout),
      include: transfer.include ?? [...DEFAULTS.include],
      exclude: transfer.exclude ?? [...DEFAULTS.exclude],
      retryBackoff: {
        ...(checked.retryBackoff.has('base') ? { baseMs: checked.retryBackoff.get('base') } : {}),
        maxMs: checked.retryBackoff.get('max') ?? parseDuration(DEFAULTS.retryBackoffMax),
      },
    },
    watch: { intervalMs: checked.intervalMs ?? parseDuration(DEFAULTS.watchInterval) },
  };
}

function buildHop(raw: RawHop, side: 'source' | 'destination', checked: Checked, referenced: Set<string>, unset: UnsetVariable[]): HopConfig {
  const snow = raw.region === SNOW;
  const endpoint = raw.endpoint?.replace(/\/+$/, '');
  const caBundle = checked.paths.get(`${side}.tls.caBundle`);
  const maxConnections = raw.maxConnections ?? (snow ? DEFAULTS.snowMaxConnections : undefined);
  const bandwidth = checked.bandwidth.get(side) ?? parseBandwidth(DEFAULTS.bandwidth);
  return {
    bucket: raw.bucket,
    prefix: raw.prefix ?? DEFAULTS.prefix,
    region: raw.region,
    ...(raw.useArnRegion === undefined ? {} : { useArnRegion: raw.useArnRegion }),
    ...(endpoint === undefined ? {} : { endpoint }),
    addressing: raw.addressing ?? (endpoint === undefined ? 'virtual' : 'path'),
    tls: { verify: raw.tls?.verify ?? DEFAULTS.tlsVerify, ...(caBundle === undefined ? {} : { caBundle }) },
    ...(raw.proxy === undefined ? {} : { proxy: raw.proxy }),
    listApi: raw.listApi ?? (snow ? 'v1' : 'v2'),
    ...(maxConnections === undefined ? {} : { maxConnections }),
    // No limit is no field: configs made before bandwidth existed read the same.
    ...(isLimited(bandwidth) ? { bandwidth } : {}),
    credentials: buildCredentials(raw.credentials, side, referenced, unset.filter((u) => u.field.startsWith(`${side}.`))),
  };
}

function buildCredentials(raw: RawHop['credentials'], side: string, referenced: Set<string>, unset: UnsetVariable[]): Credentials {
  if (raw === undefined) return { kind: 'default' };
  if (raw.profile !== undefined) return { kind: 'profile', profile: raw.profile };
  const inline = (['accessKeyId', 'secretAccessKey', 'sessionToken'] as const).some(
    (field) => raw[field] !== undefined && !referenced.has(`${side}.credentials.${field}`),
  );
  return {
    kind: 'static',
    accessKeyId: raw.accessKeyId ?? '',
    secretAccessKey: raw.secretAccessKey ?? '',
    ...(raw.sessionToken === undefined ? {} : { sessionToken: raw.sessionToken }),
    inline,
    ...(unset.length === 0 ? {} : { unset }),
  };
}
