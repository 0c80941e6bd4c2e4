/**
 * One plan in the making (./planner.ts drives it): fed the merged pass key by key, then finished.
 * Per key it gathers the facts, holds back a transfer that backs off, asks ./decide.ts what to do
 * and takes the decision: actions go to spools (so memory does not follow the number of keys),
 * notes are counted, a download is placed a key late (./place.ts), and uploads of copies already
 * on disk wait for the end, since they get the upload budget first (bounded by the staging space).
 */
import type { Config } from '../model/config.ts';
import type { LedgerRecord, ListingFlaws, LocalFile, LocalLink, ObjectEntry, VolumeInfo } from '../model/objects.ts';
import type { Action, ActionReason, Plan, PlanNote, PlanSummary, PlanWarning } from '../model/plan.ts';
import type { SpoolFactory } from '../model/spool.ts';
import { memorySpools, type SpooledActions } from './spools.ts';
import { PlanSpools } from './spools.ts';
import { adoption } from './adopt.ts';
import { backoffOf, nextTryMs, Waiting, type Backoff } from './backoff.ts';
import { decide, deliveredCopyAtDestination, type DecisionContext, type KeyFacts, type LocalView, type Version } from './decide.ts';
import { keyFilter } from './filters.ts';
import { hopSettings } from './hops.ts';
import { destinationKeySkip, keySkipReason, ownOutputSkip } from './keys.ts';
import type { KeyRow } from './merge.ts';
import { NoteBook } from './notes.ts';
import { action, DownloadPlacer, UploadBudget, type DownloadCandidate } from './place.ts';
import { linkOnPath, openVolumeBooks, volumePlans, type VolumeBook } from './volumes.ts';
import type { Side } from '../model/side.ts';

/** An upload of a copy already on disk, waiting for the upload budget. */
interface UploadCandidate {
  rank: number;
  key: string;
  size: number;
  etag: string;
  volume: string;
  reason: ActionReason | undefined;
  localProof: Action['localProof'];
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
  warnings?: readonly PlanWarning[];
}


/** A hop's listing state as the plan's warnings say it. */
function listingWarning(hop: Side, state: ListingState): PlanWarning | undefined {
  if (state.unreachable !== undefined) return { code: `${hop}-unreachable`, cause: state.unreachable };
  if (!state.complete) return { code: `${hop}-listing-incomplete` };
  return undefined;
}

/**
 * One plan in the making: fed the merged pass key by key ({@link PlanBuilder.row}), then
 * {@link PlanBuilder.finish}ed.
 */
