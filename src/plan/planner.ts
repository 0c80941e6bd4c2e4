/**
 * The planner: a pure function of (Config, inputs) to Plan. No I/O, no clock, no randomness. It
 * never plans a deletion at the source or the destination, and a listing that may be cut short
 * never turns into "the object is gone". `PlanBuilder` is fed the merged pass key by key
 * (./merge.ts: sorted streams in, so memory does not follow the number of keys) and hands its
 * actions to spools; `planStreams` drives it over the listings' streams, the ledger's cursor and
 * the sorted volume scan: the one planner, for the unit tests' tables as for a 10M-object plan.
 *
 * Per key (see DESIGN "Plan actions"), with the version = (size, ETag) the source lists, or the
 * ledger's when the source no longer lists it:
 * - delivered/purged per ledger: purge a local copy left behind; re-deliver when a complete
 *   destination listing no longer shows it (upload the local copy, else download again);
 * - otherwise: adopt when the destination already holds the version, upload a local copy of the
 *   right size, re-download a copy of the wrong size or a staged copy that vanished, and
 *   download everything else.
 * Budgets: downloads are placed in key order as the pass goes (a key late, to learn whether the
 * next key makes it a folder); uploads of copies already on disk get the upload budget first
 * (they free staging space), then each planned download's upload and purge, in key order.
 *
 * A version that keeps failing backs off (src/plan/backoff.ts): until its next try, the transfer
 * it would get is not planned and it is counted as waiting instead. The time comes in as
 * `options.now`; without it nothing waits.
 *
 * The hops are independent (invariant 11). With the destination unreachable, downloads go on
 * within the staging space, and nothing that needs the destination's word is planned: no
 * adopt, upload or purge, no "destination lost it". With the source unreachable, staged copies
 * are uploaded and purged, and nothing is downloaded.
 *
 * What it tells an operator about objects (deferred, left as they are, how `verify: etag` will
 * check them) is data: `plan.notes`, a code, a count, bytes and a few keys each (./notes.ts); the
 * views write the sentences. `plan.warnings` keeps the sentences about the run (a hop down, a
 * listing cut short, a connection cap).
 */
import type { Config } from '../model/config.ts';
import type { AdoptRule, LedgerRecord, ListingFlaws, ListingStream, LocalFile, LocalLink, ObjectEntry, VolumeInfo } from '../model/objects.ts';
import { ACTION_ORDER, type Action, type ActionKind, type Plan, type PlanNote, type PlanNoteCode, type PlanSummary, type WaitingSummary } from '../model/plan.ts';
import { backoffOf, nextTryMs, type Backoff } from './backoff.ts';
import { adoption, localProofFor } from './adopt.ts';
import { mergeStreams, sortLocals, type KeyRow, type PageObserver } from './merge.ts';
import { NoteBook } from './notes.ts';
import { etagShape } from './etag.ts';
import { keyFilter } from './filters.ts';
import { hopSettings } from './hops.ts';
import { destinationKeySkip, keySkipReason, ownOutputSkip } from './keys.ts';
import { linkOnPath, openVolumeBooks, placeDownload, recordDownload, sortedContains, volumePlans, type VolumeBook } from './volumes.ts';
import { memorySpools, SpooledActions, type RankedSpool, type SpoolFactory } from '../manifest/spool.ts';

export { ACTION_ORDER };

const MD5_HEX = /^[0-9a-f]{32}$/i;

interface Version {
  size: number;
  etag: string;
}

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
function changedSinceDelivery(record: LedgerRecord, destination: ObjectEntry): string {
  if (record.destinationEtag !== undefined) return `destination changed since delivery (lists ETag ${JSON.stringify(destination.etag)}, delivered ${JSON.stringify(record.destinationEtag)})`;
  if (record.size !== destination.size) return `destination changed since delivery (lists ${destination.size} bytes, delivered ${record.size})`;
  return `destination changed since delivery (lists ETag ${JSON.stringify(destination.etag)}, delivered ${JSON.stringify(record.etag)})`;
}

