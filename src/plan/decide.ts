/**
 * What to do with one key, decided from what the merged pass knows about it: pure functions, one
 * per situation (rclone's Marcher, s5cmd's SyncStrategy), each returning a {@link Decision} whose
 * action carries its reason as a code with facts (model/plan.ts `ActionReason`). The builder
 * (./builder.ts) takes the decision: it places downloads within the budgets (./place.ts), spools
 * the actions and counts the notes.
 *
 * The situations, with the version = (size, ETag) the source lists, or the ledger's when the
 * source no longer lists it (see DESIGN "Plan actions"):
 * - {@link decideDelivered}: delivered or purged per ledger: purge a local copy left behind;
 *   move it again when a complete destination listing lost it or lists another object
 *   ({@link decideRedelivery});
 * - {@link decideAdoptable}: the destination already holds the version: adopt it;
 * - {@link decideStaged}: a verified staged copy: upload it;
 * - {@link decideUnknownCopy}: a local copy the ledger does not know: upload it once apply can
 *   prove it, else download again (invariant 10);
 * - {@link decideMissing}: no usable copy: download, or download again over a partial or stale one.
 */
import type { AdoptMode } from '../model/config.ts';
import type { AdoptRule, LedgerRecord, LocalFile, ObjectEntry, Stage } from '../model/objects.ts';
import type { ActionReason, PlanNoteCode } from '../model/plan.ts';
import { localProofFor, type Adoption } from './adopt.ts';

export interface Version {
  size: number;
  etag: string;
}

/** What the merged pass knows of one key, and what follows from it. Reused between keys: a decision keeps none of it. */
export interface KeyFacts {
  key: string;
  /** What the source lists (undefined: not listed). */
  source: ObjectEntry | undefined;
  destination: ObjectEntry | undefined;
  record: LedgerRecord | undefined;
  version: Version;
  /** Whether the ledger's record is of this version. */
  matches: boolean;
  /** The stage this version reached per ledger. */
  stage: Stage | undefined;
  /** Where the ledger knows this version's staged copy. */
  knownVolume: string | undefined;
  /** Where the ledger knows a staged copy of another version. */
  staleVolume: string | undefined;
  /** A local file of the version's size ({@link goodCopy}). */
  copy: LocalFile | undefined;
  /** Delivered, but the destination lists another object than the one delivered. */
  changedAtDestination: boolean;
  /** The destination's object of this size: adopt it, or why not (undefined: none, or delivered). */
  found: Adoption | undefined;
}

/** What every decision of one plan shares: the settings and the hops' state. */
export interface DecisionContext {
  adopt: AdoptMode;
  purgeAfterUpload: boolean;
  sourceDown: string | undefined;
  destinationDown: string | undefined;
  destinationComplete: boolean;
}

/** The key's files on disk, and the symbolic links of the volumes: what decisions ask of them. */
export interface LocalView {
  /** Whether the key has no file on any volume. */
  none(): boolean;
  /** A file that cannot be the version ({@link badCopy}). */
  badCopy(): LocalFile | undefined;
  /** Whether the key has a file other than `kept` (a stray, left as it is). */
  strays(kept: LocalFile | undefined): boolean;
  /** Whether the key's path on `volume` passes through a symbolic link (its copy is out of sight, not gone). */
  throughLink(volume: string): boolean;
}

/** A download the builder places (a key late) within the budget and the volumes' room. */
export interface DownloadDecision {
  then: 'download';
  kind: 'download' | 'redownload';
  /** A re-download goes back to the volume its copy was on, if that volume has room. */
  preferredVolume: string | undefined;
  /** The volume of the partial or stale copy it replaces (removed if the new copy lands elsewhere). */
  staleCopyOn?: string;
  reason: ActionReason | undefined;
  /** Shown on the chained upload too: only a re-delivery's reason is about the upload. */
  uploadReason: ActionReason | undefined;
}

/** One key's decision. */
export type Decision =
  | { then: 'nothing' }
  /** Left as it is, for a reason the plan tells (a note). */
  | { then: 'note'; note: PlanNoteCode }
  | DownloadDecision
  /** An upload of a copy on disk, waiting for the upload budget. */
  | { then: 'upload'; volume: string; reason: ActionReason | undefined; localProof: 'md5' | 'multipart-etag' | undefined }
  /** The destination holds the version: record it; purge the copy on disk (`purge`), note other files (`strays`). */
  | { then: 'adopt'; rule: AdoptRule; destinationEtag: string; purge: string | undefined; strays: boolean }
  /**
   * Delivered, and still there: purge the copy left on disk (`purge`, with a reason when the copy
   * is gone already); notes on a listing that did not show it, a path through a link, strays.
   */
  | { then: 'keep'; purge: { volume: string; reason?: ActionReason } | undefined; missingFromListing: boolean; linkOn: string | undefined; strays: boolean };

