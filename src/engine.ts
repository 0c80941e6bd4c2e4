/**
 * The one seam where the pure core meets I/O: gather the inventory, plan, save a plan,
 * apply a plan. Commands call these and hand the results to views.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config, ListingStream, LocalFile, LocalLink, Plan, PlanFile, VolumeInfo } from './model/index.ts';
import { planStreams } from './plan/planner.ts';
import { InventoryFingerprint, type Hasher } from './plan/fingerprint.ts';
import { removeDeadSpools, SpoolFolder } from './files/spool.ts';
import { AtomicFile, writeFileAtomically } from './files/atomic.ts';
import { backoffOf } from './plan/backoff.ts';
import { keySkipReason, TEMP_DIR } from './plan/keys.ts';
import { actionsOfKinds, someAction } from './manifest/spool.ts';
import { parsePlanFile, writeCanonicalPlan, writePlanFile } from './manifest/planfile.ts';
import { renderManifests, writeManifests } from './manifest/s5cmd.ts';
import { createS3Client, openListing } from './inventory/s3.ts';
import { explainUnlisted, readBackListed } from './inventory/readback.ts';
import { scanVolumes } from './inventory/volumes.ts';
import { claimStates, claimVolumes, refuseForeignClaims } from './inventory/claims.ts';
import { bothUnreachable, probeHop, probeThenOpen, streamOrUnreachable, type HopListingStream } from './inventory/reach.ts';
import { expandVolumes } from './config/load.ts';
import { formatBytes } from './config/units.ts';
import { LedgerStore, type LedgerStoreOptions } from './ledger/store.ts';
import { acquireLock, lockHolder, processAlive, type Lock } from './apply/lock.ts';
import { stateDiskFullOr } from './apply/state-disk.ts';
import { withNextTries, type StatusReport } from './view/status.ts';
import { Recorder } from './apply/recorder.ts';
import { executePlan, type ApplyOutcome, type ProgressSink } from './apply/execute.ts';
import { findS5cmd } from './apply/s5cmd.ts';
import { contentMd5 } from './apply/content.ts';
import { describeError, userError } from './errors.ts';
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
export async function gatherInventory(config: Config, clients: Clients, deps: EngineDeps, roots?: string[], probeFirst?: ReadonlySet<HopName>): Promise<Omit<Gathered, 'inputDigest'>> {
  roots ??= await expandVolumes(config.staging.volumes);
  // A device's unsorted v1 answer is sorted in a temporary file beside the ledger.
  const spoolDir = spoolParent(config);
  const reach = (hop: HopName) => {
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

/** Where a run's temporary files go (spooled actions, a listing's sort): beside the ledger, on the disk sized for it. Those of dead runs are removed. */
function spoolParent(config: Config): string {
  const parent = join(config.stateDir, 'spool');
  removeDeadSpools(parent, processAlive);
  return parent;
}

function spoolFolder(config: Config): SpoolFolder {
  return SpoolFolder.at(spoolParent(config));
}

/** The settings that shape a plan: credentials reduced to their kind so they can rotate; no file path, no watch settings. */
function plannedShape(config: Config): Record<string, unknown> {
  const strip = (hop: Config['source']) => ({ ...hop, credentials: hop.credentials.kind });
  return { ...config, file: undefined, source: strip(config.source), destination: strip(config.destination), watch: undefined };
}

/** Digest of the settings that shape a plan; credentials are left out so they can rotate. */
export function digestConfig(config: Config): string {
  return createHash('sha256').update(JSON.stringify(plannedShape(config))).digest('hex');
}

/** Config fields whose name in sync.yaml differs from the Config model's. */
const YAML_FIELD_NAMES: Record<string, string> = { partSizeBytes: 'partSize' };

/**
 * A short digest of each field that shapes a plan, named as in sync.yaml (`source.prefix`,
 * `transfer.partSize`, `staging.volumes`), so that a stale plan can say which fields changed.
 * Digests, not values: a plan file must not carry a proxy URL's password.
 */
