/**
 * A plan is a value: the planner makes it, views render it, apply consumes it. Types, and the
 * one order of action kinds that planner, views and plan files share.
 */
import type { AdoptRule } from './objects.ts';

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
  /** Why: the skip reason, or a short note ("destination lost it", "size differs locally"). */
  reason?: string;
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
  lastError?: string;
}

export interface WaitingSummary {
  count: number;
  bytes: number;
  /** The earliest next try among them (ISO 8601, UTC). */
  nextTryAt: string;
  /** The first few in key order. */
  examples: WaitingObject[];
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
  /** Things an operator must know (incomplete listings, connection caps, ...). */
  warnings: string[];
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