const NOTHING: Decision = { then: 'nothing' };

function note(code: PlanNoteCode): Decision {
  return { then: 'note', note: code };
}

function download(kind: DownloadDecision['kind'], preferredVolume: string | undefined, reason: ActionReason | undefined, uploadReason: ActionReason | undefined, staleCopyOn?: string): DownloadDecision {
  const decision: DownloadDecision = { then: 'download', kind, preferredVolume, reason, uploadReason };
  if (staleCopyOn !== undefined) decision.staleCopyOn = staleCopyOn;
  return decision;
}

function upload(volume: string, reason: ActionReason | undefined, localProof?: 'md5' | 'multipart-etag'): Decision {
  return { then: 'upload', volume, reason, localProof };
}

const MD5_HEX = /^[0-9a-f]{32}$/i;

/**
 * Whether the destination still holds the copy of a version the ledger says was delivered: the
 * ETag the destination listed at delivery, when the ledger kept it; otherwise (older ledgers)
 * equal sizes, and equal ETags when both are plain MD5 digests. Adopting an object the ledger
 * did not deliver is another question, with stricter rules: see ./adopt.ts.
 */
export function deliveredCopyAtDestination(version: Version & { destinationEtag?: string }, destination: Version): boolean {
  // A recorded ETag decides (invariant 12): another one is another object, whatever its size.
  if (version.size !== destination.size) return false;
  if (version.destinationEtag !== undefined) return version.destinationEtag === destination.etag;
  if (version.etag === destination.etag) return true;
  if (MD5_HEX.test(version.etag) && MD5_HEX.test(destination.etag)) return version.etag.toLowerCase() === destination.etag.toLowerCase();
  return true;
}

/** Why a delivered version moves again: what the destination lists against what was delivered. */
export function changedSinceDelivery(record: LedgerRecord, destination: ObjectEntry): ActionReason {
  if (record.destinationEtag !== undefined) return { code: 'destination-changed', listedEtag: destination.etag, deliveredEtag: record.destinationEtag };
  if (record.size !== destination.size) return { code: 'destination-changed', listedSize: destination.size, deliveredSize: record.size };
  return { code: 'destination-changed', listedEtag: destination.etag, deliveredEtag: record.etag };
}

/** One key's decision: the situation it is in decides. */
export function decide(facts: KeyFacts, context: DecisionContext, local: LocalView): Decision {
  if (facts.stage === 'delivered' || facts.stage === 'purged') return decideDelivered(facts, context, local);
  const adopted = decideAdoptable(facts, context, local);
  if (adopted !== undefined) return adopted;
  const { copy, stage, knownVolume } = facts;
  if (copy !== undefined && stage === 'staged' && copy.volume === knownVolume) return decideStaged(facts, copy);
  if (copy !== undefined) return decideUnknownCopy(facts, context, copy);
  return decideMissing(facts, context, local);
}

/** Delivered or purged per ledger: keep it (and purge a copy left behind), or move it again when the destination lost or changed it. */
export function decideDelivered(facts: KeyFacts, context: DecisionContext, local: LocalView): Decision {
  const { destination, stage, copy, knownVolume } = facts;
  if (context.destinationDown !== undefined) {
    // Still there (purge) or lost (deliver again): only the destination's listing can say.
    return stage === 'delivered' && context.purgeAfterUpload && copy !== undefined ? note('purge-waits-for-destination') : NOTHING;
  }
  if ((destination === undefined && context.destinationComplete) || facts.changedAtDestination) return decideRedelivery(facts, context);
  const kept = stage === 'delivered' ? copy : undefined;
  let purge: { volume: string; reason?: ActionReason } | undefined;
  let linkOn: string | undefined;
  if (kept !== undefined && context.purgeAfterUpload) purge = { volume: kept.volume };
  else if (stage === 'delivered' && kept === undefined && context.purgeAfterUpload && knownVolume !== undefined && local.none()) {
    // The staged copy is gone but its purge was never recorded (a stop between the delete and
    // its record): the purge completes, so the ledger and status say where things are. Unless
    // its path passes through a link: then it is out of sight, not gone.
    if (local.throughLink(knownVolume)) linkOn = knownVolume;
    else purge = { volume: knownVolume, reason: { code: 'staged-copy-already-deleted' } };
  }
  return { then: 'keep', purge, missingFromListing: destination === undefined, linkOn, strays: local.strays(kept) };
}

