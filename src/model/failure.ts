/**
 * Why one object did not get where the plan meant it to go, as a value: a code and its facts.
 * Apply builds these, the ledger keeps the last one of each version, `--json` emits them, tests
 * and metrics match the code; the words are in view/failure.ts only. Types only.
 */
import type { Hop } from './apply.ts';

/** Which copy a check compared with what it should be: the local copy (against the source), or the destination's. */
export type CheckedCopy = 'local' | 'destination';

/** A failed check of a copy's bytes or listing: what verify.ts finds. */
export type CheckFailure =
  /** The copy's size is not the expected one (the source's, for a local copy). */
  | { code: 'size-mismatch'; copy: CheckedCopy; actual: number; expected: number }
  /** Local: the file's MD5 against the source's ETag. Destination: its ETag against the one the staged bytes make. */
  | { code: 'etag-mismatch'; copy: CheckedCopy; actual: string; expected: string }
  /** The destination's ETag is neither an MD5 nor a multipart ETag: `verify: etag` cannot check it. */
  | { code: 'etag-not-comparable'; etag: string }
  /** The staged copy's MD5 is no longer the one recorded when it was verified. */
  | { code: 'staged-copy-changed'; actual: string; expected: string }
  /**
   * The destination accepted the upload (s5cmd succeeded) but does not list it: not delivered.
   * `cause`: what was found out about why (an object at a parent name, or a listing behind).
   */
  | { code: 'not-listed-after-put'; cause?: string };

/** What went wrong, without the object it happened to: a code and the facts the view words. */
export type FailureFacts =
  | CheckFailure
  /** A check of the copy could not be done (an I/O error while reading or listing). */
  | { code: 'verify-failed'; cause: string; errorCode?: string }
  /** The destination could not be listed to read the uploads back. */
  | { code: 'readback-failed'; cause: string; errorCode?: string }
  /** The downloaded file could not be read to verify it (gone, unreadable). */
  | { code: 'download-unreadable'; cause: string; errorCode?: string }
  /** The verified download could not be renamed into place. */
  | { code: 'move-failed'; cause: string; errorCode?: string }
  /** A link below a volume root was in the way; dualsync never writes or reads through one (invariant 4). */
  | { code: 'link-refused'; cause: string; errorCode?: string }
  /** The staged copy to upload is not a plain file of ours (a link, or gone): never handed to s5cmd. */
  | { code: 'staged-file-refused'; cause: string; errorCode?: string }
  /** A volume's temporary folder is unusable (a link, not a folder): no download is pointed at it. */
  | { code: 'temp-folder-unusable'; cause: string; errorCode?: string }
  /** A local copy the ledger did not know could not be read to prove it. */
  | { code: 'local-unreadable'; cause: string; errorCode?: string }
  /**
   * A local copy the ledger did not know is not proven to be the source's version: either a check
   * failed (`check`), or its multipart ETag `multipartEtag` matches no usual part size.
   */
  | { code: 'local-not-proven'; volume: string; check?: CheckFailure; multipartEtag?: string }
  /** An adopt by content could not read one of the two objects. */
  | { code: 'content-unreadable'; cause: string; errorCode?: string }
  /** An adopt by content read both objects: the destination's is not the source's. */
  | { code: 'content-differs'; sourceMd5: string; destinationMd5: string }
  /** s5cmd reported an error for this object; `cause` is s5cmd's own message. */
  | { code: 's5cmd-error'; cause: string }
  /** s5cmd exited without reporting on this object (`exitCode` undefined: not known). */
  | { code: 's5cmd-exited'; exitCode?: number }
  /** s5cmd was killed by a signal (not dualsync's stall watchdog nor the operator's stop). */
  | { code: 's5cmd-killed'; signal: string }
  /** s5cmd ended without finishing this object after printing lines that are not its JSON (the last ones). */
  | { code: 's5cmd-output'; lines: string[] }
  /** The stall watchdog stopped s5cmd (`cause`: its reason) while this object was in flight. */
  | { code: 'stalled'; cause: string }
  /** Never handed to s5cmd: the hop was stopped (`cause`) or never started. Not an attempt. */
  | { code: 'not-started'; cause?: string }
  /** A purge of a version delivered earlier: the destination does not list it now (or could not be read). */
  | { code: 'purge-unconfirmed' }
  /** The staged copy could not be deleted. */
  | { code: 'purge-failed'; cause: string; errorCode?: string }
  /** The copy a re-download replaced on `volume` could not be deleted. */
  | { code: 'replaced-not-removed'; volume: string; cause: string; errorCode?: string }
  /** The operator stopped the transfers (a second Ctrl-C) while this object was in flight: not an attempt. */
  | { code: 'stopped' }
  /** A failure recorded by an earlier dualsync as text only: `cause` is that text. */
  | { code: 'legacy'; cause: string };

export type FailureCode = FailureFacts['code'];

/** The step of an apply at which an object failed. */
export type FailureHop = Hop | 'purge';

/** One object's failure in an apply: which object, on which step, and what went wrong. */
export type ObjectFailure = FailureFacts & { key: string; hop: FailureHop };

/**
 * The last failure of a version as the ledger keeps it: what went wrong and on which hop
 * (absent only for a legacy text that named none).
 */
export type RecordedFailure = FailureFacts & { hop?: Hop };
