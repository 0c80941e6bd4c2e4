/**
 * The one seam where the pure core meets I/O: gather the inventory, plan, save a plan,
 * apply a plan. Commands call these and hand the results to views.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config, Inventory, Plan, PlanFile, VolumeInfo } from './model/index.ts';
import { planSync } from './plan/planner.ts';
import { keySkipReason, TEMP_DIR } from './plan/keys.ts';
import { parsePlanFile, writeCanonicalPlan, writePlanFile } from './manifest/planfile.ts';
import { renderManifests, writeManifests } from './manifest/s5cmd.ts';
import { createS3Client, headObjects, listHop } from './inventory/s3.ts';
import { scanVolumes } from './inventory/volumes.ts';
import { expandVolumes } from './config/load.ts';
import { formatBytes } from './config/units.ts';
import { LedgerStore, type LedgerStoreOptions } from './ledger/store.ts';
import { acquireLock, lockHolder } from './apply/lock.ts';
import type { StatusReport } from './view/status.ts';
import { Recorder } from './apply/recorder.ts';
import { executePlan, type ApplyOutcome, type ProgressSink } from './apply/execute.ts';
import { findS5cmd } from './apply/s5cmd.ts';
import { userError } from './errors.ts';

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

export interface Gathered {
  inventory: Inventory;
  /** Files of interrupted downloads in the volumes' temporary folders. */
  leftovers: string[];
  inputDigest: string;
}

/** Lists both hops, scans the volumes and reads the ledger, all at once. */
export async function gatherInventory(config: Config, ledger: LedgerStore, clients: Clients, deps: EngineDeps): Promise<Gathered> {
  const roots = await expandVolumes(config.staging.volumes);
  const [source, destination, scanned] = await Promise.all([
    listHop(clients.source, config.source, { signal: deps.signal }),
    listHop(clients.destination, config.destination, { signal: deps.signal }),
    scanVolumes(roots, config.staging.reserve),
  ]);
  const inventory: Inventory = { source, destination, volumes: scanned.volumes, local: scanned.local, ledger: ledger.state() };
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
    rows.sort();
    hash.update(`${label}\n`);
    for (const row of rows) hash.update(`${row}\n`);
  };
  feed('source', inventory.source.entries.map((e) => `${JSON.stringify(e.key)} ${e.size} ${e.etag}`));
  feed('destination', inventory.destination.entries.map((e) => `${JSON.stringify(e.key)} ${e.size} ${e.etag}`));
  feed('local', inventory.local.map((f) => `${JSON.stringify(f.volume)} ${JSON.stringify(f.key)} ${f.size}`));
  hash.update(`ledger ${inventory.ledger.serial}\n`);
  return hash.digest('hex');
}

/** Digest of the settings that shape a plan; credentials are left out so they can rotate. */
export function digestConfig(config: Config): string {
  const strip = (hop: Config['source']) => ({ ...hop, credentials: hop.credentials.kind });
  const shape = { ...config, file: undefined, source: strip(config.source), destination: strip(config.destination), watch: undefined };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex');
}

function digestPlan(plan: Plan): string {
  // Fed piece by piece: at a few million actions one string of it would pass V8's string limit.
  const hash = createHash('sha256');
  writeCanonicalPlan(plan, (piece) => hash.update(piece));
  return hash.digest('hex');
}

export interface PlannedRun {
  plan: Plan;
  gathered: Gathered;
  createdAt: string;
}

