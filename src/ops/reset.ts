/**
 * `dualsync reset`: start over. The ledger is not deleted but moved into a timestamped backup
 * folder in the state directory (it is the only record of what was delivered, and an operator
 * may want it back); then the files the ledger records as staged are removed from the volumes,
 * with the interrupted downloads in the temporary folder of each volume this state directory
 * claims, and those claims are released so that another config may use the volumes. Nothing
 * else is deleted: not a file the ledger did not stage (or that changed since), nothing on a
 * volume this state directory does not claim, never anything in the state directory (invariant
 * 10). A copy of a state directory (invariant 14) is refused whole: it resets nothing.
 *
 * After a reset dualsync remembers nothing: the next plan lists everything again. Objects the
 * destination provably already holds (src/plan/adopt.ts) are adopted, not moved; the rest moves again.
 */
import { lstat, mkdir, readdir, realpath, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { stopEarlierChildren } from '../apply/children.ts';
import { acquireLock, lockHolder, type LockHolder } from '../apply/lock.ts';
import { expandVolumes } from '../config/load.ts';
import { userError } from '../errors.ts';
import { claimStates, copyRefusal, describeForeignClaims, removeClaim, type ClaimState } from '../inventory/claims.ts';
import { scanVolumes } from '../inventory/volumes.ts';
import type { DatabaseSync } from 'node:sqlite';
import { LEDGER_FILE, LedgerStore, markStartedOver } from '../ledger/store.ts';
import { logHead } from '../ledger/events.ts';
import type { Config } from '../model/config.ts';
import { TEMP_DIR } from '../model/volume-layout.ts';

/** Files of the state directory that make up dualsync's memory: the ledger (ledger.db with its -wal and -shm, and a migrated JSON ledger) and the last run. */
function isStateFile(name: string): boolean {
  return name.startsWith('ledger.') || name.startsWith('last-run.json');
}

export interface ResetVolume {
  root: string;
  /** Keys (paths under the root) of the files the ledger records as staged here, at the size it recorded: they are removed. */
  stagedKeys: string[];
  /** Files removed: the staged ones and the interrupted downloads. */
  files: number;
  bytes: number;
  /** Of those, files of interrupted downloads in `.dualsync-tmp/` (only on a volume this state directory claims). */
  temporaryFiles: number;
  /** Files the ledger did not stage, or that changed since: left in place (not counted on another state directory's volume). */
  keptFiles: number;
  /** Whose the volume is: this state directory's claim is released; a volume another one claims is left alone. */
  owner: 'ours' | 'none' | 'other';
  /** For a volume another state directory claims: which one. */
  ownerDescription?: string;
}

export interface ResetPlan {
  stateDir: string;
  /** State files (absolute paths) that move into the backup folder. */
  stateFiles: string[];
  volumes: ResetVolume[];
  keepStaged: boolean;
  ledger: { objects: number; delivered: number; stagedNotDelivered: number; stagedNotDeliveredBytes: number };
  lock?: LockHolder;
}

export interface ResetOutcome {
  backupDir?: string;
  movedFiles: string[];
  removedFiles: number;
  removedBytes: number;
  /** Files left on the volumes: not staged by this ledger, changed since, or on a volume another state directory claims. */
  keptFiles: number;
  /** Volumes whose claim was released. */
  releasedVolumes: string[];
}

function isInside(path: string, directory: string): boolean {
  const rel = relative(directory, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep));
}

