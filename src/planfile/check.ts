/**
 * The checks `apply FILE` makes before it runs a saved plan: edited after it was written, made
 * with another config, reaching outside the volumes, manifests edited, no longer fitting the
 * volumes. The file is read once, as a stream, into spools (read.ts); each check is one pass over
 * the spooled actions, so nothing holds every action.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config, Plan, PlanFile, VolumeInfo } from '../model/index.ts';
import type { SpoolFactory } from '../model/spool.ts';
import type { SpooledActions } from '../plan/spools.ts';
import { keySkipReason } from '../plan/keys.ts';
import { writeManifests } from '../manifest/s5cmd.ts';
import { expandVolumes } from '../config/load.ts';
import type { Hop } from '../model/apply.ts';
import type { NeverPlannedAction, ReserveWarning, RoomShortfall, SavedPlanRefusal } from '../model/saved-plan.ts';
import { digestConfig, digestConfigFields } from './digest.ts';
import { readPlanFile } from './read.ts';
import { manifestPaths } from './save.ts';
import { stalePlan, type FreshRun } from './stale.ts';

/** The fields whose digests differ between a saved plan and the config now, sorted. */
function changedConfigFields(saved: Record<string, string>, now: Record<string, string>): string[] {
  const names = new Set([...Object.keys(saved), ...Object.keys(now)]);
  return [...names].filter((name) => saved[name] !== now[name]).sort();
}

/** A saved plan read back, or why it is refused. */
export type SavedPlanRead = { saved: PlanFile<SpooledActions>; refusal?: undefined } | { refusal: SavedPlanRefusal };

/**
 * Reads a saved plan, or says why it is refused: edited after `plan --out`, made with another
 * config, reaching outside the configured volumes, or its manifests edited. The file is read as
 * a stream into spools from `spools` (any JSON layout of it), its digest taken as it is read,
 * and the manifests compared as they are rendered: nothing holds every action. A file that is
 * no plan file at all is a user error thrown by the reader.
 */
export async function readSavedPlan(planPath: string, config: Config, spools: SpoolFactory): Promise<SavedPlanRead> {
  const { saved, digest, outOfOrder } = readPlanFile(planPath, spools);
  if (digest !== saved.planDigest) return { refusal: { code: 'plan-edited', planPath } };
  // The digest matches, so it was recomputed after the edit: dualsync never writes actions out of order.
  if (outOfOrder !== undefined) return { refusal: { code: 'actions-out-of-order', planPath, first: outOfOrder } };
  // The config first: a changed config also changes the manifests and the volumes, and the
  // operator should hear about the change made, not about an edit that never happened.
  if (saved.configDigest !== digestConfig(config)) {
    const fields = saved.configFields === undefined ? [] : changedConfigFields(saved.configFields, digestConfigFields(config));
    return { refusal: { code: 'config-changed', planPath, configFile: config.file, fields } };
  }
  const misplaced = checkPlaces(planPath, saved.plan, (await expandVolumes(config.staging.volumes)).map((root) => resolve(root)));
  if (misplaced !== undefined) return { refusal: misplaced };
  const paths = manifestPaths(planPath);
  const changed = manifestsDiffer(paths, saved.plan, config);
  if (changed !== undefined) return { refusal: { code: 'manifest-differs', planPath, manifest: paths[changed] } };
  return { saved };
}

/** Compares a file with text emitted piece by piece, reading the file as the pieces come. */
class FileComparison {
  readonly #fd: number;
  #same = true;

  constructor(fd: number) {
    this.#fd = fd;
  }

