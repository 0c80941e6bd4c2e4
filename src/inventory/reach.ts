/**
 * Whether a hop can be reached now. The hops are independent (invariant 11): a listing that
 * fails because its endpoint is down (connection refused, a timeout, a server error) makes that
 * hop "unreachable", an explicit state the planner sees, never an empty listing (invariant 8),
 * and the other hop keeps working. An error a retry cannot fix (wrong keys, no such bucket)
 * still stops the run: the operator must fix it.
 */
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP } from 'node:net';
import type { HopConfig } from '../model/config.ts';
import type { ListingStream, ObjectEntry } from '../model/objects.ts';
import { isDualsyncError, opError, type DualsyncError } from '../errors.ts';
import { classifyS3Error } from './s3-client.ts';

/** How long a hop that was down last time gets to answer before it counts as still down. */
export const PROBE_TIMEOUT_MS = 10_000;

/** An error that says the endpoint is down or failing for now, rather than that dualsync was stopped or misconfigured. */
export function meansUnreachable(error: unknown): error is DualsyncError {
  return isDualsyncError(error) && error.retryable && error.code !== 'E_ABORTED';
}

export interface HopListingStream {
  listing: ListingStream;
  /** The error that made the hop unreachable. */
  error?: DualsyncError;
}

/** The stream of a hop that could not be listed: no entries, incomplete, the cause in `unreachable`; already closed. */
export function unreachableStream(error: DualsyncError): HopListingStream {
  async function* none(): AsyncGenerator<ObjectEntry[]> {}
  return { listing: { pages: none(), complete: false, warnings: [], unreachable: error.message, listed: 0, close: async () => undefined }, error };
}

/** The listing stream once open, or an unreachable state carrying the cause when the endpoint is down. */
export async function streamOrUnreachable(open: Promise<ListingStream>): Promise<HopListingStream> {
  try {
    return { listing: await open };
  } catch (error) {
    if (!meansUnreachable(error)) throw error;
    return unreachableStream(error);
  }
}

/** Like {@link streamOrUnreachable}, but a hop that was down last time is probed first and not listed while it stays down. */
export async function probeThenOpen(probe: () => Promise<DualsyncError | undefined>, open: () => Promise<ListingStream>): Promise<HopListingStream> {
  const down = await probe();
  if (down !== undefined) return unreachableStream(down);
  return streamOrUnreachable(open());
}

/** Where a hop's requests go: its endpoint, or AWS's regional endpoint when it has none. */
export interface EndpointTarget {
  url: string;
  host: string;
  port: number;
  https: boolean;
  /** True when derived from the region (no `endpoint` in the config). */
  derived: boolean;
}

/** The host and port a hop connects to; for AWS, the regional S3 host its bucket is reached at. */
export function endpointTarget(hop: HopConfig): EndpointTarget {
  let url: URL;
  let derived = false;
  if (hop.endpoint !== undefined) {
    url = new URL(hop.endpoint);
  } else {
    derived = true;
    const domain = hop.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    const host = `s3.${hop.region}.${domain}`;
    url = new URL(`https://${hop.addressing === 'virtual' ? `${hop.bucket}.${host}` : host}`);
  }
  const https = url.protocol === 'https:';
  const port = url.port === '' ? (https ? 443 : 80) : Number(url.port);
  // URL keeps IPv6 literals in brackets; sockets want them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url: `${url.protocol}//${url.host}`, host, port, https, derived };
}

/** What one probe of a hop found: where it connected, and why the hop cannot be reached, if it cannot. */
export interface HopReach {
  target: EndpointTarget;
  /** Where the TCP connection goes: the endpoint, or the hop's proxy (`viaProxy`). */
  host: string;
  port: number;
  viaProxy: boolean;
  /** The addresses the host name resolved to (unset for an IP, or a name that did not resolve). */
  addresses?: string[];
  /** Milliseconds the TCP connection took (unset when it failed). */
  connectMs?: number;
  /**
   * Why the hop is unreachable (unset: it is reachable). `network`: DNS or TCP failed (`code` is
   * the errno, ETIMEDOUT when the time ran out); `server`: the server did not answer HeadBucket.
   */
  failure?: { stage: 'network' | 'server'; error: unknown; code: string; timedOut: boolean };
}

/** An error the time limit made, with the errno a socket would give. */
function timedOut(ms: number): Error {
  return Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'ETIMEDOUT' });
}