/** The names directly in `directory`, or none when it does not exist. */
async function namesIn(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The real path of `path`, or `path` itself when it does not exist (yet). */
async function realOrSelf(path: string): Promise<string> {
  return realpath(path).catch(() => path);
}

/** What a reset would move and remove. Reads only. */
export async function planReset(config: Config, options: { keepStaged: boolean }): Promise<ResetPlan> {
  const stateFiles = (await stateFilesToMove(config.stateDir)).map((name) => join(config.stateDir, name));
  const roots = await expandVolumes(config.staging.volumes);
  const [realState, realConfig] = await Promise.all([realOrSelf(config.stateDir), realOrSelf(config.file)]);
  for (const root of roots) {
    // Compared by real path: a state directory reached through a link into a volume is inside it.
    const realRoot = await realOrSelf(root);
    if (realRoot === '/' || isInside(realConfig, realRoot) || isInside(realState, realRoot)) {
      throw userError('E_RESET_UNSAFE', `staging volume ${root} holds ${realRoot === '/' ? 'the whole system' : isInside(realConfig, realRoot) ? `the config file ${config.file}` : `the state directory ${config.stateDir}`}; reset will not touch it`, {
        hint: 'point staging.volumes at directories that hold only staged data',
      });
    }
  }
  // A copy of a state directory carries the original's ledger: it resets nothing, not even with --keep-staged (invariant 14).
  const claims = await claimStates(roots, config.stateDir);
  const copies = claims.flatMap((claim) => (claim.owner === 'copy' ? [claim] : []));
  if (copies.length > 0) throw await copyRefusal(copies, config);
  const ledger = await LedgerStore.open(config.stateDir, { allowLost: true });
  let counts: ResetPlan['ledger'];
  /** `volume\0key` -> size, for every copy the ledger says is on a volume. */
  const staged = new Map<string, number>();
  try {
    const { records, stages } = ledger.summary(0);
    counts = { objects: records, delivered: stages.delivered.objects + stages.purged.objects, stagedNotDelivered: stages.staged.objects, stagedNotDeliveredBytes: stages.staged.bytes };
    for (const record of ledger.records()) {
      if ((record.stage === 'staged' || record.stage === 'delivered') && record.volume !== undefined) staged.set(`${record.volume}\0${record.key}`, record.size);
    }
  } finally {
    await ledger.close();
  }
  const volumes = options.keepStaged || roots.length === 0 ? [] : await planVolumes(config, claims, staged);
  return { stateDir: config.stateDir, stateFiles, volumes, keepStaged: options.keepStaged, ledger: counts, lock: await lockHolder(config.stateDir) };
}

/**
 * Per volume: the files the ledger staged there (removed), the rest (kept), and whose the volume
 * is. Files are removed only on a volume this state directory claims: on an unclaimed one (handed
 * over with `volumes release`) another state directory's ledger may hold the same files.
 */
async function planVolumes(config: Config, claims: ClaimState[], staged: Map<string, number>): Promise<ResetVolume[]> {
  // Another state directory's volume is not even scanned: nothing on it is this ledger's any more.
  const scan = await scanVolumes(claims.filter((c) => c.owner === 'ours' || c.owner === 'none').map((c) => c.root), config.staging.reserve);
  const volumes: ResetVolume[] = [];
  for (const claim of claims) {
    const root = claim.root;
    if (claim.owner === 'other' || claim.owner === 'copy') {
      const [ownerDescription] = await describeForeignClaims([claim]);
      volumes.push({ root, stagedKeys: [], files: 0, bytes: 0, temporaryFiles: 0, keptFiles: 0, owner: 'other', ownerDescription });
      continue;
    }
    const files = scan.local.filter((f) => f.volume === root);
    const ours = claim.owner === 'ours' ? files.filter((f) => staged.get(`${root}\0${f.key}`) === f.size) : [];
    const temporary = claim.owner === 'ours' ? scan.leftovers.filter((path) => isInside(path, root)).length : 0;
    volumes.push({
      root,
      stagedKeys: ours.map((f) => f.key),
      files: ours.length + temporary,
      bytes: ours.reduce((n, f) => n + f.size, 0),
      temporaryFiles: temporary,
      keptFiles: files.length - ours.length,
      owner: claim.owner,
    });
  }
  return volumes;
}

/** True when the plan has nothing to move or remove. */
export function resetIsEmpty(plan: ResetPlan): boolean {
  return plan.stateFiles.length === 0 && plan.volumes.every((v) => v.files === 0 && v.owner !== 'ours');
}

/** Whether the ledger holds nothing but the `reset` event a reset started it with: a fresh start, nothing to move. */
function startedAfterReset(db: DatabaseSync): boolean {
  return db.prepare(`SELECT 1 FROM objects UNION ALL SELECT 1 FROM events WHERE type <> 'reset' LIMIT 1`).get() === undefined;
}

/** The state files a reset moves: none of the ledger's when it is the fresh one an earlier reset started. */
async function stateFilesToMove(stateDir: string): Promise<string[]> {
  const names = (await namesIn(stateDir)).filter(isStateFile);
  if (!names.includes(LEDGER_FILE)) return names;
  const ledger = await LedgerStore.open(stateDir, { allowLost: true });
  try {
    const fresh = ledger.read((db) => startedAfterReset(db), () => false);
    return fresh ? names.filter((name) => !name.startsWith('ledger.')) : names;
  } finally {
    await ledger.close();
  }
}

/** `backup-YYYYMMDDTHHMMSSZ` (UTC), so backups sort by time. */
export function backupName(now: Date): string {
  return `backup-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}`;
}

async function freeBackupDir(stateDir: string, now: Date): Promise<string> {
  const base = join(stateDir, backupName(now));
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if ((await stat(candidate).catch(() => undefined)) === undefined) return candidate;
  }
}