/** A download the budgets and volumes have yet to accept. */
interface DownloadCandidate {
  /** Position of the key in the merged pass: key order as a number. */
  rank: number;
  kind: 'download' | 'redownload';
  key: string;
  size: number;
  etag: string;
  /** A re-download goes back to the volume its copy was on, if that volume has room. */
  preferredVolume: string | undefined;
  /** The volume of the partial or stale copy a re-download replaces (removed if the new copy lands elsewhere). */
  staleCopyOn?: string;
  reason: string | undefined;
  /** Shown on the chained upload too: only a re-delivery's reason is about the upload. */
  uploadReason: string | undefined;
}

/** A local copy the ledger does not know, uploaded once apply proves it by this digest. */
type LocalProof = Action['localProof'];

/** An upload of a copy already on disk, waiting for the upload budget. */
interface UploadCandidate {
  rank: number;
  key: string;
  size: number;
  etag: string;
  volume: string;
  reason: string | undefined;
  localProof: LocalProof;
}

/** An adopt: the rule that proves it, and the destination ETag apply records (and compares against). */
function adoptAction(key: string, size: number, etag: string, rule: AdoptRule, destinationEtag: string): Action {
  return { kind: 'adopt', key, size, etag, adoptBy: rule, destinationEtag };
}

/** An action with only the fields that mean something set (positional: no temporary objects per action). */
function action(kind: ActionKind, key: string, size: number, etag: string, volume?: string, afterDownload?: boolean, reason?: string): Action {
  const result: Action = { kind, key, size, etag };
  if (volume !== undefined) result.volume = volume;
  if (afterDownload === true) result.afterDownload = true;
  if (reason !== undefined) result.reason = reason;
  return result;
}

function retryNote(record: LedgerRecord | undefined): string | undefined {
  if (record === undefined || record.attempts === 0) return undefined;
  return `retry after ${record.attempts} failed ${record.attempts === 1 ? 'attempt' : 'attempts'}`;
}

/** What the planner is told besides the config and the inventory. */
export interface PlanOptions {
  /** Makes the plan's spools (the engine's spill to files); without it every action stays in memory. */
  spools?: SpoolFactory;
  /** The time of the plan (epoch ms), against which failing objects back off; undefined: none waits. */
  now?: number;
  /** Try every failing object now, whatever its backoff (`--retry-failed`). */
  retryFailed?: boolean;
}

/** Objects whose transfer waits for their next try: counted, with the earliest try and a few examples. */
class Waiting {
  count = 0;
  bytes = 0;
  earliest = Number.POSITIVE_INFINITY;
  readonly examples: WaitingSummary['examples'] = [];

  add(record: LedgerRecord, nextTry: number): void {
    this.count += 1;
    this.bytes += record.size;
    this.earliest = Math.min(this.earliest, nextTry);
    if (this.examples.length < 3) {
      const example: WaitingSummary['examples'][number] = { key: record.key, attempts: record.attempts, nextTryAt: new Date(nextTry).toISOString() };
      if (record.lastError !== undefined) example.lastError = record.lastError;
      this.examples.push(example);
    }
  }

  summary(): WaitingSummary | undefined {
    if (this.count === 0) return undefined;
    return { count: this.count, bytes: this.bytes, nextTryAt: new Date(this.earliest).toISOString(), examples: this.examples };
  }
}

/** What the planner knows of a hop's listing before its entries are read: only its state, not its keys. */
export interface ListingState {
  complete: boolean;
  unreachable?: string;
  /** Keys the listing could not tell apart or read; read once the pass has ended (a stream's are final then). */
  flaws?: ListingFlaws;
}

/** What is known before the merged pass: the listings' state, the volumes and the sorted local files. */
export interface PassSetup {
  source: ListingState;
  destination: ListingState;
  volumes: readonly VolumeInfo[];
  /** Sorted and de-duplicated (see sortLocals): one per key and volume. */
  locals: readonly LocalFile[];
  links?: readonly LocalLink[];
  /** Warnings about the inputs found while sorting them (duplicates). */
  warnings?: readonly string[];
}

/** The spools one plan's actions go to; each is in key order (rank order). */
class PlanSpools {
  readonly download: RankedSpool;
  readonly redownload: RankedSpool;
  readonly adopt: RankedSpool;
  readonly stagedUpload: RankedSpool;
  readonly chainedUpload: RankedSpool;
  readonly passPurge: RankedSpool;
  readonly stagedPurge: RankedSpool;
  readonly chainedPurge: RankedSpool;
  readonly keySkip: RankedSpool;
  readonly linkSkip: RankedSpool;
  /** Uploads of accepted downloads, before the upload budget (which staged copies get first) has its say. */
  readonly chain: RankedSpool;

