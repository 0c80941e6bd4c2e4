/**
 * Placing downloads and budgeting uploads, in key order. Pure. A download is placed within
 * `transfer.maxBatchBytes` on a volume with room (./volumes.ts) where its path collides with no
 * file or folder and passes through no symbolic link; otherwise it is deferred with a note, or
 * skipped (a path through a link). Uploads get `transfer.maxUploadBatchBytes`: copies already on
 * disk first (they free staging space), then the chained uploads of this plan's downloads.
 */
import type { Action, ActionReason, PlanNoteCode } from '../model/plan.ts';
import { etagShape } from './etag.ts';
import { NoteBook } from './notes.ts';
import { placeDownload, recordDownload, sortedContains, type VolumeBook } from './volumes.ts';

/** A download the budgets and volumes have yet to accept. */
export interface DownloadCandidate {
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
  reason: ActionReason | undefined;
  /** Shown on the chained upload too: only a re-delivery's reason is about the upload. */
  uploadReason: ActionReason | undefined;
}

/** An action with only the fields that mean something set (positional: no temporary objects per action). */
export function action(kind: Action['kind'], key: string, size: number, etag: string, volume?: string, afterDownload?: boolean, reason?: ActionReason): Action {
  const result: Action = { kind, key, size, etag };
  if (volume !== undefined) result.volume = volume;
  if (afterDownload === true) result.afterDownload = true;
  if (reason !== undefined) result.reason = reason;
  return result;
}

/** Where a download went: placed (with the upload it chains), deferred (counted in the notes), or skipped. */
export type PlacedDownload = { placed: Action; chained: Action } | { skipped: Action } | undefined;

/** Places downloads in key order within the download budget and the volumes' room; counts what it defers. */
export class DownloadPlacer {
  readonly #books: VolumeBook[];
  readonly #maxBytes: number;
  /** Deferred downloads, by why. */
  readonly deferred = new NoteBook();
  /** Placed downloads whose ETags are not plain MD5s (how `verify: etag` checks them): opaque ones, then multipart. */
  readonly opaqueEtags = new NoteBook();
  readonly multipartEtags = new NoteBook();
  bytes = 0;
  /**
   * Keys that are a prefix of the next key in key order: the only ones that can be both a file
   * and a folder (everything starting with K sorts right after K), so the only ones whose
   * downloads need a collision check. Usually none.
   */
  readonly #prefixKeys: string[] = [];
  #previousKey: string | undefined;

  constructor(books: VolumeBook[], maxBytes: number) {
    this.#books = books;
    this.#maxBytes = maxBytes;
  }

  /** Tells the placer the next key of the merged pass (before the download of the key before it is placed). */
  next(key: string): void {
    if (this.#previousKey !== undefined && key.startsWith(this.#previousKey)) this.#prefixKeys.push(this.#previousKey);
    this.#previousKey = key;
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

  /** Places one download; undefined when it is deferred (and noted). */
  place(candidate: DownloadCandidate): PlacedDownload {
    const { kind, key, size, etag, reason, uploadReason } = candidate;
    const deferred = this.deferred;
    if (this.bytes + size > this.#maxBytes) {
      deferred.add('deferred-download-batch-cap', key, size, { limitBytes: this.#maxBytes });
      return undefined;
    }
    const placement = placeDownload(this.#books, key, size, candidate.preferredVolume, this.#mayCollide(key));
    if ('noRoom' in placement) {
      deferred.add('deferred-download-no-room', key, size);
      return undefined;
    }
    if ('collidesWith' in placement) {
      deferred.add('deferred-download-collision', key, size, { collidesWith: placement.collidesWith });
      return undefined;
    }
    if ('throughLink' in placement) return { skipped: action('skip', key, size, etag, undefined, false, { code: 'path-through-link', link: placement.throughLink }) };
    const volume = placement.volume.info.root;
    recordDownload(placement.volume, key, size);
    this.bytes += size;
    const placed = action(kind, key, size, etag, volume, false, reason);
    if (candidate.staleCopyOn !== undefined && candidate.staleCopyOn !== volume) placed.replaces = candidate.staleCopyOn;
    const shape = etagShape(etag).kind;
    if (shape === 'opaque') this.opaqueEtags.add('etag-not-md5', key);
    else if (shape === 'multipart') this.multipartEtags.add('etag-multipart', key);
    return { placed, chained: action('upload', key, size, etag, volume, true, uploadReason) };
  }
}

/** The upload budget: whether an upload fits now (booked if so), else the note that says why it waits. */
export class UploadBudget {
  readonly #destinationDown: boolean;
  readonly #maxBytes: number;
  bytes = 0;

  constructor(destinationDown: boolean, maxBytes: number) {
    this.#destinationDown = destinationDown;
    this.#maxBytes = maxBytes;
  }

  fits(notes: NoteBook, codes: { down: PlanNoteCode; cap: PlanNoteCode }, key: string, size: number): boolean {
    if (this.#destinationDown) notes.add(codes.down, key, size);
    else if (this.bytes + size > this.#maxBytes) notes.add(codes.cap, key, size, { limitBytes: this.#maxBytes });
    else {
      this.bytes += size;
      return true;
    }
    return false;
  }
}
