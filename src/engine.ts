/**
 * The one seam where the pure core meets I/O: gather the inventory, plan, apply a plan (a
 * fresh one, or a saved one that src/planfile/ reads and checks), and the status. It joins;
 * the jobs live elsewhere: the saved plan in planfile/, the hops' clients in inventory/, the
 * run's spool folders in files/. Commands call these and hand the results to views.
 *
 * Over 400 lines: runStatus and the run state it reads (other work reshapes status) are still
 * here; each function is a short sequence of calls.
 */
import { createHash } from 'node:crypto';
import type { Config, HopConfig, ListingStream, LocalFile, LocalLink, Plan, Side, VolumeInfo } from './model/index.ts';
import { planStreams } from './plan/planner.ts';
import { InventoryFingerprint, type Hasher } from './plan/fingerprint.ts';
import { removeDeadSpools, type SpoolFolder } from './files/spool.ts';
import { spoolFolder, spoolParent } from './files/run-spools.ts';
import { createClients, destroyClients, type Clients } from './inventory/clients.ts';
import { backoffOf, withNextTries } from './plan/backoff.ts';
import { TEMP_DIR } from './model/volume-layout.ts';
import { actionsOfKinds, someAction } from './manifest/spool.ts';
import type { SpoolFactory } from './model/spool.ts';
import { memorySpools } from './plan/spools.ts';
import { openListing } from './inventory/s3.ts';
import { explainUnlisted, readBackListed } from './inventory/readback.ts';
import { scanVolumes } from './inventory/volumes.ts';
import { checkClaims, claimVolumes } from './inventory/claims.ts';
import { bothUnreachable, probeHop, probeThenOpen, streamOrUnreachable, type HopListingStream } from './inventory/reach.ts';
import { expandVolumes } from './config/load.ts';
import { LedgerStore, type LedgerStoreOptions } from './ledger/store.ts';
import { acquireLock, holderRunning, lockHolder, processAlive, type Lock } from './apply/lock.ts';
import { readSavedPlan, savedPlanHoldsNow } from './planfile/check.ts';
import { SavedPlanRefused } from './planfile/refused.ts';
import type { ReserveWarning } from './model/saved-plan.ts';
import { stateDiskFullOr } from './apply/state-disk.ts';
import type { StatusReport } from './model/status.ts';
import { Recorder } from './apply/recorder.ts';
import { executePlan } from './apply/execute.ts';
import type { ApplyOutcome, ProgressSink } from './model/apply.ts';
import { findS5cmd, requireOutpostsS5cmd } from './apply/s5cmd.ts';
import { isOutpostsBucket } from './config/outposts.ts';
import { contentMd5 } from './apply/content.ts';
import { clearTempFolders } from './apply/temp-folders.ts';
import { stopEarlierChildren } from './apply/children.ts';
import { markRunEnded, markRunStarted, readLastRun, writeLastRun, type RecordedRun } from './apply/last-run.ts';
import { describeError } from './errors.ts';
import { refuseUnfinishedReset } from './ops/reset-intent.ts';

export interface EngineDeps {
  now: () => Date;
  env: NodeJS.ProcessEnv;
  /** Non-fatal notes (a torn line of a migrated journal, leftovers removed). */
  warn: (message: string) => void;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

// The hops' clients live with the inventory; named here too, as other commands take them from the engine.
export { createClients, type Clients } from './inventory/clients.ts';

/** What a plan is made from, before the merged pass reads it: the listings as streams. */
export interface GatheredInventory {
  source: ListingStream;
  destination: ListingStream;
  volumes: VolumeInfo[];
  local: LocalFile[];
  links: LocalLink[];
  ledger: { serial: number };
}

export interface Gathered {
  inventory: GatheredInventory;
  /** Files of interrupted downloads in the volumes' temporary folders. */
  leftovers: string[];
  /** The fingerprint of the inputs (see src/plan/fingerprint.ts); empty when the run did not ask for it. */
  inputDigest: string;
}

/**
 * Opens both hops' listings and scans the volumes, all at once. `roots` are the volumes apply
 * has just claimed; without them the volumes are expanded here. A hop whose endpoint is down
 * comes back as an unreachable listing, so that the other hop keeps working; when both are
 * down, nothing can move and the run fails (retryably). The listings are streams: the plan
 * reads them (see {@link planGathered}); close them if it does not.
 */
export async function gatherInventory(config: Config, clients: Clients, deps: EngineDeps, roots?: string[], probeFirst?: ReadonlySet<Side>): Promise<Omit<Gathered, 'inputDigest'>> {
  roots ??= await expandVolumes(config.staging.volumes);
  // A device's unsorted v1 answer is sorted in a temporary file beside the ledger; a dead run's files there go first.
  const spoolDir = spoolParent(config);
  removeDeadSpools(spoolDir, processAlive);
  const reach = (hop: Side) => {
    const open = () => openListing(clients[hop], config[hop], { signal: deps.signal, spoolDir });
    if (probeFirst?.has(hop) !== true) return streamOrUnreachable(open());
    return probeThenOpen(() => probeHop(clients[hop], config[hop], deps.signal), open);
  };
  const opened = await Promise.allSettled([reach('source'), reach('destination'), scanVolumes(roots, config.staging.reserve)]);
  const [sourceOpen, destinationOpen, scan] = opened;
  const failed = opened.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    // One failure stops the run: the listing that did open must not leave its sort file behind.
    for (const result of [sourceOpen, destinationOpen]) if (result.status === 'fulfilled') await result.value.listing.close();
    throw failed.reason;
  }
  const sourceHop = (sourceOpen as PromiseFulfilledResult<HopListingStream>).value;
  const destinationHop = (destinationOpen as PromiseFulfilledResult<HopListingStream>).value;
  const scanned = (scan as PromiseFulfilledResult<Awaited<ReturnType<typeof scanVolumes>>>).value;
  if (sourceHop.error !== undefined && destinationHop.error !== undefined) throw bothUnreachable(sourceHop.error, destinationHop.error);
  const inventory: GatheredInventory = {
    source: sourceHop.listing,
    destination: destinationHop.listing,
    volumes: scanned.volumes,
    local: scanned.local,
    links: scanned.links ?? [],
    ledger: { serial: 0 },
  };
  return { inventory, leftovers: scanned.leftovers };
}

