/**
 * A plan is a value: the planner makes it, views render it, apply consumes it. Types, and the
 * one order of action kinds that planner, views and plan files share.
 */
import type { AdoptRule } from './objects.ts';
import type { Side } from './side.ts';
import type { RecordedFailure } from './failure.ts';

export type ActionKind = 'download' | 'redownload' | 'upload' | 'purge' | 'adopt' | 'skip';

/** The order actions are listed in: the order apply works in. */
export const ACTION_ORDER: readonly ActionKind[] = ['download', 'redownload', 'adopt', 'upload', 'purge', 'skip'];

export interface Action {
  kind: ActionKind;
  /** Relative key. */
  key: string;
  size: number;
  /** Version ETag (the source's, or the destination's for an adopt of a key the source lacks). */
  etag: string;
  /** Volume root for download/redownload/upload/purge. */
  volume?: string;
  /** For upload/purge: true when the same plan downloads the object first. */
  afterDownload?: boolean;
  /** Why: the skip reason, or what made the planner move it (a code and its facts; the views word it). */
  reason?: ActionReason;
  /** For adopt: the rule that makes the destination's object this version ('content': apply compares first). */
  adoptBy?: AdoptRule;
  /** For adopt: the ETag the destination listed, which apply records and compares against. */
  destinationEtag?: string;
  /**
   * For an upload of a local copy the ledger does not know: apply proves that the copy is this
   * version by this digest of it against the source ETag before uploading it (invariant 10).
   */
  localProof?: 'md5' | 'multipart-etag';
  /**
   * For a re-download placed on another volume: the volume holding the partial or stale copy it
   * replaces, removed once the new copy is verified.
   */
  replaces?: string;
}

export interface HopSettings {
  workers: number;
  concurrency: number;
  /** The cap that limited workers, if any. */
  maxConnections?: number;
  /**
   * The hop's bandwidth limit, if it has one: as written in sync.yaml, and the bytes per second
   * in force when the plan was made (absent: none then). Apply reads the timetable as it goes.
   */
  bandwidth?: { limit: string; bytesPerSecond?: number };
}

export interface PlanSummary {
  download: { count: number; bytes: number };
  upload: { count: number; bytes: number };
  purge: { count: number; bytes: number };
  /** `byContent`: the adopts apply proves by reading both objects first (present when there are some). */
  adopt: { count: number; bytes: number; byContent?: number };
  skip: { count: number };
  /** Objects left for a later plan because a budget or the volumes' room ran out. */
  deferred: { count: number; bytes: number };
  /**
   * Objects that keep failing and back off (`transfer.retryBackoff`): not planned until their next
   * try. Present only when there are some. They are not changes of this plan, but they are not
   * done either: the sites are not in sync while any wait.
   */
  waiting?: WaitingSummary;
  /** True when nothing but skips (and objects waiting to retry): `plan --detailed-exitcode` then exits 0. */
  noChanges: boolean;
}

/** One object waiting to retry after failures. */
export interface WaitingObject {
  key: string;
  attempts: number;
  /** ISO 8601, UTC: the earliest time a plan tries it again. */
  nextTryAt: string;
  /** Its last failure: code, hop and facts (the views word it). */
  lastFailure?: RecordedFailure;
}

export interface WaitingSummary {
  count: number;
  bytes: number;
  /** The earliest next try among them (ISO 8601, UTC). */
  nextTryAt: string;
  /** The first few in key order. */
  examples: WaitingObject[];
}

