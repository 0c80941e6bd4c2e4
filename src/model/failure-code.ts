import type { Failure } from './apply.ts';

/**
 * The stable code of a per-object failure, for metrics labels and the structured log. A failure
 * that carries a `code` keeps it; one that carries only its sentence gets a short label derived
 * here, from a fixed list, so that a label set stays small (a metric's series grow with it) and
 * a reworded message changes at most this table. This is the one place to re-point when every
 * failure carries its code.
 */
export function failureCode(failure: Failure): string {
  const carried = (failure as { code?: unknown }).code;
  if (typeof carried === 'string' && carried !== '') return carried;
  if (failure.hop === 'purge') return 'purge_failed';
  for (const [pattern, code] of SENTENCE_CODES) if (pattern.test(failure.error)) return code;
  return 'other';
}

/** Sentence patterns of the apply steps (src/apply/*), first match wins. */
const SENTENCE_CODES: readonly (readonly [RegExp, string])[] = [
  [/^not started: the hop was stopped/, 'not_started'],
  [/^no progress for .*s5cmd was stopped/, 'stalled'],
  [/s5cmd exited with code/, 's5cmd_exited'],
  [/accepted the upload but does not list it/, 'not_listed'],
  [/cannot be compared/, 'etag_not_comparable'],
  [/^content compar/, 'content_differs'],
  [/size \d+ differs/, 'size_mismatch'],
  [/(MD5|ETag) .*differs|staged copy changed/, 'etag_mismatch'],
  [/could not read the destination back/, 'readback_failed'],
  [/not proven to be the source's current version|could not read the local copy/, 'local_unproven'],
  [/could not move the verified file into place/, 'stage_failed'],
  [/AccessDenied|Forbidden|403/, 'access_denied'],
  [/NoSuchKey|NoSuchBucket|404/, 'not_found'],
  [/SignatureDoesNotMatch|InvalidAccessKeyId/, 'credentials'],
  [/timeout|timed out|ECONNRESET|ECONNREFUSED|EPIPE|connection/i, 'network'],
];
