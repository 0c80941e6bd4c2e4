/**
 * The end of a hop: what it reported against what it was given. A line the hop neither finished
 * nor failed (s5cmd died, was stopped, or skipped it) becomes a failure with what is known of
 * why, so that no planned object goes unaccounted for. When the operator stopped the transfers,
 * what was cut short is recorded as stopped: the operator's doing, not s5cmd's, and no attempt.
 */
import type { Action, FailureFacts } from '../model/index.ts';
import type { DownloadFeed, UploadFeed } from './feed.ts';
import { hopEndedWithout, type HopRunResult } from './hop.ts';
import type { ApplyRun } from './run.ts';

/** Fails every download the hop was given and did not finish; one a stopped hop never started is reported, not recorded. */
export async function reconcileDownloads(run: ApplyRun, feed: DownloadFeed): Promise<void> {
  const result = feed.result;
  if (result === undefined) return;
  const { downloads } = feed;
  // A stalled hop was stopped before it was given these: not tried, so not a failed attempt.
  const notStarted = result.stalled === undefined ? new Set<string>() : new Set(downloads.slice(feed.sent).map((a) => a.key));
  const failed = downloads.filter((a) => !feed.succeeded.has(a.key) && !notStarted.has(a.key));
  await Promise.all(failed.map((a) => run.fail(a, 'download', feed.errors.get(a.key) ?? unfinished(run, result))));
  for (const key of notStarted) {
    run.report(key, 'download', { code: 'not-started', cause: result.stalled });
    run.ctx.progress?.failed('download');
  }
}

/**
 * Fails every upload the hop did not finish, but those never sent for a reason already reported:
 * a chained upload whose download failed, a copy behind a link, a copy not proven.
 */
export async function reconcileUploads(run: ApplyRun, feed: UploadFeed, downloadsSucceeded: ReadonlySet<string>, result: HopRunResult | undefined): Promise<void> {
  const failedKeys = new Set(run.outcome.failures.map((f) => f.key));
  const unsent = (action: Action) => action.afterDownload === true && (!downloadsSucceeded.has(action.key) || failedKeys.has(action.key));
  const failed = feed.uploads.filter((a) => !feed.succeeded.has(a.key) && !unsent(a) && !feed.refused.has(a.key) && !feed.notSent.has(a.key));
  await Promise.all(failed.map((a) => run.fail(a, 'upload', feed.errors.get(a.key) ?? (result ? unfinished(run, result) : { code: 'not-started' }))));
}

/** Why a line the hop was given ended unfinished: the operator's stop, else what the hop's end tells. */
function unfinished(run: ApplyRun, result: HopRunResult): FailureFacts {
  // A stall is the watchdog's stop, whatever came after it.
  if (run.stoppedByOperator && result.stalled === undefined) return { code: 'stopped' };
  return hopEndedWithout(result);
}