  constructor(spool: SpoolFactory) {
    this.download = spool();
    this.redownload = spool();
    this.adopt = spool();
    this.stagedUpload = spool();
    this.chainedUpload = spool();
    this.passPurge = spool();
    this.stagedPurge = spool();
    this.chainedPurge = spool();
    this.keySkip = spool();
    this.linkSkip = spool();
    this.chain = spool();
  }

  actions(): SpooledActions {
    for (const spool of Object.values(this) as RankedSpool[]) spool.end();
    const segments: Record<ActionKind, RankedSpool[]> = {
      download: [this.download],
      redownload: [this.redownload],
      adopt: [this.adopt],
      upload: [this.stagedUpload, this.chainedUpload],
      purge: [this.passPurge, this.stagedPurge, this.chainedPurge],
      skip: [this.keySkip, this.linkSkip],
    };
    return new SpooledActions(ACTION_ORDER.map((kind) => ({ kind, spools: segments[kind] })));
  }
}

/**
 * One plan in the making: fed the merged pass key by key ({@link PlanBuilder.row}), then
 * {@link PlanBuilder.finish}ed. Per key it decides at once, and a download is placed at once (a
 * key late, to learn whether the next key makes it a folder too); only uploads of copies already
 * on disk wait for the end, since they get the upload budget first, and they are bounded by the
 * staging space. Actions go to spools, so memory does not follow the number of keys.
 */
export class PlanBuilder {
  readonly #config: Config;
  readonly #setup: PassSetup;
  readonly #warnings: string[] = [];
  readonly #download: ReturnType<typeof hopSettings>;
  readonly #upload: ReturnType<typeof hopSettings>;
  readonly #books: VolumeBook[];
  readonly #included: (key: string) => boolean;
  readonly #ownOutput: (key: string) => string | undefined;
  readonly #destinationKeyTooLong: (key: string) => string | undefined;
  readonly #spools: PlanSpools;
  readonly #notes = new NoteBook();
  readonly #waiting = new Waiting();
  readonly #deferredUploads = new NoteBook();
  readonly #deferredDownloads = new NoteBook();
  readonly #deferredChained = new NoteBook();
  /** Planned downloads whose ETags are not plain MD5s (how `verify: etag` checks them): opaque ones, then multipart. */
  readonly #opaqueEtags = new NoteBook();
  readonly #multipartEtags = new NoteBook();
  readonly #now: number | undefined;
  readonly #backoff: Backoff;
  readonly #uploadCandidates: UploadCandidate[] = [];
  /**
   * Keys that are a prefix of the next key in key order: the only ones that can be both a file
   * and a folder (everything starting with K sorts right after K), so the only ones whose
   * downloads need a collision check. Usually none.
   */
  readonly #prefixKeys: string[] = [];
  #previousKey: string | undefined;
  /** The last key's download, placed once the next key is known. */
  #held: DownloadCandidate | undefined;
  #rank = -1;
  #downloadBytes = 0;
  #adoptsByContent = 0;
  #finished = false;

