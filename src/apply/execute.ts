import type { Action, ApplyOutcome, Config, Failure, Hop, LedgerEvent, LedgerRecord, ObjectEntry, Plan, ProgressSink, VerifiedBy } from '../model/index.ts';
import { downloadLine, uploadLine } from '../manifest/s5cmd.ts';
import { localPath, TEMP_DIR, tempPath } from '../plan/keys.ts';
import { describeError } from '../errors.ts';
import { Batcher, forEachLimited } from './batch.ts';
import { actionsOfKinds } from '../manifest/spool.ts';
import { checkStagedFile, checkTempFolder, isLinkRefusal, moveIntoPlace, removeEmptyFolder, removeFile, VolumeRoots } from './safe-path.ts';
import { removeReplacedCopy } from './replaced.ts';
import type { Recorder } from './recorder.ts';
import { HopRunner, type HopRunResult, type S5Success } from './runner.ts';
import { s5cmdEnv, s5cmdGlobalArgs } from './s5cmd.ts';
import { compareContent } from './content.ts';
import { verifyDownloaded, verifyUploaded } from './verify.ts';

// The view's types live in model/; re-exported for the importers that still reach them here.
export type { ApplyOutcome, Failure, Hop, ProgressSink } from '../model/index.ts';

/** Objects read through MD5 at once for adopts by content: a few streams keep both links busy. */
const CONTENT_COMPARES = 8;
/** Ledger records of adopts and skips awaited together: enough to share fsyncs, few enough to hold. */
const RECORDS_IN_FLIGHT = 16_384;
/** Local copies the ledger does not know, hashed at once to prove them before their upload. */
const LOCAL_PROOFS = 4;

export interface ExecuteContext {
  config: Config;
  s5cmd: string;
  recorder: Recorder;
  /** The ledger record of a key as it was when the plan was made (for MD5s carried between hops). */
  ledgerRecord(key: string): LedgerRecord | undefined;
  /** The destination's listed entries for these relative keys (undefined: not listed), read in one go. */
  describeDestination(keys: string[]): Promise<Map<string, ObjectEntry | undefined>>;
  /** The MD5 of one hop's object as listed (its plain MD5 ETag, or its bytes read through MD5), for adopts by content. */
  contentMd5(side: 'source' | 'destination', object: ObjectEntry): Promise<string>;
  /** Why the destination accepted the upload of a key but does not list it (the failure's reason). */
  explainUnlisted?(key: string): Promise<string>;
  progress?: ProgressSink;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** The clock that stamps each failure: the object backs off from that time. */
  now: () => Date;
}

/**
 * Runs a plan: one long-lived `s5cmd run` per hop, both at once. Each download is verified,
 * renamed from its temporary name and recorded as staged; its upload line is written into the
 * upload process at that moment, so the two links work in parallel object by object. Each
 * upload is verified against the destination (read back in batches) and recorded as delivered
 * before its staged copy may be purged (invariant 1).
 */
