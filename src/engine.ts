/**
 * The one seam where the pure core meets I/O: gather the inventory, plan, save a plan,
 * apply a plan. Commands call these and hand the results to views.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config, Inventory, Plan, PlanFile } from './model/index.ts';
import { planSync } from './plan/planner.ts';
import { backoffOf } from './plan/backoff.ts';
import { compareKeys, TEMP_DIR } from './plan/keys.ts';
import { actionsOfKinds, memorySpools, someAction, type SpoolFactory } from './manifest/spool.ts';
import { writePlanFile } from './manifest/planfile.ts';
import { writeManifests } from './manifest/s5cmd.ts';
import { removeDeadSpools, SpoolFolder } from './spool/files.ts';
import { createS3Client, listHop } from './inventory/s3.ts';
import { explainUnlisted, readBackListed } from './inventory/readback.ts';
import { scanVolumes } from './inventory/volumes.ts';
import { claimStates, claimVolumes, refuseForeignClaims } from './inventory/claims.ts';
import { bothUnreachable, listingOrUnreachable, probeHop, probeThenList } from './inventory/reach.ts';
import { expandVolumes } from './config/load.ts';
import { LedgerStore, type LedgerStoreOptions } from './ledger/store.ts';
import { acquireLock, lockHolder, processAlive, type Lock } from './apply/lock.ts';
import { checkRoom, digestConfig, digestConfigFields, digestPlan, manifestPaths, readSavedPlan, stalePlan } from './apply/saved-plan.ts';
import { stateDiskFullOr } from './apply/state-disk.ts';
import { withNextTries, type StatusReport } from './view/status.ts';
import { Recorder } from './apply/recorder.ts';
import { executePlan, type ApplyOutcome, type ProgressSink } from './apply/execute.ts';
import { findS5cmd } from './apply/s5cmd.ts';
import { contentMd5 } from './apply/content.ts';
import { describeError } from './errors.ts';
import { isLinkRefusal, resetTempFolder, VolumeRoots } from './apply/safe-path.ts';
import { stopOrphanedTransfers } from './apply/orphans.ts';

export interface EngineDeps {
  now: () => Date;
  env: NodeJS.ProcessEnv;
  /** Non-fatal notes (a torn line of a migrated journal, leftovers removed). */
  warn: (message: string) => void;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

export interface Clients {
  source: S3Client;
  destination: S3Client;
}

/** S3 clients for both hops, each capped by its hop's connection budget. */
export function createClients(config: Config): Clients {
  return {
    source: createS3Client(config.source, { maxSockets: config.source.maxConnections }),
    destination: createS3Client(config.destination, { maxSockets: config.destination.maxConnections }),
  };
}

export type HopName = 'source' | 'destination';

export interface Gathered {
  inventory: Inventory;
  /** Files of interrupted downloads in the volumes' temporary folders. */
  leftovers: string[];
  inputDigest: string;
}

/**
 * Lists both hops, scans the volumes and reads the ledger, all at once. `roots` are the volumes
 * apply has just claimed; without them the volumes are expanded here. A hop whose endpoint is
 * down comes back as an unreachable listing, so that the other hop keeps working; when both
 * are down, nothing can move and the run fails (retryably).
 */
export async function gatherInventory(
  config: Config,
  ledger: LedgerStore,
  clients: Clients,
  deps: EngineDeps,
  roots?: string[],
  probeFirst?: ReadonlySet<HopName>,
): Promise<Gathered> {
  roots ??= await expandVolumes(config.staging.volumes);
  const reach = (hop: HopName) => {
    const list = () => listHop(clients[hop], config[hop], { signal: deps.signal });
    if (probeFirst?.has(hop) !== true) return listingOrUnreachable(list());
    return probeThenList(() => probeHop(clients[hop], config[hop], deps.signal), list);
  };
  const [sourceHop, destinationHop, scanned] = await Promise.all([reach('source'), reach('destination'), scanVolumes(roots, config.staging.reserve)]);
  if (sourceHop.error !== undefined && destinationHop.error !== undefined) throw bothUnreachable(sourceHop.error, destinationHop.error);
  const source = sourceHop.listing;
  const destination = destinationHop.listing;
  const inventory: Inventory = { source, destination, volumes: scanned.volumes, local: scanned.local, links: scanned.links, ledger: ledger.state() };
  return { inventory, leftovers: scanned.leftovers, inputDigest: digestInventory(inventory) };
}

