/**
 * `dualsync check`: a second opinion that does not trust the ledger. Both listings are read in
 * full, as the plan reads them (the same streams, the same merge), and every source object gets
 * one state (src/model/check.ts). The listings, and the bytes with `--content`, decide; the
 * ledger only explains (when it was delivered, which destination ETag was recorded then).
 *
 * `--content` reads both sides' bytes through MD5 with GetObject, streamed: nothing is staged,
 * at most `concurrency` objects are read at once, and the listings wait (the merge reads no
 * further page) while that many are in flight, so memory stays bounded at any size.
 */
import type { Config } from '../model/config.ts';
import type { LedgerRecord, ObjectEntry } from '../model/objects.ts';
import { CHECK_CODES, CONTENT_CONCURRENCY, type CheckCode, type CheckEntry, type CheckSummary, type CheckWhy, type ListingWhy } from '../model/check.ts';
import { createClients, gatherInventory, ledgerOptions, type EngineDeps } from '../engine.ts';
import { LedgerStore } from '../ledger/store.ts';
import { mergeStreams } from '../plan/merge.ts';
import { compareKeys, destinationKeySkip, keySkipReason, ownOutputSkip } from '../plan/keys.ts';
import { etagShape } from '../plan/etag.ts';
import { backoffOf, nextTryMs } from '../plan/backoff.ts';
import { readObject } from '../apply/content.ts';
import { PairedMd5 } from './paired-md5.ts';
import type { Side } from '../model/side.ts';
import { describeError, isDualsyncError, opError } from '../errors.ts';

export interface CheckOptions {
  /** Compare the bytes of both sides (MD5, streamed). */
  content?: boolean;
  /** Objects read at once with --content. */
  concurrency?: number;
}

/** How many first keys each state keeps for the summary. */
const EXAMPLES = 5;
/** Entries decided but not yet written (waiting behind a content read), before the listings pause. */
const MAX_PENDING = 10_000;
/** Bytes held, over all objects read at once, for sides that run ahead of their other copy. */
const AHEAD_BUDGET = 64 * 1024 * 1024;
/** The least one object's side may run ahead (a few socket reads) before it is hashed on its own. */
const MIN_AHEAD = 512 * 1024;

function emptySummary(): CheckSummary {
  const groups = {} as CheckSummary['groups'];
  for (const code of CHECK_CODES) groups[code] = { count: 0, bytes: 0, examples: [] };
  return { groups, safe: false, listingProblems: [], seconds: 0 };
}

/** Whether two ETags say the same bytes by themselves: equal plain MD5s, or equal multipart ETags. */
function etagsProve(source: string, destination: string): boolean {
  if (source !== destination) return false;
  const shape = etagShape(source).kind;
  return shape === 'md5' || shape === 'multipart';
}

/** Whether a why is the listings' own (not yet the bytes'). */
function isListingWhy(why: CheckWhy): why is ListingWhy {
  return why.code !== 'content-differs' && why.code !== 'content-same' && why.code !== 'content-not-read';
}

/** The ledger's record when it is about this very version (size and source ETag). */
function sameVersion(record: LedgerRecord | undefined, source: ObjectEntry): LedgerRecord | undefined {
  return record !== undefined && record.size === source.size && record.etag === source.etag ? record : undefined;
}

/**
 * Checks the site: calls `emit` once per object, in key order, and returns the summary. Reads
 * only: nothing is written to the ledger, the volumes or either bucket.
 */
