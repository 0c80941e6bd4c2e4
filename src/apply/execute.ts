import type { ApplyOutcome, Plan, ProgressSink } from '../model/index.ts';
import { actionsOfKinds } from '../manifest/spool.ts';
import { adoptByContent, recordAdoptsAndSkips } from './adopt.ts';
import { Delivery, type LocalProofs } from './deliver.ts';
import { DownloadFeed, UploadFeed } from './feed.ts';
import { s5cmdHops, type OpenHop } from './hop.ts';
import { Purger } from './purge.ts';
import { reconcileDownloads, reconcileUploads } from './reconcile.ts';
import { ApplyRun, type ExecuteContext } from './run.ts';
import { stageDownload } from './stage.ts';

export type { ExecuteContext } from './run.ts';

/**
 * Runs a plan: one long-lived `s5cmd run` per hop, both at once. Each download is verified,
 * renamed from its temporary name and recorded as staged; its upload line is written into the
 * upload process at that moment, so the two links work in parallel object by object. Each
 * upload is verified against the destination (read back in batches) and recorded as delivered
 * before its staged copy may be purged (invariant 1).
 *
 * The steps live in their own modules, joined here where the data changes hands: adopt (record
 * what moves nothing), feed (what goes into which hop), stage, deliver, purge, reconcile.
 */
export async function executePlan(ctx: ExecuteContext, plan: Plan): Promise<ApplyOutcome> {
  const run = new ApplyRun(ctx);
  run.timeline.mark('execute-started', '');
  try {
    return await executeSteps(run, plan);
  } finally {
    run.timeline.mark('execute-ended', '');
    run.timeline.write();
  }
}

async function executeSteps(run: ApplyRun, plan: Plan): Promise<ApplyOutcome> {
  const { ctx } = run;
  const openHop = reportingSent(ctx.openHop ?? s5cmdHops(ctx.s5cmd, ctx.config, ctx.env), ctx.progress);

  // Adopts and skips move nothing: recorded first. They stream from the plan (tens of millions
  // after a reset); transfers and purges are bounded by the staging space and the batch caps, so
  // they are held.
  const byContent = await recordAdoptsAndSkips(run, plan);
  run.throwIfHalted(); // nothing runs yet
  const notAdopted = await adoptByContent(run, plan, byContent);
  run.throwIfHalted(); // nothing moved but reads

  const downloads = [...actionsOfKinds(plan.actions, ['download', 'redownload'])];
  const uploads = [...actionsOfKinds(plan.actions, ['upload'])];
  const purges = [...actionsOfKinds(plan.actions, ['purge'])];
  const purger = new Purger(run, purges);
  const uploadKeys = new Set(uploads.map((a) => a.key));
  await purger.standalone(purges.filter((a) => !a.afterDownload && !uploadKeys.has(a.key) && !notAdopted.has(a.key)));

  const proofs: LocalProofs = new Map();
  const delivery = new Delivery(run, purger, proofs);
  const uploadFeed = new UploadFeed(run, uploads, plan.hops.upload, proofs);
  await uploadFeed.start(openHop, delivery);
  const downloadFeed = new DownloadFeed(run, downloads, plan.hops.download);
  await downloadFeed.run(openHop, (action) => stageDownload(run, action, { chainUpload: (download) => uploadFeed.chainUpload(download), purger }));
  run.timeline.mark('downloads-done', '');
  await reconcileDownloads(run, downloadFeed);

  const uploadResult = await uploadFeed.finish();
  run.timeline.mark('uploads-done', '');
  await delivery.drain();
  run.timeline.mark('deliveries-done', '');
  await reconcileUploads(run, uploadFeed, downloadFeed.succeeded, uploadResult);
  await ctx.recorder.flush();
  await purger.tidy();
  run.throwIfHalted();
  return run.outcome;
}

/** Hops that tell the progress view when each transfer is handed to s5cmd (its rate is measured from the first). */
function reportingSent(openHop: OpenHop, progress: ProgressSink | undefined): OpenHop {
  if (progress?.sent === undefined) return openHop;
  return (hop, events, options) => {
    const opened = openHop(hop, events, options);
    return {
      send: (line, action) => {
        progress.sent?.(hop);
        opened.send(line, action);
      },
      end: () => opened.end(),
      done: () => opened.done(),
      get stalled() {
        return opened.stalled;
      },
    };
  };
}