/**
 * Digest of what a plan was made from: both listings, the staged files and the ledger serial.
 * Free space is left out on purpose: it moves with every write on the machine, and apply
 * checks room again anyway.
 */
export function digestInventory(inventory: Inventory): string {
  const hash = createHash('sha256');
  const feed = (label: string, rows: string[]) => {
    rows.sort(compareKeys);
    hash.update(`${label}\n`);
    for (const row of rows) hash.update(`${row}\n`);
  };
  // An unreachable hop is not an empty one: a plan made while a hop was down is stale once it is back.
  if (inventory.source.unreachable !== undefined) hash.update('source unreachable\n');
  if (inventory.destination.unreachable !== undefined) hash.update('destination unreachable\n');
  feed('source', inventory.source.entries.map((e) => `${JSON.stringify(e.key)} ${e.size} ${e.etag}`));
  feed('destination', inventory.destination.entries.map((e) => `${JSON.stringify(e.key)} ${e.size} ${e.etag}`));
  feed('local', inventory.local.map((f) => `${JSON.stringify(f.volume)} ${JSON.stringify(f.key)} ${f.size}`));
  feed('links', (inventory.links ?? []).map((l) => `${JSON.stringify(l.volume)} ${JSON.stringify(l.path)}`));
  hash.update(`ledger ${inventory.ledger.serial}\n`);
  return hash.digest('hex');
}

export interface PlannedRun {
  plan: Plan;
  gathered: Gathered;
  createdAt: string;
}

/** How a plan is made, besides the config: `retryFailed` tries objects that back off now (`--retry-failed`). */
export interface PlanRunOptions {
  retryFailed?: boolean;
}

function planFrom(config: Config, gathered: Gathered, deps: EngineDeps, options: PlanRunOptions = {}): PlannedRun {
  // The clock is read here, at the edge: the planner gets the time as an input.
  const plan = planSync(config, gathered.inventory, { now: deps.now().getTime(), retryFailed: options.retryFailed === true });
  for (const link of gathered.inventory.links ?? []) {
    plan.warnings.push(`staging volume ${link.volume}: ${link.path} is a symbolic link, not followed (nothing is staged through it, and it is left as it is)`);
  }
  if (gathered.leftovers.length > 0) {
    plan.warnings.push(`${gathered.leftovers.length} temporary file(s) of interrupted downloads in ${TEMP_DIR}/ will be removed by apply`);
  }
  return { plan, gathered, createdAt: deps.now().toISOString() };
}

/** The plan as a file records it. Digesting the plan is the costly part, so only a saved plan pays it. */
function planFileOf(run: PlannedRun, config: Config): PlanFile {
  return {
    formatVersion: 1,
    createdAt: run.createdAt,
    configDigest: digestConfig(config),
    configFields: digestConfigFields(config),
    inputDigest: run.gathered.inputDigest,
    ledgerSerial: run.gathered.inventory.ledger.serial,
    planDigest: digestPlan(run.plan),
    plan: run.plan,
  };
}

/** How the ledger is opened: its warnings (a torn line of a migrated JSON journal) go where the run's do. */
export function ledgerOptions(deps: Pick<EngineDeps, 'warn'>): LedgerStoreOptions {
  return { onWarning: deps.warn };
}