export async function runCheck(config: Config, deps: EngineDeps, options: CheckOptions, emit: (entry: CheckEntry) => void): Promise<CheckSummary> {
  const started = performance.now();
  const summary = emptySummary();
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  const clients = createClients(config);
  try {
    const { inventory } = await gatherInventory(config, clients, deps);
    for (const [hop, listing] of [['source', inventory.source], ['destination', inventory.destination]] as const) {
      if (listing.unreachable !== undefined) {
        await Promise.all([inventory.source.close(), inventory.destination.close()]);
        throw opError('E_HOP_UNREACHABLE', `cannot check: the ${hop} (${config[hop].endpoint ?? 'AWS'}) cannot be listed: ${listing.unreachable}`, {
          hint: 'check needs both listings in full; bring the endpoint back (`dualsync doctor` probes it) and run it again',
          retryable: true,
        });
      }
    }
    const locals = [...inventory.local].sort((a, b) => compareKeys(a.key, b.key) || compareKeys(a.volume, b.volume));
    // The planner's judges, so that check skips exactly what plan skips.
    const ownOutput = ownOutputSkip(config.source, config.destination);
    const keyTooLong = destinationKeySkip(config.destination.prefix);
    const skipOf = (key: string) => keySkipReason(key) ?? ownOutput(key) ?? keyTooLong(key);
    const backoff = backoffOf(config);
    const now = deps.now().getTime();
    const concurrency = Math.max(1, options.concurrency ?? CONTENT_CONCURRENCY);
    const content = { objects: 0, bytes: 0, started: 0, finished: 0 };

    // Entries in key order; a content read holds its place until it settles.
    const pending: { entry: CheckEntry; done: boolean }[] = [];
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const settle = () => {
      while (pending.length > 0 && pending[0]!.done) {
        const { entry } = pending.shift()!;
        const group = summary.groups[entry.code];
        group.count++;
        group.bytes += entry.size ?? entry.destinationSize ?? 0;
        if (group.examples.length < EXAMPLES) group.examples.push(entry.key);
        if (group.first === undefined) {
          const { why, lastFailure, skip } = entry;
          group.first = { ...(why && { why }), ...(lastFailure && { lastFailure }), ...(skip && { skip }) };
        }
        emit(entry);
      }
      wake?.();
    };
    const roomToRead = async () => {
      while (inFlight >= concurrency || pending.length >= MAX_PENDING) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    };
    // The merge reads a page only when it needs one: pausing here pauses the listings.
    async function* paced(pages: AsyncIterable<readonly ObjectEntry[]>): AsyncIterable<readonly ObjectEntry[]> {
      for await (const page of pages) {
        await roomToRead();
        yield page;
      }
    }
    // A listing page decides up to a thousand objects at once: their reads wait here, so that at
    // most `concurrency` objects (each on both sides) are read at a time, as --concurrency says.
    const queuedReads: (() => void)[] = [];
    let reading = 0;
    const startReads = () => {
      while (reading < concurrency && queuedReads.length > 0) {
        reading++;
        queuedReads.shift()!();
      }
    };
    const queueRead = <T>(read: () => Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        queuedReads.push(() => {
          if (content.started === 0) content.started = performance.now();
          read().then(resolve, reject).finally(() => {
            reading--;
            startReads();
          });
        });
        startReads();
      });
    // Both copies of one object are read at once and compared as they arrive, so that the bytes
    // they agree on are hashed once (src/ops/paired-md5.ts); a side may run ahead by its share of
    // AHEAD_BUDGET before it is hashed on its own.
    const aheadLimit = Math.max(MIN_AHEAD, Math.floor(AHEAD_BUDGET / concurrency));
    const readBothSides = async (source: ObjectEntry, destination: ObjectEntry) => {
      const pair = new PairedMd5(aheadLimit);
      // A side that fails ends the other's read too: its bytes could not make the object "same".
      const stop = new AbortController();
      const signal = deps.signal === undefined ? stop.signal : AbortSignal.any([deps.signal, stop.signal]);
      const read = (side: Side, object: ObjectEntry) =>
        readObject(clients[side], config[side], object, (chunk) => pair.push(side, chunk), signal).catch((error: unknown) => {
          stop.abort();
          throw error;
        });
      await Promise.all([read('source', source), read('destination', destination)]);
      return pair.digests();
    };
    const compareBytes = (entry: CheckEntry, listings: ListingWhy, source: ObjectEntry, destination: ObjectEntry) => {
      const slot = { entry, done: false };
      pending.push(slot);
      inFlight++;
      queueRead(() => readBothSides(source, destination)).then(
        ({ source: sourceMd5, destination: destinationMd5 }) => {
          content.objects++;
          content.bytes += source.size + destination.size;
          entry.sourceMd5 = sourceMd5;
          entry.destinationMd5 = destinationMd5;
          if (sourceMd5 !== destinationMd5) {
            entry.code = 'different';
            entry.why = { code: 'content-differs' };
          } else {
            // The bytes decide: an ETag other than the one recorded, or none comparable, over the same content.
            entry.why = { code: 'content-same', listings };
            entry.code = 'delivered';
          }
        },
        (error: unknown) => {
          // A read that fails proves nothing either way: the object is not verified.
          entry.code = 'unverified';
          entry.why = { code: 'content-not-read', cause: describeError(error), ...(isDualsyncError(error) && { errorCode: error.code }) };
        },
      ).finally(() => {
        inFlight--;
        content.finished = performance.now();
        slot.done = true;
        settle();
      });
    };

    const decide = (key: string, source: ObjectEntry | undefined, destination: ObjectEntry | undefined, record: LedgerRecord | undefined, localVolume: string | undefined) => {
      if (source === undefined) {
        if (destination === undefined) return; // the ledger or a volume remembers a key neither side lists
        pending.push({ entry: { code: 'destination-only', key, destinationSize: destination.size, destinationEtag: destination.etag }, done: true });
        return;
      }
      const entry: CheckEntry = { code: 'missing', key, size: source.size, etag: source.etag };
      if (destination !== undefined) {
        entry.destinationSize = destination.size;
        entry.destinationEtag = destination.etag;
      }
      const version = sameVersion(record, source);
      const delivered = version?.stage === 'delivered' || version?.stage === 'purged';
      if (delivered) {
        if (version!.deliveredAt !== undefined) entry.deliveredAt = version!.deliveredAt;
        if (version!.destinationEtag !== undefined) entry.recordedDestinationEtag = version!.destinationEtag;
      }
      const skip = skipOf(key);
      const failing = version !== undefined && !delivered && version.lastFailure !== undefined;
      if (skip !== undefined) {
        entry.code = 'skipped';
        entry.skip = skip;
      } else if (failing) {
        entry.code = 'failing';
        entry.attempts = version!.attempts;
        entry.lastFailure = version!.lastFailure;
        const next = nextTryMs(version!, backoff);
        if (next !== undefined && next > now) entry.nextTryAt = new Date(next).toISOString();
      } else if (destination === undefined) {
        if (delivered) {
          entry.why = { code: 'delivered-not-listed', ...(entry.deliveredAt !== undefined && { deliveredAt: entry.deliveredAt }) };
        } else if (localVolume !== undefined || version?.stage === 'staged') {
          entry.code = 'staged-only';
          entry.volume = localVolume ?? version?.volume;
        }
      } else if (destination.size !== source.size) {
        entry.code = 'different';
        entry.why = { code: 'size-differs', destinationSize: destination.size, sourceSize: source.size };
      } else if (delivered && version!.destinationEtag !== undefined) {
        if (version!.destinationEtag === destination.etag) {
          entry.code = 'delivered';
          entry.why = { code: 'recorded-etag-matches' };
        } else {
          entry.code = 'different';
          entry.why = { code: 'etag-rewritten', destinationEtag: destination.etag, recordedEtag: version!.destinationEtag };
        }
      } else if (etagsProve(source.etag, destination.etag)) {
        entry.code = 'delivered';
        entry.why = { code: 'etags-equal', recordedAsDelivered: delivered };
      } else {
        entry.code = 'unverified';
        entry.why = { code: 'etags-not-comparable', recordedAsDelivered: delivered };
      }
      // Every object of the same size at the destination has a listing's why here (delivered, unverified, or rewritten).
      if (options.content === true && destination !== undefined && destination.size === source.size && entry.why !== undefined && isListingWhy(entry.why)) {
        compareBytes(entry, entry.why, source, destination);
        return;
      }
      pending.push({ entry, done: true });
    };

    const snapshot = ledger.snapshot();
    await mergeStreams({ source: paced(inventory.source.pages), destination: inventory.destination.pages, locals, records: snapshot.records }, (row) => {
      decide(row.key, row.source, row.destination, row.record, row.localEnd > row.localStart ? locals[row.localStart]!.volume : undefined);
      settle();
    }).finally(() => Promise.all([inventory.source.close(), inventory.destination.close()]));
    while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
    settle();

    for (const [hop, listing] of [['source', inventory.source], ['destination', inventory.destination]] as const) {
      if (!listing.complete) summary.listingProblems.push(`the ${hop} listing may be incomplete: ${listing.warnings.join('; ') || 'the server may cut it short'}`);
      const flaws = listing.flaws;
      if (flaws !== undefined && flaws.duplicates > 0) summary.listingProblems.push(`the ${hop} listing repeated ${flaws.duplicates} key(s), first ${JSON.stringify(flaws.firstDuplicate)}`);
      if (flaws !== undefined && flaws.undecodable > 0) summary.listingProblems.push(`the ${hop} listing holds ${flaws.undecodable} key(s) that do not decode, first ${JSON.stringify(flaws.firstUndecodable)}`);
    }
    if (options.content === true) summary.content = { objects: content.objects, bytes: content.bytes, seconds: content.objects === 0 ? 0 : (content.finished - content.started) / 1000 };
    const blocking = CHECK_CODES.filter((code) => code !== 'delivered' && summary.groups[code].count > 0);
    summary.safe = blocking.length === 0 && summary.listingProblems.length === 0;
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  } finally {
    clients.source.destroy();
    clients.destination.destroy();
    await ledger.close();
  }
}

/** The states that keep the device from going back, in the order the summary names them. */
export function blockingCodes(summary: CheckSummary): CheckCode[] {
  return CHECK_CODES.filter((code) => code !== 'delivered' && summary.groups[code].count > 0);
}
