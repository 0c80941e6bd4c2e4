/**
 * Whether a hop can be reached now. The hops are independent (invariant 11): a listing that
 * fails because its endpoint is down (connection refused, a timeout, a server error) makes that
 * hop "unreachable", an explicit state the planner sees, never an empty listing (invariant 8),
 * and the other hop keeps working. An error a retry cannot fix (wrong keys, no such bucket)
 * still stops the run: the operator must fix it.
 */
import type { Listing } from '../model/objects.ts';
import { isDualsyncError, opError, type DualsyncError } from '../errors.ts';

export interface HopListing {
  listing: Listing;
  /** The error that made the hop unreachable. */
  error?: DualsyncError;
}

/** An error that says the endpoint is down or failing for now, rather than that dualsync was stopped or misconfigured. */
export function meansUnreachable(error: unknown): error is DualsyncError {
  return isDualsyncError(error) && error.retryable && error.code !== 'E_ABORTED';
}

/** The listing, or an unreachable state carrying the cause when the endpoint is down. */
export async function listingOrUnreachable(listing: Promise<Listing>): Promise<HopListing> {
  try {
    return { listing: await listing };
  } catch (error) {
    if (!meansUnreachable(error)) throw error;
    return { listing: { entries: [], complete: false, warnings: [], unreachable: error.message }, error };
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
