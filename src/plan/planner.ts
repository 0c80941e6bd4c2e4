/**
 * The planner: a pure function of (Config, Inventory) to Plan. No I/O, no clock, no randomness;
 * the same plan whatever order the listings arrive in. It never plans a deletion at the source or
 * the destination, and a listing that may be cut short never turns into "the object is gone".
 *
 * Per key (see DESIGN "Plan actions"), with the version = (size, ETag) the source lists, or the
 * ledger's when the source no longer lists it:
 * - delivered/purged per ledger: purge a local copy left behind; re-deliver when a complete
 *   destination listing no longer shows it (upload the local copy, else download again);
 * - otherwise: adopt when the destination already holds the version, upload a local copy of the
 *   right size, re-download a copy of the wrong size or a staged copy that vanished, and
 *   download everything else.
 * Then budgets: uploads of copies already on disk first (they free staging space), then
 * downloads in key order, each followed in the same plan by its upload and purge.
 *
 * A version that keeps failing backs off (src/plan/backoff.ts): until its next try, the transfer
 * it would get is not planned and it is counted as waiting instead. The time comes in as
 * `options.now`; without it nothing waits.
 *
 * The hops are independent (invariant 11). With the destination unreachable, downloads go on
 * within the staging space, and nothing that needs the destination's word is planned: no
 * adopt, upload or purge, no "destination lost it". With the source unreachable, staged copies
 * are uploaded and purged, and nothing is downloaded.
 */
import type { Config } from '../model/config.ts';
import type { AdoptRule, Inventory, LedgerRecord, LocalFile, ObjectEntry } from '../model/objects.ts';
import type { Action, ActionKind, Plan, PlanSummary, WaitingSummary } from '../model/plan.ts';
import { backoffOf, nextTryMs, type Backoff } from './backoff.ts';
import { formatBytes } from '../config/units.ts';
import { adoption, localProofFor } from './adopt.ts';
import { mergeListings, sortInputs, type KeyRow } from './compare.ts';
import { etagShape } from './etag.ts';
import { keyFilter } from './filters.ts';
import { hopSettings } from './hops.ts';
import { compareKeys, keySkipReason, ownOutputSkip } from './keys.ts';
import { linkOnPath, openVolumeBooks, placeDownload, recordDownload, sortedContains, volumePlans } from './volumes.ts';

/** The order actions are listed in: the order apply works in. */
export const ACTION_ORDER: readonly ActionKind[] = ['download', 'redownload', 'adopt', 'upload', 'purge', 'skip'];

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
  if (version.size !== destination.size) return false;
  if (version.destinationEtag !== undefined) return version.destinationEtag === destination.etag;
  if (version.etag === destination.etag) return true;
  if (MD5_HEX.test(version.etag) && MD5_HEX.test(destination.etag)) return version.etag.toLowerCase() === destination.etag.toLowerCase();
  return true;
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

/** Keys sharing one situation an operator must hear about, shown as a count and a few examples. */
class KeyNotes {
  readonly groups = new Map<string, { count: number; bytes: number; examples: string[] }>();

  add(message: string, key: string, bytes = 0): void {
    let group = this.groups.get(message);
    if (group === undefined) {
      group = { count: 0, bytes: 0, examples: [] };
      this.groups.set(message, group);
    }
    group.count += 1;
    group.bytes += bytes;
    if (group.examples.length < 3) group.examples.push(key);
  }

  lines(withBytes: boolean): string[] {
    return [...this.groups].map(([message, group]) => {
      const size = withBytes ? ` (${formatBytes(group.bytes)})` : '';
      const more = group.count > group.examples.length ? ', ...' : '';
      const examples = group.examples.map((key) => JSON.stringify(key)).join(', ');
      return `${group.count} ${group.count === 1 ? 'object' : 'objects'}${size} ${message}: ${examples}${more}`;
    });
  }
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

/** Actions in key order, each with its key's rank, so lists merge by number rather than by string. */
class RankedActions {
  readonly actions: Action[] = [];
  readonly ranks: number[] = [];

