/**
 * A saved plan, from `plan --out` to `apply FILE`: what the file records besides the plan (the
 * digests of the config and of the plan itself), reading it back line by line into spools, and
 * the checks apply makes before it runs one: edited, made with another config, reaching outside
 * the volumes, stale, or no longer fitting the volumes. Nothing here holds every action: a plan
 * of ten million adopts is read, digested, checked and diffed in one pass at a time.
 *
 * Over 400 lines: the checks before apply share one streamed pass over the saved plan and the
 * fresh one; split by check, each would re-read ten million lines.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { Config, Plan, PlanFile, VolumeInfo } from '../model/index.ts';
import type { ActionKind } from '../model/plan.ts';
import { compareKeys, keySkipReason } from '../plan/keys.ts';
import { ACTION_ORDER } from '../plan/planner.ts';
import { actionsOfKinds } from '../manifest/spool.ts';
import type { KindSegment, RankedSpool, SpoolFactory } from '../model/spool.ts';
import { SpooledActions } from '../plan/spools.ts';
import { CanonicalPlanWriter, PlanFileLines, writeCanonicalPlan } from '../manifest/planfile.ts';
import { downloadLine, HOP_KINDS, uploadLine, writeManifests } from '../manifest/s5cmd.ts';
import { expandVolumes } from '../config/load.ts';
import { YAML_FIELD_NAMES } from '../config/schema.ts';
import { formatBytes } from '../config/units.ts';
import { userError } from '../errors.ts';
import { fileLines, LineFileError } from '../files/lines.ts';
import { reasonText } from '../view/reasons.ts';
import type { Hop } from '../model/apply.ts';

/** The settings that shape a plan: credentials reduced to their kind so they can rotate; no file path, no watch settings. */
function plannedShape(config: Config): Record<string, unknown> {
  const strip = (hop: Config['source']) => ({ ...hop, credentials: hop.credentials.kind });
  return { ...config, file: undefined, source: strip(config.source), destination: strip(config.destination), watch: undefined };
}

/** Digest of the settings that shape a plan; credentials are left out so they can rotate. */
export function digestConfig(config: Config): string {
  return createHash('sha256').update(JSON.stringify(plannedShape(config))).digest('hex');
}

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

/**
 * Pieces gathered into about 64 KiB before they reach the hash: one native call per action
 * would cost more than the hashing.
 */
function hashFeed(hash: ReturnType<typeof createHash>): { emit: (piece: string) => void; flush: () => void } {
  let pending: string[] = [];
  let length = 0;
  const flush = () => {
    if (pending.length === 0) return;
    hash.update(pending.join(''));
    pending = [];
    length = 0;
  };
  const emit = (piece: string) => {
    pending.push(piece);
    length += piece.length;
    if (length >= 1 << 16) flush();
  };
  return { emit, flush };
}

/** The digest of a plan (its canonical form), fed piece by piece: at a few million actions one string of it would pass V8's limit. */
export function digestPlan(plan: Plan): string {
  const hash = createHash('sha256');
  const feed = hashFeed(hash);
  writeCanonicalPlan(plan, feed.emit);
  feed.flush();
  return hash.digest('hex');
}

/** Paths of the two manifests beside a plan file: `plan.json` -> `plan.download.s5cmd`, `plan.upload.s5cmd`. */
export function manifestPaths(planPath: string): { download: string; upload: string } {
  const stem = join(dirname(planPath), basename(planPath, extname(planPath)));
  return { download: `${stem}.download.s5cmd`, upload: `${stem}.upload.s5cmd` };
}

