/**
 * What goes into which hop, and when. Uploads of copies already staged go in at once (once their
 * file is checked, and proven when the ledger does not know it); each download's upload goes in
 * when that download is recorded staged (chained), so both links work object by object.
 * Downloads go in through a window, so that objects complete one after another. The lines are
 * exactly the manifests'; only their timing changes, and a hop with a bandwidth limit admits
 * them at its rate (pacing.ts).
 */
import type { Action, FailureFacts, HopSettings } from '../model/index.ts';
import { downloadLine, uploadLine } from '../manifest/s5cmd.ts';
import { localPath } from '../plan/volume-paths.ts';
import { forEachLimited } from './batch.ts';
import { openPacedHop } from './pacing.ts';
import type { Delivery, LocalProofs } from './deliver.ts';
import type { HopRunResult, OpenHop, TransferHop } from './hop.ts';
import { causeOf, type ApplyRun } from './run.ts';
import { checkStagedFile, checkTempFolder } from './safe-path.ts';
import { verifyDownloaded } from './verify.ts';

/** Local copies the ledger does not know, hashed at once to prove them before their upload. */
const LOCAL_PROOFS = 4;

/**
 * How many download lines are in flight at once: enough to keep every worker busy on a big
 * batch, but at most about an eighth of a small one, so that the first objects are staged
 * (and their uploads start) after an eighth of the hop rather than at its end.
 */
export function downloadWindow(objects: number, workers: number): number {
  return Math.max(1, Math.min(objects, workers, Math.max(4, Math.ceil(objects / 8))));
}

/** The upload hop's input: staged copies at once, chained uploads as their downloads are staged. */
export class UploadFeed {
  readonly uploads: readonly Action[];
  /** Uploads s5cmd reported done (handed to delivery). */
  readonly succeeded = new Set<string>();
  /** Staged copies behind a link: never handed to s5cmd, already reported. */
  readonly refused = new Set<string>();
  /** Uploads never written to s5cmd because their local copy was not proven: already reported. */
  readonly notSent = new Set<string>();
  /** The hop's error for each failed upload, by key (the first one reported before any operator's stop). */
  readonly errors = new Map<string, FailureFacts>();
  readonly #run: ApplyRun;
  readonly #settings: HopSettings;
  readonly #proofs: LocalProofs;
  readonly #chained: Map<string, Action>;
  #hop: TransferHop | undefined;
  #proving: Promise<void> = Promise.resolve();

  constructor(run: ApplyRun, uploads: readonly Action[], settings: HopSettings, proofs: LocalProofs) {
    this.#run = run;
    this.uploads = uploads;
    this.#settings = settings;
    this.#proofs = proofs;
    this.#chained = new Map(uploads.filter((a) => a.afterDownload).map((a) => [a.key, a]));
  }