/** sha256, as the fingerprint wants it. */
function sha256(): Hasher {
  const hash = createHash('sha256');
  return { update: (text) => hash.update(text), hex: () => hash.digest('hex') };
}

export interface PlannedRun {
  plan: Plan;
  gathered: Gathered;
  createdAt: string;
  /** Removes the plan's spool files; the plan must not be read afterwards (also done at exit). */
  release(): void;
}

/** How a plan is made, besides the config: `retryFailed` tries objects that back off now (`--retry-failed`). */
export interface PlanRunOptions {
  retryFailed?: boolean;
  /** Compute the inputs' fingerprint (`plan --out`, `plan --json`, a saved plan's check); it costs a hash of both listings. */
  fingerprint?: boolean;
}

/** Makes the plan: the merged pass reads both listings, the local files and the ledger (one snapshot of it) as sorted streams. */
async function planGathered(config: Config, gathered: Omit<Gathered, 'inputDigest'>, ledger: LedgerStore, deps: EngineDeps, options: PlanRunOptions = {}): Promise<PlannedRun> {
  const { inventory } = gathered;
  const spool = spoolFolder(config);
  const fingerprint = options.fingerprint === true ? new InventoryFingerprint(sha256) : undefined;
  let plan: Plan;
  let inputDigest = '';
  try {
    const snapshot = ledger.snapshot({ forPlan: true });
    const serial = snapshot.serial;
    // The clock is read here, at the edge: the planner gets the time as an input.
    const planned = await planStreams(config, { ...inventory, ledger: snapshot }, {
      now: deps.now().getTime(),
      retryFailed: options.retryFailed === true,
      spools: spool.spools,
      observe: fingerprint?.observer,
    });
    plan = planned.plan;
    inventory.ledger.serial = serial;
    inputDigest =
      fingerprint?.digest({
        sourceUnreachable: inventory.source.unreachable !== undefined,
        destinationUnreachable: inventory.destination.unreachable !== undefined,
        locals: planned.locals,
        links: inventory.links,
        ledgerSerial: serial,
      }) ?? '';
  } catch (error) {
    spool.remove();
    throw error;
  } finally {
    await Promise.all([inventory.source.close(), inventory.destination.close()]);
  }
  for (const link of inventory.links) {
    plan.warnings.push({ code: 'volume-symlink', volume: link.volume, path: link.path });
  }
  if (gathered.leftovers.length > 0) {
    plan.warnings.push({ code: 'interrupted-download-leftovers', count: gathered.leftovers.length, path: TEMP_DIR });
  }
  return { plan, gathered: { ...gathered, inputDigest }, createdAt: deps.now().toISOString(), release: () => spool.remove() };
}

/** How the ledger is opened: its warnings (a torn line of a migrated JSON journal) go where the run's do. */
export function ledgerOptions(deps: Pick<EngineDeps, 'warn'> & Partial<Pick<EngineDeps, 'now'>>): LedgerStoreOptions {
  return { onWarning: deps.warn, now: deps.now };
}