/**
 * What a {@link PlanNote} is about. Keys left as they are, for a reason an operator should know:
 * - `stray-local-file`: already at the destination, with another local file (partial, older or
 *   unknown) left on disk;
 * - `staged-path-through-link`: delivered, and the staged copy's path on `volume` passes through a
 *   symbolic link, which is not followed: left as it is;
 * - `purge-waits-for-destination`: delivered earlier; the purge waits for the destination;
 * - `lost-unknown-copy-waits-for-source`: lost by the destination, with a local copy the ledger does
 *   not know, which only the (unreachable) source can prove;
 * - `lost-waits-for-source`: lost by the destination, no local copy; the download waits for the source;
 * - `lost-not-redeliverable`: lost by the destination, no local copy, and the source no longer lists it;
 * - `delivered-missing-from-incomplete-listing`: delivered earlier, not in an incomplete
 *   destination listing: not taken as lost;
 * - `unknown-copy-waits-for-source`: a local copy the ledger does not know, which only the
 *   (unreachable) source can prove;
 * - `staged-missing-waits-for-source`: staged earlier but missing or damaged; the download waits
 *   for the source;
 * - `staged-missing-not-listed`: staged earlier but missing or damaged, and no longer listed by the source.
 *
 * Listings that could not tell keys apart (invariant 12; a plan with one of these is not "in sync",
 * and `plan --detailed-exitcode` exits 2):
 * - `source-listing-duplicate-keys`, `destination-listing-duplicate-keys`: the listing repeated
 *   keys (a server that wrote two keys as one, or repeats entries); the first of each was kept,
 *   the others were not planned;
 * - `source-listing-undecodable-keys`, `destination-listing-undecodable-keys`: the listing's
 *   URL-encoded keys (examples as sent) that do not decode to UTF-8; left out.
 *
 * Deferred to a later plan (these notes carry `bytes`; the summary's `deferred` is their sum):
 * - `deferred-download-batch-cap`: `transfer.maxBatchBytes` (`limitBytes`) reached;
 * - `deferred-download-no-room`: no volume has room above its reserve;
 * - `deferred-download-collision`: a file/prefix collision (`collidesWith`: the first such key) on
 *   every volume with room;
 * - `deferred-upload-destination-unreachable`, `deferred-upload-batch-cap`: an upload of a copy
 *   already on disk, for that reason (`limitBytes`: `transfer.maxUploadBatchBytes`);
 * - `deferred-chained-upload-destination-unreachable`, `deferred-chained-upload-batch-cap`:
 *   downloaded by this plan, its upload deferred.
 *
 * How `verify: etag` will check planned downloads:
 * - `etag-not-md5`: source ETags that are not MD5s: checked by size, and their local MD5 is
 *   carried to the destination check;
 * - `etag-multipart`: multipart ETags: compared when their part size is one of the usual ones.
 */
export type PlanNoteCode = (typeof PLAN_NOTE_CODES)[number];

/** Every {@link PlanNoteCode}, for readers that check a plan file. */
export const PLAN_NOTE_CODES = [
  'stray-local-file',
  'staged-path-through-link',
  'purge-waits-for-destination',
  'lost-unknown-copy-waits-for-source',
  'lost-waits-for-source',
  'lost-not-redeliverable',
  'delivered-missing-from-incomplete-listing',
  'unknown-copy-waits-for-source',
  'staged-missing-waits-for-source',
  'staged-missing-not-listed',
  'source-listing-duplicate-keys',
  'destination-listing-duplicate-keys',
  'source-listing-undecodable-keys',
  'destination-listing-undecodable-keys',
  'deferred-download-batch-cap',
  'deferred-download-no-room',
  'deferred-download-collision',
  'deferred-upload-destination-unreachable',
  'deferred-upload-batch-cap',
  'deferred-chained-upload-destination-unreachable',
  'deferred-chained-upload-batch-cap',
  'etag-not-md5',
  'etag-multipart',
] as const;

/**
 * Objects in one situation the planner tells an operator about, as data: the views write the
 * sentence (view/plan.ts). The facts a sentence needs are flat fields, so that a note is one
 * line of the plan file.
 */
export interface PlanNote {
  code: PlanNoteCode;
  /** How many objects. */
  count: number;
  /** Their bytes: present on the deferrals. */
  bytes?: number;
  /** The budget that was reached (`deferred-*-batch-cap`). */
  limitBytes?: number;
  /** The first key the deferred downloads collide with (`deferred-download-collision`). */
  collidesWith?: string;
  /** The staging volume (`staged-path-through-link`). */
  volume?: string;
  /** The first few keys (at most 3), in plan order. */
  examples: string[];
}