  /** Opens the hop (when there are uploads) and sends the uploads of copies already staged. */
  async start(openHop: OpenHop, delivery: Delivery): Promise<void> {
    const run = this.#run;
    const { uploads } = this;
    if (uploads.length === 0) return;
    run.ctx.progress?.start('upload', uploads.length, uploads.reduce((n, a) => n + a.size, 0));
    const hop = openPacedHop(openHop, 'upload', {
      onSuccess: (action) => {
        if (!action) return;
        run.timeline.mark('upload-reported', action.key);
        this.succeeded.add(action.key);
        delivery.add(action);
      },
      onFailure: (action, error) => hopFailure(run, this.errors, action, error),
    }, { workers: this.#settings.workers, signal: run.hopSignal }, { bandwidth: run.config.destination.bandwidth, now: run.ctx.now });
    this.#hop = hop;
    // A staged copy behind a link is never handed to s5cmd (invariant 4); a local copy the ledger
    // does not know goes up only once it is proven to be the source's version (invariant 10); one
    // that is not is left for the next plan to download again.
    const staged = uploads.filter((a) => !a.afterDownload);
    await forEachLimited(staged, 64, async (action) => {
      try {
        await checkStagedFile(await run.volumeRoots.resolve(action.volume!), action.key);
      } catch (error) {
        this.refused.add(action.key);
        await run.fail(action, 'upload', { code: 'staged-file-refused', ...causeOf(error) });
      }
    });
    for (const action of staged) if (!this.refused.has(action.key) && action.localProof === undefined) this.#send(hop, action);
    const unproven = staged.filter((a) => !this.refused.has(a.key) && a.localProof !== undefined);
    this.#proving = forEachLimited(unproven, LOCAL_PROOFS, async (action) => {
      if (await this.#proveLocalCopy(action)) this.#send(hop, action);
      else this.notSent.add(action.key);
    });
    // Awaited (and its error thrown) once the downloads are done; until then, not unhandled.
    this.#proving.catch(() => undefined);
  }

  /** Sends the upload the plan chained to this download: called once the download is recorded staged. */
  chainUpload(download: Action): void {
    const upload = this.#chained.get(download.key);
    if (upload && this.#hop) this.#send(this.#hop, upload);
  }

  /** Every upload line that will ever be written is written: closes the hop and waits for it. */
  async finish(): Promise<HopRunResult | undefined> {
    await this.#proving;
    this.#hop?.end();
    return this.#hop ? await this.#hop.done() : undefined;
  }

  #send(hop: TransferHop, action: Action): void {
    this.#run.timeline.mark('upload-sent', action.key);
    hop.send(uploadLine(action, this.#run.config, this.#settings), action);
  }

  /** Whether a local copy the ledger does not know is the action's version, by the digest the plan chose; records why not. */
  async #proveLocalCopy(action: Action): Promise<boolean> {
    const run = this.#run;
    const path = localPath(action.volume!, action.key);
    let check;
    try {
      check = await verifyDownloaded(path, action, 'etag');
    } catch (error) {
      await run.fail(action, 'upload', { code: 'local-unreadable', ...causeOf(error) });
      return false;
    }
    if (check.ok && (check.verifiedBy === 'md5' || check.verifiedBy === 'multipart-etag') && check.md5 !== undefined) {
      this.#proofs.set(action.key, { verifiedBy: check.verifiedBy, md5: check.md5 });
      run.md5ByKey.set(action.key, check.md5);
      return true;
    }
    const failure: FailureFacts = check.ok
      ? { code: 'local-not-proven', volume: action.volume!, multipartEtag: action.etag }
      : { code: 'local-not-proven', volume: action.volume!, ...(check.failure === undefined ? {} : { check: check.failure }) };
    run.report(action.key, 'upload', failure);
    run.ctx.progress?.failed('upload');
    await run.record({ type: 'failed', key: action.key, size: action.size, etag: action.etag, hop: 'upload', failure, localDiffers: action.volume! });
    return false;
  }
}

/** The download hop's input: a window of lines in flight, each finished download handed to staging. */
export class DownloadFeed {
  /** The downloads whose volume has a usable temporary folder: those handed to the hop. */
  downloads: readonly Action[] = [];
  /** How many of `downloads` were written to the hop. */
  sent = 0;
  /** Downloads s5cmd reported done (handed to staging). */
  readonly succeeded = new Set<string>();
  /** The hop's error for each failed download, by key (the first one reported before any operator's stop). */
  readonly errors = new Map<string, FailureFacts>();
  /** How the hop ended; undefined when it never ran. */
  result: HopRunResult | undefined;
  readonly #run: ApplyRun;
  readonly #planned: readonly Action[];
  readonly #settings: HopSettings;

  constructor(run: ApplyRun, planned: readonly Action[], settings: HopSettings) {
    this.#run = run;
    this.#planned = planned;
    this.#settings = settings;
  }

  /** Runs the download hop to its end, each finished download through `stage`; resolves when every staging settled. */
  async run(openHop: OpenHop, stage: (action: Action) => Promise<void>): Promise<void> {
    const run = this.#run;
    const planned = this.#planned;
    // s5cmd follows links as it writes, so it is pointed only at a temporary folder that is a real folder of ours.
    const unusableTemp = new Map<string, FailureFacts>();
    for (const root of new Set(planned.map((a) => a.volume!))) {
      try {
        await checkTempFolder(await run.volumeRoots.resolve(root));
      } catch (error) {
        unusableTemp.set(root, { code: 'temp-folder-unusable', ...causeOf(error) });
      }
    }
    const downloads = planned.filter((a) => !unusableTemp.has(a.volume!));
    this.downloads = downloads;
    if (planned.length > 0) run.ctx.progress?.start('download', planned.length, planned.reduce((n, a) => n + a.size, 0));
    await Promise.all(planned.filter((a) => unusableTemp.has(a.volume!)).map((a) => run.fail(a, 'download', unusableTemp.get(a.volume!)!)));
    if (downloads.length === 0) return;
    const verifications: Promise<void>[] = [];
    const hop = openPacedHop(openHop, 'download', {
      onSuccess: (action) => {
        feedNext();
        if (!action) return;
        run.timeline.mark('download-reported', action.key);
        this.succeeded.add(action.key);
        verifications.push(stage(action));
      },
      onFailure: (action, error) => {
        hopFailure(run, this.errors, action, error);
        feedNext();
      },
    }, { workers: this.#settings.workers, signal: run.hopSignal }, { bandwidth: run.config.source.bandwidth, now: run.ctx.now });
    // A bounded window of lines in flight: objects then complete one after another instead
    // of all together at the end (fair sharing of one link), so their uploads can start
    // early. Only the timing of the manifest's lines changes, never the lines.
    const feedNext = () => {
      if (this.sent >= downloads.length || hop.stalled !== undefined) return;
      const action = downloads[this.sent]!;
      run.timeline.mark('download-sent', action.key);
      hop.send(downloadLine(action, run.config, this.#settings), action);
      this.sent++;
      if (this.sent === downloads.length) hop.end();
    };
    const window = downloadWindow(downloads.length, this.#settings.workers);
    for (let i = 0; i < window; i++) feedNext();
    this.result = await hop.done();
    await Promise.all(verifications);
  }
}


/**
 * Keeps s5cmd's error for an action (the first one). Errors that arrive once the operator has
 * stopped the transfers are that stop's doing (cancelled requests), not s5cmd's: not kept, so the
 * object is recorded as stopped.
 */
function hopFailure(run: ApplyRun, errors: Map<string, FailureFacts>, action: Action | undefined, error: string): void {
  if (action === undefined || errors.has(action.key) || run.stoppedByOperator) return;
  errors.set(action.key, { code: 's5cmd-error', cause: error });
}
