/**
 * `dualsync reset`: start over. The ledger is not deleted but moved into a timestamped backup
 * folder in the state directory (it is the only record of what was delivered, and an operator
 * may want it back); the staged files are removed from the volumes. Nothing outside the volume
 * roots and the state directory is touched, and the volume roots themselves stay.
 *
 * After a reset dualsync remembers nothing: the next plan lists everything again. Objects the
 * destination already holds (same size and ETag) are adopted, not moved; the rest moves again.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { acquireLock, lockHolder, type LockHolder } from '../apply/lock.ts';
import { expandVolumes } from '../config/load.ts';
import { userError } from '../errors.ts';
import { scanVolumes } from '../inventory/volumes.ts';
import { LedgerStore } from '../ledger/store.ts';
import type { Config } from '../model/config.ts';

/** Left on an ext4 volume root by mkfs; fsck wants it there. */
const KEEP_AT_ROOT = new Set(['lost+found']);

/** Files of the state directory that make up dualsync's memory: the ledger (ledger.db with its -wal and -shm, and a migrated JSON ledger) and the last run. */
function isStateFile(name: string): boolean {
  return name.startsWith('ledger.') || name.startsWith('last-run.json');
}

export interface ResetVolume {
  root: string;
  /** Names directly under the root that will be removed (with everything below them). */
  entries: string[];
  files: number;
  bytes: number;
  /** Of those, files of interrupted downloads in `.dualsync-tmp/`. */
  temporaryFiles: number;
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

/** What a reset would move and remove. Reads only. */
export async function planReset(config: Config, options: { keepStaged: boolean }): Promise<ResetPlan> {
  const stateFiles = (await namesIn(config.stateDir)).filter(isStateFile).map((name) => join(config.stateDir, name));
  const roots = await expandVolumes(config.staging.volumes);
  for (const root of roots) {
    // The volume roots are emptied; a root that holds the config or the ledger is not a staging area.
    if (root === '/' || isInside(config.file, root) || isInside(config.stateDir, root)) {
      throw userError('E_RESET_UNSAFE', `staging volume ${root} holds ${root === '/' ? 'the whole system' : isInside(config.file, root) ? `the config file ${config.file}` : `the state directory ${config.stateDir}`}; reset will not empty it`, {
        hint: 'point staging.volumes at directories that hold only staged data',
      });
    }
  }
  const volumes: ResetVolume[] = [];
  if (!options.keepStaged && roots.length > 0) {
    const scan = await scanVolumes(roots, config.staging.reserve);
    for (const root of roots) {
      const files = scan.local.filter((f) => f.volume === root);
      const temporary = scan.leftovers.filter((path) => isInside(path, root));
      volumes.push({
        root,
        entries: (await namesIn(root)).filter((name) => !KEEP_AT_ROOT.has(name)),
        files: files.length + temporary.length,
        bytes: files.reduce((n, f) => n + f.size, 0),
        temporaryFiles: temporary.length,
      });
    }
  }
  const ledger = await LedgerStore.open(config.stateDir);
  let counts: ResetPlan['ledger'];
  try {
    const { records, stages } = ledger.summary(0);
    counts = { objects: records, delivered: stages.delivered.objects + stages.purged.objects, stagedNotDelivered: stages.staged.objects, stagedNotDeliveredBytes: stages.staged.bytes };
  } finally {
    await ledger.close();
  }
  return { stateDir: config.stateDir, stateFiles, volumes, keepStaged: options.keepStaged, ledger: counts, lock: await lockHolder(config.stateDir) };
}

/** True when the plan has nothing to move or remove. */
export function resetIsEmpty(plan: ResetPlan): boolean {
  return plan.stateFiles.length === 0 && plan.volumes.every((v) => v.entries.length === 0);
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
 * Carries out a reset under the state directory's lock: first the ledger moves into the backup
 * folder (so that a crash half way leaves staged files without a ledger, which the next plan
 * handles, rather than a ledger that points at deleted files), then the staged files go.
 */
export async function executeReset(config: Config, plan: ResetPlan, now: () => Date): Promise<ResetOutcome> {
  const lock = await acquireLock(config.stateDir, 'dualsync reset', now);
  try {
    const outcome: ResetOutcome = { movedFiles: [], removedFiles: 0, removedBytes: 0 };
    // Fold the write-ahead log into ledger.db first, so that the database file alone holds the
    // ledger and the backup does not depend on moving ledger.db-wal with it. ledger.db sorts
    // (and so moves) before its -wal; a new ledger set aside a -wal left without its database.
    const ledger = await LedgerStore.open(config.stateDir);
    try {
      ledger.checkpoint();
    } finally {
      await ledger.close();
    }
    const stateFiles = (await namesIn(config.stateDir)).filter(isStateFile);
    if (stateFiles.length > 0) {
      const backupDir = await freeBackupDir(config.stateDir, now());
      await mkdir(backupDir);
      for (const name of stateFiles) {
        await rename(join(config.stateDir, name), join(backupDir, name));
        outcome.movedFiles.push(join(backupDir, name));
      }
      outcome.backupDir = backupDir;
    }
    for (const volume of plan.volumes) {
      for (const name of await namesIn(volume.root)) {
        if (KEEP_AT_ROOT.has(name)) continue;
        // A name from readdir has no separator, so this is always directly under the root.
        await rm(join(volume.root, name), { recursive: true, force: true });
      }
      outcome.removedFiles += volume.files;
      outcome.removedBytes += volume.bytes;
    }
    return outcome;
  } finally {
    await lock.release();
  }
}