/**
 * Refuses volumes that another state directory claims (invariant 10), reading only: plan and
 * validate change nothing, so an unclaimed volume stays unclaimed until the first apply.
 */
export async function checkVolumeClaims(config: Config): Promise<void> {
  const roots = await expandVolumes(config.staging.volumes);
  await refuseForeignClaims(await claimStates(roots, config.stateDir), config);
}

/** `dualsync plan`: reads everything, changes nothing (invariant 6). */
export async function runPlan(config: Config, deps: EngineDeps, options: PlanRunOptions = {}): Promise<PlannedRun> {
  await checkVolumeClaims(config);
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  const clients = createClients(config);
  try {
    const gathered = await gatherInventory(config, ledger, clients, deps);
    return planFrom(config, gathered, deps, options);
  } finally {
    destroyClients(clients);
    await ledger.close();
  }
}

/** Closes the clients' idle sockets: a watch cycle must not keep connections a device counts. */
function destroyClients(clients: Clients): void {
  clients.source.destroy();
  clients.destination.destroy();
}

async function writeAtomically(path: string, text: string | string[]): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    try {
      for (const chunk of typeof text === 'string' ? [text] : text) await handle.write(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    // A full disk: the half-written file would only take more of the little room left.
    await rm(temporary, { force: true });
    // A write through a file handle names no path; say which file, so the error can tell whose disk is full.
    const errno = error as NodeJS.ErrnoException;
    if (errno.code !== undefined && errno.path === undefined) errno.path = temporary;
    throw error;
  }
}

/** Collects emitted pieces into chunks of about 1 MiB, so that no single string grows huge. */
function chunker(): { emit: (piece: string) => void; chunks: string[] } {
  const chunks: string[] = [];
  let pending: string[] = [];
  let length = 0;
  const emit = (piece: string) => {
    pending.push(piece);
    length += piece.length;
    if (length >= 1 << 20) {
      chunks.push(pending.join(''));
      pending = [];
      length = 0;
    }
  };
  return {
    emit,
    get chunks() {
      if (pending.length > 0) {
        chunks.push(pending.join(''));
        pending = [];
        length = 0;
      }
      return chunks;
    },
  };
}

/** Writes the plan file and its two manifests, each complete or not at all. */
export async function writePlanFiles(planPath: string, run: PlannedRun, config: Config): Promise<{ download: string; upload: string }> {
  await mkdir(dirname(planPath), { recursive: true });
  const paths = manifestPaths(planPath);
  const download = chunker();
  const upload = chunker();
  writeManifests(run.plan, config, { download: download.emit, upload: upload.emit });
  await writeAtomically(paths.download, download.chunks);
  await writeAtomically(paths.upload, upload.chunks);
  const planFile = chunker();
  writePlanFile(planFileOf(run, config), planFile.emit);
  await writeAtomically(planPath, planFile.chunks);
  return paths;
}

export interface ApplyOptions extends PlanRunOptions {
  /** A saved plan to execute, or undefined to plan now. */
  planPath?: string;
  /** Asked before anything moves when no saved plan is given; false stops the run. */
  confirm?: (run: PlannedRun) => Promise<boolean>;
  command?: string;
  /** The state directory's lock, when the caller holds it for longer than this run (watch). */
  lock?: Lock;
  /** Show the whole diff when a saved plan is stale, however long (`apply --diff`). */
  showDiff?: boolean;
  /** Hops that were down last time (watch): probed briefly first, and not listed while still down. */
  probeFirst?: ReadonlySet<HopName>;
}

export interface ApplyReport {
  run: PlannedRun;
  outcome?: ApplyOutcome;
  /** False when the operator declined. */
  applied: boolean;
  startedAt: string;
  finishedAt: string;
}

/**
 * `dualsync apply`: lock, freshness check, execute, record. With a saved plan, the world must
 * still be what the plan saw; otherwise apply shows what changed as a diff and refuses.
 */