export function digestConfigFields(config: Config): Record<string, string> {
  const fields: Record<string, string> = {};
  const short = (value: unknown) => createHash('sha256').update(JSON.stringify(value) ?? 'undefined').digest('hex').slice(0, 16);
  for (const [section, value] of Object.entries(plannedShape(config))) {
    if (value === undefined) continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fields[section] = short(value);
      continue;
    }
    for (const [name, inner] of Object.entries(value)) {
      if (inner !== undefined) fields[`${section}.${YAML_FIELD_NAMES[name] ?? name}`] = short(inner);
    }
  }
  return fields;
}

/** The fields whose digests differ between a saved plan and the config now, sorted. */
function changedConfigFields(saved: Record<string, string>, now: Record<string, string>): string[] {
  const names = new Set([...Object.keys(saved), ...Object.keys(now)]);
  return [...names].filter((name) => saved[name] !== now[name]).sort();
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
    const snapshot = ledger.snapshot();
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
    plan.warnings.push(`staging volume ${link.volume}: ${link.path} is a symbolic link, not followed (nothing is staged through it, and it is left as it is)`);
  }
  if (gathered.leftovers.length > 0) {
    plan.warnings.push(`${gathered.leftovers.length} temporary file(s) of interrupted downloads in ${TEMP_DIR}/ will be removed by apply`);
  }
  return { plan, gathered: { ...gathered, inputDigest }, createdAt: deps.now().toISOString(), release: () => spool.remove() };
}