function cannotRead(planPath: string, error?: unknown): never {
  const why = error === undefined ? '' : `: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  throw userError('E_PLAN_MISSING', `cannot read the plan file ${planPath}${why}`, { hint: 'create one with `dualsync plan --out FILE`' });
}

/**
 * Reads a plan file line by line into spools made by `spools` (one per kind, in the file's
 * order), taking the digest of its plan as it goes: memory does not follow the number of
 * actions. Returns the file with its plan's actions in those spools, and the digest.
 */
async function readPlanFile(planPath: string, spools: SpoolFactory): Promise<{ saved: PlanFile<SpooledActions>; digest: string; outOfOrder?: string }> {
  const lines = new PlanFileLines(planPath);
  const hash = createHash('sha256');
  const feed = hashFeed(hash);
  let canonical: CanonicalPlanWriter | undefined;
  const segments: KindSegment[] = [];
  let spool: RankedSpool | undefined;
  let kind: ActionKind | undefined;
  // Lines end at '\n' alone: a key may hold U+2028 or U+2029, at which readline would also break.
  // A file that went through a Windows editor still reads (its digest decides), as it always did.
  const input = fileLines(planPath, { unterminated: 'line', crlf: true });
  try {
    for (;;) {
      // Only a failed read is "cannot read the plan file"; a spool write that fails (a full state disk) is itself.
      let line: IteratorResult<string>;
      try {
        line = input.next();
      } catch (error) {
        if (error instanceof LineFileError) throw userError('E_PLAN_FILE', `${planPath} is not a plan file: ${error.message.slice(planPath.length + 2)}`, { hint: 'make a new plan with `dualsync plan --out FILE`' });
        return cannotRead(planPath, error);
      }
      if (line.done === true) break;
      const action = lines.line(line.value);
      if (action === undefined) continue;
      canonical ??= new CanonicalPlanWriter((lines.header as PlanFile).plan, feed.emit);
      canonical.action(action);
      if (action.kind !== kind) {
        spool?.end();
        kind = action.kind;
        spool = spools();
        segments.push({ kind, spools: [spool] });
      }
      (spool as RankedSpool).push(lines.count - 1, action);
    }
  } finally {
    input.return(undefined);
    spool?.end();
  }
  const header = lines.end();
  canonical ??= new CanonicalPlanWriter(header.plan, feed.emit);
  canonical.end();
  feed.flush();
  const saved: PlanFile<SpooledActions> = { ...header, plan: { ...header.plan, actions: new SpooledActions(segments) } };
  return { saved, digest: hash.digest('hex'), ...(lines.outOfOrder === undefined ? {} : { outOfOrder: lines.outOfOrder }) };
}

/**
 * Reads a saved plan and refuses it when it was edited after `plan --out`, was made with another
 * config, reaches outside the configured volumes, or its manifests were edited. The file is read
 * line by line into spools from `spools` (a plan file is laid out one action per line, the
 * actions last: a file laid out otherwise is refused), its digest checked as it is read, and the
 * manifests compared as they are rendered: nothing holds every action.
 */
export async function readSavedPlan(planPath: string, config: Config, spools: SpoolFactory): Promise<PlanFile<SpooledActions>> {
  const { saved, digest, outOfOrder } = await readPlanFile(planPath, spools);
  if (digest !== saved.planDigest) {
    throw userError('E_PLAN_TAMPERED', `the plan file ${planPath} was changed after it was written`, {
      hint: 'make a new plan with `dualsync plan --out FILE`; a saved plan is applied exactly as reviewed or not at all',
    });
  }
  if (outOfOrder !== undefined) {
    // The digest matches, so it was recomputed after the edit: dualsync never writes actions out of order.
    throw userError('E_PLAN_TAMPERED', `the plan file ${planPath} has its actions out of plan order: ${outOfOrder}`, {
      hint: 'make a new plan with `dualsync plan --out FILE`; a plan file must not be edited',
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
  const changed = manifestsDiffer(paths, saved.plan, config);
  if (changed !== undefined) {
    throw userError('E_PLAN_TAMPERED', `the manifest ${paths[changed]} differs from its plan file ${planPath}`, {
      hint: 'make a new plan with `dualsync plan --out FILE`',
    });
  }
  return saved;
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

/** A stale plan's diff longer than this is summarised unless `--diff` asks for it. */
export const STALE_DIFF_LINES = 40;

/** Lines of the diff that `--diff` shows at most; the rest are counted. */
export const STALE_DIFF_MAX_LINES = 100_000;

/** What {@link stalePlan} needs of the fresh run: its plan and what it was made from. */
export interface FreshRun {
  plan: Plan;
  gathered: { inventory: { source: { unreachable?: string }; destination: { unreachable?: string }; ledger: { serial: number } } };
}

/** One command line of a manifest, with what orders it there: kind (in apply order), then key. */
interface CommandLine {
  kindRank: number;
  key: string;
  text: string;
}

/** A manifest's command lines in file order (the plan's order: by kind, then key), made one at a time. */
function* commandLines(plan: Plan, config: Config, hop: Hop): Generator<CommandLine> {
  for (const action of actionsOfKinds(plan.actions, HOP_KINDS[hop])) {
    const text = hop === 'download' ? downloadLine(action, config, plan.hops.download) : uploadLine(action, config, plan.hops.upload);
    yield { kindRank: ACTION_ORDER.indexOf(action.kind), key: action.key, text };
  }
}

function byPlanOrder(a: CommandLine, b: CommandLine): number {
  return a.kindRank - b.kindRank || compareKeys(a.key, b.key);
}

/** The lines of a diff, kept up to a limit and counted past it. */
class DiffLines {
  readonly lines: string[] = [];
  count = 0;
  readonly #keep: number;

  constructor(keep: number) {
    this.#keep = keep;
  }

  add(line: string): void {
    this.count += 1;
    if (this.lines.length < this.#keep) this.lines.push(line);
  }
}

/**
 * Walks the saved and the fresh manifest of one hop in step, both in plan order (a merge, as of
 * two sorted listings), adding to `diff` a `-` line for each command only the saved plan has,
 * a `+` line for each only the fresh one has, and both for a key whose command changed.
 */
function diffManifest(saved: Plan, fresh: Plan, config: Config, hop: Hop, diff: DiffLines): { removed: number; added: number } {
  const old = commandLines(saved, config, hop);
  const now = commandLines(fresh, config, hop);
  let removed = 0;
  let added = 0;
  const change = (sign: '-' | '+', line: CommandLine) => {
    if (removed + added === 0) {
      diff.add(`--- ${hop}.s5cmd (saved plan)`);
      diff.add(`+++ ${hop}.s5cmd (now)`);
    }
    if (sign === '-') removed += 1;
    else added += 1;
    diff.add(`${sign}${line.text}`);
  };
  let a = old.next();
  let b = now.next();
  while (a.done !== true || b.done !== true) {
    const order = a.done === true ? 1 : b.done === true ? -1 : byPlanOrder(a.value, b.value);
    if (order < 0) {
      change('-', a.value as CommandLine);
      a = old.next();
    } else if (order > 0) {
      change('+', b.value as CommandLine);
      b = now.next();
    } else {
      if ((a.value as CommandLine).text !== (b.value as CommandLine).text) {
        change('-', a.value as CommandLine);
        change('+', b.value as CommandLine);
      }
      a = old.next();
      b = now.next();
    }
  }
  return { removed, added };
}

/**
 * The refusal of a stale saved plan: a summary of what moved per manifest first, then the diff
 * of their commands when it is short or when `showDiff` asks for it (up to
 * {@link STALE_DIFF_MAX_LINES} lines). After a power cut the diff can run to hundreds of lines,
 * and the step is the same whatever it says: make a fresh plan. Both manifests are walked in
 * step, a command at a time, so the check holds no manifest in memory.
 */
export function stalePlan(planPath: string, saved: PlanFile, fresh: FreshRun, config: Config, showDiff: boolean) {
  const summary: string[] = [];
  const diff = new DiffLines(showDiff ? STALE_DIFF_MAX_LINES : STALE_DIFF_LINES + 1);
  for (const hop of ['download', 'upload'] as const) {
    const { removed, added } = diffManifest(saved.plan, fresh.plan, config, hop, diff);
    if (removed + added > 0) summary.push(`${hop}.s5cmd: ${removed} command${removed === 1 ? '' : 's'} no longer planned, ${added} new`);
  }
  const details = [...reachabilityChanges(saved.plan, fresh.gathered.inventory), ...summary];
  if (diff.count === 0) details.push('(the manifests are the same; the ledger or the listings moved in ways the plan does not show)');
  else if (showDiff || diff.count <= STALE_DIFF_LINES) details.push(...diff.lines);
  else details.push(`(the diff has ${diff.count} lines: \`dualsync apply --diff ${planPath}\` shows it)`);
  if (diff.count > diff.lines.length && showDiff) details.push(`(${diff.count - diff.lines.length} more lines of the diff left out: the first ${diff.lines.length} are shown)`);
  return userError('E_PLAN_STALE', `the plan ${planPath} is stale: the source, the destination, the staging volumes or the ledger changed since it was made (ledger serial ${saved.ledgerSerial} -> ${fresh.gathered.inventory.ledger.serial})`, {
    details,
    hint: `make a fresh plan: \`dualsync plan --out ${planPath}\`, review it and apply it, or \`dualsync apply\` to plan and apply in one step (after a power cut or a crash a saved plan is always stale: the ledger moved)`,
  });
}

