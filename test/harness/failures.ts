/** Expecting dualsync's own errors. */
import { isDualsyncError, type DualsyncError } from '../../src/errors.ts';

/** The DualsyncError `promise` rejects with; any other outcome fails the test. */
export async function dualsyncFailure(promise: Promise<unknown>): Promise<DualsyncError> {
  try {
    await promise;
  } catch (error) {
    if (isDualsyncError(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}
