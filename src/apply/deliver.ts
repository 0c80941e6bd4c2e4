/**
 * Delivery: each upload that s5cmd reports done is read back from the destination (one listing
 * per batch, not a HEAD each), verified, recorded as delivered, and only then purged
 * (invariant 1). Delivered means listed: a PUT the destination accepted but does not list fails.
 */
import type { Action, LedgerEvent, ObjectEntry, VerifiedBy } from '../model/index.ts';
import { localPath } from '../plan/volume-paths.ts';
import { Batcher, forEachLimited } from './batch.ts';
import type { Purger } from './purge.ts';
import { causeOf, type ApplyRun } from './run.ts';
import { verifyUploaded } from './verify.ts';

/** How a local copy the ledger did not know was proven to be its version before its upload. */
export type LocalProofs = Map<string, { verifiedBy: VerifiedBy; md5: string }>;

export class Delivery {
  readonly #run: ApplyRun;
  readonly #purger: Purger;
  readonly #proofs: LocalProofs;
  readonly #confirm: Batcher<Action>;

  constructor(run: ApplyRun, purger: Purger, proofs: LocalProofs) {
    this.#run = run;
    this.#purger = purger;
    this.#proofs = proofs;
    this.#confirm = new Batcher<Action>((batch) => this.#confirmBatch(batch), { maxItems: 1000, maxDelayMs: 200 });
  }

  /** An upload s5cmd reported done: read back with the next batch. */
  add(action: Action): void {
    this.#confirm.add(action);
  }

  /** Resolves when every upload added so far is delivered or failed. */
  drain(): Promise<void> {
    return this.#confirm.drain();
  }

  async #confirmBatch(batch: Action[]): Promise<void> {
    const run = this.#run;
    let remotes: Map<string, ObjectEntry | undefined>;
    try {
      remotes = await run.ctx.describeDestination(batch.map((a) => a.key));
    } catch (error) {
      await Promise.all(batch.map((action) => run.fail(action, 'upload', { code: 'readback-failed', ...causeOf(error) })));
      return;
    }
    // Up to 64 at once: enough for their ledger records to share fsyncs, few enough that an
    // etag check does not open a thousand files together.
    for (const action of batch) run.timeline.mark('read-back', action.key);
    await forEachLimited(batch, 64, async (action) => {
      const remote = remotes.get(action.key);
      // Accepted (s5cmd succeeded) but not listed: a failed upload, never a delivery.
      if (remote === undefined && run.ctx.explainUnlisted) return run.fail(action, 'upload', { code: 'not-listed-after-put', cause: await run.ctx.explainUnlisted(action.key) });
      return this.#deliverAndPurge(action, remote).catch((error: unknown) => run.fail(action, 'upload', { code: 'verify-failed', ...causeOf(error) }));
    });
  }

  async #deliverAndPurge(action: Action, remote: ObjectEntry | undefined): Promise<void> {
    const run = this.#run;
    const { config } = run;
    const volume = action.volume!;
    const path = localPath(volume, action.key);
    // One read of the ledger's row per delivery (a query on the main thread): only this delivery
    // records events of this key while it runs, so the row read here is the row after the verify.
    const known = run.ctx.ledgerRecord(action.key);
    const expectedMd5 = run.md5ByKey.get(action.key) ?? known?.md5;
    const check = await verifyUploaded(path, remote, { size: action.size, md5: expectedMd5 }, config.transfer.verify, config.transfer.partSizeBytes);
    if (!check.ok) {
      await run.fail(action, 'upload', check.failure ?? { code: 'verify-failed', cause: 'no reason given' });
      return;
    }
    const stagedThisVersion = known?.stage === 'staged' && known.size === action.size && known.etag === action.etag;
    if (!action.afterDownload && !stagedThisVersion) {
      // A local copy the ledger did not know (or knew as delivered before the destination lost
      // it): staged as what its proof showed, if it needed one.
      const proof = this.#proofs.get(action.key);
      const staged: LedgerEvent = {
        type: 'staged', key: action.key, size: action.size, etag: action.etag, volume, verifiedBy: proof?.verifiedBy ?? 'size',
        md5: proof?.md5, etagComparable: proof === undefined ? undefined : true, again: known?.stage !== undefined,
      };
      if (!(await run.record(staged))) return;
    }
    // Never purged without a recorded delivery (invariant 1).
    const delivered: LedgerEvent = {
      type: 'delivered', key: action.key, size: action.size, etag: action.etag, verifiedBy: check.verifiedBy,
      destinationEtag: (remote as ObjectEntry).etag, again: known?.stage === 'delivered' || known?.stage === 'purged',
    };
    if (!(await run.record(delivered))) return;
    run.timeline.mark('delivered-recorded', action.key);
    run.countVerified(check.verifiedBy);
    run.outcome.uploaded.count++;
    run.outcome.uploaded.bytes += action.size;
    run.ctx.progress?.done('upload', action.size);
    await this.#purger.afterDelivery(action.key);
  }
}
