/**
 * Volume claims: a staging volume belongs to one state directory (DESIGN invariant 10). Two
 * configs that stage on the same volume would each take the other's staged copies for their
 * own: re-download over them, upload them to the wrong bucket, purge them. So the first apply
 * that uses a volume writes `<root>/.dualsync-volume`, naming its state directory's id (and, for
 * the operator, that directory's path and config file), and every later plan, apply, watch or
 * validate of another state directory refuses the volume. `dualsync reset` and `dualsync volumes
 * release` remove the claim, and only they do.
 *
 * A claim names one state directory, not a copy of it (invariant 14): a copy carries the id file,
 * so the claim also records where the owner is and its id file's inode (see `classifyClaim`).
 *
 * The claim file is never an object: the volume scan leaves it out, and no key can map onto it
 * (src/plan/keys.ts reserves the name).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { link, lstat, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describeError, opError, userError, type DualsyncError } from '../errors.ts';
import type { Config } from '../model/config.ts';
import { CLAIM_FILE, TEMP_DIR } from '../model/volume-layout.ts';
import { fsyncDirectory } from '../files/fsync.ts';
import { ensureStateId, idFileIdentity, readStateId, STATE_ID_FILE, type FileIdentity } from '../ledger/identity.ts';

export { CLAIM_FILE };

const CLAIM_FORMAT = 'dualsync volume claim 1';

/** What `<root>/.dualsync-volume` holds. */
export interface VolumeClaim {
  format: typeof CLAIM_FORMAT;
  /** The id in `<stateDir>/id` of the state directory that owns the volume. */
  stateDirId: string;
  /** Where that state directory is: a directory elsewhere with the same id, while this one still holds it, is a copy. */
  stateDir: string;
  /** The device and inode of that state directory's id file: a moved directory keeps them, a copy does not. Absent in older claims. */
  idFile?: FileIdentity;
  config: string;
  host: string;
  claimedAt: string;
}

/**
 * Whose a volume is, from this state directory's point of view. `ours` with `outdated` is our
 * claim as it was recorded before the state directory moved (or before claims recorded the id
 * file): the next apply rewrites it. `copy` is a claim in our id by another directory, of which
 * this one is a copy (`originalPresent`: the claiming directory still holds the id), or may be one
 * (it is gone, and our id file is not the one that claimed).
 */
export type ClaimState =
  | { root: string; owner: 'ours'; claim: VolumeClaim; outdated: boolean }
  | { root: string; owner: 'none' }
  | { root: string; owner: 'other'; claim: VolumeClaim }
  | { root: string; owner: 'copy'; claim: VolumeClaim; originalPresent: boolean };

/** This state directory as the claims see it: where it is, its id, its id file and the directory itself. */
export interface StateDirSelf {
  stateDir: string;
  id?: string;
  idFile?: FileIdentity & { links: number };
  directory?: FileIdentity;
}

export function claimPath(root: string): string {
  return join(root, CLAIM_FILE);
}

/** The device and inode of a directory, or undefined when it does not exist. */
async function directoryIdentity(path: string): Promise<FileIdentity | undefined> {
  const info = await stat(path, { bigint: true }).catch(() => undefined);
  return info?.isDirectory() ? { dev: String(info.dev), ino: String(info.ino) } : undefined;
}

function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** Reads what the claims compare of a state directory. */
export async function stateDirSelf(stateDir: string): Promise<StateDirSelf> {
  const [id, idFile, directory] = await Promise.all([readStateId(stateDir), idFileIdentity(stateDir), directoryIdentity(stateDir)]);
  return { stateDir: resolve(stateDir), id, idFile, directory };
}

