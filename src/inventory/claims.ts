/**
 * Volume claims: a staging volume belongs to one state directory (DESIGN invariant 10). Two
 * configs that stage on the same volume would each take the other's staged copies for their
 * own: re-download over them, upload them to the wrong bucket, purge them. So the first apply
 * that uses a volume writes `<root>/.dualsync-volume`, naming its state directory's id (and, for
 * the operator, that directory's path and config file), and every later plan, apply, watch or
 * validate of another state directory refuses the volume. `dualsync reset` and `dualsync volumes
 * release` remove the claim, and only they do.
 *
 * The claim file is never an object: the volume scan leaves it out, and no key can map onto it
 * (src/plan/keys.ts reserves the name).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { link, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describeError, opError, userError } from '../errors.ts';
import type { Config } from '../model/config.ts';
import { CLAIM_FILE, TEMP_DIR } from '../plan/keys.ts';
import { ensureStateId, fsyncDirectory, readStateId, STATE_ID_FILE } from '../ledger/identity.ts';

export { CLAIM_FILE };

const CLAIM_FORMAT = 'dualsync volume claim 1';

/** What `<root>/.dualsync-volume` holds. */
export interface VolumeClaim {
  format: typeof CLAIM_FORMAT;
  /** The id in `<stateDir>/id` of the state directory that owns the volume: the one thing compared. */
  stateDirId: string;
  /** Where that state directory was when it claimed the volume, and its config: for the operator. */
  stateDir: string;
  config: string;
  host: string;
  claimedAt: string;
}

/** Whose a volume is, from this state directory's point of view. */
export type ClaimState = { root: string; owner: 'ours'; claim: VolumeClaim } | { root: string; owner: 'none' } | { root: string; owner: 'other'; claim: VolumeClaim };

export function claimPath(root: string): string {
  return join(root, CLAIM_FILE);
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
  return {
    format: CLAIM_FORMAT,
    stateDirId: claim.stateDirId,
    stateDir: String(claim.stateDir ?? '?'),
    config: String(claim.config ?? '?'),
    host: String(claim.host ?? '?'),
    claimedAt: String(claim.claimedAt ?? '?'),
  };
}

/** Whose each volume is. Reads only: plan and validate use it, and they change nothing. */
export async function claimStates(roots: string[], stateDir: string): Promise<ClaimState[]> {
  const ourId = await readStateId(stateDir);
  return Promise.all(
    roots.map(async (root): Promise<ClaimState> => {
      const claim = await readClaim(root);
      if (claim === undefined) return { root, owner: 'none' };
      return claim.stateDirId === ourId ? { root, owner: 'ours', claim } : { root, owner: 'other', claim };
    }),
  );
}

/** Whether the state directory a claim names still exists there with that id (else the claim is an orphan). */
async function ownerStillThere(claim: VolumeClaim): Promise<boolean> {
  const id = await readStateId(claim.stateDir).catch(() => undefined);
  return id === claim.stateDirId;
}

/** One line per volume that another state directory claims, for messages. */
export async function describeForeignClaims(states: ClaimState[]): Promise<string[]> {
  const lines: string[] = [];
  for (const state of states) {
    if (state.owner !== 'other') continue;
    const { claim } = state;
    const gone = (await ownerStillThere(claim)) ? '' : ` (that state directory is gone or holds another ${STATE_ID_FILE} now)`;
    lines.push(`${state.root} belongs to state directory ${claim.stateDir} of config ${claim.config}, claimed on ${claim.host} at ${claim.claimedAt}${gone}`);
  }
  return lines;
}

/** Refuses when another state directory claims any of the volumes, naming each owner and what to do. */
export async function refuseForeignClaims(states: ClaimState[], config: Config): Promise<void> {
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
 * Claims every volume for this state directory, or refuses when another one holds any of them
 * (nothing is written then). Run under the state directory's lock, before apply writes anything
 * to a volume. A new claim is written to a temporary file in the volume's own temporary folder,
 * synced, and linked into place: link() fails when a claim appeared meanwhile, so of two configs
 * claiming one volume at the same instant exactly one wins, and a crash never leaves half a claim.
 */
export async function claimVolumes(roots: string[], config: Config, now: () => Date): Promise<void> {
  const states = await claimStates(roots, config.stateDir);
  await refuseForeignClaims(states, config);
  const free = states.filter((state) => state.owner === 'none');
  if (free.length === 0) return;
  const stateDirId = await ensureStateId(config.stateDir);
  for (const { root } of free) {
    const claim: VolumeClaim = {
      format: CLAIM_FORMAT,
      stateDirId,
      stateDir: resolve(config.stateDir),
      config: config.file,
      host: hostname(),
      claimedAt: now().toISOString(),
    };
    const won = await writeClaim(root, claim);
    if (!won) {
      // Another config claimed it between our read and our write.
      await refuseForeignClaims(await claimStates([root], config.stateDir), config);
    }
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