function planFrom(config: Config, gathered: Gathered, deps: EngineDeps): PlannedRun {
  const plan = planSync(config, gathered.inventory);
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

/** `dualsync plan`: reads everything, changes nothing (invariant 6). */
export async function runPlan(config: Config, deps: EngineDeps): Promise<PlannedRun> {
  const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
  const clients = createClients(config);
  try {
    const gathered = await gatherInventory(config, ledger, clients, deps);
    return planFrom(config, gathered, deps);
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

/** Paths of the two manifests beside a plan file: `plan.json` -> `plan.download.s5cmd`, `plan.upload.s5cmd`. */
export function manifestPaths(planPath: string): { download: string; upload: string } {
  const stem = join(dirname(planPath), basename(planPath, extname(planPath)));
  return { download: `${stem}.download.s5cmd`, upload: `${stem}.upload.s5cmd` };
}

async function writeAtomically(path: string, text: string | string[]): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    for (const chunk of typeof text === 'string' ? [text] : text) await handle.write(chunk);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
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

export interface ApplyOptions {
  /** A saved plan to execute, or undefined to plan now. */
  planPath?: string;
  /** Asked before anything moves when no saved plan is given; false stops the run. */
  confirm?: (run: PlannedRun) => Promise<boolean>;
  command?: string;
}

export interface ApplyReport {
  run: PlannedRun;
  outcome?: ApplyOutcome;
  /** False when the operator declined. */
  applied: boolean;
  startedAt: string;
  finishedAt: string;
}

/** Reads a saved plan and refuses it when it was edited after `plan --out`. */
async function readSavedPlan(planPath: string, config: Config): Promise<PlanFile> {
  let text: string;
  try {
    text = await readFile(planPath, 'utf8');
  } catch {
    throw userError('E_PLAN_MISSING', `cannot read the plan file ${planPath}`, { hint: 'create one with `dualsync plan --out FILE`' });
  }
  const saved = parsePlanFile(text, planPath);
  if (digestPlan(saved.plan) !== saved.planDigest) {
    throw userError('E_PLAN_TAMPERED', `the plan file ${planPath} was changed after it was written`, {
      hint: 'make a new plan with `dualsync plan --out FILE`; a saved plan is applied exactly as reviewed or not at all',
    });
  }
  checkPlaces(planPath, saved.plan, (await expandVolumes(config.staging.volumes)).map((root) => resolve(root)));
  const paths = manifestPaths(planPath);
  const rendered = renderManifests(saved.plan, config);
  for (const hop of ['download', 'upload'] as const) {
    const onDisk = await readFile(paths[hop], 'utf8').catch(() => undefined);
    if (onDisk !== undefined && onDisk !== rendered[hop]) {
      throw userError('E_PLAN_TAMPERED', `the manifest ${paths[hop]} differs from its plan file ${planPath}`, {
        hint: 'make a new plan with `dualsync plan --out FILE`',
      });
    }
  }
  if (saved.configDigest !== digestConfig(config)) {
    throw userError('E_PLAN_STALE', `the configuration changed since ${planPath} was made`, { hint: 'make a new plan with `dualsync plan --out FILE`' });
  }
  return saved;
}

/**
 * `dualsync apply`: lock, freshness check, execute, record. With a saved plan, the world must
 * still be what the plan saw; otherwise apply shows what changed as a diff and refuses.
 */
export async function runApply(config: Config, deps: EngineDeps, options: ApplyOptions = {}): Promise<ApplyReport> {
  const startedAt = deps.now().toISOString();
  const saved = options.planPath ? await readSavedPlan(options.planPath, config) : undefined;
  const s5cmd = await findS5cmd(deps.env);
  const lock = await acquireLock(config.stateDir, options.command ?? 'dualsync apply', deps.now);
  try {
    const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
    const clients = createClients(config);
    try {
      const gathered = await gatherInventory(config, ledger, clients, deps);
      // The source is not asked anything more: its sockets go back to the device's budget.
      clients.source.destroy();
      let run = planFrom(config, gathered, deps);
      if (saved) {
        if (saved.inputDigest !== gathered.inputDigest) throw stalePlan(options.planPath!, saved, run, config);
        checkRoom(options.planPath!, saved.plan, gathered.inventory.volumes, deps);
        run = { ...run, plan: saved.plan };
      } else if (options.confirm && !(await options.confirm(run))) {
        return { run, applied: false, startedAt, finishedAt: deps.now().toISOString() };
      }
      await clearTempFolders(gathered.inventory.volumes.map((v) => v.root));
      const recorder = new Recorder(ledger);
      const outcome = await executePlan(
        {
          config,
          s5cmd: s5cmd.path,
          recorder,
          ledgerRecord: (key) => ledger.get(key),
          describeDestination: (keys) => headObjects(clients.destination, config.destination, keys),
          progress: deps.progress,
          signal: deps.signal,
          env: deps.env,
        },
        run.plan,
      );
      const report: ApplyReport = { run, outcome, applied: true, startedAt, finishedAt: deps.now().toISOString() };
      await writeLastRun(config.stateDir, report);
      return report;
    } finally {
      destroyClients(clients);
      await ledger.close();
    }
  } finally {
    await lock.release();
  }
}

function stalePlan(planPath: string, saved: PlanFile, fresh: PlannedRun, config: Config) {
  const old = renderManifests(saved.plan, config);
  const now = renderManifests(fresh.plan, config);
  const details: string[] = [];
  for (const hop of ['download', 'upload'] as const) {
    if (old[hop] === now[hop]) continue;
    const patch = createTwoFilesPatch(`${hop}.s5cmd (saved plan)`, `${hop}.s5cmd (now)`, old[hop], now[hop], undefined, undefined, { context: 1 });
    details.push(...patch.trimEnd().split('\n'));
  }
  if (details.length === 0) details.push('(the manifests are the same; the ledger or the listings moved in ways the plan does not show)');
  return userError('E_PLAN_STALE', `the plan ${planPath} is stale: the source, the destination, the staging volumes or the ledger changed since it was made (ledger serial ${saved.ledgerSerial} -> ${fresh.gathered.inventory.ledger.serial})`, {
    details,
    hint: 'review the changes above and make a new plan with `dualsync plan --out FILE`',
  });
}

/**
 * A saved plan may write to and delete from the configured volumes only, under keys that map
 * to a path inside them (invariants 4 and 8). Its digest catches a careless edit, not one made
 * by someone who recomputed it, and a purge pointed at another folder would delete a file that
 * is not dualsync's.
 */
function checkPlaces(planPath: string, plan: Plan, volumeRoots: string[]): void {
  const roots = new Set(volumeRoots);
  const wrong: string[] = [];
  for (const action of plan.actions) {
    if (action.kind === 'skip') continue;
    if (action.volume !== undefined && !roots.has(action.volume)) {
      wrong.push(`${action.kind} ${JSON.stringify(action.key)} on ${action.volume}: not one of the configured staging volumes`);
    } else if (keySkipReason(action.key) !== undefined) {
      wrong.push(`${action.kind} ${JSON.stringify(action.key)}: ${keySkipReason(action.key)}`);
    }
  }
  if (wrong.length > 0) {
    throw userError('E_PLAN_TAMPERED', `the plan ${planPath} has ${wrong.length} action(s) that dualsync never plans`, {
      details: wrong.slice(0, 10),
      hint: 'make a new plan with `dualsync plan --out FILE`; a plan file must not be edited',
    });
  }
}

/**
 * A saved plan was sized to the free space it saw, and free space is left out of its digest
 * (it moves with every write). So the room is checked again here: a plan that no longer fits a
 * volume at all is refused before anything moves, rather than left to fail half-way with a
 * full disk; one that would only eat into the reserve is applied with a warning.
 */
function checkRoom(planPath: string, plan: Plan, volumes: VolumeInfo[], deps: EngineDeps): void {
  const full: string[] = [];
  for (const planned of plan.volumes) {
    if (planned.plannedDownloadBytes === 0) continue;
    const now = volumes.find((volume) => volume.root === planned.root);
    const free = now?.freeBytes ?? 0;
    const aboveReserve = free - (now?.reserveBytes ?? planned.reserveBytes);
    const wants = `the plan downloads ${formatBytes(planned.plannedDownloadBytes)} to ${planned.root}`;
    if (planned.plannedDownloadBytes > free) {
      full.push(`${wants}, which has ${formatBytes(free)} free now (${formatBytes(planned.freeBytes)} when the plan was made)`);
    } else if (planned.plannedDownloadBytes > aboveReserve) {
      deps.warn(`${wants}, which eats ${formatBytes(planned.plannedDownloadBytes - aboveReserve)} into its reserve: the disk filled since the plan was made`);
    }
  }
  if (full.length > 0) {
    throw userError('E_PLAN_STALE', `the plan ${planPath} no longer fits the staging volumes: ${full.length === 1 ? 'a volume has' : `${full.length} volumes have`} less free space than it downloads`, {
      details: full,
      hint: 'free space on the volume, or make a new plan with `dualsync plan --out FILE` (it defers what does not fit)',
    });
  }
}

/**
 * Empties each volume's temporary folder before anything moves: files of interrupted downloads
 * are never counted as staged, and the folders that earlier downloads left behind must go too.
 * A folder `.dualsync-tmp/a` left by the download of `a/b` would make s5cmd treat the later
 * download of `a` as a copy into that folder (`.dualsync-tmp/a/a`), a path the key mapping never
 * yields. Under the lock nothing else uses these folders.
 */
async function clearTempFolders(roots: string[]): Promise<void> {
  for (const root of roots) await rm(join(root, TEMP_DIR), { recursive: true, force: true });
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
      failing,
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