/** The claim on a volume, or undefined when nobody claims it. A claim that cannot be read is an error, never "free". */
export async function readClaim(root: string): Promise<VolumeClaim | undefined> {
  const path = claimPath(root);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw opError('E_VOLUME_CLAIM', `cannot read the claim ${path} of staging volume ${root}: ${describeError(error)}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const claim = parsed as Partial<VolumeClaim> | undefined;
  if (typeof claim !== 'object' || claim === null || claim.format !== CLAIM_FORMAT || typeof claim.stateDirId !== 'string' || claim.stateDirId === '') {
    throw userError('E_VOLUME_CLAIM', `the claim ${path} of staging volume ${root} is not a dualsync volume claim`, {
      hint: `it names the state directory that owns the volume; if you know no other dualsync config uses ${root}, release it with \`dualsync volumes release --force\``,
    });
  }
  const idFile = claim.idFile;
  return {
    format: CLAIM_FORMAT,
    stateDirId: claim.stateDirId,
    stateDir: String(claim.stateDir ?? '?'),
    ...(typeof idFile === 'object' && idFile !== null && typeof idFile.dev === 'string' && typeof idFile.ino === 'string' ? { idFile: { dev: idFile.dev, ino: idFile.ino } } : {}),
    config: String(claim.config ?? '?'),
    host: String(claim.host ?? '?'),
    claimedAt: String(claim.claimedAt ?? '?'),
  };
}

/**
 * Whose a claim is: the one place that tells the owner from a copy (invariant 14). The claim
 * names a directory and its id file. The owner is the directory at the recorded path, if that
 * still holds the id: any other directory with the id is a copy, whatever its inodes say, so
 * there is never more than one owner. When the recorded path is gone (or holds another id), the
 * directory was moved, and a directory with the id is the owner only if its id file is the one
 * that claimed (same device and inode, one name): `mv` on one filesystem keeps the inode, `cp -a`
 * does not. A move to another filesystem cannot be told from a copy whose original went away;
 * it is refused, and `volumes release --force` hands the volumes over.
 */
export function classifyClaim(root: string, claim: VolumeClaim, self: StateDirSelf, recorded: { directory?: FileIdentity; id?: string }): ClaimState {
  if (self.id === undefined || claim.stateDirId !== self.id) return { root, owner: 'other', claim };
  if (sameFile(recorded.directory, self.directory)) return { root, owner: 'ours', claim, outdated: !sameFile(claim.idFile, self.idFile) };
  if (recorded.id === self.id) return { root, owner: 'copy', claim, originalPresent: true };
  // The recorded place is gone: moved. Older claims recorded no id file; the path alone decides.
  if (claim.idFile === undefined) return { root, owner: 'ours', claim, outdated: true };
  if (sameFile(claim.idFile, self.idFile) && self.idFile?.links === 1) return { root, owner: 'ours', claim, outdated: true };
  return { root, owner: 'copy', claim, originalPresent: false };
}

/** Whose one volume is, for this state directory. Reads only. */
export async function claimStateOf(root: string, self: StateDirSelf): Promise<ClaimState> {
  const claim = await readClaim(root);
  if (claim === undefined) return { root, owner: 'none' };
  if (self.id === undefined || claim.stateDirId !== self.id) return { root, owner: 'other', claim };
  const [directory, id] = await Promise.all([directoryIdentity(claim.stateDir), readStateId(claim.stateDir).catch(() => undefined)]);
  return classifyClaim(root, claim, self, { directory, id });
}

/** Whose each volume is. Reads only: plan and validate use it, and they change nothing. */
export async function claimStates(roots: string[], stateDir: string): Promise<ClaimState[]> {
  const self = await stateDirSelf(stateDir);
  return Promise.all(roots.map((root) => claimStateOf(root, self)));
}

/** Whether the state directory a claim names still exists there with that id (else the claim is an orphan). */
export async function ownerStillThere(claim: VolumeClaim): Promise<boolean> {
  const id = await readStateId(claim.stateDir).catch(() => undefined);
  return id === claim.stateDirId;
}

/** One line per volume that another state directory claims (or the original of a copy), for messages. */
export async function describeForeignClaims(states: ClaimState[]): Promise<string[]> {
  const lines: string[] = [];
  for (const state of states) {
    if (state.owner === 'copy') {
      lines.push(`${state.root} belongs to state directory ${state.claim.stateDir} of config ${state.claim.config}, claimed on ${state.claim.host} at ${state.claim.claimedAt}${state.originalPresent ? '' : ' (that state directory is gone)'}`);
      continue;
    }
    if (state.owner !== 'other') continue;
    const { claim } = state;
    const gone = (await ownerStillThere(claim)) ? '' : ` (that state directory is gone or holds another ${STATE_ID_FILE} now)`;
    lines.push(`${state.root} belongs to state directory ${claim.stateDir} of config ${claim.config}, claimed on ${claim.host} at ${claim.claimedAt}${gone}`);
  }
  return lines;
}