  constructor(config: Config, setup: PassSetup, options: PlanOptions = {}) {
    this.#config = config;
    this.#setup = setup;
    const { transfer } = config;
    const warnings = this.#warnings;
    const { source, destination } = setup;
    if (source.unreachable !== undefined) warnings.push(`source unreachable: downloads wait; staged copies are still uploaded (${source.unreachable})`);
    else if (!source.complete) warnings.push('The source listing is incomplete: objects it did not show are left as they are until a complete listing shows them.');
    if (destination.unreachable !== undefined) warnings.push(`destination unreachable: uploads wait; downloads go on while staging has room (${destination.unreachable})`);
    else if (!destination.complete) warnings.push('The destination listing is incomplete: nothing is taken as lost from it, and objects it did not show may be uploaded again.');
    this.#download = hopSettings(transfer.workers, transfer.concurrency, config.source.maxConnections, 'source');
    this.#upload = hopSettings(transfer.workers, transfer.concurrency, config.destination.maxConnections, 'destination');
    if (this.#download.warning !== undefined) warnings.push(this.#download.warning);
    if (this.#upload.warning !== undefined) warnings.push(this.#upload.warning);
    warnings.push(...(setup.warnings ?? []));
    this.#books = openVolumeBooks(setup.volumes, setup.locals, warnings, setup.links);
    this.#included = keyFilter(transfer.include, transfer.exclude);
    this.#ownOutput = ownOutputSkip(config.source, config.destination);
    this.#destinationKeyTooLong = destinationKeySkip(config.destination.prefix);
    this.#spools = new PlanSpools(options.spools ?? memorySpools);
    this.#now = options.retryFailed === true ? undefined : options.now;
    this.#backoff = backoffOf(config);
  }

  /** The next try of a version still backing off at `now`, else undefined. */
  #waitsUntil(record: LedgerRecord | undefined): number | undefined {
    if (this.#now === undefined || record === undefined || record.attempts === 0) return undefined;
    const next = nextTryMs(record, this.#backoff);
    return next !== undefined && next > this.#now ? next : undefined;
  }

  /** A local file of the version's size: the one on `knownVolume` if there, else one on a volume not known to hold another version. */
  #goodCopy(row: KeyRow, version: Version, knownVolume: string | undefined, staleVolume: string | undefined): LocalFile | undefined {
    const locals = this.#setup.locals;
    let fallback: LocalFile | undefined;
    for (let i = row.localStart; i < row.localEnd; i++) {
      const file = locals[i] as LocalFile;
      if (file.size !== version.size || file.volume === staleVolume) continue;
      if (file.volume === knownVolume) return file;
      fallback ??= file;
    }
    return fallback;
  }

  /** A local file that cannot be the version: wrong size on `knownVolume`, any file on `staleVolume`, else any file. */
  #badCopy(row: KeyRow, version: Version, knownVolume: string | undefined, staleVolume: string | undefined): LocalFile | undefined {
    const locals = this.#setup.locals;
    let fallback: LocalFile | undefined;
    for (let i = row.localStart; i < row.localEnd; i++) {
      const file = locals[i] as LocalFile;
      if (file.volume === knownVolume && file.size !== version.size) return file;
      if (file.volume === staleVolume) return file;
      fallback ??= file;
    }
    return fallback;
  }

  /** Files of a key whose version is already at the destination, other than `kept`: nothing plans to touch them. */
  #noteStrays(row: KeyRow, kept: LocalFile | undefined): void {
    const locals = this.#setup.locals;
    for (let i = row.localStart; i < row.localEnd; i++) {
      if (locals[i] !== kept) {
        this.#notes.add('stray-local-file', row.key);
        return;
      }
    }
  }

