/**
 * Staging: a download s5cmd reports done is verified under its temporary name, renamed into
 * place, recorded as staged, and only then handed on: its upload line goes into the upload hop
 * and the copy it replaced on another volume is removed.
 */
import type { Action, LedgerEvent } from '../model/index.ts';
import { TEMP_DIR } from '../model/volume-layout.ts';
import { tempPath } from '../plan/volume-paths.ts';
import type { Purger } from './purge.ts';
import { causeOf, type ApplyRun } from './run.ts';
import { isLinkRefusal, moveIntoPlace, removeFile } from './safe-path.ts';
import { verifyDownloaded } from './verify.ts';

/** What follows a recorded staging. */
export interface AfterStaged {
  /** Sends the upload line the plan chained to this download, if any. */
  chainUpload(download: Action): void;
  purger: Purger;
}

/** Verifies, renames and records one finished download; hands it on only once it is recorded. */
export async function stageDownload(run: ApplyRun, action: Action, next: AfterStaged): Promise<void> {
  const { config } = run;
  const temp = tempPath(action.volume!, action.key);
  const volume = await run.volumeRoots.resolve(action.volume!);
  const dropTemp = () => removeFile(volume, `${TEMP_DIR}/${action.key}`).catch(() => undefined);
  let check;
  try {
    check = await verifyDownloaded(temp, action, config.transfer.verify);
  } catch (error) {
    await dropTemp();
    await run.fail(action, 'download', { code: 'download-unreadable', ...causeOf(error) });
    return;
  }
  if (!check.ok) {
    await dropTemp();
    await run.fail(action, 'download', check.failure ?? { code: 'verify-failed', cause: 'no reason given' });
    return;
  }
  run.timeline.mark('verified', action.key);
  try {
    await moveIntoPlace(volume, action.key);
  } catch (error) {
    await dropTemp();
    await run.fail(action, 'download', { code: isLinkRefusal(error) ? 'link-refused' : 'move-failed', ...causeOf(error) });
    return;
  }
  run.timeline.mark('renamed', action.key);
  if (check.md5) run.md5ByKey.set(action.key, check.md5);
  const known = run.ctx.ledgerRecord(action.key);
  const event: LedgerEvent = {
    type: 'staged', key: action.key, size: action.size, etag: action.etag, volume: action.volume!,
    verifiedBy: check.verifiedBy, md5: check.md5, etagComparable: check.etagComparable,
    again: known?.size === action.size && known.etag === action.etag && known.stage !== undefined,
  };
  if (!(await run.record(event))) return; // not recorded: its upload must not start
  run.timeline.mark('staged-recorded', action.key);
  run.countVerified(check.verifiedBy);
  run.outcome.downloaded.count++;
  run.outcome.downloaded.bytes += action.size;
  run.ctx.progress?.done('download', action.size);
  next.chainUpload(action);
  if (action.replaces !== undefined) await next.purger.removeReplaced(action, action.replaces);
}