/** The refusal of a copied state directory (invariant 14): what it is a copy of, and the way out. */
export async function copyRefusal(copies: Extract<ClaimState, { owner: 'copy' }>[], config: Config): Promise<DualsyncError> {
  const self = resolve(config.stateDir);
  const original = copies[0]!.claim;
  const volumes = copies.length === 1 ? `staging volume ${copies[0]!.root}` : `${copies.length} staging volumes`;
  const present = copies.some((copy) => copy.originalPresent);
  const message = present
    ? `state directory ${self} is a copy of ${original.stateDir}: it holds the id with which ${original.stateDir} claimed ${volumes}; refusing to use ${copies.length === 1 ? 'it' : 'them'}`
    : `state directory ${self} may be a copy of ${original.stateDir}: it holds the id with which that directory (now gone) claimed ${volumes}, but its ${STATE_ID_FILE} file is not the one that claimed (a copy, or a move to another filesystem); refusing to use ${copies.length === 1 ? 'it' : 'them'}`;
  const hint = present
    ? `a copy carries the original's ledger and id, and would take the original's staged files for its own (its reset would delete them). Use the original with its config (${original.config}). ` +
      'For a second config, give it a new, empty state directory of its own and volumes of its own: remove this copy or point stateDir elsewhere'
    : `if ${self} is ${original.stateDir} moved to another filesystem, and that one is gone for good, hand the volumes over with ` +
      `\`dualsync volumes release --force -c ${config.file}\`; the next apply claims them for ${self}. If it is a copy, find the original and use it instead`;
  return userError('E_STATE_DIR_COPY', message, { details: await describeForeignClaims(copies), hint });
}

/** Refuses when another state directory claims any of the volumes, naming each owner and what to do. */
export async function refuseForeignClaims(states: ClaimState[], config: Config): Promise<void> {
  const copies = states.flatMap((state) => (state.owner === 'copy' ? [state] : []));
  if (copies.length > 0) throw await copyRefusal(copies, config);
  const foreign = states.flatMap((state) => (state.owner === 'other' ? [state] : []));
  if (foreign.length === 0) return;
  const owners = [...new Set(foreign.map((state) => state.claim.config))];
  const ownerConfig = owners.length === 1 ? owners[0]! : "<the owner's config>";
  const subject = foreign.length === 1 ? `staging volume ${foreign[0]!.root} belongs` : `${foreign.length} staging volumes belong`;
  throw userError('E_VOLUME_CLAIMED', `${subject} to another state directory, not to ${resolve(config.stateDir)}; refusing to use ${foreign.length === 1 ? 'it' : 'them'}`, {
    details: await describeForeignClaims(states),
    hint:
      'a volume serves one state directory, or each config would take the other\'s staged files for its own. ' +
      'Give this config volumes of its own in staging.volumes, or hand the volume over from its owner: ' +
      `\`dualsync volumes release -c ${ownerConfig}\` (leaves its staged files) or \`dualsync reset -c ${ownerConfig}\` (removes them). ` +
      'If that config and its state directory are gone, run `dualsync volumes release --force` with this config.',
  });
}

/**
 * The one claim check of every command that uses volumes: whose each volume is, refusing a volume
 * another state directory claims and a state directory that is a copy of the claiming one. Reads only.
 */
export async function checkClaims(roots: string[], config: Config): Promise<ClaimState[]> {
  const states = await claimStates(roots, config.stateDir);
  await refuseForeignClaims(states, config);
  return states;
}

/**
 * Claims every volume for this state directory, or refuses when another one holds any of them
 * (nothing is written then). Run under the state directory's lock, before apply writes anything
 * to a volume. A new claim is written to a temporary file in the volume's own temporary folder,
 * synced, and linked into place: link() fails when a claim appeared meanwhile, so of two configs
 * claiming one volume at the same instant exactly one wins, and a crash never leaves half a claim.
 * Our claim recorded at another path (the state directory moved) is rewritten to name this one.
 */