  /** Whether the key's path on `volume` passes through a symbolic link the scan met (its copy is then out of sight, not gone). */
  #pathThroughLink(volume: string, key: string): boolean {
    const book = this.#books.find((candidate) => candidate.info.root === volume);
    if (book === undefined || linkOnPath(book, key) === undefined) return false;
    this.#notes.add('staged-path-through-link', key, undefined, { volume });
    return true;
  }

  /** Decides one key of the merged pass. Rows come in key order, each key once. */
  row(row: KeyRow): void {
    if (this.#finished) throw new Error('PlanBuilder.row() after finish()');
    this.#rank += 1;
    const rank = this.#rank;
    const key = row.key;
    if (this.#previousKey !== undefined && key.startsWith(this.#previousKey)) this.#prefixKeys.push(this.#previousKey);
    this.#previousKey = key;
    this.#placeHeld();
    if (!this.#included(key)) return;
    const { transfer } = this.#config;
    const spools = this.#spools;
    const notes = this.#notes;
    const sourceDown = this.#setup.source.unreachable;
    const destinationDown = this.#setup.destination.unreachable;
    const destinationComplete = this.#setup.destination.complete;
    const purgeAfterUpload = transfer.purgeAfterUpload;
    const source: ObjectEntry | undefined = row.source;
    const record = row.record;
    const skipReason = keySkipReason(key) ?? this.#ownOutput(key) ?? this.#destinationKeyTooLong(key);
    if (skipReason !== undefined) {
      if (source !== undefined) spools.keySkip.push(rank, action('skip', key, source.size, source.etag, undefined, false, skipReason));
      return;
    }
    const version: Version | undefined = source ?? (record?.stage === undefined ? undefined : record);
    if (version === undefined) return;
    const matches = record !== undefined && record.size === version.size && record.etag === version.etag;
    const stage = matches ? record.stage : undefined;
    const knownVolume = matches ? record.volume : undefined;
    const staleVolume = !matches && (record?.stage === 'staged' || record?.stage === 'delivered') ? record.volume : undefined;
    const destination = row.destination;
    const { size, etag } = version;
    const delivered = stage === 'delivered' || stage === 'purged';
    // Delivered, but the destination lists another ETag than the one recorded at delivery (an
    // overwrite since, e.g. by a leftover upload): not delivered any more (invariant 12).
    // Not the copy delivered (invariant 12): the recorded ETag, or without one the size or plain MD5s, differ.
    const changedAtDestination = delivered && destinationDown === undefined && destination !== undefined && !deliveredCopyAtDestination(record as LedgerRecord, destination);
    const found = delivered || destination === undefined ? undefined : adoption(version, destination, record, transfer.adopt);
    // Backoff holds back transfers only: an adopt or a purge moves no data and goes ahead.
    const transfers = delivered ? (destination === undefined && destinationComplete) || changedAtDestination : !(found !== undefined && 'adopt' in found);
    const nextTry = transfers && matches ? this.#waitsUntil(record) : undefined;
    if (nextTry !== undefined) {
      this.#waiting.add(record as LedgerRecord, nextTry);
      return;
    }
    const download = (kind: DownloadCandidate['kind'], preferredVolume: string | undefined, reason: string | undefined, uploadReason: string | undefined, staleCopyOn?: string): void => {
      this.#held = { rank, kind, key, size, etag, preferredVolume, reason, uploadReason, ...(staleCopyOn === undefined ? {} : { staleCopyOn }) };
    };
    const upload = (volume: string, reason: string | undefined, localProof: LocalProof): void => {
      this.#uploadCandidates.push({ rank, key, size, etag, volume, reason, localProof });
    };

    if (delivered) {
      if (destinationDown !== undefined) {
        // Still there (purge) or lost (deliver again): only the destination's listing can say.
        if (stage === 'delivered' && purgeAfterUpload && this.#goodCopy(row, version, knownVolume, staleVolume) !== undefined) {
          notes.add('purge-waits-for-destination', key);
        }
        return;
      }
      if ((destination === undefined && destinationComplete) || changedAtDestination) {
        const reason = changedAtDestination ? changedSinceDelivery(record as LedgerRecord, destination as ObjectEntry) : 'destination lost it';
        const copy = this.#goodCopy(row, version, knownVolume, staleVolume);
        // After the purge, or on another volume, the file is not the copy the ledger staged.
        const unknown = copy !== undefined && copy.volume !== knownVolume;
        const localProof = unknown && record?.localDiffers !== copy.volume ? localProofFor(version) : undefined;
        if (copy !== undefined && (!unknown || localProof !== undefined || (source === undefined && sourceDown === undefined) || (transfer.adopt === 'size' && record?.localDiffers !== copy.volume))) {
          upload(copy.volume, reason, localProof);
        } else if (copy !== undefined && sourceDown !== undefined) {
          notes.add('lost-unknown-copy-waits-for-source', key);
        } else if (copy !== undefined) {
          const why = record?.localDiffers === copy.volume ? 'the local copy is not the source\'s current version (compared)' : 'the local copy is not in the ledger, and the source ETag cannot prove it';
          download('redownload', copy.volume, `${reason}; ${why}`, reason);
        } else if (source !== undefined) download('download', undefined, reason, reason);
        else if (sourceDown !== undefined) notes.add('lost-waits-for-source', key);
        else notes.add('lost-not-redeliverable', key);
        return;
      }
      if (destination === undefined) notes.add('delivered-missing-from-incomplete-listing', key);
      const copy = stage === 'delivered' ? this.#goodCopy(row, version, knownVolume, staleVolume) : undefined;
      if (copy !== undefined && purgeAfterUpload) spools.passPurge.push(rank, action('purge', key, size, etag, copy.volume));
      else if (stage === 'delivered' && copy === undefined && purgeAfterUpload && knownVolume !== undefined && row.localStart === row.localEnd && !this.#pathThroughLink(knownVolume, key)) {
        // The staged copy is gone but its purge was never recorded (a stop between the delete
        // and its record): the purge completes, so the ledger and status say where things are.
        spools.passPurge.push(rank, action('purge', key, size, etag, knownVolume, false, 'staged copy already deleted; recording the purge'));
      }
      this.#noteStrays(row, copy);
      return;
    }

    const copy = this.#goodCopy(row, version, knownVolume, staleVolume);
    const stagedCopy = copy !== undefined && stage === 'staged' && copy.volume === knownVolume;
    // A verified staged copy is cheaper to upload than both objects are to read and compare.
    if (found !== undefined && 'adopt' in found && !(found.adopt === 'content' && stagedCopy)) {
      spools.adopt.push(rank, adoptAction(key, size, etag, found.adopt, (destination as ObjectEntry).etag));
      if (found.adopt === 'content') this.#adoptsByContent += 1;
      if (copy !== undefined && purgeAfterUpload) spools.passPurge.push(rank, action('purge', key, size, etag, copy.volume));
      this.#noteStrays(row, copy);
      return;
    }
    const transferReason = found !== undefined && 'transfer' in found ? found.transfer : undefined;
    if (stagedCopy) {
      upload(copy.volume, destination === undefined ? undefined : (transferReason ?? 'destination differs'), undefined);
      return;
    }
    if (copy !== undefined) {
      // A copy the ledger does not know (invariant 10): uploaded only once apply proves it is
      // this version, else downloaded again over it.
      const known = stage === undefined ? 'local copy not in the ledger' : `staged copy found on ${copy.volume}`;
      const localProof = localProofFor(version);
      if (matches && record.localDiffers === copy.volume && source !== undefined) {
        download('redownload', copy.volume, `${known} is not the source's current version (compared)`, undefined);
      } else if (localProof !== undefined) {
        upload(copy.volume, `${known}; ${localProof === 'md5' ? 'MD5' : 'multipart ETag'} checked against the source before the upload`, localProof);
      } else if (sourceDown !== undefined && transfer.adopt !== 'size') {
        notes.add('unknown-copy-waits-for-source', key);
      } else if (transfer.adopt === 'size' || source === undefined) {
        const why = source === undefined ? 'the source no longer lists it' : 'transfer.adopt: size';
        upload(copy.volume, `${known}; trusted by its size (${why})`, undefined);
      } else {
        download('redownload', copy.volume, `${known}, and the source ETag cannot prove it is this version`, undefined);
      }
      return;
    }
    if (source === undefined) {
      if (sourceDown !== undefined) notes.add('staged-missing-waits-for-source', key);
      else notes.add('staged-missing-not-listed', key);
      return;
    }
    const bad = this.#badCopy(row, version, knownVolume, staleVolume);
    if (bad !== undefined) {
      const reason = bad.volume === staleVolume ? 'older version on disk' : `size differs locally (${bad.size} bytes, expected ${size})`;
      download('redownload', bad.volume, reason, undefined, bad.volume);
    } else if (stage === 'staged') {
      download('redownload', knownVolume, 'staged copy is missing', undefined);
    } else {
      download('download', undefined, transferReason ?? retryNote(matches ? record : undefined), undefined);
    }
  }

  #mayCollide(key: string): boolean {
    const prefixKeys = this.#prefixKeys;
    if (prefixKeys.length === 0) return false;
    if (sortedContains(prefixKeys, key)) return true;
    for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
      if (sortedContains(prefixKeys, key.slice(0, slash))) return true;
    }
    return false;
  }

  /** Places the held download within the download budget and the volumes' room, in key order. */
  #placeHeld(): void {
    const candidate = this.#held;
    if (candidate === undefined) return;
    this.#held = undefined;
    const { rank, kind, key, size, etag, reason, uploadReason } = candidate;
    const deferred = this.#deferredDownloads;
    const maxDownloadBytes = this.#config.transfer.maxBatchBytes;
    if (this.#downloadBytes + size > maxDownloadBytes) {
      deferred.add('deferred-download-batch-cap', key, size, { limitBytes: maxDownloadBytes });
      return;
    }
    const placement = placeDownload(this.#books, key, size, candidate.preferredVolume, this.#mayCollide(key));
    if ('noRoom' in placement) {
      deferred.add('deferred-download-no-room', key, size);
      return;
    }
    if ('collidesWith' in placement) {
      deferred.add('deferred-download-collision', key, size, { collidesWith: placement.collidesWith });
      return;
    }
    if ('throughLink' in placement) {
      this.#spools.linkSkip.push(rank, action('skip', key, size, etag, undefined, false, `its local path passes through the symbolic link ${placement.throughLink} (links below a volume root are not followed)`));
      return;
    }
    const volume = placement.volume.info.root;
    recordDownload(placement.volume, key, size);
    this.#downloadBytes += size;
    const planned = action(kind, key, size, etag, volume, false, reason);
    if (candidate.staleCopyOn !== undefined && candidate.staleCopyOn !== volume) planned.replaces = candidate.staleCopyOn;
    (kind === 'download' ? this.#spools.download : this.#spools.redownload).push(rank, planned);
    const shape = etagShape(etag).kind;
    if (shape === 'opaque') this.#opaqueEtags.add('etag-not-md5', key);
    else if (shape === 'multipart') this.#multipartEtags.add('etag-multipart', key);
    this.#spools.chain.push(rank, action('upload', key, size, etag, volume, true, uploadReason));
  }

  /** Ends the pass: the upload budget (copies on disk first, then the chained uploads of this plan's downloads) and the plan. */
  finish(listingWarnings: { source: readonly string[]; destination: readonly string[] } = { source: [], destination: [] }): Plan<SpooledActions> {
    if (this.#finished) throw new Error('PlanBuilder.finish() twice');
    this.#placeHeld();
    this.#finished = true;
    const { transfer } = this.#config;
    const spools = this.#spools;
    const destinationDown = this.#setup.destination.unreachable;
    const purgeAfterUpload = transfer.purgeAfterUpload;
    const maxUploadBytes = transfer.maxUploadBatchBytes;
    let uploadBytes = 0;
    /** Whether an upload fits the upload budget now (booked if so); else the note that says why it waits. */
    const fits = (notes: NoteBook, codes: { down: PlanNoteCode; cap: PlanNoteCode }, key: string, size: number): boolean => {
      if (destinationDown !== undefined) notes.add(codes.down, key, size);
      else if (uploadBytes + size > maxUploadBytes) notes.add(codes.cap, key, size, { limitBytes: maxUploadBytes });
      else {
        uploadBytes += size;
        return true;
      }
      return false;
    };
    const staged = { down: 'deferred-upload-destination-unreachable', cap: 'deferred-upload-batch-cap' } as const;
    for (const candidate of this.#uploadCandidates) {
      const { rank, key, size, etag, volume, reason, localProof } = candidate;
      if (!fits(this.#deferredUploads, staged, key, size)) continue;
      const upload = action('upload', key, size, etag, volume, false, reason);
      if (localProof !== undefined) upload.localProof = localProof;
      spools.stagedUpload.push(rank, upload);
      if (purgeAfterUpload) spools.stagedPurge.push(rank, action('purge', key, size, etag, volume));
    }
    const chainedCodes = { down: 'deferred-chained-upload-destination-unreachable', cap: 'deferred-chained-upload-batch-cap' } as const;
    for (const [rank, chained] of spools.chain.entries()) {
      const { key, size } = chained;
      if (!fits(this.#deferredChained, chainedCodes, key, size)) continue;
      spools.chainedUpload.push(rank, chained);
      if (purgeAfterUpload) spools.chainedPurge.push(rank, action('purge', key, size, chained.etag, chained.volume, true));
    }

    const warnings = this.#warnings;
    for (const warning of listingWarnings.source) warnings.push(`source: ${warning}`);
    for (const warning of listingWarnings.destination) warnings.push(`destination: ${warning}`);
    const deferredNotes = [this.#deferredUploads, this.#deferredDownloads, this.#deferredChained];
    const listingNotes = flawNotes(this.#setup);
    const notes = [...listingNotes, ...this.#notes.notes(), ...deferredNotes.flatMap((book) => book.notes())];
    if (transfer.verify === 'etag') notes.push(...this.#opaqueEtags.notes(), ...this.#multipartEtags.notes());

    let deferredCount = 0;
    let deferredBytes = 0;
    for (const book of deferredNotes) {
      const totals = book.totals();
      deferredCount += totals.count;
      deferredBytes += totals.bytes;
    }
    const actions = spools.actions();
    const skips = spools.keySkip.length + spools.linkSkip.length;
    const summary: PlanSummary = {
      download: { count: spools.download.length + spools.redownload.length, bytes: this.#downloadBytes },
      upload: { count: spools.stagedUpload.length + spools.chainedUpload.length, bytes: uploadBytes },
      purge: { count: spools.passPurge.length + spools.stagedPurge.length + spools.chainedPurge.length, bytes: spools.passPurge.bytes + spools.stagedPurge.bytes + spools.chainedPurge.bytes },
      adopt: { count: spools.adopt.length, bytes: spools.adopt.bytes, ...(this.#adoptsByContent > 0 ? { byContent: this.#adoptsByContent } : {}) },
      skip: { count: skips },
      deferred: { count: deferredCount, bytes: deferredBytes },
      ...(this.#waiting.count > 0 ? { waiting: this.#waiting.summary() } : {}),
      noChanges: actions.length === skips && deferredCount === 0 && listingNotes.length === 0 && this.#setup.source.complete && this.#setup.destination.complete,
    };
    return {
      formatVersion: 1,
      actions,
      summary,
      volumes: volumePlans(this.#books),
      hops: { download: this.#download.settings, upload: this.#upload.settings },
      warnings,
      notes,
    };
  }
}

/**
 * The notes of listings that could not tell keys apart (invariant 12): each keeps the plan from
 * "no changes", since an object behind a merged or unreadable key may never have been planned.
 */
function flawNotes(setup: PassSetup): PlanNote[] {
  const notes: PlanNote[] = [];
  for (const hop of ['source', 'destination'] as const) {
    const flaws = setup[hop].flaws;
    if (flaws === undefined) continue;
    if (flaws.duplicates > 0) notes.push({ code: `${hop}-listing-duplicate-keys`, count: flaws.duplicates, examples: flaws.firstDuplicate === undefined ? [] : [flaws.firstDuplicate] });
    if (flaws.undecodable > 0) notes.push({ code: `${hop}-listing-undecodable-keys`, count: flaws.undecodable, examples: flaws.firstUndecodable === undefined ? [] : [flaws.firstUndecodable] });
  }
  return notes;
}

function duplicateLocalsWarning(count: number, first: string): string {
  return `the volume scan lists ${count} duplicate ${count === 1 ? 'entry' : 'entries'} (first: ${JSON.stringify(first)}); kept the first of each in key order`;
}

/** What the streaming planner reads: the listings as streams, the ledger as a cursor. */
export interface StreamedInventory {
  source: ListingStream;
  destination: ListingStream;
  volumes: readonly VolumeInfo[];
  local: readonly LocalFile[];
  links?: readonly LocalLink[];
  ledger: { serial: number; records: Iterable<LedgerRecord> };
}

/**
 * Makes the plan from sorted streams: the merged pass reads each listing a page at a time and
 * the ledger a row at a time, so memory follows the staging space, not the number of keys.
 * `observe` sees each listing page as it is read (the inventory's fingerprint).
 */
export async function planStreams(config: Config, inventory: StreamedInventory, options: PlanOptions & { observe?: PageObserver } = {}): Promise<{ plan: Plan<SpooledActions>; locals: readonly LocalFile[] }> {
  const sorted = sortLocals(inventory.local);
  const warnings = sorted.duplicates.count === 0 ? [] : [duplicateLocalsWarning(sorted.duplicates.count, sorted.duplicates.first ?? '')];
  const builder = new PlanBuilder(
    config,
    { source: inventory.source, destination: inventory.destination, volumes: inventory.volumes, locals: sorted.locals, links: inventory.links ?? [], warnings },
    options,
  );
  const { source, destination } = inventory;
  await mergeStreams({ source: source.pages, destination: destination.pages, locals: sorted.locals, records: inventory.ledger.records }, (row) => builder.row(row), options.observe);
  return { plan: builder.finish({ source: source.warnings, destination: destination.warnings }), locals: sorted.locals };
}