  push(rank: number, item: Action): void {
    this.actions.push(item);
    this.ranks.push(rank);
  }
}

/** Merges lists that are each in key order into one list in key order (a k-way merge on ranks). */
function mergeByRank(lists: RankedActions[]): Action[] {
  const out: Action[] = [];
  const next = lists.map(() => 0);
  for (;;) {
    let best = -1;
    let bestRank = Number.POSITIVE_INFINITY;
    for (let i = 0; i < lists.length; i++) {
      const rank = (lists[i] as RankedActions).ranks[next[i] as number];
      if (rank !== undefined && rank < bestRank) {
        best = i;
        bestRank = rank;
      }
    }
    if (best === -1) return out;
    out.push((lists[best] as RankedActions).actions[next[best] as number] as Action);
    next[best] = (next[best] as number) + 1;
  }
}

/**
 * With `verify: etag`, how the planned downloads will be checked: a source ETag that is not an
 * MD5 cannot be compared, so such objects are checked by size and their local MD5 is carried
 * to the destination check; a multipart ETag is compared when its part size can be found.
 */
function etagNotes(...lists: Action[][]): string[] {
  let opaque = 0;
  let multipart = 0;
  for (const list of lists) {
    for (const planned of list) {
      const kind = etagShape(planned.etag).kind;
      if (kind === 'opaque') opaque++;
      else if (kind === 'multipart') multipart++;
    }
  }
  const notes: string[] = [];
  if (opaque > 0) notes.push(`${opaque} object(s) to download have source ETags that are not MD5s: verify: etag checks them by size and carries their local MD5 to the destination check`);
  if (multipart > 0) notes.push(`${multipart} object(s) to download have multipart ETags: compared when their part size is one of the usual ones; otherwise verify: etag checks them by size and carries their local MD5 to the destination check`);
  return notes;
}

function sumSize(actions: readonly Action[]): number {
  let bytes = 0;
  for (const item of actions) bytes += item.size;
  return bytes;
}

/** What the planner is told besides the config and the inventory. */
export interface PlanOptions {
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

/** Makes the plan: what moves over which hop, onto which volume, within the budgets. */
export function planSync(config: Config, inventory: Inventory, options: PlanOptions = {}): Plan {
  const { transfer } = config;
  const warnings: string[] = [];
  const sourceListing = inventory.source;
  const destinationListing = inventory.destination;
  const sourceDown = sourceListing.unreachable;
  const destinationDown = destinationListing.unreachable;
  if (sourceDown !== undefined) {
    warnings.push(`source unreachable: downloads wait; staged copies are still uploaded (${sourceDown})`);
  } else if (!sourceListing.complete) {
    warnings.push('The source listing is incomplete: objects it did not show are left as they are until a complete listing shows them.');
  }
  for (const warning of sourceListing.warnings) warnings.push(`source: ${warning}`);
  if (destinationDown !== undefined) {
    warnings.push(`destination unreachable: uploads wait; downloads go on while staging has room (${destinationDown})`);
  } else if (!destinationListing.complete) {
    warnings.push('The destination listing is incomplete: nothing is taken as lost from it, and objects it did not show may be uploaded again.');
  }
  for (const warning of destinationListing.warnings) warnings.push(`destination: ${warning}`);

  const download = hopSettings(transfer.workers, transfer.concurrency, config.source.maxConnections, 'source');
  const upload = hopSettings(transfer.workers, transfer.concurrency, config.destination.maxConnections, 'destination');
  if (download.warning !== undefined) warnings.push(download.warning);
  if (upload.warning !== undefined) warnings.push(upload.warning);

  const sorted = sortInputs(sourceListing.entries, destinationListing.entries, inventory.local, inventory.ledger.records);
  warnings.push(...sorted.warnings);
  const books = openVolumeBooks(inventory.volumes, sorted.locals, warnings, inventory.links);
  const included = keyFilter(transfer.include, transfer.exclude);
  const ownOutput = ownOutputSkip(config.source, config.destination);
  const purgeAfterUpload = transfer.purgeAfterUpload;
  const destinationComplete = destinationListing.complete;
  const locals = sorted.locals;

  const adopts: Action[] = [];
  const purgesInPass = new RankedActions();
  const skips: Action[] = [];
  const uploadCandidates: UploadCandidate[] = [];
  const downloadCandidates: DownloadCandidate[] = [];
  const notes = new KeyNotes();
  const waiting = new Waiting();
  const now = options.retryFailed === true ? undefined : options.now;
  const backoff: Backoff = backoffOf(config);
  /** The next try of a version still backing off at `now`, else undefined. */
  const waitsUntil = (record: LedgerRecord | undefined): number | undefined => {
    if (now === undefined || record === undefined || record.attempts === 0) return undefined;
    const next = nextTryMs(record, backoff);
    return next !== undefined && next > now ? next : undefined;
  };

  /** A local file of the version's size: the one on `knownVolume` if there, else one on a volume not known to hold another version. */
  const goodCopy = (row: KeyRow, version: Version, knownVolume: string | undefined, staleVolume: string | undefined): LocalFile | undefined => {
    let fallback: LocalFile | undefined;
    for (let i = row.localStart; i < row.localEnd; i++) {
      const file = locals[i] as LocalFile;
      if (file.size !== version.size || file.volume === staleVolume) continue;
      if (file.volume === knownVolume) return file;
      fallback ??= file;
    }
    return fallback;
  };
  /** A local file that cannot be the version: wrong size on `knownVolume`, any file on `staleVolume`, else any file. */
  const badCopy = (row: KeyRow, version: Version, knownVolume: string | undefined, staleVolume: string | undefined): LocalFile | undefined => {
    let fallback: LocalFile | undefined;
    for (let i = row.localStart; i < row.localEnd; i++) {
      const file = locals[i] as LocalFile;
      if (file.volume === knownVolume && file.size !== version.size) return file;
      if (file.volume === staleVolume) return file;
      fallback ??= file;
    }
    return fallback;
  };

  // Keys that are a prefix of the next key in sorted order: the only ones that can be both a
  // file and a folder (everything starting with K sorts right after K), so the only ones whose
  // downloads need a collision check. Usually none.
  const prefixKeys: string[] = [];
  let previousKey: string | undefined;

  /** Files of a key whose version is already at the destination, other than `kept`: nothing plans to touch them. */
  const noteStrays = (row: KeyRow, kept: LocalFile | undefined): void => {
    for (let i = row.localStart; i < row.localEnd; i++) {
      if (locals[i] !== kept) {
        notes.add('already at the destination with another local file (partial, older or unknown) left on disk', row.key);
        return;
      }
    }
  };

  /** Whether the key's path on `volume` passes through a symbolic link the scan met (its copy is then out of sight, not gone). */
  const pathThroughLink = (volume: string, key: string): boolean => {
    const book = books.find((candidate) => candidate.info.root === volume);
    if (book === undefined || linkOnPath(book, key) === undefined) return false;
    notes.add(`delivered, with the staged copy's path on ${volume} passing through a symbolic link (not followed): left as it is`, key);
    return true;
  };

  let rank = -1;
  const decide = (row: KeyRow): void => {
    rank += 1;
    const key = row.key;
    if (previousKey !== undefined && key.startsWith(previousKey)) prefixKeys.push(previousKey);
    previousKey = key;
    if (!included(key)) return;
    const source: ObjectEntry | undefined = row.source;
    const record = row.record;
    const skipReason = keySkipReason(key) ?? ownOutput(key);
    if (skipReason !== undefined) {
      if (source !== undefined) skips.push(action('skip', key, source.size, source.etag, undefined, false, skipReason));
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
    const found = delivered || destination === undefined ? undefined : adoption(version, destination, record, transfer.adopt);
    // Backoff holds back transfers only: an adopt or a purge moves no data and goes ahead.
    const transfers = delivered ? destination === undefined && destinationComplete : !(found !== undefined && 'adopt' in found);
    const nextTry = transfers && matches ? waitsUntil(record) : undefined;
    if (nextTry !== undefined) {
      waiting.add(record as LedgerRecord, nextTry);
      return;
    }

    if (delivered) {
      if (destinationDown !== undefined) {
        // Still there (purge) or lost (deliver again): only the destination's listing can say.
        if (stage === 'delivered' && purgeAfterUpload && goodCopy(row, version, knownVolume, staleVolume) !== undefined) {
          notes.add('delivered earlier; their purge waits for the destination to be reachable', key);
        }
        return;
      }
      if (destination === undefined && destinationComplete) {
        const reason = 'destination lost it';
        const copy = goodCopy(row, version, knownVolume, staleVolume);
        // After the purge, or on another volume, the file is not the copy the ledger staged.
        const unknown = copy !== undefined && copy.volume !== knownVolume;
        const localProof = unknown && record?.localDiffers !== copy.volume ? localProofFor(version) : undefined;
        if (copy !== undefined && (!unknown || localProof !== undefined || (source === undefined && sourceDown === undefined) || (transfer.adopt === 'size' && record?.localDiffers !== copy.volume))) {
          uploadCandidates.push({ rank, key, size, etag, volume: copy.volume, reason, localProof });
        } else if (copy !== undefined && sourceDown !== undefined) {
          notes.add('lost by the destination, with a local copy the ledger does not know; it waits for the source, which alone can prove its version', key);
        } else if (copy !== undefined) {
          const why = record?.localDiffers === copy.volume ? 'the local copy is not the source\'s current version (compared)' : 'the local copy is not in the ledger, and the source ETag cannot prove it';
          downloadCandidates.push({ rank, kind: 'redownload', key, size, etag, preferredVolume: copy.volume, reason: `${reason}; ${why}`, uploadReason: reason });
        } else if (source !== undefined) downloadCandidates.push({ rank, kind: 'download', key, size, etag, preferredVolume: undefined, reason, uploadReason: reason });
        else if (sourceDown !== undefined) notes.add('lost by the destination, with no local copy; their download waits for the source', key);
        else notes.add('lost by the destination and not re-deliverable: no local copy, and the source no longer lists them', key);
        return;
      }
      if (destination !== undefined && !deliveredCopyAtDestination(record as LedgerRecord, destination)) {
        // Someone wrote another version there since: neither overwrite it nor drop our copy.
        notes.add('delivered earlier but now different at the destination; left as they are, local copies kept', key);
        return;
      }
      if (destination === undefined) notes.add('delivered earlier but missing from the incomplete destination listing; not taken as lost', key);
      const copy = stage === 'delivered' ? goodCopy(row, version, knownVolume, staleVolume) : undefined;
      if (copy !== undefined && purgeAfterUpload) purgesInPass.push(rank, action('purge', key, size, etag, copy.volume));
      else if (stage === 'delivered' && copy === undefined && purgeAfterUpload && knownVolume !== undefined && row.localStart === row.localEnd && !pathThroughLink(knownVolume, key)) {
        // The staged copy is gone but its purge was never recorded (a stop between the delete
        // and its record): the purge completes, so the ledger and status say where things are.
        purgesInPass.push(rank, action('purge', key, size, etag, knownVolume, false, 'staged copy already deleted; recording the purge'));
      }
      noteStrays(row, copy);
      return;
    }

    const copy = goodCopy(row, version, knownVolume, staleVolume);
    const stagedCopy = copy !== undefined && stage === 'staged' && copy.volume === knownVolume;
    // A verified staged copy is cheaper to upload than both objects are to read and compare.
    if (found !== undefined && 'adopt' in found && !(found.adopt === 'content' && stagedCopy)) {
      adopts.push(adoptAction(key, size, etag, found.adopt, (destination as ObjectEntry).etag));
      if (copy !== undefined && purgeAfterUpload) purgesInPass.push(rank, action('purge', key, size, etag, copy.volume));
      noteStrays(row, copy);
      return;
    }
    const transferReason = found !== undefined && 'transfer' in found ? found.transfer : undefined;
    if (stagedCopy) {
      const reason = destination === undefined ? undefined : (transferReason ?? 'destination differs');
      uploadCandidates.push({ rank, key, size, etag, volume: copy.volume, reason, localProof: undefined });
      return;
    }
    if (copy !== undefined) {
      // A copy the ledger does not know (invariant 10): uploaded only once apply proves it is
      // this version, else downloaded again over it.
      const known = stage === undefined ? 'local copy not in the ledger' : `staged copy found on ${copy.volume}`;
      const localProof = localProofFor(version);
      if (matches && record.localDiffers === copy.volume && source !== undefined) {
        const reason = `${known} is not the source's current version (compared)`;
        downloadCandidates.push({ rank, kind: 'redownload', key, size, etag, preferredVolume: copy.volume, reason, uploadReason: undefined });
      } else if (localProof !== undefined) {
        uploadCandidates.push({ rank, key, size, etag, volume: copy.volume, reason: `${known}; ${localProof === 'md5' ? 'MD5' : 'multipart ETag'} checked against the source before the upload`, localProof });
      } else if (sourceDown !== undefined && transfer.adopt !== 'size') {
        notes.add('local copies the ledger does not know wait for the source, which alone can prove their version', key);
      } else if (transfer.adopt === 'size' || source === undefined) {
        const why = source === undefined ? 'the source no longer lists it' : 'transfer.adopt: size';
        uploadCandidates.push({ rank, key, size, etag, volume: copy.volume, reason: `${known}; trusted by its size (${why})`, localProof: undefined });
      } else {
        const reason = `${known}, and the source ETag cannot prove it is this version`;
        downloadCandidates.push({ rank, kind: 'redownload', key, size, etag, preferredVolume: copy.volume, reason, uploadReason: undefined });
      }
      return;
    }
    if (source === undefined) {
      if (sourceDown !== undefined) notes.add('staged earlier but missing or damaged; their download waits for the source', key);
      else notes.add('staged earlier but missing or damaged, and no longer listed by the source', key);
      return;
    }
    const bad = badCopy(row, version, knownVolume, staleVolume);
    if (bad !== undefined) {
      const reason = bad.volume === staleVolume ? 'older version on disk' : `size differs locally (${bad.size} bytes, expected ${size})`;
      downloadCandidates.push({ rank, kind: 'redownload', key, size, etag, preferredVolume: bad.volume, staleCopyOn: bad.volume, reason, uploadReason: undefined });
    } else if (stage === 'staged') {
      downloadCandidates.push({ rank, kind: 'redownload', key, size, etag, preferredVolume: knownVolume, reason: 'staged copy is missing', uploadReason: undefined });
    } else {
      const reason = transferReason ?? retryNote(matches ? record : undefined);
      downloadCandidates.push({ rank, kind: 'download', key, size, etag, preferredVolume: undefined, reason, uploadReason: undefined });
    }
  };
  mergeListings(sorted, decide);

  const mayCollide = (key: string): boolean => {
    if (prefixKeys.length === 0) return false;
    if (sortedContains(prefixKeys, key)) return true;
    for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
      if (sortedContains(prefixKeys, key.slice(0, slash))) return true;
    }
    return false;
  };

  const deferred = new KeyNotes();
  const maxUploadBytes = transfer.maxUploadBatchBytes;
  const maxDownloadBytes = transfer.maxBatchBytes;
  let uploadBytes = 0;
  let downloadBytes = 0;

  const stagedUploads = new RankedActions();
  const stagedPurges = new RankedActions();
  for (const candidate of uploadCandidates) {
    const { rank, key, size, etag, volume, reason, localProof } = candidate;
    if (destinationDown !== undefined) {
      deferred.add('deferred to a later upload: the destination is unreachable', key, size);
      continue;
    }
    if (uploadBytes + size > maxUploadBytes) {
      deferred.add(`deferred to a later upload: transfer.maxUploadBatchBytes (${formatBytes(maxUploadBytes)}) reached`, key, size);
      continue;
    }
    uploadBytes += size;
    const upload = action('upload', key, size, etag, volume, false, reason);
    if (localProof !== undefined) upload.localProof = localProof;
    stagedUploads.push(rank, upload);
    if (purgeAfterUpload) stagedPurges.push(rank, action('purge', key, size, etag, volume));
  }

  const downloads: Action[] = [];
  const redownloads: Action[] = [];
  const chainedUploads = new RankedActions();
  const chainedPurges = new RankedActions();
  const linkSkips: Action[] = [];
  for (const candidate of downloadCandidates) {
    const { rank, kind, key, size, etag, reason, uploadReason } = candidate;
    if (downloadBytes + size > maxDownloadBytes) {
      deferred.add(`deferred to a later download: transfer.maxBatchBytes (${formatBytes(maxDownloadBytes)}) reached`, key, size);
      continue;
    }
    const placement = placeDownload(books, key, size, candidate.preferredVolume, mayCollide(key));
    if ('noRoom' in placement) {
      deferred.add('deferred to a later download: no volume has room above its reserve', key, size);
      continue;
    }
    if ('collidesWith' in placement) {
      deferred.add(`deferred to a later download: a file/prefix collision (e.g. with ${JSON.stringify(placement.collidesWith)}) on every volume with room`, key, size);
      continue;
    }
    if ('throughLink' in placement) {
      linkSkips.push(action('skip', key, size, etag, undefined, false, `its local path passes through the symbolic link ${placement.throughLink} (links below a volume root are not followed)`));
      continue;
    }
    const volume = placement.volume.info.root;
    recordDownload(placement.volume, key, size);
    downloadBytes += size;
    const planned = action(kind, key, size, etag, volume, false, reason);
    if (candidate.staleCopyOn !== undefined && candidate.staleCopyOn !== volume) planned.replaces = candidate.staleCopyOn;
    (kind === 'download' ? downloads : redownloads).push(planned);
    if (destinationDown !== undefined) {
      deferred.add('downloaded now, upload deferred: the destination is unreachable', key, size);
      continue;
    }
    if (uploadBytes + size > maxUploadBytes) {
      deferred.add(`downloaded now, upload deferred: transfer.maxUploadBatchBytes (${formatBytes(maxUploadBytes)}) reached`, key, size);
      continue;
    }
    uploadBytes += size;
    chainedUploads.push(rank, action('upload', key, size, etag, volume, true, uploadReason));
    if (purgeAfterUpload) chainedPurges.push(rank, action('purge', key, size, etag, volume, true));
  }
  warnings.push(...notes.lines(false), ...deferred.lines(true));
  if (transfer.verify === 'etag') warnings.push(...etagNotes(downloads, redownloads));

  const uploads = mergeByRank([stagedUploads, chainedUploads]);
  const purges = mergeByRank([purgesInPass, stagedPurges, chainedPurges]);
  if (linkSkips.length > 0) {
    // Skips stay in key order, however they were found.
    skips.push(...linkSkips);
    skips.sort((a, b) => compareKeys(a.key, b.key));
  }
  const byKind: Record<ActionKind, Action[]> = { download: downloads, redownload: redownloads, adopt: adopts, upload: uploads, purge: purges, skip: skips };
  const actions = ([] as Action[]).concat(...ACTION_ORDER.map((kind) => byKind[kind]));

  let deferredCount = 0;
  let deferredBytes = 0;
  for (const group of deferred.groups.values()) {
    deferredCount += group.count;
    deferredBytes += group.bytes;
  }
  const summary: PlanSummary = {
    download: { count: downloads.length + redownloads.length, bytes: downloadBytes },
    upload: { count: uploads.length, bytes: uploadBytes },
    purge: { count: purges.length, bytes: sumSize(purges) },
    adopt: { count: adopts.length, bytes: sumSize(adopts) },
    skip: { count: skips.length },
    deferred: { count: deferredCount, bytes: deferredBytes },
    ...(waiting.count > 0 ? { waiting: waiting.summary() } : {}),
    noChanges: actions.length === skips.length && deferredCount === 0 && sourceListing.complete && destinationComplete,
  };
  return {
    formatVersion: 1,
    actions,
    summary,
    volumes: volumePlans(books),
    hops: { download: download.settings, upload: upload.settings },
    warnings,
  };
}
