/**
 * The planner: a pure function of (Config, inputs) to Plan. No I/O, no clock, no randomness. It
 * never plans a deletion at the source or the destination, and a listing that may be cut short
 * never turns into "the object is gone". {@link planStreams} drives the merged pass (./merge.ts:
 * sorted streams in, so memory does not follow the number of keys) into a `PlanBuilder`
 * (./builder.ts), which decides each key by its situation (./decide.ts), places downloads
 * within the budgets (./place.ts) and hands its actions to spools: the one planner, for the unit
 * tests' tables (test/builders.ts `planOf`) as for a 10M-object plan.
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
 * Everything it tells is data, and the views write the sentences (view/plan.ts, view/reasons.ts):
 * each action's `reason` (a code and its facts), `plan.notes` about objects (deferred, left as
 * they are, how `verify: etag` will check them: a code, a count, bytes and a few keys each,
 * ./notes.ts), and `plan.warnings` about the run (a hop down, a listing cut short, a connection
 * cap: a code and its facts).
 */
import type { Config } from '../model/config.ts';
import type { LedgerRecord, ListingStream, LocalFile, LocalLink, VolumeInfo } from '../model/objects.ts';
import { ACTION_ORDER, type Plan, type PlanWarning } from '../model/plan.ts';
import type { SpooledActions } from './spools.ts';
import { PlanBuilder, type PlanOptions } from './builder.ts';
import { mergeStreams, sortLocals, type PageObserver } from './merge.ts';

export { ACTION_ORDER };
export { deliveredCopyAtDestination } from './decide.ts';
export { PlanBuilder, type ListingState, type PassSetup, type PlanOptions } from './builder.ts';

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
  const { count, first } = sorted.duplicates;
  const warnings: PlanWarning[] = count === 0 ? [] : [{ code: 'volume-scan-duplicates', count, first: first ?? '' }];
  const builder = new PlanBuilder(
    config,
    { source: inventory.source, destination: inventory.destination, volumes: inventory.volumes, locals: sorted.locals, links: inventory.links ?? [], warnings },
    options,
  );
  const { source, destination } = inventory;
  await mergeStreams({ source: source.pages, destination: destination.pages, locals: sorted.locals, records: inventory.ledger.records }, (row) => builder.row(row), options.observe);
  return { plan: builder.finish({ source: source.warnings, destination: destination.warnings }), locals: sorted.locals };
}
