/**
 * Whether a hop can be reached now. The hops are independent (invariant 11): a listing that
 * fails because its endpoint is down (connection refused, a timeout, a server error) makes that
 * hop "unreachable", an explicit state the planner sees, never an empty listing (invariant 8),
 * and the other hop keeps working. An error a retry cannot fix (wrong keys, no such bucket)
 * still stops the run: the operator must fix it.
 */
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { HopConfig } from '../model/config.ts';
import type { ListingStream, ObjectEntry } from '../model/objects.ts';
import { isDualsyncError, opError, type DualsyncError } from '../errors.ts';
import { classifyS3Error } from './s3.ts';

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

/**
 * One short question (HeadBucket, not a listing: a Snowball's v1 listing ignores MaxKeys) to a
 * hop that was down last time, so that a link that drops every packet costs the other hop a few
 * seconds per cycle rather than the listing's timeouts and retries (minutes). Any answer from
 * the server, even a refusal, means reachable: the listing then says what is wrong. Undefined
 * when it answered; the error when it did not.
 */
export async function probeHop(client: S3Client, hop: HopConfig, signal?: AbortSignal, timeoutMs = PROBE_TIMEOUT_MS): Promise<DualsyncError | undefined> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    await client.send(new HeadBucketCommand({ Bucket: hop.bucket }), { abortSignal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
    return undefined;
  } catch (error) {
    if (signal?.aborted === true) return undefined; // the listing that follows reports the stop
    const at = hop.endpoint ?? `region ${hop.region}`;
    if (timeout.aborted) {
      return opError('E_HOP_UNREACHABLE', `s3://${hop.bucket}/ (${at}) did not answer within ${Math.round(timeoutMs / 1000)} s`, { retryable: true, cause: error });
    }
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== undefined && status < 500) return undefined;
    const classified = classifyS3Error(error, hop, 'reaching');
    return classified.retryable ? classified : undefined;
  }
}

/** Both hops down: nothing can move, so the run fails (retryably) with both causes. */
export function bothUnreachable(source: DualsyncError, destination: DualsyncError): DualsyncError {
  return opError('E_HOPS_UNREACHABLE', `both hops are unreachable: source: ${source.message}; destination: ${destination.message}`, {
    retryable: true,
    hint: 'check the links and the servers of both hops; `dualsync doctor` probes each one',
    cause: destination,
  });
}