export async function runApply(config: Config, deps: EngineDeps, options: ApplyOptions = {}): Promise<ApplyReport> {
  let savedSpools: SpoolFolder | undefined;
  try {
    // A saved plan is read back into spool files of this run (a killed run's are removed first).
    if (options.planPath !== undefined) savedSpools = savedPlanSpools(config.stateDir);
    return await applyUnderLock(config, deps, options, savedSpools?.spools ?? memorySpools);
  } catch (error) {
    // A full state disk surfaces in the lock, a ledger write or the last-run record: one message for all.
    throw stateDiskFullOr(config.stateDir, error);
  } finally {
    savedSpools?.remove();
  }
}

/** A folder for the spools of the saved plan this run reads, in the state directory. */
function savedPlanSpools(stateDir: string): SpoolFolder {
  const parent = join(stateDir, 'spool');
  removeDeadSpools(parent, processAlive);
  return SpoolFolder.create(parent);
}

async function applyUnderLock(config: Config, deps: EngineDeps, options: ApplyOptions, savedSpools: SpoolFactory): Promise<ApplyReport> {
  const startedAt = deps.now().toISOString();
  const saved = options.planPath ? await readSavedPlan(options.planPath, config, savedSpools) : undefined;
  const s5cmd = await findS5cmd(deps.env);
  const lock = options.lock ?? (await acquireLock(config.stateDir, options.command ?? 'dualsync apply', deps.now, deps.warn));
  try {
    // A volume another state directory claims is refused before it is even scanned (invariant 10).
    const roots = await expandVolumes(config.staging.volumes);
    await refuseForeignClaims(await claimStates(roots, config.stateDir), config);
    const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
    const clients = createClients(config);
    let failed = false;
    try {
      const gathered = await gatherInventory(config, ledger, clients, deps, roots, options.probeFirst);
      let run = planFrom(config, gathered, deps, options);
      if (saved) {
        if (saved.inputDigest !== gathered.inputDigest) throw stalePlan(options.planPath!, saved, run, config, options.showDiff ?? false);
        checkRoom(options.planPath!, saved.plan, gathered.inventory.volumes, deps);
        run = { ...run, plan: saved.plan };
      } else if (options.confirm && !(await options.confirm(run))) {
        return { run, applied: false, startedAt, finishedAt: deps.now().toISOString() };
      }
      // Unless an adopt must compare content, the source is not asked anything more: its
      // sockets go back to the device's budget before s5cmd starts.
      if (!someAction(actionsOfKinds(run.plan.actions, ['adopt']), (a) => a.adoptBy === 'content')) clients.source.destroy();
      // Claimed only now that something will be written; a declined apply leaves the volumes unclaimed.
      await claimVolumes(roots, config, deps.now);
      await clearTempFolders(gathered.inventory.volumes.map((v) => v.root), deps);
      const recorder = new Recorder(ledger);
      const outcome = await executePlan(
        {
          config,
          s5cmd: s5cmd.path,
          recorder,
          ledgerRecord: (key) => ledger.get(key),
          describeDestination: (keys) => readBackListed(clients.destination, config.destination, keys),
          explainUnlisted: (key) => explainUnlisted(clients.destination, config.destination, key),
          contentMd5: (side, object) => contentMd5(clients[side], config[side], object, deps.signal),
          progress: deps.progress,
          signal: deps.signal,
          env: deps.env,
          now: deps.now,
        },
        run.plan,
      );
      const report: ApplyReport = { run, outcome, applied: true, startedAt, finishedAt: deps.now().toISOString() };
      await writeLastRun(config.stateDir, report);
      return report;
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      destroyClients(clients);
      // After a failed write the store may refuse to close; that must not hide why the run failed.
      await ledger.close().catch((error: unknown) => {
        if (!failed) throw error;
      });
    }
  } finally {
    if (options.lock === undefined) await lock.release();
  }
}

