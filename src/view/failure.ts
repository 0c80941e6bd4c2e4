/**
 * The words for a failure (model/failure.ts): the one place where a failure's code and facts
 * become the sentence that apply's table, `status` and the plan's backoff examples show.
 */
import type { CheckFailure, FailureFacts, RecordedFailure } from '../model/failure.ts';

/** One check's failure in words. */
function checkText(failure: CheckFailure): string {
  switch (failure.code) {
    case 'size-mismatch':
      return failure.copy === 'local' ? `size ${failure.actual} differs from the source's ${failure.expected}` : `destination size ${failure.actual} differs from ${failure.expected}`;
    case 'etag-mismatch':
      return failure.copy === 'local' ? `MD5 ${failure.actual} differs from the source ETag ${failure.expected}` : `destination ETag ${failure.actual} differs from the staged copy's ${failure.expected}`;
    case 'etag-not-comparable':
      return `destination ETag ${failure.etag} cannot be compared; use verify: size for this destination`;
    case 'staged-copy-changed':
      return `the staged copy changed since it was verified (MD5 ${failure.actual}, expected ${failure.expected})`;
    case 'not-listed-after-put':
      return failure.cause ?? 'the destination accepted the upload but does not list it';
  }
}

/** Why an object failed, in one sentence (without its key or hop). */
export function failureText(failure: FailureFacts): string {
  switch (failure.code) {
    case 'size-mismatch':
    case 'etag-mismatch':
    case 'etag-not-comparable':
    case 'staged-copy-changed':
    case 'not-listed-after-put':
      return checkText(failure);
    case 'verify-failed':
      return `verification failed: ${failure.cause}`;
    case 'readback-failed':
      return `could not read the destination back: ${failure.cause}`;
    case 'move-failed':
      return `could not move the verified file into place: ${failure.cause}`;
    case 'local-unreadable':
      return `could not read the local copy to prove it is the source's version: ${failure.cause}`;
    case 'local-not-proven': {
      const why = failure.check !== undefined ? checkText(failure.check) : failure.multipartEtag !== undefined ? `it matches the source's multipart ETag ${failure.multipartEtag} for no usual part size` : 'it differs from the source';
      return `the local copy on ${failure.volume} is not proven to be the source's current version (${why}); the next plan downloads it again`;
    }
    case 'content-unreadable':
      return `content comparison could not be done: ${failure.cause}`;
    case 'content-differs':
      return `content compared: the destination's object (MD5 ${failure.destinationMd5}) is not the source's (MD5 ${failure.sourceMd5}); the next plan transfers it`;
    case 's5cmd-exited':
      return `s5cmd exited with code ${failure.exitCode ?? 'unknown'} without finishing this object`;
    case 's5cmd-killed':
      return `s5cmd was stopped (${failure.signal})`;
    case 's5cmd-output':
      return `s5cmd: ${failure.lines.join(' | ')}`;
    case 'stalled':
      return `${failure.cause}: s5cmd was stopped; the next run tries again`;
    case 'not-started':
      return failure.cause === undefined ? 'not started' : `not started: the hop was stopped (${failure.cause}); the next run does it`;
    case 'purge-unconfirmed':
      return 'the destination no longer holds this version (or could not be read); the staged copy is kept';
    case 'replaced-not-removed':
      return `could not remove the copy it replaced on ${failure.volume}: ${failure.cause}`;
    case 'stopped':
      return 'stopped by the operator';
    // The error's own message says it all: a link refused, a file that is gone, s5cmd's words.
    case 'download-unreadable':
    case 'link-refused':
    case 'staged-file-refused':
    case 'temp-folder-unusable':
    case 'purge-failed':
    case 's5cmd-error':
    case 'legacy':
      return failure.cause;
  }
}

/** A version's last failure as `status` and the plan show it: "upload: why". */
export function recordedFailureText(failure: RecordedFailure): string {
  return failure.hop === undefined ? failureText(failure) : `${failure.hop}: ${failureText(failure)}`;
}