export async function executePlan(ctx: ExecuteContext, plan: Plan): Promise<ApplyOutcome> {
  const { config, recorder } = ctx;
  const outcome: ApplyOutcome = {
    downloaded: { count: 0, bytes: 0 },
    uploaded: { count: 0, bytes: 0 },
    purged: { count: 0, bytes: 0 },
    adopted: 0,
    failures: [],
    verifiedBy: {},
  };
  const countVerified = (by: VerifiedBy) => (outcome.verifiedBy[by] = (outcome.verifiedBy[by] ?? 0) + 1);
  // A ledger write that fails (a full state disk) stops the run: what is not recorded did not
  // happen, so nothing may follow from it (no upload line, no purge). The hops are stopped, every
  // task settles, and only then is the error thrown: no ledger write outlives the run.
  let ledgerError: unknown;
  const halt = new AbortController();
  const hopSignal = ctx.signal ? AbortSignal.any([ctx.signal, halt.signal]) : halt.signal;
  /** Records one event; false when the ledger could not take it (the run is then halting). */
  const record = async (event: LedgerEvent): Promise<boolean> => {
    if (ledgerError !== undefined) return false;
    try {
      await recorder.record(event);
      return true;
    } catch (error) {
      ledgerError ??= error;
      halt.abort();
      return false;
    }
  };
  const fail = async (action: Action, hop: Failure['hop'], error: string) => {
    outcome.failures.push({ key: action.key, hop, error });
    if (hop !== 'purge') ctx.progress?.failed(hop);
    const at = ctx.now().toISOString();
    await record({ type: 'failed', key: action.key, size: action.size, etag: action.etag, hop: hop === 'purge' ? 'upload' : hop, error, at });
  };

  /** Records an adopt as a delivery that moved nothing, with the rule that proved it. */
  const adopt = async (action: Action, verifiedBy: VerifiedBy): Promise<void> => {
    const event: Extract<LedgerEvent, { type: 'delivered' }> = { type: 'delivered', key: action.key, size: action.size, etag: action.etag, verifiedBy, adopted: true };
    if (action.adoptBy !== undefined) event.adoptedBy = action.adoptBy;
    if (action.destinationEtag !== undefined) event.destinationEtag = action.destinationEtag;
    if (await record(event)) outcome.adopted++;
  };

  // Transfers and purges are bounded by the staging space and the batch caps, so they are held;
  // adopts and skips are not (after a reset, a plan can hold tens of millions), so they stream.
  const plannedDownloads = [...actionsOfKinds(plan.actions, ['download', 'redownload'])];
  const uploads = [...actionsOfKinds(plan.actions, ['upload'])];
  const purges = [...actionsOfKinds(plan.actions, ['purge'])];
  const chainedUploads = new Map(uploads.filter((a) => a.afterDownload).map((a) => [a.key, a]));
  const purgeByKey = new Map(purges.map((a) => [a.key, a]));
  /** MD5s learnt while verifying downloads, carried to the destination check. */
  const md5ByKey = new Map<string, string>();
  /** How local copies the ledger did not know were proven to be their version before their upload. */
  const proofs = new Map<string, { verifiedBy: VerifiedBy; md5: string }>();
  /** Folders that purges emptied, perhaps (volume root, then the key's folder): tidied once at the end rather than per object. */
  const purgedFrom = new Set<string>();
  /** Every file operation of dualsync's own below a volume root goes through safe-path: no link is followed. */
  const volumeRoots = new VolumeRoots();

  // Adopts and skips move nothing: record them first, many at a time so that they share fsyncs,
  // and never all at once (after a reset, a plan can hold tens of millions of adopts).
  let recorded: Promise<unknown>[] = [];
  let byContent = false;
  for (const action of actionsOfKinds(plan.actions, ['adopt', 'skip'])) {
    if (recorded.length >= RECORDS_IN_FLIGHT) {
      await Promise.all(recorded);
      recorded = [];
      if (ledgerError !== undefined) break;
    }
    if (action.kind === 'adopt') {
      if (action.adoptBy === 'content') byContent = true;
      else recorded.push(adopt(action, action.adoptBy === 'md5' || action.adoptBy === 'multipart-etag' ? action.adoptBy : 'size'));
    } else if (action.kind === 'skip') {
      const known = ctx.ledgerRecord(action.key);
      const alreadyKnown = known !== undefined && known.skipReason === action.reason && known.size === action.size && known.etag === action.etag;
      if (!alreadyKnown) {
        recorded.push(record({ type: 'skipped', key: action.key, size: action.size, etag: action.etag, reason: action.reason ?? 'unsafe key' }));
      }
    }
  }
  await Promise.all(recorded);
  if (ledgerError !== undefined) throw ledgerError; // nothing runs yet

  // Adopts that the content must prove: both objects read through MD5 before anything moves, so
  // that a purge planned with the adopt never runs unless the adopt holds, and so that these
  // reads never share a hop's connection budget with s5cmd.
  const notAdopted = new Set<string>();
  const adoptsByContent = (function* () {
    if (byContent) for (const action of actionsOfKinds(plan.actions, ['adopt'])) if (action.adoptBy === 'content') yield action;
  })();
  await forEachLimited(adoptsByContent, CONTENT_COMPARES, async (action) => {
    const source = { key: action.key, size: action.size, etag: action.etag };
    const destination = { key: action.key, size: action.size, etag: action.destinationEtag ?? '' };
    const compared = await compareContent((side, object) => ctx.contentMd5(side, object), source, destination);
    if (compared.same) {
      await adopt(action, 'md5');
      return;
    }
    notAdopted.add(action.key);
    outcome.failures.push({ key: action.key, hop: 'upload', error: compared.error });
    const differs = compared.differs && action.destinationEtag !== undefined ? { destinationDiffers: action.destinationEtag } : {};
    await record({ type: 'failed', key: action.key, size: action.size, etag: action.etag, hop: 'upload', error: compared.error, ...differs });
  });

  /** Whether a local copy the ledger does not know is the action's version, by the digest the plan chose; records why not. */
  const proveLocalCopy = async (action: Action): Promise<boolean> => {
    const path = localPath(action.volume!, action.key);
    let check;
    try {
      check = await verifyDownloaded(path, action, 'etag');
    } catch (error) {
      await fail(action, 'upload', `could not read the local copy to prove it is the source's version: ${describeError(error)}`);
      return false;
    }
    if (check.ok && (check.verifiedBy === 'md5' || check.verifiedBy === 'multipart-etag') && check.md5 !== undefined) {
      proofs.set(action.key, { verifiedBy: check.verifiedBy, md5: check.md5 });
      md5ByKey.set(action.key, check.md5);
      return true;
    }
    const why = check.ok ? `it matches the source's multipart ETag ${action.etag} for no usual part size` : (check.error ?? 'it differs from the source');
    const error = `the local copy on ${action.volume!} is not proven to be the source's current version (${why}); the next plan downloads it again`;
    outcome.failures.push({ key: action.key, hop: 'upload', error });
    ctx.progress?.failed('upload');
    await record({ type: 'failed', key: action.key, size: action.size, etag: action.etag, hop: 'upload', error, localDiffers: action.volume! });
    return false;
  };
  if (ledgerError !== undefined) throw ledgerError; // nothing moved but reads

  const deliverAndPurge = async (action: Action, remote: ObjectEntry | undefined): Promise<void> => {
    const volume = action.volume!;
    const path = localPath(volume, action.key);
    const expectedMd5 = md5ByKey.get(action.key) ?? ctx.ledgerRecord(action.key)?.md5;
    const check = await verifyUploaded(path, remote, { size: action.size, md5: expectedMd5 }, config.transfer.verify, config.transfer.partSizeBytes);
    if (!check.ok) {
      await fail(action, 'upload', check.error ?? 'verification failed');
      return;
    }
    const known = ctx.ledgerRecord(action.key);
    const stagedThisVersion = known?.stage === 'staged' && known.size === action.size && known.etag === action.etag;
    if (!action.afterDownload && !stagedThisVersion) {
      // A local copy the ledger did not know (or knew as delivered before the destination lost
      // it): staged as what its proof showed, if it needed one.
      const proof = proofs.get(action.key);
      const staged: LedgerEvent = {
        type: 'staged', key: action.key, size: action.size, etag: action.etag, volume, verifiedBy: proof?.verifiedBy ?? 'size',
        md5: proof?.md5, etagComparable: proof === undefined ? undefined : true, again: known?.stage !== undefined,
      };
      if (!(await record(staged))) return;
    }
    // Never purged without a recorded delivery (invariant 1).
    const delivered: LedgerEvent = {
      type: 'delivered', key: action.key, size: action.size, etag: action.etag, verifiedBy: check.verifiedBy,
      destinationEtag: (remote as ObjectEntry).etag, again: known?.stage === 'delivered' || known?.stage === 'purged',
    };
    if (!(await record(delivered))) return;
    countVerified(check.verifiedBy);
    outcome.uploaded.count++;
    outcome.uploaded.bytes += action.size;
    ctx.progress?.done('upload', action.size);
    const purge = purgeByKey.get(action.key);
    if (purge) await purgeStaged(purge);
  };

  const purgeStaged = async (action: Action): Promise<void> => {
    try {
      const removed = await removeFile(await volumeRoots.resolve(action.volume!), action.key);
      const slash = action.key.lastIndexOf('/');
      if (removed === 'removed' && slash !== -1) purgedFrom.add(`${action.volume!}\0${action.key.slice(0, slash)}`);
    } catch (error) {
      outcome.failures.push({ key: action.key, hop: 'purge', error: describeError(error) });
      return;
    }
    if (!(await record({ type: 'purged', key: action.key, size: action.size, etag: action.etag }))) return;
    outcome.purged.count++;
    outcome.purged.bytes += action.size;
  };

  /** After a re-download landed on another volume: the copy it replaced goes, and the ledger says so. */
  const removeReplaced = async (action: Action, volume: string): Promise<void> => {
    try {
      const result = await removeReplacedCopy(await volumeRoots.resolve(volume), action.key);
      if (!result.removed) return;
      const slash = action.key.lastIndexOf('/');
      if (slash !== -1) purgedFrom.add(`${volume}\0${action.key.slice(0, slash)}`);
      // The old copy's own version: the older version the ledger knew there, else a partial copy (its size differs).
      const known = ctx.ledgerRecord(action.key);
      const etag = known?.volume === volume && known.etag !== action.etag ? known.etag : action.etag;
      if (!(await record({ type: 'purged', key: action.key, size: result.size, etag, replaced: true, volume }))) return;
      outcome.replaced ??= { count: 0, bytes: 0 };
      outcome.replaced.count++;
      outcome.replaced.bytes += result.size;
    } catch (error) {
      outcome.failures.push({ key: action.key, hop: 'purge', error: `could not remove the copy it replaced on ${volume}: ${describeError(error)}` });
    }
  };

  // Purges of versions delivered by earlier runs: check the destination once more, then free the space.
  const uploadKeys = new Set(uploads.map((a) => a.key));
  const standalonePurges = purges.filter((a) => !a.afterDownload && !uploadKeys.has(a.key) && !notAdopted.has(a.key));
  if (standalonePurges.length > 0) {
    const remotes = await ctx.describeDestination(standalonePurges.map((a) => a.key)).catch(() => new Map<string, ObjectEntry | undefined>());
    await forEachLimited(standalonePurges, 16, async (action) => {
      const remote = remotes.get(action.key);
      if (!remote || remote.size !== action.size) {
        outcome.failures.push({ key: action.key, hop: 'purge', error: 'the destination no longer holds this version (or could not be read); the staged copy is kept' });
        return;
      }
      await purgeStaged(action);
    });
  }

  // Uploads are read back from the destination in batches: one listing per batch, not a HEAD each.
  const confirmUploads = new Batcher<Action>(
    async (batch) => {
      let remotes: Map<string, ObjectEntry | undefined>;
      try {
        remotes = await ctx.describeDestination(batch.map((a) => a.key));
      } catch (error) {
        await Promise.all(batch.map((action) => fail(action, 'upload', `could not read the destination back: ${describeError(error)}`)));
        return;
      }
      // Up to 64 at once: enough for their ledger records to share fsyncs, few enough that an
      // etag check does not open a thousand files together.
      await forEachLimited(batch, 64, async (action) => {
        const remote = remotes.get(action.key);
        // Accepted (s5cmd succeeded) but not listed: a failed upload, never a delivery.
        if (remote === undefined && ctx.explainUnlisted) return fail(action, 'upload', await ctx.explainUnlisted(action.key));
        return deliverAndPurge(action, remote).catch((error: unknown) => fail(action, 'upload', `verification failed: ${describeError(error)}`));
      });
    },
    { maxItems: 1000, maxDelayMs: 200 },
  );

  const uploadHop = plan.hops.upload;
  const downloadHop = plan.hops.download;
  const uploadByLocal = new Map(uploads.map((a) => [localPath(a.volume!, a.key), a]));
  const uploadSucceeded = new Set<string>();
  /** Staged copies behind a link: never handed to s5cmd, already reported. */
  const refusedUploads = new Set<string>();
  /** Uploads never written to s5cmd because their local copy was not proven: already reported. */
  const notSent = new Set<string>();
  let proving: Promise<void> = Promise.resolve();
  let uploadRunner: HopRunner | undefined;
  if (uploads.length > 0) {
    ctx.progress?.start('upload', uploads.length, uploads.reduce((n, a) => n + a.size, 0));
    uploadRunner = new HopRunner({
      s5cmd: ctx.s5cmd,
      args: s5cmdGlobalArgs(config.destination, uploadHop.workers),
      env: s5cmdEnv(config.destination, ctx.env),
      signal: hopSignal,
      stall: { timeoutMs: config.transfer.stallTimeoutMs, hop: 'upload' },
      onSuccess: (result: S5Success) => {
        const action = uploadByLocal.get(result.source);
        if (!action) return;
        uploadSucceeded.add(action.key);
        confirmUploads.add(action);
      },
    });
    const runner = uploadRunner;
    // A staged copy behind a link is never handed to s5cmd (invariant 4); a local copy the ledger
    // does not know goes up only once it is proven to be the source's version (invariant 10); one
    // that is not is left for the next plan to download again.
    const staged = uploads.filter((a) => !a.afterDownload);
    await forEachLimited(staged, 64, async (action) => {
      try {
        await checkStagedFile(await volumeRoots.resolve(action.volume!), action.key);
      } catch (error) {
        refusedUploads.add(action.key);
        await fail(action, 'upload', describeError(error));
      }
    });
    for (const action of staged) if (!refusedUploads.has(action.key) && action.localProof === undefined) runner.send(uploadLine(action, config, uploadHop));
    const unproven = staged.filter((a) => !refusedUploads.has(a.key) && a.localProof !== undefined);
    proving = forEachLimited(unproven, LOCAL_PROOFS, async (action) => {
      if (await proveLocalCopy(action)) runner.send(uploadLine(action, config, uploadHop));
      else notSent.add(action.key);
    });
    // Awaited (and its error thrown) once the downloads are done; until then, not unhandled.
    proving.catch(() => undefined);
  }

  const downloadSucceeded = new Set<string>();
  const verifications: Promise<void>[] = [];
  let downloadResult: HopRunResult | undefined;
  // s5cmd follows links as it writes, so it is pointed only at a temporary folder that is a real folder of ours.
  const unusableTemp = new Map<string, string>();
  for (const root of new Set(plannedDownloads.map((a) => a.volume!))) {
    try {
      await checkTempFolder(await volumeRoots.resolve(root));
    } catch (error) {
      unusableTemp.set(root, describeError(error));
    }
  }
  const downloads = plannedDownloads.filter((a) => !unusableTemp.has(a.volume!));
  if (plannedDownloads.length > 0) ctx.progress?.start('download', plannedDownloads.length, plannedDownloads.reduce((n, a) => n + a.size, 0));
  await Promise.all(plannedDownloads.filter((a) => unusableTemp.has(a.volume!)).map((a) => fail(a, 'download', unusableTemp.get(a.volume!)!)));
  const downloadByTemp = new Map(downloads.map((a) => [tempPath(a.volume!, a.key), a]));
  if (downloads.length > 0) {
    const downloadRunner = new HopRunner({
      s5cmd: ctx.s5cmd,
      args: s5cmdGlobalArgs(config.source, downloadHop.workers),
      env: s5cmdEnv(config.source, ctx.env),
      signal: hopSignal,
      stall: { timeoutMs: config.transfer.stallTimeoutMs, hop: 'download' },
      onSuccess: (result: S5Success) => {
        feedNext();
        const action = downloadByTemp.get(result.destination);
        if (!action) return;
        downloadSucceeded.add(action.key);
        verifications.push(stage(action));
      },
      onFailure: () => feedNext(),
    });
    // A bounded window of lines in flight: objects then complete one after another instead
    // of all together at the end (fair sharing of one link), so their uploads can start
    // early. Only the timing of the manifest's lines changes, never the lines.
    let nextDownload = 0;
    const feedNext = () => {
      if (nextDownload >= downloads.length || downloadRunner.stalled !== undefined) return;
      downloadRunner.send(downloadLine(downloads[nextDownload]!, config, downloadHop));
      nextDownload++;
      if (nextDownload === downloads.length) downloadRunner.end();
    };
    const stage = async (action: Action): Promise<void> => {
      const temp = tempPath(action.volume!, action.key);
      const volume = await volumeRoots.resolve(action.volume!);
      const dropTemp = () => removeFile(volume, `${TEMP_DIR}/${action.key}`).catch(() => undefined);
      const check = await verifyDownloaded(temp, action, config.transfer.verify).catch((error) => ({ ok: false, error: describeError(error), verifiedBy: 'size' as const }));
      if (!check.ok) {
        await dropTemp();
        await fail(action, 'download', check.error ?? 'verification failed');
        return;
      }
      try {
        await moveIntoPlace(volume, action.key);
      } catch (error) {
        await dropTemp();
        await fail(action, 'download', isLinkRefusal(error) ? describeError(error) : `could not move the verified file into place: ${describeError(error)}`);
        return;
      }
      if ('md5' in check && check.md5) md5ByKey.set(action.key, check.md5);
      const known = ctx.ledgerRecord(action.key);
      const event: LedgerEvent = {
        type: 'staged', key: action.key, size: action.size, etag: action.etag, volume: action.volume!,
        verifiedBy: check.verifiedBy, md5: 'md5' in check ? check.md5 : undefined,
        etagComparable: 'etagComparable' in check ? check.etagComparable : undefined,
        again: known?.size === action.size && known.etag === action.etag && known.stage !== undefined,
      };
      if (!(await record(event))) return; // not recorded: its upload must not start
      countVerified(check.verifiedBy);
      outcome.downloaded.count++;
      outcome.downloaded.bytes += action.size;
      ctx.progress?.done('download', action.size);
      const upload = chainedUploads.get(action.key);
      if (upload && uploadRunner) uploadRunner.send(uploadLine(upload, config, uploadHop));
      if (action.replaces !== undefined) await removeReplaced(action, action.replaces);
    };
    const window = downloadWindow(downloads.length, downloadHop.workers);
    for (let i = 0; i < window; i++) feedNext();
    downloadResult = await downloadRunner.done();
    await Promise.all(verifications);
    const result = downloadResult;
    // A stalled hop was stopped before it was given these: not tried, so not a failed attempt.
    const notStarted = result.stalled === undefined ? new Set<string>() : new Set(downloads.slice(nextDownload).map((a) => a.key));
    const failed = downloads.filter((a) => !downloadSucceeded.has(a.key) && !notStarted.has(a.key));
    const errors = matchFailures(result, failed, 'download', config);
    await Promise.all(failed.map((a) => fail(a, 'download', errors.get(a.key) ?? hopEndedWithout(result))));
    for (const key of notStarted) {
      outcome.failures.push({ key, hop: 'download', error: `not started: the hop was stopped (${result.stalled}); the next run does it` });
      ctx.progress?.failed('download');
    }
  }
  // Every upload line that will ever be written is written now.
  await proving;
  uploadRunner?.end();
  const uploadResult = uploadRunner ? await uploadRunner.done() : undefined;
  await confirmUploads.drain();
  // Chained uploads whose download failed (or failed verification) were never sent: already reported.
  const failedKeys = new Set(outcome.failures.map((f) => f.key));
  const unsent = (action: Action) => action.afterDownload === true && (!downloadSucceeded.has(action.key) || failedKeys.has(action.key));
  const failedUploads = uploads.filter((a) => !uploadSucceeded.has(a.key) && !unsent(a) && !refusedUploads.has(a.key) && !notSent.has(a.key));
  const uploadErrors = uploadResult ? matchFailures(uploadResult, failedUploads, 'upload', config) : new Map<string, string>();
  await Promise.all(failedUploads.map((a) => fail(a, 'upload', uploadErrors.get(a.key) ?? (uploadResult ? hopEndedWithout(uploadResult) : 'not started'))));
  await recorder.flush();
  await removeEmptyFolders(purgedFrom, volumeRoots);
  if (ledgerError !== undefined) throw ledgerError;
  return outcome;
}