  take(piece: string): void {
    if (!this.#same) return;
    const expected = Buffer.from(piece, 'utf8');
    const actual = Buffer.allocUnsafe(expected.length);
    let filled = 0;
    while (filled < expected.length) {
      const read = readSync(this.#fd, actual, filled, expected.length - filled, null);
      if (read === 0) break;
      filled += read;
    }
    this.#same = filled === expected.length && actual.equals(expected);
  }

  /** Whether the file held exactly the pieces, and nothing after them. */
  end(): boolean {
    const same = this.#same && readSync(this.#fd, Buffer.allocUnsafe(1), 0, 1, null) === 0;
    closeSync(this.#fd);
    return same;
  }
}

/**
 * The manifest (if any) that is on disk but differs from what the plan renders. A manifest that
 * is gone is not checked: apply renders the lines from the plan itself.
 */
function manifestsDiffer(paths: { download: string; upload: string }, plan: Plan, config: Config): Hop | undefined {
  const openIfThere = (path: string) => {
    try {
      return new FileComparison(openSync(path, 'r'));
    } catch {
      return undefined;
    }
  };
  const download = openIfThere(paths.download);
  const upload = openIfThere(paths.upload);
  if (download === undefined && upload === undefined) return undefined;
  const ignore = () => {};
  writeManifests(plan, config, { download: download === undefined ? ignore : (piece) => download.take(piece), upload: upload === undefined ? ignore : (piece) => upload.take(piece) });
  const downloadSame = download?.end() ?? true;
  const uploadSame = upload?.end() ?? true;
  return !downloadSame ? 'download' : !uploadSame ? 'upload' : undefined;
}

/** Tampered actions named in a refusal at most; the count covers all of them. */
const WRONG_SHOWN = 10;

/**
 * A saved plan may write to and delete from the configured volumes only, under keys that map
 * to a path inside them (invariants 4 and 8). Its digest catches a careless edit, not one made
 * by someone who recomputed it, and a purge pointed at another folder would delete a file that
 * is not dualsync's. One pass over the actions; only the first few wrong ones are kept.
 */
export function checkPlaces(planPath: string, plan: Plan, volumeRoots: string[]): SavedPlanRefusal | undefined {
  const roots = new Set(volumeRoots);
  const seenWhenPlanned = new Set(plan.volumes.map((volume) => volume.root));
  const examples: NeverPlannedAction[] = [];
  let count = 0;
  const refuse = (wrong: NeverPlannedAction) => {
    count += 1;
    if (examples.length < WRONG_SHOWN) examples.push(wrong);
  };
  const gone = new Set<string>();
  for (const action of plan.actions) {
    if (action.kind === 'skip') continue;
    const { kind, key } = action;
    if (action.volume !== undefined && !roots.has(action.volume)) {
      if (seenWhenPlanned.has(action.volume)) gone.add(action.volume);
      else refuse({ kind, key, problem: 'volume', volume: action.volume });
    } else if (action.replaces !== undefined && (action.kind !== 'redownload' || !roots.has(action.replaces))) {
      refuse({ kind, key, problem: 'replaces', replaces: action.replaces });
    } else {
      const unsafe = keySkipReason(action.key);
      if (unsafe !== undefined) refuse({ kind, key, problem: 'key', reason: unsafe });
    }
  }
  if (count > 0) return { code: 'actions-never-planned', planPath, count, examples };
  // The file is as planned; a volume it uses was unmounted, or its glob no longer matches it.
  if (gone.size > 0) return { code: 'volumes-gone', planPath, volumes: [...gone].sort() };
  return undefined;
}

/**
 * A saved plan was sized to the free space it saw, and free space is left out of its digest
 * (it moves with every write). So the room is checked again here: a plan that no longer fits a
 * volume at all is refused before anything moves, rather than left to fail half-way with a
 * full disk; one that would only eat into the reserve is applied with a warning. Volumes on one
 * filesystem are checked together: their downloads come out of one free space. Only the plan's
 * per-volume totals are read, not its actions.
 */
export function checkRoom(planPath: string, plan: Plan, volumes: VolumeInfo[]): { refusal?: SavedPlanRefusal; warnings: ReserveWarning[] } {
  const full: RoomShortfall[] = [];
  const warnings: ReserveWarning[] = [];
  const byRoot = new Map(volumes.map((volume) => [volume.root, volume]));
  const byDevice = new Map<string, Plan['volumes']>();
  for (const planned of plan.volumes) {
    if (planned.plannedDownloadBytes === 0) continue;
    const device = byRoot.get(planned.root)?.device ?? `root ${planned.root}`;
    byDevice.set(device, [...(byDevice.get(device) ?? []), planned]);
  }
  for (const group of byDevice.values()) {
    const now = group.map((planned) => byRoot.get(planned.root));
    const free = Math.min(...now.map((volume) => volume?.freeBytes ?? 0));
    const aboveReserve = free - Math.max(...group.map((planned, index) => now[index]?.reserveBytes ?? planned.reserveBytes));
    const plannedBytes = group.reduce((sum, planned) => sum + planned.plannedDownloadBytes, 0);
    const roots = group.map((planned) => planned.root);
    if (plannedBytes > free) {
      full.push({ roots, plannedBytes, freeBytes: free, freeBytesThen: Math.min(...group.map((planned) => planned.freeBytes)) });
    } else if (plannedBytes > aboveReserve) {
      warnings.push({ roots, plannedBytes, intoReserveBytes: plannedBytes - aboveReserve });
    }
  }
  return { ...(full.length > 0 && { refusal: { code: 'volumes-full', planPath, full } }), warnings };
}

/**
 * Whether a saved plan still holds against a fresh plan made now from the same config: the
 * inputs it saw (listings, local files, ledger serial) unchanged, else the stale refusal with
 * its diff; then whether it still fits the volumes' free space.
 */
export function savedPlanHoldsNow(planPath: string, saved: PlanFile, fresh: FreshRun & { gathered: { inputDigest: string } }, config: Config, volumes: VolumeInfo[], showDiff: boolean): { refusal?: SavedPlanRefusal; warnings: ReserveWarning[] } {
  if (saved.inputDigest !== fresh.gathered.inputDigest) return { refusal: stalePlan(planPath, saved, fresh, config, showDiff), warnings: [] };
  return checkRoom(planPath, saved.plan, volumes);
}
