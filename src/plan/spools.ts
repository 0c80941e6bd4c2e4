/** The spools one plan's actions go to, by kind and source (./builder.ts fills them, in key order). */
import { ACTION_ORDER, type ActionKind } from '../model/plan.ts';
import { SpooledActions, type RankedSpool, type SpoolFactory } from '../manifest/spool.ts';

/** The spools one plan's actions go to; each is in key order (rank order). */
export class PlanSpools {
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