/**
 * How many download lines are in flight at once: enough to keep every worker busy on a big
 * batch, but at most about an eighth of a small one, so that the first objects are staged
 * (and their uploads start) after an eighth of the hop rather than at its end.
 */
export function downloadWindow(objects: number, workers: number): number {
  return Math.max(1, Math.min(objects, workers, Math.max(4, Math.ceil(objects / 8))));
}

/**
 * The s5cmd error of each failed action, by key. s5cmd names a failed line by its command,
 * re-joined with spaces, so an action is found by the command's ending (" SOURCE DESTINATION"):
 * each error line looks up its endings at its spaces in one map, rather than every failed action
 * scanning every error line, which a dead link (all objects failed) made quadratic.
 */
function matchFailures(result: HopRunResult, failed: readonly Action[], hop: Hop, config: Config): Map<string, string> {
  const byEnding = new Map<string, string>();
  for (const action of failed) {
    const ending = hop === 'download'
      ? ` s3://${config.source.bucket}/${config.source.prefix}${action.key} ${tempPath(action.volume!, action.key)}`
      : ` ${localPath(action.volume!, action.key)} s3://${config.destination.bucket}/${config.destination.prefix}${action.key}`;
    byEnding.set(ending, action.key);
  }
  const errors = new Map<string, string>();
  for (const failure of result.failures) {
    const command: string = failure.command;
    for (let space = command.indexOf(' '); space !== -1; space = command.indexOf(' ', space + 1)) {
      const key = byEnding.get(command.slice(space));
      if (key === undefined) continue;
      if (!errors.has(key)) errors.set(key, failure.error);
      break;
    }
  }
  return errors;
}

