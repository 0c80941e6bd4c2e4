/** Validated, normalised configuration. Produced by src/config; read by everything else. */

export type Addressing = 'path' | 'virtual';
export type ListApi = 'v1' | 'v2';
export type VerifyMode = 'size' | 'etag';
/**
 * How an object the destination already holds, of the source's size, is taken as delivered
 * when the ETags cannot prove it is the same version: compare the content, transfer it again,
 * or trust the size (the operator's explicit choice).
 */
export type AdoptMode = 'content' | 'transfer' | 'size';

/** A credential field whose ${VAR} was not set when the config was loaded. */
export interface UnsetVariable {
  variable: string;
  /** Field path, e.g. `source.credentials.secretAccessKey`. */
  field: string;
  /** `file:line:col` of the value. */
  where: string;
}

/**
 * How a hop authenticates. Secrets are resolved at load time and never written anywhere. A
 * static key whose variable was not set is listed in `unset` (its value is then unusable):
 * only a command that contacts the hop needs it, and fails then (config/credentials.ts).
 */
export type Credentials =
  | { kind: 'static'; accessKeyId: string; secretAccessKey: string; sessionToken?: string; inline: boolean; unset?: UnsetVariable[] }
  | { kind: 'profile'; profile: string }
  | { kind: 'default' };

export interface TlsConfig {
  verify: boolean;
  /** Absolute path of a PEM bundle (a Snowball's `get-certificate` output), if any. */
  caBundle?: string;
}

export interface HopConfig {
  bucket: string;
  /** '' or a prefix ending in '/', never starting with '/'. */
  prefix: string;
  region: string;
  /** S3 on Outposts: sign for the access point ARN's region when it differs from `region` (explicit in the config). */
  useArnRegion?: boolean;
  /** Undefined means AWS's own endpoint for the region. */
  endpoint?: string;
  addressing: Addressing;
  tls: TlsConfig;
  proxy?: string;
  listApi: ListApi;
  /** Cap on workers x concurrency for this hop; undefined means no cap. */
  maxConnections?: number;
  /** How fast apply admits this hop's objects (src/config/bandwidth.ts, src/apply/pacing.ts); undefined: no limit. */
  bandwidth?: Bandwidth;
  credentials: Credentials;
}

/** A point of a weekly bandwidth timetable: from this minute on, this rate (undefined: no limit). */
export interface BandwidthChange {
  /** Minutes after Monday 00:00, local time. */
  minuteOfWeek: number;
  bytesPerSecond?: number;
}

/**
 * A hop's bandwidth limit: as written (for messages and the plan), and as the changes of one week
 * in time order; no changes means no limit. A single rate is one change at Monday 00:00.
 */
export interface Bandwidth {
  written: string;
  changes: BandwidthChange[];
}

/** A reserve is either an absolute byte count or a fraction of the volume's size. */
export type Reserve = { kind: 'bytes'; bytes: number } | { kind: 'percent'; percent: number };

export interface StagingConfig {
  /** Entries as written (directories or globs), resolved against the config file's folder. */
  volumes: string[];
  reserve: Reserve;
}

export interface TransferConfig {
  maxBatchBytes: number;
  maxUploadBatchBytes: number;
  workers: number;
  /** s5cmd's per-file part concurrency (cp --concurrency). */
  concurrency: number;
  /** Multipart part size in bytes that uploads use (s5cmd cp --part-size, whole MiB). */
  partSizeBytes: number;
  verify: VerifyMode;
  adopt: AdoptMode;
  purgeAfterUpload: boolean;
  /** A hop that moves no bytes and finishes no object for this long is stopped (transfer.stallTimeout). */
  stallTimeoutMs: number;
  include: string[];
  exclude: string[];
  retryBackoff: RetryBackoff;
}

/** How an object that keeps failing waits before its next try: none after one failure, then base x 2^(attempts-2), at most max. */
export interface RetryBackoff {
  /** The wait after the second failure in a row; undefined: the watch interval (one cycle). */
  baseMs?: number;
  maxMs: number;
}

export interface WatchConfig {
  intervalMs: number;
}

export interface Config {
  version: 1;
  /** Absolute path of the file it came from ('' for an embedded config). */
  file: string;
  source: HopConfig;
  destination: HopConfig;
  staging: StagingConfig;
  /** Absolute path. */
  stateDir: string;
  transfer: TransferConfig;
  watch: WatchConfig;
}