/** The work's result, or the deadline's error once it passes first (or at once when it has passed). */
function beforeDeadline<T>(deadline: AbortSignal, ms: number, work: (settle: (error: Error | undefined, value?: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let cleanup: () => void = () => {};
    const settle = (error: Error | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      deadline.removeEventListener('abort', onDeadline);
      cleanup();
      if (error) reject(error);
      else resolve(value as T);
    };
    const onDeadline = () => settle(timedOut(ms));
    if (deadline.aborted) return onDeadline();
    deadline.addEventListener('abort', onDeadline);
    cleanup = work(settle);
  });
}

/**
 * The one probe of a hop: whether it can be reached now, and if not, at which step. First the
 * network: the host name resolved and a TCP connection opened to where the hop's requests go
 * (its proxy when it has one), which names the cause (no DNS, nothing listening, no route).
 * Then, given the hop's `client`, the server: one short HeadBucket (not a listing: a Snowball's
 * v1 listing ignores MaxKeys), since a link that drops every packet may still accept the
 * connection. Any answer from the server, even a refusal, means reachable: the listing then says
 * what is wrong. `timeoutMs` bounds the whole; a `signal` stop is no failure (the caller reports it).
 */
export async function probeReach(hop: HopConfig, options: { client?: S3Client; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<HopReach> {
  const ms = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(ms);
  const target = endpointTarget(hop);
  const proxy = hop.proxy === undefined ? undefined : new URL(hop.proxy);
  const reach: HopReach = {
    target,
    host: proxy === undefined ? target.host : proxy.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: proxy === undefined ? target.port : proxy.port === '' ? (proxy.protocol === 'https:' ? 443 : 80) : Number(proxy.port),
    viaProxy: proxy !== undefined,
  };
  const stopped = () => options.signal?.aborted === true;
  try {
    if (isIP(reach.host) === 0) {
      const addresses = await beforeDeadline<{ address: string }[]>(deadline, ms, (settle) => {
        lookup(reach.host, { all: true }).then(
          (value) => settle(undefined, value),
          (error: Error) => settle(error),
        );
        return () => {};
      });
      reach.addresses = addresses.map((a) => a.address);
    }
    const started = performance.now();
    await beforeDeadline<void>(deadline, ms, (settle) => {
      const socket = netConnect({ host: reach.host, port: reach.port });
      socket.once('connect', () => settle(undefined));
      socket.once('error', (error) => settle(error));
      return () => socket.destroy();
    });
    reach.connectMs = performance.now() - started;
  } catch (error) {
    if (stopped()) return reach;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    reach.failure = { stage: 'network', error, code, timedOut: deadline.aborted };
    return reach;
  }
  if (options.client === undefined) return reach;
  try {
    const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
    await options.client.send(new HeadBucketCommand({ Bucket: hop.bucket }), { abortSignal: signal });
  } catch (error) {
    if (stopped()) return reach;
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const failed = deadline.aborted || ((status === undefined || status >= 500) && classifyS3Error(error, hop, 'reaching').retryable);
    if (failed) reach.failure = { stage: 'server', error, code: deadline.aborted ? 'ETIMEDOUT' : ((error as { code?: string }).code ?? ''), timedOut: deadline.aborted };
  }
  return reach;
}

/**
 * The run's question to a hop that was down last time ({@link probeReach} with its client), so
 * that a link that drops every packet costs the other hop a few seconds per cycle rather than
 * the listing's timeouts and retries (minutes). Undefined when it can be reached; else the error.
 */
export async function probeHop(client: S3Client, hop: HopConfig, signal?: AbortSignal, timeoutMs = PROBE_TIMEOUT_MS): Promise<DualsyncError | undefined> {
  const { failure } = await probeReach(hop, { client, signal, timeoutMs });
  if (failure === undefined) return undefined;
  if (failure.timedOut) {
    const at = hop.endpoint ?? `region ${hop.region}`;
    return opError('E_HOP_UNREACHABLE', `s3://${hop.bucket}/ (${at}) did not answer within ${Math.round(timeoutMs / 1000)} s`, { retryable: true, cause: failure.error });
  }
  return classifyS3Error(failure.error, hop, 'reaching');
}

/** Both hops down: nothing can move, so the run fails (retryably) with both causes. */
export function bothUnreachable(source: DualsyncError, destination: DualsyncError): DualsyncError {
  return opError('E_HOPS_UNREACHABLE', `both hops are unreachable: source: ${source.message}; destination: ${destination.message}`, {
    retryable: true,
    hint: 'check the links and the servers of both hops; `dualsync doctor` probes each one',
    cause: destination,
  });
}