/**
 * Empties each volume's temporary folder before anything moves: files of interrupted downloads
 * are never counted as staged, and the folders that earlier downloads left behind must go too.
 * A folder `.dualsync-tmp/a` left by the download of `a/b` would make s5cmd treat the later
 * download of `a` as a copy into that folder (`.dualsync-tmp/a/a`), a path the key mapping never
 * yields. Only volumes this state directory has just claimed are passed here, and under its lock
 * nothing else uses their temporary folders: another config's run refuses these volumes, so its
 * in-flight downloads live on volumes of its own. A `.dualsync-tmp` that is a symbolic link is
 * neither followed nor removed: a warning says so, and apply fails that volume's downloads.
 */
async function clearTempFolders(roots: string[], deps: Pick<EngineDeps, 'warn'>): Promise<void> {
  const volumeRoots = new VolumeRoots();
  for (const root of roots) {
    try {
      const volume = await volumeRoots.resolve(root);
      // A killed run's s5cmd may still be writing there: stopped first, or it would leave a partial file behind.
      const orphans = await stopOrphanedTransfers(`${volume.real}/${TEMP_DIR}`);
      if (orphans.length > 0) deps.warn(`stopped ${orphans.length} s5cmd process(es) that a killed run left writing into ${root}/${TEMP_DIR} (pid ${orphans.join(', ')})`);
      await resetTempFolder(volume);
    } catch (error) {
      // Only a link (or a file) in its place is left for apply to refuse volume by volume; anything else stops the run as before.
      if (!isLinkRefusal(error) && (error as { code?: string }).code !== 'E_PATH_NOT_FOLDER') throw error;
      deps.warn(`${describeError(error)}; its interrupted downloads in ${TEMP_DIR}/ were not removed`);
    }
  }
}

/** Where status finds the last run. */
export function lastRunPath(stateDir: string): string {
  return join(stateDir, 'last-run.json');
}

async function writeLastRun(stateDir: string, report: ApplyReport): Promise<void> {
  const outcome = report.outcome!;
  const summary = {
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    downloaded: outcome.downloaded,
    uploaded: outcome.uploaded,
    purged: outcome.purged,
    adopted: outcome.adopted,
    failures: outcome.failures.length,
    verifiedBy: outcome.verifiedBy,
  };
  await writeAtomically(lastRunPath(stateDir), `${JSON.stringify(summary, null, 2)}\n`);
}

/** How many failing and skipped keys status lists; the counts cover all of them. */
const STATUS_LIST_LIMIT = 1000;

/** `dualsync status`: the ledger by stage (counted by the database, not loaded), the volumes, the last run, who holds the lock. */
export async function runStatus(config: Config, deps: EngineDeps): Promise<StatusReport> {
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  try {
    const { serial, stages, verifiedBy, etagNotComparable, failing, failingCount, skipped, skippedCount } = ledger.summary(STATUS_LIST_LIMIT);
    const roots = await expandVolumes(config.staging.volumes);
    const scanned = await scanVolumes(roots, config.staging.reserve);
    const volumes = scanned.volumes.map((volume) => {
      const files = scanned.local.filter((f) => f.volume === volume.root);
      return { ...volume, stagedFiles: files.length, stagedBytes: files.reduce((n, f) => n + f.size, 0) };
    });
    const lastRunText = await readFile(lastRunPath(config.stateDir), 'utf8').catch(() => undefined);
    return {
      stateDir: config.stateDir,
      ledgerSerial: serial,
      stages,
      failing: withNextTries(failing, deps.now().getTime(), backoffOf(config)),
      failingCount,
      skipped,
      skippedCount,
      verifiedBy,
      etagNotComparable,
      volumes,
      lastRun: lastRunText ? (JSON.parse(lastRunText) as Record<string, unknown>) : undefined,
      lock: await lockHolder(config.stateDir),
    };
  } finally {
    await ledger.close();
  }
}