/**
 * Refuses volumes that another state directory claims (invariant 10), and a state directory that
 * is a copy of the claiming one (invariant 14), reading only: plan and validate change nothing,
 * so an unclaimed volume stays unclaimed until the first apply.
 */
export async function checkVolumeClaims(config: Config): Promise<void> {
  await checkClaims(await expandVolumes(config.staging.volumes), config);
}

/** `dualsync plan`: reads everything, changes nothing (invariant 6). */
export async function runPlan(config: Config, deps: EngineDeps, options: PlanRunOptions = {}): Promise<PlannedRun> {
  try {
    return await planOnce(config, deps, options);
  } catch (error) {
    // The plan's spool files live in the state directory: a full disk there is told as such.
    throw stateDiskFullOr(config.stateDir, error);
  }
}

async function planOnce(config: Config, deps: EngineDeps, options: PlanRunOptions): Promise<PlannedRun> {
  await refuseUnfinishedReset(config.stateDir, 'dualsync plan');
  await checkVolumeClaims(config);
  // A plan for an S3 on Outposts hop that this s5cmd cannot sign for is refused before listing.
  if (isOutpostsBucket(config.source.bucket) || isOutpostsBucket(config.destination.bucket)) requireOutpostsS5cmd(await findS5cmd(deps.env), hopsOf(config));
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  const clients = createClients(config);
  try {
    const gathered = await gatherInventory(config, clients, deps);
    return await planGathered(config, gathered, ledger, deps, options);
  } finally {
    destroyClients(clients);
    await ledger.close();
  }
}

function hopsOf(config: Config): { side: string; hop: HopConfig }[] {
  return [
    { side: 'source', hop: config.source },
    { side: 'destination', hop: config.destination },
  ];
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
  probeFirst?: ReadonlySet<Side>;
  /** A saved plan whose downloads now reach into a volume's reserve: applied, and told here. */
  onReserveWarning?: (warning: ReserveWarning) => void;
  /** The ledger, when the caller keeps it open across runs (watch): used, not closed, here. */
  ledger?: LedgerStore;
  /** The S3 clients, when the caller keeps them across runs (watch): used here, their sockets closed at the end, the clients kept. */
  clients?: Clients;
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
    if (options.planPath !== undefined) savedSpools = spoolFolder(config);
    return await applyUnderLock(config, deps, options, savedSpools?.spools ?? memorySpools);
  } catch (error) {
    // A full state disk surfaces in the lock, a ledger write or the last-run record: one message for all.
    throw stateDiskFullOr(config.stateDir, error);
  } finally {
    savedSpools?.remove();
  }
}

async function applyUnderLock(config: Config, deps: EngineDeps, options: ApplyOptions, savedSpools: SpoolFactory): Promise<ApplyReport> {
  const startedAt = deps.now().toISOString();
  const read = options.planPath ? await readSavedPlan(options.planPath, config, savedSpools) : undefined;
  if (read?.refusal !== undefined) throw new SavedPlanRefused(read.refusal);
  const saved = read?.saved;
  const s5cmd = await findS5cmd(deps.env);
  requireOutpostsS5cmd(s5cmd, hopsOf(config));
  const command = options.command ?? 'dualsync apply';
  const lock = options.lock ?? (await acquireLock(config.stateDir, command, deps.now, deps.warn));
  let started = false;
  let ended = false;
  try {
    // Under the lock, so that a reset cannot begin between this look and the run.
    await refuseUnfinishedReset(config.stateDir, command);
    // No s5cmd of an earlier run may act after this point (invariant 13), whichever hop it served.
    await stopEarlierChildren(config.stateDir, deps.warn);
    // A volume another state directory claims is refused before it is even scanned (invariant 10).
    const roots = await expandVolumes(config.staging.volumes);
    await checkClaims(roots, config);
    const ledger = options.ledger ?? (await LedgerStore.open(config.stateDir, ledgerOptions(deps)));
    const clients = options.clients ?? createClients(config);
    let failed = false;
    let release = (): void => {};
    try {
      const gathered = await gatherInventory(config, clients, deps, roots, options.probeFirst);
      let run = await planGathered(config, gathered, ledger, deps, { ...options, fingerprint: saved !== undefined });
      release = run.release;
      if (saved) {
        const now = savedPlanHoldsNow(options.planPath!, saved, run, config, gathered.inventory.volumes, options.showDiff ?? false);
        if (now.refusal !== undefined) throw new SavedPlanRefused(now.refusal);
        for (const warning of now.warnings) options.onReserveWarning?.(warning);
        run = { ...run, plan: saved.plan };
      } else if (options.confirm && !(await options.confirm(run))) {
        return { run, applied: false, startedAt, finishedAt: deps.now().toISOString() };
      }
      // Unless an adopt must compare content, the source is not asked anything more: its
      // sockets go back to the device's budget before s5cmd starts.
      if (!someAction(actionsOfKinds(run.plan.actions, ['adopt']), (a) => a.adoptBy === 'content')) clients.source.destroy();
      // A ledger that cannot record what moves is found out now, before anything moves (a
      // read-only file or mount); this also creates the ledger of a fresh state directory.
      await ledger.proveWritable();
      // Claimed only now that something will be written; a declined apply leaves the volumes unclaimed.
      await claimVolumes(roots, config, deps.now);
      // Marked once the run is going to change something, so that a kill -9 or a power cut from here
      // on shows in status; a run refused or declined before this point leaves the record alone.
      const cutShort = await markRunStarted(config.stateDir, command, startedAt);
      started = true;
      if (cutShort) deps.warn(`the last run (${cutShort.command}, pid ${cutShort.pid}, started ${cutShort.startedAt}) was cut short (killed or power cut); what it had in flight is done again now`);
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
      writeLastRun(config.stateDir, { startedAt: report.startedAt, finishedAt: report.finishedAt, outcome });
      ended = true;
      return report;
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      release();
      destroyClients(clients);
      // After a failed write the store may refuse to close; that must not hide why the run failed.
      if (options.ledger === undefined) {
        await ledger.close().catch((error: unknown) => {
          if (!failed) throw error;
        });
      }
    }
  } catch (error) {
    // Recorded as failed, not left as started: a run that ended on an error was not cut short.
    // Best effort: a full state disk must not hide why the run failed.
    if (started && !ended) await markRunEnded(config.stateDir, { endedAt: deps.now().toISOString(), error: describeError(error) }).catch(() => undefined);
    ended = true;
    throw error;
  } finally {
    if (started && !ended) await markRunEnded(config.stateDir, { endedAt: deps.now().toISOString() }).catch(() => undefined);
    if (options.lock === undefined) await lock.release();
  }
}