/** What is known when s5cmd ended without reporting on an object. */
function hopEndedWithout(result: HopRunResult): string {
  if (result.stalled !== undefined) return `${result.stalled}: s5cmd was stopped; the next run tries again`;
  if (result.signal) return `s5cmd was stopped (${result.signal})`;
  if (result.otherErrors.length > 0) return `s5cmd: ${result.otherErrors.slice(-3).join(' | ')}`;
  return `s5cmd exited with code ${result.exitCode ?? 'unknown'} without finishing this object`;
}

/**
 * Removes folders that purges left empty, deepest first, up to (not including) each volume
 * root. Done once per run: trying after every purge costs a failed rmdir per object. A folder
 * behind a link is left as it is.
 */
async function removeEmptyFolders(purgedFrom: Set<string>, volumeRoots: VolumeRoots): Promise<void> {
  const candidates = new Map<string, { root: string; folder: string }>();
  for (const entry of purgedFrom) {
    const [root, key] = entry.split('\0') as [string, string];
    for (let folder = key; folder !== ''; folder = folder.slice(0, Math.max(0, folder.lastIndexOf('/')))) {
      candidates.set(`${root}\0${folder}`, { root, folder });
    }
  }
  const deepestFirst = [...candidates.values()].sort((a, b) => b.folder.length - a.folder.length);
  for (const { root, folder } of deepestFirst) await removeEmptyFolder(await volumeRoots.resolve(root), folder); // false: not empty, or gone
}