export async function claimVolumes(roots: string[], config: Config, now: () => Date): Promise<void> {
  const states = await checkClaims(roots, config);
  for (const state of states) {
    if (state.owner === 'ours' && state.outdated) await updateClaim(state.root, state.claim, await stateDirSelf(config.stateDir), config);
  }
  const free = states.filter((state) => state.owner === 'none');
  if (free.length === 0) return;
  const stateDirId = await ensureStateId(config.stateDir);
  const self = await stateDirSelf(config.stateDir);
  for (const { root } of free) {
    const claim: VolumeClaim = {
      format: CLAIM_FORMAT,
      stateDirId,
      stateDir: self.stateDir,
      ...(self.idFile ? { idFile: { dev: self.idFile.dev, ino: self.idFile.ino } } : {}),
      config: config.file,
      host: hostname(),
      claimedAt: now().toISOString(),
    };
    const won = await writeClaim(root, claim);
    if (!won) {
      // Another config claimed it between our read and our write.
      await checkClaims([root], config);
    }
  }
}

/**
 * Rewrites our claim to name this state directory where it is now, and its id file: written whole
 * in the volume's temporary folder and renamed over the old one, so a crash leaves the old claim
 * or the new one. A claim that changed since it was read is left alone; so is a volume without a
 * real temporary folder (apply refuses its downloads anyway, and the old claim still names us).
 */
async function updateClaim(root: string, old: VolumeClaim, self: StateDirSelf, config: Config): Promise<void> {
  const temporaryDir = join(root, TEMP_DIR);
  await mkdir(temporaryDir, { recursive: true }).catch(() => undefined);
  if ((await lstat(temporaryDir).catch(() => undefined))?.isDirectory() !== true) return;
  const claim: VolumeClaim = { ...old, stateDir: self.stateDir, ...(self.idFile ? { idFile: { dev: self.idFile.dev, ino: self.idFile.ino } } : {}), config: config.file };
  const temporary = join(temporaryDir, `${CLAIM_FILE}.${process.pid}.${randomUUID()}`);
  const handle = await open(temporary, 'wx', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(claim, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    const current = await readClaim(root);
    if (current?.stateDirId !== old.stateDirId || current.stateDir !== old.stateDir) return;
    await rename(temporary, claimPath(root));
    await fsyncDirectory(root);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * Writes a claim unless one exists; false when one did. The claim is written whole in the
 * volume's temporary folder and hard-linked into place, so it appears complete or not at all and
 * only one of two racing configs wins. Where that cannot be done (a filesystem without hard
 * links, or a `.dualsync-tmp` that is not a real folder: a link is never written through, and
 * apply refuses that volume's downloads on its own) the claim is created exclusively in place.
 */
async function writeClaim(root: string, claim: VolumeClaim): Promise<boolean> {
  const text = `${JSON.stringify(claim, null, 2)}\n`;
  const temporaryDir = join(root, TEMP_DIR);
  await mkdir(temporaryDir, { recursive: true }).catch(() => undefined);
  const ownFolder = (await lstat(temporaryDir).catch(() => undefined))?.isDirectory() === true;
  const won = ownFolder ? await linkClaim(root, join(temporaryDir, `${CLAIM_FILE}.${process.pid}.${randomUUID()}`), text) : await createClaimInPlace(root, text);
  if (won) await fsyncDirectory(root);
  return won;
}

/** The claim written to `temporary` and linked into place; falls back to an exclusive create where hard links are not supported. */
async function linkClaim(root: string, temporary: string, text: string): Promise<boolean> {
  const handle = await open(temporary, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, claimPath(root));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    // A filesystem without hard links (vfat, exFAT).
    return createClaimInPlace(root, text);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/** The claim created exclusively at its place; false when one exists. */
async function createClaimInPlace(root: string, text: string): Promise<boolean> {
  const direct = await open(claimPath(root), 'wx', 0o644).catch((failure: NodeJS.ErrnoException) => {
    if (failure.code === 'EEXIST') return undefined;
    throw failure;
  });
  if (direct === undefined) return false;
  try {
    await direct.writeFile(text);
    await direct.sync();
  } finally {
    await direct.close();
  }
  return true;
}

/** Removes the claim on a volume (a hand-over). The caller has checked that it may. */
export async function removeClaim(root: string): Promise<void> {
  const path = claimPath(root);
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return;
  await unlink(path);
  await fsyncDirectory(root);
}