/**
 * The last finished run, and the run since it: in progress (its mark names a live process, the
 * lock's holder, checked by pid and start time as the lock is), cut short (its mark is there and
 * that process is gone: a kill -9 or a power cut), or failed. Who holds the lock now.
 */
async function runState(stateDir: string): Promise<Pick<StatusReport, 'lastRun' | 'run' | 'lock'>> {
  let recorded = await readLastRun(stateDir);
  const lock = await lockHolder(stateDir);
  let run: StatusReport['run'];
  const marked = recorded?.running;
  if (marked !== undefined) {
    if (holderRunning(marked) && lock?.pid === marked.pid) {
      run = { state: 'running', ...describedRun(marked) };
    } else {
      // A run that ended between the two reads replaced its mark: read again before calling it cut short.
      recorded = await readLastRun(stateDir);
      const still = recorded?.running;
      if (still !== undefined && still.pid === marked.pid && still.startedAt === marked.startedAt) run = { state: 'cut-short', ...describedRun(marked) };
    }
  }
  const failed = recorded?.failed;
  if (run === undefined && failed !== undefined) run = { state: 'failed', ...describedRun(failed), endedAt: failed.endedAt, error: failed.error };
  return { ...(recorded?.finished && { lastRun: recorded.finished }), ...(run && { run }), ...(lock && { lock }) };
}

function describedRun(run: RecordedRun): { pid: number; host: string; command: string; startedAt: string } {
  return { pid: run.pid, host: run.host, command: run.command, startedAt: run.startedAt };
}

/** How many failing and skipped keys status lists; the counts cover all of them. */
const STATUS_LIST_LIMIT = 1000;

/** `dualsync status`: the ledger by stage (counted by the database, not loaded), the volumes, the last run, who holds the lock. */
export async function runStatus(config: Config, deps: EngineDeps): Promise<StatusReport> {
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  try {
    const { serial, stages, verifiedBy, etagNotComparable, failing, failingCount, stopped, stoppedCount, skipped, skippedCount } = ledger.summary(STATUS_LIST_LIMIT);
    const roots = await expandVolumes(config.staging.volumes);
    const scanned = await scanVolumes(roots, config.staging.reserve);
    const volumes = scanned.volumes.map((volume) => {
      const files = scanned.local.filter((f) => f.volume === volume.root);
      return { ...volume, stagedFiles: files.length, stagedBytes: files.reduce((n, f) => n + f.size, 0) };
    });
    return {
      stateDir: config.stateDir,
      ledgerSerial: serial,
      stages,
      failing: withNextTries(failing, deps.now().getTime(), backoffOf(config)),
      failingCount,
      stopped,
      stoppedCount,
      skipped,
      skippedCount,
      verifiedBy,
      etagNotComparable,
      volumes,
      ...(await runState(config.stateDir)),
    };
  } finally {
    await ledger.close();
  }
}