/**
 * Why an action is planned, or a key skipped (see {@link ActionReason}):
 *
 * A version delivered earlier moves again:
 * - `destination-lost`: a complete destination listing no longer shows it;
 * - `destination-changed`: the destination lists another object than the one delivered
 *   (`listedEtag`/`deliveredEtag`, or `listedSize`/`deliveredSize` when the ledger kept no ETag).
 *   Both carry `localCopy` when a local copy is downloaded again rather than uploaded:
 *   `not-current` (compared: not this version), `unprovable` (not in the ledger, and the source
 *   ETag cannot prove it).
 *
 * The destination holds an object of the same size that is not taken as this version:
 * - `new-version-at-destination`: it is the version delivered earlier;
 * - `destination-content-differs`: apply compared the content earlier and found other bytes;
 * - `destination-unproven`: the ETags cannot prove it and `transfer.adopt` is `transfer`;
 * - `destination-differs`: a staged copy is uploaded over another object.
 *
 * A local copy the ledger does not know (`stagedOn`: the volume where the ledger knows a staged
 * copy of another volume's; absent: a copy not in the ledger):
 * - `local-copy-not-current`: compared earlier, not the source's current version: downloaded again;
 * - `local-copy-checked`: uploaded once apply proves it by `proof` against the source;
 * - `local-copy-trusted`: uploaded on its size (`trustedBecause`: `source-unlisted`, `adopt-size`);
 * - `local-copy-unprovable`: the source ETag cannot prove it: downloaded again.
 *
 * A copy that is not there or not right: `older-version-on-disk`, `size-differs-locally`
 * (`localSize`, `expectedSize`), `staged-copy-missing`; `staged-copy-already-deleted`: a purge
 * recorded for a copy already gone; `retry`: a download after `attempts` failed attempts.
 *
 * Skips (a key no local path or destination key can hold): `key-empty`, `key-directory-marker`,
 * `key-empty-segment`, `key-dot-segment` (`segment`), `key-segment-too-long` and
 * `key-file-name-too-long` (`bytes`, `maxBytes`), `key-reserved-temp` and `key-reserved-claim`
 * (`segment`), `key-control-character` and `key-lone-surrogate` (`unit`, as U+XXXX),
 * `own-output` (`bucket`, `prefix`: the destination's), `destination-key-too-long` (`bytes`,
 * `prefix`, `maxBytes`), `path-through-link` (`link`).
 */
export type ActionReasonCode = (typeof ACTION_REASON_CODES)[number];

/** Every {@link ActionReasonCode}, for readers that check a plan file. */
export const ACTION_REASON_CODES = [
  'destination-lost',
  'destination-changed',
  'new-version-at-destination',
  'destination-content-differs',
  'destination-unproven',
  'destination-differs',
  'local-copy-not-current',
  'local-copy-checked',
  'local-copy-trusted',
  'local-copy-unprovable',
  'older-version-on-disk',
  'size-differs-locally',
  'staged-copy-missing',
  'staged-copy-already-deleted',
  'retry',
  'key-empty',
  'key-directory-marker',
  'key-empty-segment',
  'key-dot-segment',
  'key-segment-too-long',
  'key-file-name-too-long',
  'key-reserved-temp',
  'key-reserved-claim',
  'key-control-character',
  'key-lone-surrogate',
  'own-output',
  'destination-key-too-long',
  'path-through-link',
] as const;

/**
 * Why an action is planned or a key skipped, as data: a code and the facts its sentence needs,
 * flat (an action stays one line of the plan file). The views word it (view/reasons.ts).
 */
export interface ActionReason {
  code: ActionReasonCode;
  listedEtag?: string;
  deliveredEtag?: string;
  listedSize?: number;
  deliveredSize?: number;
  localCopy?: 'not-current' | 'unprovable';
  stagedOn?: string;
  proof?: 'md5' | 'multipart-etag';
  trustedBecause?: 'source-unlisted' | 'adopt-size';
  localSize?: number;
  expectedSize?: number;
  attempts?: number;
  segment?: string;
  bytes?: number;
  maxBytes?: number;
  unit?: string;
  bucket?: string;
  prefix?: string;
  link?: string;
}

