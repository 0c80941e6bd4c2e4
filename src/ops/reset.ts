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
 *
 * Over 400 lines: one reset in the order it runs (refusals, the ledger's move, the staged files'
 * removal, the claims' release), each step written so that a rerun after a kill finishes it;
 * the record that carries a reset across a kill lives in reset-intent.ts.
 */
import { lstat, mkdir, readdir, realpath, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { stopEarlierChildren } from '../apply/children.ts';
import { expandVolumes } from '../config/load.ts';
import { userError } from '../errors.ts';
import { claimStates, copyRefusal, describeForeignClaims, removeClaim, type ClaimState } from '../inventory/claims.ts';
import { scanVolumes } from '../inventory/volumes.ts';
import type { DatabaseSync } from 'node:sqlite';
import { LEDGER_FILE, LedgerStore, markStartedOver } from '../ledger/store.ts';
import { RESET_INTENT_FILE } from '../ledger/integrity.ts';
import { logHead } from '../ledger/events.ts';
import type { Config } from '../model/config.ts';
import { TEMP_DIR } from '../model/volume-layout.ts';
import { fsyncDirectory } from '../files/fsync.ts';
import { freeBackupDir, readResetIntent, writeResetIntent, type ResetIntent, type ResetStep } from './reset-intent.ts';

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
  /** A reset a kill interrupted: this one finishes it (its backup folder's name, when it moved a ledger). */
  unfinished?: { backup?: string };
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
  const unfinished = await readResetIntent(config.stateDir);
  if (unfinished !== undefined) await refuseForeignLedger(config.stateDir, unfinished);
  const stateFiles = (await stateFilesLeft(config.stateDir, unfinished)).map((name) => join(config.stateDir, name));
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
  // An unfinished reset goes on as it began: its copies are those of the ledger in its backup.
  const keepStaged = unfinished?.keepStaged ?? options.keepStaged;
  const copiesToRemove = unfinished === undefined ? staged : (await replacedCopies(config, unfinished)).staged;
  const volumes = keepStaged || roots.length === 0 ? [] : await planVolumes(config, claims, copiesToRemove);
  return {
    stateDir: config.stateDir,
    stateFiles,
    volumes,
    keepStaged,
    ledger: counts,
    ...(unfinished !== undefined && { unfinished: { ...(unfinished.backup !== undefined && { backup: unfinished.backup }) } }),
  };
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
  return plan.unfinished === undefined && plan.stateFiles.length === 0 && plan.volumes.every((v) => v.files === 0 && v.owner !== 'ours');
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

/** The state files still to move: the old ledger's first (ledger.db before its -wal), the record of the last run last, so that a run started after a kill half way sees a used state directory and refuses (invariant 12). */
async function stateFilesLeft(stateDir: string, intent: ResetIntent | undefined): Promise<string[]> {
  if (intent?.phase === 'moved') return [];
  const names = intent === undefined ? await stateFilesToMove(stateDir) : (await namesIn(stateDir)).filter(isStateFile);
  return [...names.filter((name) => name.startsWith('ledger.')), ...names.filter((name) => !name.startsWith('ledger.'))];
}

/**
 * Refuses to finish an interrupted reset while the state directory holds ledger files it did not
 * make: plan and apply refuse a half-reset state directory, so such a file was put there by hand
 * (the old ledger restored from its backup, say). Before the moves are done, it is a name the
 * backup holds already: moving it would overwrite the backup, and leaving it would make a ledger
 * the reset moved away the state directory's again. After them, it is a ledger that holds more
 * than the new chain's first event: the reset event would be added to some other chain.
 * Nothing is moved or changed; the operator moves the file out and runs reset again.
 */
async function refuseForeignLedger(stateDir: string, intent: ResetIntent): Promise<void> {
  const here = (await namesIn(stateDir)).filter(isStateFile);
  let foreign: string[] = [];
  if (intent.phase === 'moving' && intent.backup !== undefined) {
    const inBackup = new Set(await namesIn(join(stateDir, intent.backup)));
    foreign = here.filter((name) => inBackup.has(name));
  } else if (intent.phase === 'moved' && here.includes(LEDGER_FILE)) {
    const ledger = await LedgerStore.open(stateDir, { allowLost: true });
    try {
      if (!ledger.read((db) => startedAfterReset(db), () => true)) foreign = here.filter((name) => name.startsWith('ledger.'));
    } finally {
      await ledger.close();
    }
  }
  if (foreign.length === 0) return;
  const backup = intent.backup === undefined ? undefined : join(stateDir, intent.backup);
  const files = foreign.map((name) => join(stateDir, name)).join(', ');
  throw userError(
    'E_RESET_CONFLICT',
    `the interrupted reset of ${stateDir} finds ${files} there, which it did not make` +
      (intent.phase === 'moving' ? ` (it already moved the file${foreign.length === 1 ? '' : 's'} of that name into ${backup})` : ' (it holds more than the new chain\'s first event)') +
      ': reset will not overwrite its backup nor take that ledger for the new one; nothing was moved',
    {
      hint:
        `the ledger reset moved away is in ${backup ?? 'its backup folder'}; compare it with that file, then move ${foreign.length === 1 ? 'it' : 'them'} out of ${stateDir} ` +
        '(into a folder of its own to keep it) and run `dualsync reset` again to finish the reset',
    },
  );
}

/** Starts a reset: the head of the chain it replaces, its backup folder, and its intent, written before anything moves. */
async function beginReset(config: Config, keepStaged: boolean, now: () => Date): Promise<ResetIntent> {
  // Fold the write-ahead log into ledger.db first, so that the database file alone holds the
  // ledger and the backup does not depend on moving ledger.db-wal with it.
  const ledger = await LedgerStore.open(config.stateDir, { allowLost: true });
  let previousHead: string | undefined;
  try {
    ledger.checkpoint();
    previousHead = ledger.read((db) => (startedAfterReset(db) ? undefined : logHead(db)), () => undefined);
  } finally {
    await ledger.close();
  }
  const intent: ResetIntent = { keepStaged, phase: 'moving', ...(previousHead !== undefined && { previousHead }) };
  if ((await stateFilesToMove(config.stateDir)).length > 0) {
    const backupDir = await freeBackupDir(config.stateDir, now());
    await mkdir(backupDir);
    intent.backup = basename(backupDir);
  }
  await writeResetIntent(config.stateDir, intent);
  return intent;
}

/** Moves what is left of the old ledger into the backup, then notes that the moves are done. */
async function moveStateFiles(config: Config, intent: ResetIntent, outcome: ResetOutcome, afterStep: (step: ResetStep) => void): Promise<void> {
  if (intent.phase === 'moved') return;
  if (intent.backup !== undefined) {
    const backupDir = join(config.stateDir, intent.backup);
    await mkdir(backupDir, { recursive: true });
    const alreadyMoved = new Set(await namesIn(backupDir));
    for (const name of await stateFilesLeft(config.stateDir, intent)) {
      // planReset refused such a name under this lock (refuseForeignLedger); never overwrite the backup all the same.
      if (alreadyMoved.has(name)) continue;
      await rename(join(config.stateDir, name), join(backupDir, name));
      outcome.movedFiles.push(join(backupDir, name));
      if (name === LEDGER_FILE) afterStep('ledger-moved');
    }
    await fsyncDirectory(backupDir);
  }
  intent.phase = 'moved';
  await writeResetIntent(config.stateDir, intent);
  afterStep('state-moved');
}

/** Whether the state directory's ledger already holds the reset event of this reset. */
function holdsResetEvent(db: DatabaseSync, intent: ResetIntent): boolean {
  const rows = db.prepare(`SELECT body FROM events WHERE type = 'reset'`).all() as { body: string }[];
  return rows.some((row) => (JSON.parse(row.body) as { backup?: string }).backup === intent.backup);
}

/** Starts the new ledger: its first event names the replaced chain's head, once (a rerun finds it there). */
async function startNewChain(config: Config, intent: ResetIntent, now: () => Date, afterStep: (step: ResetStep) => void): Promise<void> {
  const ledgerThere = (await namesIn(config.stateDir)).includes(LEDGER_FILE);
  // The state directory keeps its id: the next run must take the missing ledger for a new one.
  if (!ledgerThere) await markStartedOver(config.stateDir, now());
  afterStep('started-over');
  if (intent.previousHead === undefined) return;
  const started = await LedgerStore.open(config.stateDir, { now });
  try {
    if (!started.read((db) => holdsResetEvent(db, intent), () => false)) {
      await started.recordReset(intent.previousHead, intent.backup);
    }
  } finally {
    await started.close();
  }
  afterStep('chain-started');
}

/**
 * The copies the replaced ledger records on a volume (`volume\0key` -> size), read from its backup,
 * less those the ledger now in the state directory records (a run after a kill half way may have
 * staged them again): those belong to the new ledger and stay.
 */
async function replacedCopies(config: Config, intent: ResetIntent): Promise<{ staged: Map<string, number>; volumesInUse: Set<string> }> {
  const staged = new Map<string, number>();
  const volumesInUse = new Set<string>();
  if (intent.backup !== undefined) {
    const old = await LedgerStore.open(join(config.stateDir, intent.backup), { allowLost: true });
    try {
      for (const record of old.records()) {
        if ((record.stage === 'staged' || record.stage === 'delivered') && record.volume !== undefined) staged.set(`${record.volume}\0${record.key}`, record.size);
      }
    } finally {
      await old.close();
    }
  }
  const current = await LedgerStore.open(config.stateDir, { allowLost: true });
  try {
    for (const record of current.records()) {
      if (record.volume === undefined) continue;
      staged.delete(`${record.volume}\0${record.key}`);
      if (record.stage === 'staged' || record.stage === 'delivered') volumesInUse.add(record.volume);
    }
  } finally {
    await current.close();
  }
  return { staged, volumesInUse };
}

/** Removes the replaced ledger's staged copies and the interrupted downloads, and releases the claims no new record needs. */
async function clearVolumes(config: Config, intent: ResetIntent, outcome: ResetOutcome, afterStep: (step: ResetStep) => void): Promise<void> {
  const roots = await expandVolumes(config.staging.volumes);
  if (roots.length === 0) return;
  const { staged, volumesInUse } = await replacedCopies(config, intent);
  const volumes = await planVolumes(config, await claimStates(roots, config.stateDir), staged);
  for (const volume of volumes) {
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
      afterStep('staged-file-removed');
    }
    if (volume.owner === 'ours' && !volumesInUse.has(volume.root)) {
      outcome.removedFiles += await removeTempFolder(volume.root);
      await removeClaim(volume.root);
      outcome.releasedVolumes.push(volume.root);
      afterStep('claim-released');
    }
  }
}

/**
 * Carries out a reset, or finishes the one a kill interrupted (its intent is in the state
 * directory). The caller holds the state directory's lock, taken before it planned (`withLock`),
 * so the checks `shown` passed (no volume holds the state directory, no copy of it) still hold;
 * which files to remove is worked out again per volume (an s5cmd of a killed run may have
 * written meanwhile, until it is stopped here).
 * First the intent is written, then the ledger moves into the backup folder (so that a kill half
 * way leaves staged files without a ledger, which a plan refuses and a rerun of reset finishes,
 * rather than a ledger that points at deleted files), then the new chain starts with its reset
 * event, then the staged files go and the claims are released, and last the intent is removed.
 * Each step finds what an earlier, interrupted one did and does only the rest.
 */
export async function executeReset(config: Config, shown: ResetPlan, now: () => Date, afterStep: (step: ResetStep) => void = () => {}): Promise<ResetOutcome> {
  // An s5cmd left by a killed run may still write into a volume this is about to change (invariant 13).
  await stopEarlierChildren(config.stateDir);
  const outcome: ResetOutcome = { movedFiles: [], removedFiles: 0, removedBytes: 0, keptFiles: 0, releasedVolumes: [] };
  const intent = (await readResetIntent(config.stateDir)) ?? (await beginReset(config, shown.keepStaged, now));
  if (intent.backup !== undefined) outcome.backupDir = join(config.stateDir, intent.backup);
  await moveStateFiles(config, intent, outcome, afterStep);
  await startNewChain(config, intent, now, afterStep);
  if (!intent.keepStaged) await clearVolumes(config, intent, outcome, afterStep);
  await unlink(join(config.stateDir, RESET_INTENT_FILE));
  await fsyncDirectory(config.stateDir);
  return outcome;
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
