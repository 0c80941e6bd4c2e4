/**
 * The sentences of the planner's outcomes: why an action is planned or a key skipped, and what
 * the run's warnings say. The planner hands over codes and facts (model/plan.ts); the words live
 * here, beside the notes' (view/plan.ts), and are the plan's, the manifests' and the ledger's
 * wording alike. Pure.
 */
import type { SkipReason } from '../model/objects.ts';
import type { ActionReason, ActionReasonCode, PlanWarning, PlanWarningCode } from '../model/plan.ts';

/** How a local copy the ledger does not know was found: not in the ledger, or staged (by the ledger) on another volume. */
function found(reason: ActionReason): string {
  return reason.stagedOn === undefined ? 'local copy not in the ledger' : `staged copy found on ${reason.stagedOn}`;
}

/** What the destination lists against what was delivered. */
function changed(reason: ActionReason): string {
  if (reason.listedEtag !== undefined) return `destination changed since delivery (lists ETag ${JSON.stringify(reason.listedEtag)}, delivered ${JSON.stringify(reason.deliveredEtag ?? '')})`;
  return `destination changed since delivery (lists ${reason.listedSize ?? 0} bytes, delivered ${reason.deliveredSize ?? 0})`;
}

/** Why a delivered version's local copy is downloaded again rather than uploaded. */
function localCopyDoubt(reason: ActionReason): string {
  if (reason.localCopy === 'not-current') return "; the local copy is not the source's current version (compared)";
  if (reason.localCopy === 'unprovable') return '; the local copy is not in the ledger, and the source ETag cannot prove it';
  return '';
}

const REASON_TEXT: Record<ActionReasonCode, (reason: ActionReason) => string> = {
  'destination-lost': (r) => `destination lost it${localCopyDoubt(r)}`,
  'destination-changed': (r) => `${changed(r)}${localCopyDoubt(r)}`,
  'new-version-at-destination': () => 'new version: the destination holds the one delivered earlier',
  'destination-content-differs': () => 'content compared earlier: the destination holds other bytes of the same size',
  'destination-unproven': () => 'same size at the destination, but the ETags cannot prove it is this version (transfer.adopt: transfer)',
  'destination-differs': () => 'destination differs',
  'local-copy-not-current': (r) => `${found(r)} is not the source's current version (compared)`,
  'local-copy-checked': (r) => `${found(r)}; ${r.proof === 'md5' ? 'MD5' : 'multipart ETag'} checked against the source before the upload`,
  'local-copy-trusted': (r) => `${found(r)}; trusted by its size (${r.trustedBecause === 'source-unlisted' ? 'the source no longer lists it' : 'transfer.adopt: size'})`,
  'local-copy-unprovable': (r) => `${found(r)}, and the source ETag cannot prove it is this version`,
  'older-version-on-disk': () => 'older version on disk',
  'size-differs-locally': (r) => `size differs locally (${r.localSize ?? 0} bytes, expected ${r.expectedSize ?? 0})`,
  'staged-copy-missing': () => 'staged copy is missing',
  'staged-copy-already-deleted': () => 'staged copy already deleted; recording the purge',
  retry: (r) => `retry after ${r.attempts ?? 0} failed ${r.attempts === 1 ? 'attempt' : 'attempts'}`,
  'key-empty': () => 'empty key',
  'key-directory-marker': () => "ends with '/' (a directory marker, not a file)",
  'key-empty-segment': () => "empty path segment ('//' or a leading '/')",
  'key-dot-segment': (r) => `'${r.segment ?? ''}' path segment (would leave its folder)`,
  'key-segment-too-long': (r) => `path segment of ${r.bytes ?? 0} bytes (a file or folder name holds at most ${r.maxBytes ?? 0})`,
  'key-file-name-too-long': (r) => `file name of ${r.bytes ?? 0} bytes (s5cmd's temporary name adds up to 10 digits; at most ${r.maxBytes ?? 0} fit)`,
  'key-reserved-temp': (r) => `first segment '${r.segment ?? ''}' is reserved for dualsync's temporary files`,
  'key-reserved-claim': (r) => `first segment '${r.segment ?? ''}' is reserved for the volume's claim`,
  'key-control-character': (r) => `control character ${r.unit ?? ''} (a run file line cannot carry it)`,
  'key-lone-surrogate': (r) => `lone surrogate ${r.unit ?? ''} (not valid UTF-8)`,
  'own-output': (r) => `under the destination prefix ${r.prefix ?? ''} of the same bucket ${r.bucket ?? ''}: dualsync's own output`,
  'destination-key-too-long': (r) => `destination key of ${r.bytes ?? 0} bytes under the destination prefix ${JSON.stringify(r.prefix ?? '')} (an S3 key holds at most ${r.maxBytes ?? 0})`,
  'path-through-link': (r) => `its local path passes through the symbolic link ${r.link ?? ''} (links below a volume root are not followed)`,
};

/** An action's reason as the plan, the manifests and the ledger word it. */
export function reasonText(reason: ActionReason): string {
  return REASON_TEXT[reason.code](reason);
}

/** A skip reason the ledger keeps, as status and the report word it: the plan's sentence, or the text an earlier dualsync stored. */
export function skipReasonText(reason: SkipReason): string {
  if (reason.code === 'legacy') return reason.text;
  if (reason.code === 'unsafe-key') return 'unsafe key';
  return reasonText(reason);
}

/** The connection cap: which of workers and concurrency the hop's maxConnections lowered. */
function connectionCap(w: PlanWarning): string {
  const cap = `${w.hop ?? ''}.maxConnections ${w.maxConnections ?? 0}`;
  if (w.cappedConcurrency === w.concurrency) return `workers ${w.workers ?? 0} capped to ${w.cappedWorkers ?? 0} by ${cap} with concurrency ${w.concurrency ?? 0}`;
  return `workers ${w.workers ?? 0} x concurrency ${w.concurrency ?? 0} capped to ${w.cappedWorkers ?? 0} x ${w.cappedConcurrency ?? 0} by ${cap}`;
}

const WARNING_TEXT: Record<PlanWarningCode, (warning: PlanWarning) => string> = {
  'source-unreachable': (w) => `source unreachable: downloads wait; staged copies are still uploaded (${w.cause ?? ''})`,
  'destination-unreachable': (w) => `destination unreachable: uploads wait; downloads go on while staging has room (${w.cause ?? ''})`,
  'source-listing-incomplete': () => 'The source listing is incomplete: objects it did not show are left as they are until a complete listing shows them.',
  'destination-listing-incomplete': () => 'The destination listing is incomplete: nothing is taken as lost from it, and objects it did not show may be uploaded again.',
  'listing-warning': (w) => `${w.hop ?? ''}: ${w.text ?? ''}`,
  'connection-cap': connectionCap,
  'volume-listed-twice': (w) => `volume ${w.volume ?? ''} is listed twice; counted once`,
  'volume-scan-duplicates': (w) => `the volume scan lists ${w.count ?? 0} duplicate ${w.count === 1 ? 'entry' : 'entries'} (first: ${JSON.stringify(w.first ?? '')}); kept the first of each in key order`,
  'volume-symlink': (w) => `staging volume ${w.volume ?? ''}: ${w.path ?? ''} is a symbolic link, not followed (nothing is staged through it, and it is left as it is)`,
  'interrupted-download-leftovers': (w) => `${w.count ?? 0} temporary file(s) of interrupted downloads in ${w.path ?? ''}/ will be removed by apply`,
};

/** A run warning as the plan words it. */
export function warningText(warning: PlanWarning): string {
  return WARNING_TEXT[warning.code](warning);
}
