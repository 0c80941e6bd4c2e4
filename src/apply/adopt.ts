/**
 * Adopts and skips: the actions that move nothing. They are recorded before anything moves, and
 * streamed from the plan: after a reset, a plan can hold tens of millions of adopts.
 */
import type { Action, LedgerEvent, Plan, SkipReason, VerifiedBy } from '../model/index.ts';
import { actionsOfKinds } from '../manifest/spool.ts';
import { forEachLimited } from './batch.ts';
import { compareContent } from './content.ts';
import type { ApplyRun } from './run.ts';
import { sameSkipReason } from '../ledger/merge.ts';

/** A skip's reason as the ledger keeps it: the plan's code and facts (`unsafe-key` when the plan gave none). */
function skipReason(action: Action): SkipReason {
  return action.reason ?? { code: 'unsafe-key' };
}

/** Objects read through MD5 at once for adopts by content: a few streams keep both links busy. */
const CONTENT_COMPARES = 8;
/** Ledger records of adopts and skips awaited together: enough to share fsyncs, few enough to hold. */
const RECORDS_IN_FLIGHT = 16_384;

/** Records an adopt as a delivery that moved nothing, with the rule that proved it. */
async function adopt(run: ApplyRun, action: Action, verifiedBy: VerifiedBy): Promise<void> {
  const event: Extract<LedgerEvent, { type: 'delivered' }> = { type: 'delivered', key: action.key, size: action.size, etag: action.etag, verifiedBy, adopted: true };
  if (action.adoptBy !== undefined) event.adoptedBy = action.adoptBy;
  if (action.destinationEtag !== undefined) event.destinationEtag = action.destinationEtag;
  if (await run.record(event)) run.outcome.adopted++;
}

/**
 * Records the plan's adopts (but those the content must prove) and its skips the ledger does not
 * already hold, many at a time so that they share fsyncs, and never all at once. Says whether
 * any adopt waits for its content to be compared.
 */
export async function recordAdoptsAndSkips(run: ApplyRun, plan: Plan): Promise<boolean> {
  // Two halves in flight: the ledger commits one while the next is read from the plan and
  // queued. Waiting for all of them every 16,384 left the ledger's writer idle 3.0 s of the
  // 11 s that a million adopts take; with two halves, 2.2 s.
  let earlier: Promise<unknown>[] = [];
  let recorded: Promise<unknown>[] = [];
  let byContent = false;
  for (const action of actionsOfKinds(plan.actions, ['adopt', 'skip'])) {
    if (recorded.length >= RECORDS_IN_FLIGHT / 2) {
      await Promise.all(earlier);
      earlier = recorded;
      recorded = [];
      if (run.halted) break;
    }
    if (action.kind === 'adopt') {
      if (action.adoptBy === 'content') byContent = true;
      else recorded.push(adopt(run, action, action.adoptBy === 'md5' || action.adoptBy === 'multipart-etag' ? action.adoptBy : 'size'));
    } else if (action.kind === 'skip') {
      const known = run.ctx.ledgerRecord(action.key);
      const reason = skipReason(action);
      const alreadyKnown = known?.skipReason !== undefined && sameSkipReason(known.skipReason, reason) && known.size === action.size && known.etag === action.etag;
      if (!alreadyKnown) {
        recorded.push(run.record({ type: 'skipped', key: action.key, size: action.size, etag: action.etag, reason }));
      }
    }
  }
  await Promise.all([...earlier, ...recorded]);
  return byContent;
}

/**
 * Adopts that the content must prove: both objects read through MD5 before anything moves, so
 * that a purge planned with the adopt never runs unless the adopt holds, and so that these
 * reads never share a hop's connection budget with s5cmd. Returns the keys not adopted.
 */
export async function adoptByContent(run: ApplyRun, plan: Plan, any: boolean): Promise<Set<string>> {
  const notAdopted = new Set<string>();
  const adoptsByContent = (function* () {
    if (any) for (const action of actionsOfKinds(plan.actions, ['adopt'])) if (action.adoptBy === 'content') yield action;
  })();
  await forEachLimited(adoptsByContent, CONTENT_COMPARES, async (action) => {
    const source = { key: action.key, size: action.size, etag: action.etag };
    const destination = { key: action.key, size: action.size, etag: action.destinationEtag ?? '' };
    const compared = await compareContent((side, object) => run.ctx.contentMd5(side, object), source, destination);
    if (compared.same) {
      await adopt(run, action, 'md5');
      return;
    }
    notAdopted.add(action.key);
    run.report(action.key, 'upload', compared.failure);
    const differs = compared.differs && action.destinationEtag !== undefined ? { destinationDiffers: action.destinationEtag } : {};
    await run.record({ type: 'failed', key: action.key, size: action.size, etag: action.etag, hop: 'upload', failure: compared.failure, ...differs });
  });
  return notAdopted;
}