/** Which hop went down or came back since a saved plan was made (its warnings say which hop was unreachable). */
export function reachabilityChanges(saved: Plan, now: { source: { unreachable?: string }; destination: { unreachable?: string } }): string[] {
  const changes: string[] = [];
  for (const hop of ['source', 'destination'] as const) {
    const then = saved.warnings.some((warning) => warning.code === `${hop}-unreachable`);
    const cause = now[hop].unreachable;
    if (then && cause === undefined) changes.push(`the ${hop} was unreachable when the plan was made, and is reachable now`);
    else if (!then && cause !== undefined) changes.push(`the ${hop} is unreachable now: ${cause}`);
  }
  return changes;
}

/** Tampered actions named in a refusal at most; the count covers all of them. */
const WRONG_SHOWN = 10;

/**
 * A saved plan may write to and delete from the configured volumes only, under keys that map
 * to a path inside them (invariants 4 and 8). Its digest catches a careless edit, not one made
 * by someone who recomputed it, and a purge pointed at another folder would delete a file that
 * is not dualsync's. One pass over the actions; only the first few wrong ones are kept.
 */
export function checkPlaces(planPath: string, plan: Plan, volumeRoots: string[]): void {
  const roots = new Set(volumeRoots);
  const seenWhenPlanned = new Set(plan.volumes.map((volume) => volume.root));
  const wrong: string[] = [];
  let wrongCount = 0;
  const refuse = (text: string) => {
    wrongCount += 1;
    if (wrong.length < WRONG_SHOWN) wrong.push(text);
  };
  const gone = new Set<string>();
  for (const action of plan.actions) {
    if (action.kind === 'skip') continue;
    if (action.volume !== undefined && !roots.has(action.volume)) {
      if (seenWhenPlanned.has(action.volume)) gone.add(action.volume);
      else refuse(`${action.kind} ${JSON.stringify(action.key)} on ${action.volume}: not one of the configured staging volumes`);
    } else if (action.replaces !== undefined && (action.kind !== 'redownload' || !roots.has(action.replaces))) {
      refuse(`${action.kind} ${JSON.stringify(action.key)} replacing a copy on ${action.replaces}: not a re-download, or not one of the configured staging volumes`);
    } else {
      const unsafe = keySkipReason(action.key);
      if (unsafe !== undefined) refuse(`${action.kind} ${JSON.stringify(action.key)}: ${reasonText(unsafe)}`);
    }
  }
  if (wrongCount > 0) {
    throw userError('E_PLAN_TAMPERED', `the plan ${planPath} has ${wrongCount} action(s) that dualsync never plans`, {
      details: wrong,
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
 * filesystem are checked together: their downloads come out of one free space. Only the plan's
 * per-volume totals are read, not its actions.
 */
export function checkRoom(planPath: string, plan: Plan, volumes: VolumeInfo[], deps: { warn: (message: string) => void }): void {
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