/**
 * What a {@link PlanWarning} says about the run:
 * - `source-unreachable`, `destination-unreachable`: the hop could not be listed (`cause`);
 * - `source-listing-incomplete`, `destination-listing-incomplete`: the listing may be cut short;
 * - `listing-warning`: the listing layer's own word on a hop's listing (`hop`, `text`);
 * - `connection-cap`: `hop`'s workers (and concurrency) lowered by its `maxConnections`
 *   (`workers`, `concurrency`: asked; `cappedWorkers`, `cappedConcurrency`: given);
 * - `volume-listed-twice`: a staging volume (`volume`) named twice, counted once;
 * - `volume-scan-duplicates`: the volume scan listed files twice (`count`, `first`);
 * - `volume-symlink`: a symbolic link (`path`) below a volume root (`volume`), not followed;
 * - `interrupted-download-leftovers`: `count` temporary files of interrupted downloads apply removes;
 */
export type PlanWarningCode = (typeof PLAN_WARNING_CODES)[number];

/** Every {@link PlanWarningCode}, for readers that check a plan file. */
export const PLAN_WARNING_CODES = [
  'source-unreachable',
  'destination-unreachable',
  'source-listing-incomplete',
  'destination-listing-incomplete',
  'listing-warning',
  'connection-cap',
  'volume-listed-twice',
  'volume-scan-duplicates',
  'volume-symlink',
  'interrupted-download-leftovers',
] as const;

/** Something about the run an operator must know, as data: the views word it (view/reasons.ts). */
export interface PlanWarning {
  code: PlanWarningCode;
  hop?: Side;
  cause?: string;
  text?: string;
  workers?: number;
  concurrency?: number;
  cappedWorkers?: number;
  cappedConcurrency?: number;
  maxConnections?: number;
  volume?: string;
  path?: string;
  count?: number;
  first?: string;
}

/** The per-volume view of a plan: what lands where. */
export interface VolumePlan {
  root: string;
  freeBytes: number;
  reserveBytes: number;
  plannedDownloadBytes: number;
  plannedDownloads: number;
  /** The filesystem (`st_dev`) when other volumes of the plan share it, and with it its free space. */
  device?: string;
}

/**
 * A plan's actions in plan order: by kind in {@link ActionKind} apply order, each kind in key
 * order. May be iterated more than once. An array is one; a large plan's list is read back from
 * spool files as it is iterated (src/manifest/spool.ts), so no step holds every action.
 */
export interface ActionList extends Iterable<Action> {
  readonly length: number;
  /** The actions of these kinds, in plan order, without reading the others (when the list can). */
  ofKinds?(kinds: readonly ActionKind[]): Iterable<Action>;
  /** How many actions of a kind and their bytes, without reading them (when the list can). */
  totals?(kind: ActionKind): { count: number; bytes: number };
}

export interface Plan<A extends ActionList = ActionList> {
  formatVersion: 1;
  actions: A;
  summary: PlanSummary;
  volumes: VolumePlan[];
  hops: { download: HopSettings; upload: HopSettings };
  /** Things an operator must know about the run (incomplete listings, connection caps, ...), as data (see {@link PlanWarningCode}). */
  warnings: PlanWarning[];
  /**
   * What the planner tells about objects, as data (see {@link PlanNoteCode}), in the order shown
   * after the warnings. Absent in plan files of older versions, whose warnings hold these sentences.
   */
  notes?: PlanNote[];
}

/** A plan as saved by `plan --out`: the plan plus what it was made from. */
export interface PlanFile<A extends ActionList = ActionList> {
  formatVersion: 1;
  createdAt: string;
  configDigest: string;
  /**
   * A short digest of each config field the plan depends on (`transfer.partSize`,
   * `staging.volumes`...), so that a refusal can name the fields that changed. Absent in plan
   * files of older versions.
   */
  configFields?: Record<string, string>;
  /** Digest of the inputs (listings, volumes scan, ledger serial). */
  inputDigest: string;
  ledgerSerial: number;
  /** Digest of `plan` itself, so a hand-edited file is refused. */
  planDigest: string;
  plan: Plan<A>;
}