export class PlanBuilder {
  readonly #config: Config;
  readonly #setup: PassSetup;
  readonly #warnings: PlanWarning[] = [];
  readonly #download: ReturnType<typeof hopSettings>;
  readonly #upload: ReturnType<typeof hopSettings>;
  readonly #books: VolumeBook[];
  readonly #included: (key: string) => boolean;
  readonly #ownOutput: (key: string) => ActionReason | undefined;
  readonly #destinationKeyTooLong: (key: string) => ActionReason | undefined;
  readonly #spools: PlanSpools;
  readonly #notes = new NoteBook();
  readonly #waiting = new Waiting();
  readonly #deferredUploads = new NoteBook();
  readonly #deferredChained = new NoteBook();
  readonly #placer: DownloadPlacer;
  readonly #now: number | undefined;
  readonly #backoff: Backoff;
  readonly #context: DecisionContext;
  readonly #uploadCandidates: UploadCandidate[] = [];
  /** The last key's download, placed once the next key is known. */
  #held: DownloadCandidate | undefined;
  #rank = -1;
  #adoptsByContent = 0;
  #finished = false;
  /** The row being decided and its facts, for {@link #local}. */
  #row: KeyRow | undefined;
  readonly #facts: KeyFacts = {
    key: '',
    source: undefined,
    destination: undefined,
    record: undefined,
    version: { size: 0, etag: '' },
    matches: false,
    stage: undefined,
    knownVolume: undefined,
    staleVolume: undefined,
    copy: undefined,
    changedAtDestination: false,
    found: undefined,
  };
  readonly #local: LocalView;

  constructor(config: Config, setup: PassSetup, options: PlanOptions = {}) {
    this.#config = config;
    this.#setup = setup;
    const { transfer } = config;
    const warnings = this.#warnings;
    for (const hop of ['source', 'destination'] as const) {
      const warning = listingWarning(hop, setup[hop]);
      if (warning !== undefined) warnings.push(warning);
    }
    this.#download = hopSettings(transfer.workers, transfer.concurrency, config.source.maxConnections, 'source', { bandwidth: config.source.bandwidth, nowMs: options.now });
    this.#upload = hopSettings(transfer.workers, transfer.concurrency, config.destination.maxConnections, 'destination', { bandwidth: config.destination.bandwidth, nowMs: options.now });
    if (this.#download.warning !== undefined) warnings.push(this.#download.warning);
    if (this.#upload.warning !== undefined) warnings.push(this.#upload.warning);
    warnings.push(...(setup.warnings ?? []));
    this.#books = openVolumeBooks(setup.volumes, setup.locals, warnings, setup.links);
    this.#placer = new DownloadPlacer(this.#books, transfer.maxBatchBytes);
    this.#included = keyFilter(transfer.include, transfer.exclude);
    this.#ownOutput = ownOutputSkip(config.source, config.destination);
    this.#destinationKeyTooLong = destinationKeySkip(config.destination.prefix);
    this.#spools = new PlanSpools(options.spools ?? memorySpools);
    this.#now = options.retryFailed === true ? undefined : options.now;
    this.#backoff = backoffOf(config);
    this.#context = {
      adopt: transfer.adopt,
      purgeAfterUpload: transfer.purgeAfterUpload,
      sourceDown: setup.source.unreachable,
      destinationDown: setup.destination.unreachable,
      destinationComplete: setup.destination.complete,
    };
    this.#local = {
      none: () => {
        const row = this.#row as KeyRow;
        return row.localStart === row.localEnd;
      },
      badCopy: () => this.#badCopy(this.#row as KeyRow, this.#facts),
      strays: (kept) => {
        const row = this.#row as KeyRow;
        const locals = this.#setup.locals;
        for (let i = row.localStart; i < row.localEnd; i++) if (locals[i] !== kept) return true;
        return false;
      },
      throughLink: (volume) => {
        const book = this.#books.find((candidate) => candidate.info.root === volume);
        return book !== undefined && linkOnPath(book, (this.#row as KeyRow).key) !== undefined;
      },
    };
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
  #badCopy(row: KeyRow, facts: KeyFacts): LocalFile | undefined {
    const { version, knownVolume, staleVolume } = facts;
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

  /** Decides one key of the merged pass. Rows come in key order, each key once. */
  row(row: KeyRow): void {
    if (this.#finished) throw new Error('PlanBuilder.row() after finish()');
    this.#rank += 1;
    const rank = this.#rank;
    const key = row.key;
    this.#placer.next(key);
    this.#placeHeld();
    if (!this.#included(key)) return;
    const source: ObjectEntry | undefined = row.source;
    const record = row.record;
    const skipReason = keySkipReason(key) ?? this.#ownOutput(key) ?? this.#destinationKeyTooLong(key);
    if (skipReason !== undefined) {
      if (source !== undefined) this.#spools.keySkip.push(rank, action('skip', key, source.size, source.etag, undefined, false, skipReason));
      return;
    }
    const version: Version | undefined = source ?? (record?.stage === undefined ? undefined : record);
    if (version === undefined) return;
    const matches = record !== undefined && record.size === version.size && record.etag === version.etag;
    const stage = matches ? record.stage : undefined;
    const knownVolume = matches ? record.volume : undefined;
    const staleVolume = !matches && (record?.stage === 'staged' || record?.stage === 'delivered') ? record.volume : undefined;
    const destination = row.destination;
    const delivered = stage === 'delivered' || stage === 'purged';
    const context = this.#context;
    // Delivered, but not the copy delivered (invariant 12): the recorded ETag, or without one the
    // size or plain MD5s, differ (an overwrite since, e.g. by a leftover upload).
    const changedAtDestination = delivered && context.destinationDown === undefined && destination !== undefined && !deliveredCopyAtDestination(record as LedgerRecord, destination);
    const found = delivered || destination === undefined ? undefined : adoption(version, destination, record, context.adopt);
    // Backoff holds back transfers only: an adopt or a purge moves no data and goes ahead.
    const transfers = delivered ? (destination === undefined && context.destinationComplete) || changedAtDestination : !(found !== undefined && 'adopt' in found);
    const nextTry = transfers && matches ? this.#waitsUntil(record) : undefined;
    if (nextTry !== undefined) {
      this.#waiting.add(record as LedgerRecord, nextTry);
      return;
    }
    // One facts object for every key (decisions keep none of it): no allocation per key.
    const facts = this.#facts;
    facts.key = key;
    facts.source = source;
    facts.destination = destination;
    facts.record = record;
    facts.version = version;
    facts.matches = matches;
    facts.stage = stage;
    facts.knownVolume = knownVolume;
    facts.staleVolume = staleVolume;
    facts.copy = this.#goodCopy(row, version, knownVolume, staleVolume);
    facts.changedAtDestination = changedAtDestination;
    facts.found = found;
    this.#row = row;
    this.#take(rank, facts, decide(facts, context, this.#local));
  }

  /** Takes one key's decision: spools its actions, counts its notes, holds its download. */
  #take(rank: number, facts: KeyFacts, decision: ReturnType<typeof decide>): void {
    const { key } = facts;
    const { size, etag } = facts.version;
    const spools = this.#spools;
    const notes = this.#notes;
    switch (decision.then) {
      case 'nothing':
        return;
      case 'note':
        notes.add(decision.note, key);
        return;
      case 'download': {
        const held: DownloadCandidate = { rank, kind: decision.kind, key, size, etag, preferredVolume: decision.preferredVolume, reason: decision.reason, uploadReason: decision.uploadReason };
        if (decision.staleCopyOn !== undefined) held.staleCopyOn = decision.staleCopyOn;
        this.#held = held;
        return;
      }
      case 'upload':
        this.#uploadCandidates.push({ rank, key, size, etag, volume: decision.volume, reason: decision.reason, localProof: decision.localProof });
        return;
      case 'adopt':
        spools.adopt.push(rank, { kind: 'adopt', key, size, etag, adoptBy: decision.rule, destinationEtag: decision.destinationEtag });
        if (decision.rule === 'content') this.#adoptsByContent += 1;
        if (decision.purge !== undefined) spools.passPurge.push(rank, action('purge', key, size, etag, decision.purge));
        if (decision.strays) notes.add('stray-local-file', key);
        return;
      case 'keep':
        if (decision.missingFromListing) notes.add('delivered-missing-from-incomplete-listing', key);
        if (decision.purge !== undefined) spools.passPurge.push(rank, action('purge', key, size, etag, decision.purge.volume, false, decision.purge.reason));
        if (decision.linkOn !== undefined) notes.add('staged-path-through-link', key, undefined, { volume: decision.linkOn });
        if (decision.strays) notes.add('stray-local-file', key);
        return;
    }
  }

  /** Places the held download within the download budget and the volumes' room, in key order. */
  #placeHeld(): void {
    const candidate = this.#held;
    if (candidate === undefined) return;
    this.#held = undefined;
    const placed = this.#placer.place(candidate);
    if (placed === undefined) return;
    if ('skipped' in placed) {
      this.#spools.linkSkip.push(candidate.rank, placed.skipped);
      return;
    }
    (candidate.kind === 'download' ? this.#spools.download : this.#spools.redownload).push(candidate.rank, placed.placed);
    this.#spools.chain.push(candidate.rank, placed.chained);
  }

  /** Ends the pass: the upload budget (copies on disk first, then the chained uploads of this plan's downloads) and the plan. */
  finish(listingWarnings: { source: readonly string[]; destination: readonly string[] } = { source: [], destination: [] }): Plan<SpooledActions> {
    if (this.#finished) throw new Error('PlanBuilder.finish() twice');
    this.#placeHeld();
    this.#finished = true;
    const { transfer } = this.#config;
    const spools = this.#spools;
    const purgeAfterUpload = transfer.purgeAfterUpload;
    const budget = new UploadBudget(this.#setup.destination.unreachable !== undefined, transfer.maxUploadBatchBytes);
    const staged = { down: 'deferred-upload-destination-unreachable', cap: 'deferred-upload-batch-cap' } as const;
    for (const candidate of this.#uploadCandidates) {
      const { rank, key, size, etag, volume, reason, localProof } = candidate;
      if (!budget.fits(this.#deferredUploads, staged, key, size)) continue;
      const upload = action('upload', key, size, etag, volume, false, reason);
      if (localProof !== undefined) upload.localProof = localProof;
      spools.stagedUpload.push(rank, upload);
      if (purgeAfterUpload) spools.stagedPurge.push(rank, action('purge', key, size, etag, volume));
    }
    const chainedCodes = { down: 'deferred-chained-upload-destination-unreachable', cap: 'deferred-chained-upload-batch-cap' } as const;
    for (const [rank, chained] of spools.chain.entries()) {
      const { key, size } = chained;
      if (!budget.fits(this.#deferredChained, chainedCodes, key, size)) continue;
      spools.chainedUpload.push(rank, chained);
      if (purgeAfterUpload) spools.chainedPurge.push(rank, action('purge', key, size, chained.etag, chained.volume, true));
    }

    const warnings = this.#warnings;
    for (const hop of ['source', 'destination'] as const) for (const text of listingWarnings[hop]) warnings.push({ code: 'listing-warning', hop, text });
    const placer = this.#placer;
    const deferredNotes = [this.#deferredUploads, placer.deferred, this.#deferredChained];
    const listingNotes = flawNotes(this.#setup);
    const notes = [...listingNotes, ...this.#notes.notes(), ...deferredNotes.flatMap((book) => book.notes())];
    if (transfer.verify === 'etag') notes.push(...placer.opaqueEtags.notes(), ...placer.multipartEtags.notes());

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
      download: { count: spools.download.length + spools.redownload.length, bytes: placer.bytes },
      upload: { count: spools.stagedUpload.length + spools.chainedUpload.length, bytes: budget.bytes },
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