/** The plan as a file records it. Digesting the plan is the costly part, so only a saved plan pays it. */
function planFileOf(run: PlannedRun, config: Config): PlanFile {
  // Held whole until the plan file is written from the list as it streams.
  const plan = { ...run.plan, actions: [...run.plan.actions] };
  return {
    formatVersion: 1,
    createdAt: run.createdAt,
    configDigest: digestConfig(config),
    configFields: digestConfigFields(config),
    inputDigest: run.gathered.inputDigest,
    ledgerSerial: run.gathered.inventory.ledger.serial,
    planDigest: digestPlan(plan),
    plan,
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
    const gathered = await gatherInventory(config, clients, deps);
    return await planGathered(config, gathered, ledger, deps, options);
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

/** Writes the plan file and its two manifests, each complete or not at all, as the plan is read (never whole in memory). */
export async function writePlanFiles(planPath: string, run: PlannedRun, config: Config): Promise<{ download: string; upload: string }> {
  await mkdir(dirname(planPath), { recursive: true });
  const paths = manifestPaths(planPath);
  const download = new AtomicFile(paths.download);
  const upload = new AtomicFile(paths.upload);
  try {
    writeManifests(run.plan, config, { download: download.emit, upload: upload.emit });
  } catch (error) {
    download.abort();
    upload.abort();
    throw error;
  }
  download.commit();
  upload.commit();
  writeFileAtomically(planPath, (emit) => writePlanFile(planFileOf(run, config), emit));
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
  // The config first: a changed config also changes the manifests and the volumes, and the
  // operator should hear about the change made, not about an edit that never happened.
  if (saved.configDigest !== digestConfig(config)) {
    const fields = saved.configFields === undefined ? [] : changedConfigFields(saved.configFields, digestConfigFields(config));
    const what = fields.length > 0 ? fields.join(', ') : 'this plan file does not record which fields';
    throw userError('E_PLAN_STALE', `the config changed since this plan was made: ${what} (plan ${planPath}, config ${config.file})`, {
      hint: 'make a new plan with `dualsync plan --out FILE`, or apply this one with the config it was made with',
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
  return saved;
}

/**
 * `dualsync apply`: lock, freshness check, execute, record. With a saved plan, the world must
 * still be what the plan saw; otherwise apply shows what changed as a diff and refuses.
 */
export async function runApply(config: Config, deps: EngineDeps, options: ApplyOptions = {}): Promise<ApplyReport> {
  try {
    return await applyUnderLock(config, deps, options);
  } catch (error) {
    // A full state disk surfaces in the lock, a ledger write or the last-run record: one message for all.
    throw stateDiskFullOr(config.stateDir, error);
  }
}

async function applyUnderLock(config: Config, deps: EngineDeps, options: ApplyOptions): Promise<ApplyReport> {
  const startedAt = deps.now().toISOString();
  const saved = options.planPath ? await readSavedPlan(options.planPath, config) : undefined;
  const s5cmd = await findS5cmd(deps.env);
  const lock = options.lock ?? (await acquireLock(config.stateDir, options.command ?? 'dualsync apply', deps.now, deps.warn));
  try {
    // A volume another state directory claims is refused before it is even scanned (invariant 10).
    const roots = await expandVolumes(config.staging.volumes);
    await refuseForeignClaims(await claimStates(roots, config.stateDir), config);
    const ledger = await LedgerStore.open(config.stateDir, ledgerOptions(deps));
    const clients = createClients(config);
    let failed = false;
    let release = (): void => {};
    try {
      const gathered = await gatherInventory(config, clients, deps, roots, options.probeFirst);
      let run = await planGathered(config, gathered, ledger, deps, { ...options, fingerprint: saved !== undefined });
      release = run.release;
      if (saved) {
        if (saved.inputDigest !== run.gathered.inputDigest) throw stalePlan(options.planPath!, saved, run, config, options.showDiff ?? false);
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
      release();
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

/** A stale plan's diff longer than this is summarised unless `--diff` asks for it. */
const STALE_DIFF_LINES = 40;

/**
 * The refusal of a stale saved plan: a summary of what moved per manifest first, then the
 * unified diff when it is short or when `showDiff` asks for it. After a power cut the diff can
 * run to hundreds of lines, and the step is the same whatever it says: make a fresh plan.
 */
function stalePlan(planPath: string, saved: PlanFile, fresh: PlannedRun, config: Config, showDiff: boolean) {
  const old = renderManifests(saved.plan, config);
  const now = renderManifests(fresh.plan, config);
  const summary: string[] = [];
  const diff: string[] = [];
  for (const hop of ['download', 'upload'] as const) {
    if (old[hop] === now[hop]) continue;
    const patch = createTwoFilesPatch(`${hop}.s5cmd (saved plan)`, `${hop}.s5cmd (now)`, old[hop], now[hop], undefined, undefined, { context: 1 });
    const lines = patch.trimEnd().split('\n');
    // Commands only: the comment lines at the top change with every plan.
    const added = lines.filter((l) => l.startsWith('+') && !l.startsWith('+++') && !l.startsWith('+#')).length;
    const removed = lines.filter((l) => l.startsWith('-') && !l.startsWith('---') && !l.startsWith('-#')).length;
    summary.push(`${hop}.s5cmd: ${removed} command${removed === 1 ? '' : 's'} no longer planned, ${added} new`);
    diff.push(...lines);
  }
  const details = [...summary];
  if (diff.length === 0) details.push('(the manifests are the same; the ledger or the listings moved in ways the plan does not show)');
  else if (showDiff || diff.length <= STALE_DIFF_LINES) details.push(...diff);
  else details.push(`(the diff has ${diff.length} lines: \`dualsync apply --diff ${planPath}\` shows it)`);
  details.unshift(...reachabilityChanges(saved.plan, fresh.gathered.inventory));
  return userError('E_PLAN_STALE', `the plan ${planPath} is stale: the source, the destination, the staging volumes or the ledger changed since it was made (ledger serial ${saved.ledgerSerial} -> ${fresh.gathered.inventory.ledger.serial})`, {
    details,
    hint: `make a fresh plan: \`dualsync plan --out ${planPath}\`, review it and apply it, or \`dualsync apply\` to plan and apply in one step (after a power cut or a crash a saved plan is always stale: the ledger moved)`,
  });
}

/** Which hop went down or came back since a saved plan was made (its warnings say which hop was unreachable). */
function reachabilityChanges(saved: Plan, now: Pick<GatheredInventory, 'source' | 'destination'>): string[] {
  const changes: string[] = [];
  for (const hop of ['source', 'destination'] as const) {
    const then = saved.warnings.some((warning) => warning.startsWith(`${hop} unreachable:`));
    const cause = now[hop].unreachable;
    if (then && cause === undefined) changes.push(`the ${hop} was unreachable when the plan was made, and is reachable now`);
    else if (!then && cause !== undefined) changes.push(`the ${hop} is unreachable now: ${cause}`);
  }
  return changes;
}

/**
 * A saved plan may write to and delete from the configured volumes only, under keys that map
 * to a path inside them (invariants 4 and 8). Its digest catches a careless edit, not one made
 * by someone who recomputed it, and a purge pointed at another folder would delete a file that
 * is not dualsync's.
 */
function checkPlaces(planPath: string, plan: Plan, volumeRoots: string[]): void {
  const roots = new Set(volumeRoots);
  const seenWhenPlanned = new Set(plan.volumes.map((volume) => volume.root));
  const wrong: string[] = [];
  const gone = new Set<string>();
  for (const action of plan.actions) {
    if (action.kind === 'skip') continue;
    if (action.volume !== undefined && !roots.has(action.volume)) {
      if (seenWhenPlanned.has(action.volume)) gone.add(action.volume);
      else wrong.push(`${action.kind} ${JSON.stringify(action.key)} on ${action.volume}: not one of the configured staging volumes`);
    } else if (action.replaces !== undefined && (action.kind !== 'redownload' || !roots.has(action.replaces))) {
      wrong.push(`${action.kind} ${JSON.stringify(action.key)} replacing a copy on ${action.replaces}: not a re-download, or not one of the configured staging volumes`);
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
  if (gone.size > 0) {
    // The file is as planned; a volume it uses was unmounted, or its glob no longer matches it.
    const volumes = [...gone].sort();
    throw userError('E_PLAN_STALE', `the config changed since this plan was made: staging.volumes no longer matches ${volumes.join(', ')} (plan ${planPath})`, {
      hint: 'mount the volume again (the plan stages or uploads objects there), or make a new plan with `dualsync plan --out FILE`',
    });
  }
}

/**
 * A saved plan was sized to the free space it saw, and free space is left out of its digest
 * (it moves with every write). So the room is checked again here: a plan that no longer fits a
 * volume at all is refused before anything moves, rather than left to fail half-way with a
 * full disk; one that would only eat into the reserve is applied with a warning. Volumes on one
 * filesystem are checked together: their downloads come out of one free space.
 */
function checkRoom(planPath: string, plan: Plan, volumes: VolumeInfo[], deps: EngineDeps): void {
  const full: string[] = [];
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
    const freeThen = Math.min(...group.map((planned) => planned.freeBytes));
    const wants = `the plan downloads ${formatBytes(plannedBytes)} to ${group.map((planned) => planned.root).join(' and ')}`;
    const has = group.length === 1 ? 'which has' : 'which share one filesystem with';
    if (plannedBytes > free) {
      full.push(`${wants}, ${has} ${formatBytes(free)} free now (${formatBytes(freeThen)} when the plan was made)`);
    } else if (plannedBytes > aboveReserve) {
      deps.warn(`${wants}, which eats ${formatBytes(plannedBytes - aboveReserve)} into ${group.length === 1 ? 'its' : 'their'} reserve: the disk filled since the plan was made`);
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
  writeFileAtomically(lastRunPath(stateDir), (emit) => emit(`${JSON.stringify(summary, null, 2)}\n`));
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