/** Delivered, but a complete destination listing lost it or lists another object: upload a copy on disk, else download it again. */
export function decideRedelivery(facts: KeyFacts, context: DecisionContext): Decision {
  const { record, copy, knownVolume, source, version } = facts;
  const { sourceDown } = context;
  const reason: ActionReason = facts.changedAtDestination ? changedSinceDelivery(record as LedgerRecord, facts.destination as ObjectEntry) : { code: 'destination-lost' };
  if (copy === undefined) {
    if (source !== undefined) return download('download', undefined, reason, reason);
    return note(sourceDown !== undefined ? 'lost-waits-for-source' : 'lost-not-redeliverable');
  }
  // After the purge, or on another volume, the file is not the copy the ledger staged.
  const unknown = copy.volume !== knownVolume;
  const differs = record?.localDiffers === copy.volume;
  const localProof = unknown && !differs ? localProofFor(version) : undefined;
  if (!unknown || localProof !== undefined || (source === undefined && sourceDown === undefined) || (context.adopt === 'size' && !differs)) {
    return upload(copy.volume, reason, localProof);
  }
  if (sourceDown !== undefined) return note('lost-unknown-copy-waits-for-source');
  return download('redownload', copy.volume, { ...reason, localCopy: differs ? 'not-current' : 'unprovable' }, reason);
}

/** The destination already holds the version (by the rule that proves it): adopt it, unless a verified staged copy is cheaper to upload. */
export function decideAdoptable(facts: KeyFacts, context: DecisionContext, local: LocalView): Decision | undefined {
  const { found, copy } = facts;
  if (found === undefined || !('adopt' in found)) return undefined;
  const stagedCopy = copy !== undefined && facts.stage === 'staged' && copy.volume === facts.knownVolume;
  // A verified staged copy is cheaper to upload than both objects are to read and compare.
  if (found.adopt === 'content' && stagedCopy) return undefined;
  return {
    then: 'adopt',
    rule: found.adopt,
    destinationEtag: (facts.destination as ObjectEntry).etag,
    purge: copy !== undefined && context.purgeAfterUpload ? copy.volume : undefined,
    strays: local.strays(copy),
  };
}

/** Why the destination's object is not taken as the version, when it has one of the version's size. */
function transferReason(facts: KeyFacts): ActionReason | undefined {
  return facts.found !== undefined && 'transfer' in facts.found ? facts.found.transfer : undefined;
}

/** A verified staged copy: upload it (over another object, when the destination has one). */
export function decideStaged(facts: KeyFacts, copy: LocalFile): Decision {
  return upload(copy.volume, facts.destination === undefined ? undefined : (transferReason(facts) ?? { code: 'destination-differs' }));
}

/** A local copy the ledger does not know (invariant 10): uploaded only once apply proves it is this version, else downloaded again over it. */
export function decideUnknownCopy(facts: KeyFacts, context: DecisionContext, copy: LocalFile): Decision {
  const { source, record, version } = facts;
  const stagedOn = facts.stage === undefined ? undefined : copy.volume;
  const about = (reason: ActionReason): ActionReason => (stagedOn === undefined ? reason : { ...reason, stagedOn });
  const localProof = localProofFor(version);
  if (facts.matches && record?.localDiffers === copy.volume && source !== undefined) {
    return download('redownload', copy.volume, about({ code: 'local-copy-not-current' }), undefined);
  }
  if (localProof !== undefined) return upload(copy.volume, about({ code: 'local-copy-checked', proof: localProof }), localProof);
  if (context.sourceDown !== undefined && context.adopt !== 'size') return note('unknown-copy-waits-for-source');
  if (context.adopt === 'size' || source === undefined) {
    return upload(copy.volume, about({ code: 'local-copy-trusted', trustedBecause: source === undefined ? 'source-unlisted' : 'adopt-size' }));
  }
  return download('redownload', copy.volume, about({ code: 'local-copy-unprovable' }), undefined);
}

/** No usable copy on disk: download it, or download again over a partial, stale or missing staged copy. */
export function decideMissing(facts: KeyFacts, context: DecisionContext, local: LocalView): Decision {
  const { source, stage, knownVolume, staleVolume, record } = facts;
  if (source === undefined) return note(context.sourceDown !== undefined ? 'staged-missing-waits-for-source' : 'staged-missing-not-listed');
  const bad = local.badCopy();
  if (bad !== undefined) {
    const reason: ActionReason = bad.volume === staleVolume ? { code: 'older-version-on-disk' } : { code: 'size-differs-locally', localSize: bad.size, expectedSize: facts.version.size };
    return download('redownload', bad.volume, reason, undefined, bad.volume);
  }
  if (stage === 'staged') return download('redownload', knownVolume, { code: 'staged-copy-missing' }, undefined);
  const retry: ActionReason | undefined = facts.matches && record !== undefined && record.attempts > 0 ? { code: 'retry', attempts: record.attempts } : undefined;
  return download('download', undefined, transferReason(facts) ?? retry, undefined);
}
