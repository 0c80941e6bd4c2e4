/**
 * Freeing staging space: purges after a recorded delivery (invariant 1), purges of versions
 * delivered by earlier runs (the destination checked once more first), the copies a re-download
 * replaced on another volume, and at the end the folders those left empty.
 */
import type { Action, ObjectEntry } from '../model/index.ts';
import { forEachLimited } from './batch.ts';
import { removeReplacedCopy } from './replaced.ts';
import { causeOf, type ApplyRun } from './run.ts';
import { removeEmptyFolder, removeFile, type VolumeRoots } from './safe-path.ts';

export class Purger {
  readonly #run: ApplyRun;
  readonly #byKey: Map<string, Action>;
  /** Folders that purges emptied, perhaps (volume root, then the key's folder): tidied once at the end rather than per object. */
  readonly #purgedFrom = new Set<string>();

  constructor(run: ApplyRun, purges: readonly Action[]) {
    this.#run = run;
    this.#byKey = new Map(purges.map((a) => [a.key, a]));
  }

  /**
   * The purge planned for a key, once its delivery is recorded: the caller has the ledger's word
   * that the destination holds the version (invariant 1), and calls only then.
   */
  async afterDelivery(key: string): Promise<void> {
    const purge = this.#byKey.get(key);
    if (purge) await this.#purgeStaged(purge);
  }

  /** Purges of versions delivered by earlier runs: check the destination once more, then free the space. */
  async standalone(purges: readonly Action[]): Promise<void> {
    if (purges.length === 0) return;
    const remotes = await this.#run.ctx.describeDestination(purges.map((a) => a.key)).catch(() => new Map<string, ObjectEntry | undefined>());
    await forEachLimited(purges, 16, async (action) => {
      const remote = remotes.get(action.key);
      if (!remote || remote.size !== action.size) {
        this.#run.report(action.key, 'purge', { code: 'purge-unconfirmed' });
        return;
      }
      await this.#purgeStaged(action);
    });
  }

  async #purgeStaged(action: Action): Promise<void> {
    const run = this.#run;
    try {
      const removed = await removeFile(await run.volumeRoots.resolve(action.volume!), action.key);
      const slash = action.key.lastIndexOf('/');
      if (removed === 'removed' && slash !== -1) this.#purgedFrom.add(`${action.volume!}\0${action.key.slice(0, slash)}`);
    } catch (error) {
      run.report(action.key, 'purge', { code: 'purge-failed', ...causeOf(error) });
      return;
    }
    if (!(await run.record({ type: 'purged', key: action.key, size: action.size, etag: action.etag }))) return;
    run.timeline.mark('purged', action.key);
    run.outcome.purged.count++;
    run.outcome.purged.bytes += action.size;
  }

  /** After a re-download landed on another volume: the copy it replaced goes, and the ledger says so. */
  async removeReplaced(action: Action, volume: string): Promise<void> {
    const run = this.#run;
    try {
      const result = await removeReplacedCopy(await run.volumeRoots.resolve(volume), action.key);
      if (!result.removed) return;
      const slash = action.key.lastIndexOf('/');
      if (slash !== -1) this.#purgedFrom.add(`${volume}\0${action.key.slice(0, slash)}`);
      // The old copy's own version: the older version the ledger knew there, else a partial copy (its size differs).
      const known = run.ctx.ledgerRecord(action.key);
      const etag = known?.volume === volume && known.etag !== action.etag ? known.etag : action.etag;
      if (!(await run.record({ type: 'purged', key: action.key, size: result.size, etag, replaced: true, volume }))) return;
      run.outcome.replaced ??= { count: 0, bytes: 0 };
      run.outcome.replaced.count++;
      run.outcome.replaced.bytes += result.size;
    } catch (error) {
      run.report(action.key, 'purge', { code: 'replaced-not-removed', volume, ...causeOf(error) });
    }
  }

  /** Removes the folders this run's purges left empty (see removeEmptyFolders). */
  tidy(): Promise<void> {
    return removeEmptyFolders(this.#purgedFrom, this.#run.volumeRoots);
  }
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