/**
 * Carries out a reset under the state directory's lock. What to remove is worked out again under
 * the lock (an apply may have staged more since the plan was shown). First the ledger moves into
 * the backup folder (so that a crash half way leaves staged files without a ledger, which the
 * next plan handles, rather than a ledger that points at deleted files), then the staged files
 * go, then the claims are released.
 */
export async function executeReset(config: Config, shown: ResetPlan, now: () => Date): Promise<ResetOutcome> {
  const lock = await acquireLock(config.stateDir, 'dualsync reset', now);
  try {
    // An s5cmd left by a killed run may still write into a volume this is about to change (invariant 13).
    await stopEarlierChildren(config.stateDir);
    const plan = await planReset(config, { keepStaged: shown.keepStaged });
    const outcome: ResetOutcome = { movedFiles: [], removedFiles: 0, removedBytes: 0, keptFiles: 0, releasedVolumes: [] };
    // Fold the write-ahead log into ledger.db first, so that the database file alone holds the
    // ledger and the backup does not depend on moving ledger.db-wal with it. ledger.db sorts
    // (and so moves) before its -wal; a new ledger set aside a -wal left without its database.
    const ledger = await LedgerStore.open(config.stateDir, { allowLost: true });
    // The head of the chain being replaced: the new ledger's first event names it.
    let replacedHead: string | undefined;
    try {
      ledger.checkpoint();
      replacedHead = ledger.read((db) => (startedAfterReset(db) ? undefined : logHead(db)), () => undefined);
    } finally {
      await ledger.close();
    }
    const stateFiles = await stateFilesToMove(config.stateDir);
    if (stateFiles.length > 0) {
      const backupDir = await freeBackupDir(config.stateDir, now());
      await mkdir(backupDir);
      for (const name of stateFiles) {
        await rename(join(config.stateDir, name), join(backupDir, name));
        outcome.movedFiles.push(join(backupDir, name));
      }
      outcome.backupDir = backupDir;
    }
    // The state directory keeps its id: the next run must take the missing ledger for a new one.
    await markStartedOver(config.stateDir, now());
    if (replacedHead !== undefined) {
      const started = await LedgerStore.open(config.stateDir, { now });
      try {
        await started.recordReset(replacedHead, outcome.backupDir === undefined ? undefined : basename(outcome.backupDir));
      } finally {
        await started.close();
      }
    }
    for (const volume of plan.volumes) {
      outcome.keptFiles += volume.keptFiles;
      if (volume.owner === 'other') continue;
      for (const key of volume.stagedKeys) {
        const removed = await removeStagedFile(volume.root, key);
        if (removed === undefined) {
          outcome.keptFiles++;
          continue;
        }
        outcome.removedFiles++;
        outcome.removedBytes += removed;
      }
      if (volume.owner === 'ours') {
        outcome.removedFiles += await removeTempFolder(volume.root);
        await removeClaim(volume.root);
        outcome.releasedVolumes.push(volume.root);
      }
    }
    return outcome;
  } finally {
    await lock.release();
  }
}

/**
 * Removes one staged file, and the folders above it that it leaves empty. Every folder on the
 * way must be a real directory and the file a regular one: a symbolic link below a volume root is
 * never followed (invariant 4). Returns its size, or undefined when it was left in place.
 */
async function removeStagedFile(root: string, key: string): Promise<number | undefined> {
  const segments = key.split('/');
  let folder = root;
  for (const segment of segments.slice(0, -1)) {
    folder = join(folder, segment);
    const info = await lstat(folder).catch(() => undefined);
    if (!info?.isDirectory()) return undefined;
  }
  const path = join(root, key);
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  await unlink(path);
  for (let parent = dirname(path); parent !== root && isInside(parent, root); parent = dirname(parent)) {
    // rmdir removes only an empty folder: a folder that still holds anything stays.
    if (!(await rmdir(parent).then(() => true, () => false))) break;
  }
  return info.size;
}

/** Removes the volume's temporary folder (interrupted downloads of this state directory); returns how many files it held. */
async function removeTempFolder(root: string): Promise<number> {
  const folder = join(root, TEMP_DIR);
  const info = await lstat(folder).catch(() => undefined);
  if (info === undefined) return 0;
  if (!info.isDirectory()) {
    throw userError('E_VOLUME_LINK', `${folder} is not a directory (a symbolic link?); reset leaves it and what it points to alone`, {
      hint: `remove ${folder} by hand after checking what it is, then reset again`,
    });
  }
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  await rm(folder, { recursive: true, force: true });
  return entries.filter((entry) => !entry.isDirectory()).length;
}
