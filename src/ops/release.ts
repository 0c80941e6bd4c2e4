/**
 * `dualsync volumes release`: hand staging volumes over. Removes the claim this state directory
 * holds on its volumes (src/inventory/claims.ts), so that another config may use them. The
 * staged files stay where they are; the ledger still knows them, but once another state
 * directory claims the volume it may treat them as local copies it did not stage (which it
 * uploads only once proven to be its source's current version, or else downloads over).
 *
 * A claim of another state directory is released only with `force`, and only when that state
 * directory is gone: a live owner hands its volumes over itself. A copy of a state directory
 * releases nothing of the original's (invariant 14).
 */
import { resolve } from 'node:path';
import { stopEarlierChildren } from '../apply/children.ts';
import { expandVolumes } from '../config/load.ts';
import { isDualsyncError, userError } from '../errors.ts';
import { claimStateOf, copyRefusal, describeForeignClaims, ownerStillThere, readClaim, removeClaim, stateDirSelf, type ClaimState, type VolumeClaim } from '../inventory/claims.ts';
import { LedgerStore } from '../ledger/store.ts';
import type { Config } from '../model/config.ts';

export interface ReleaseVolume {
  root: string;
  /** Undefined for a damaged claim file (released with --force). */
  claim?: VolumeClaim;
  /** True when the claim is another state directory's (released with --force because its owner is gone). */
  foreign: boolean;
  /** For a foreign claim: which state directory and config it names. */
  ownerDescription?: string;
  /** Copies this ledger records on the volume (staged, or delivered and not purged): the release leaves them behind. */
  left: LeftCopies;
}

export interface LeftCopies {
  files: number;
  bytes: number;
  /** Of those, copies that have not reached the destination. */
  undelivered: number;
}

const NONE_LEFT: LeftCopies = { files: 0, bytes: 0, undelivered: 0 };

export interface ReleasePlan {
  stateDir: string;
  release: ReleaseVolume[];
  /** Configured volumes nobody claims: nothing to release. */
  unclaimed: string[];
}

/**
 * What a release would do, or a refusal naming each volume that another, living state directory
 * claims (or, without `force`, any other state directory). `only` limits it to some volumes.
 */
export async function planRelease(config: Config, options: { force: boolean; only?: string[] }): Promise<ReleasePlan> {
  let roots = await expandVolumes(config.staging.volumes);
  if (options.only !== undefined && options.only.length > 0) {
    const wanted = options.only.map((path) => resolve(path));
    const unknown = wanted.filter((path) => !roots.includes(path));
    if (unknown.length > 0) {
      throw userError('E_USAGE', `${unknown.join(', ')} ${unknown.length === 1 ? 'is not a staging volume' : 'are not staging volumes'} of ${config.file}`, {
        hint: `name volumes that staging.volumes lists today: ${roots.join(', ') || '(none)'}`,
      });
    }
    roots = roots.filter((root) => wanted.includes(root));
  }
  const self = await stateDirSelf(config.stateDir);
  const refused: string[] = [];
  const copies: Extract<ClaimState, { owner: 'copy' }>[] = [];
  const release: ReleaseVolume[] = [];
  const unclaimed: string[] = [];
  const left = await copiesByVolume(config.stateDir);
  for (const root of roots) {
    let state: ClaimState;
    try {
      state = await claimStateOf(root, self);
    } catch (error) {
      // A damaged claim names nobody: only --force removes it.
      if (!options.force || !isDualsyncError(error) || error.code !== 'E_VOLUME_CLAIM') throw error;
      release.push({ root, foreign: true, ownerDescription: `${root}: ${error.message}`, left: NONE_LEFT });
      continue;
    }
    if (state.owner === 'none') {
      unclaimed.push(root);
      continue;
    }
    if (state.owner === 'ours') {
      release.push({ root, claim: state.claim, foreign: false, left: left.get(root) ?? NONE_LEFT });
      continue;
    }
    // A copy releases nothing of its original's (invariant 14); a directory that may be a copy,
    // whose original is gone, releases only with --force, like any claim whose owner is gone.
    const ownerGone = options.force && !(await ownerStillThere(state.claim));
    if (state.owner === 'copy' && !ownerGone) {
      copies.push(state);
      continue;
    }
    const [ownerDescription] = await describeForeignClaims([state]);
    if (!ownerGone) {
      refused.push(ownerDescription!);
      continue;
    }
    release.push({ root, claim: state.claim, foreign: true, ownerDescription, left: NONE_LEFT });
  }
  if (copies.length > 0) throw await copyRefusal(copies, config);
  if (refused.length > 0) {
    throw userError('E_VOLUME_CLAIMED', `${refused.length === 1 ? 'a volume belongs' : `${refused.length} volumes belong`} to another state directory, not to ${resolve(config.stateDir)}; nothing was released`, {
      details: refused,
      hint: options.force
        ? 'that state directory still exists: release the volume with its own config (`dualsync volumes release -c THAT_CONFIG`), or run `dualsync reset` there'
        : 'release a volume with the config that claimed it (`dualsync volumes release -c THAT_CONFIG`); `--force` releases it from here only when that state directory is gone',
    });
  }
  return { stateDir: config.stateDir, release, unclaimed };
}

/** Per volume root, the copies the ledger says are on it. */
async function copiesByVolume(stateDir: string): Promise<Map<string, LeftCopies>> {
  const found = new Map<string, LeftCopies>();
  const ledger = await LedgerStore.open(stateDir);
  try {
    for (const record of ledger.records()) {
      if ((record.stage !== 'staged' && record.stage !== 'delivered') || record.volume === undefined) continue;
      const counts = found.get(record.volume) ?? { ...NONE_LEFT };
      counts.files++;
      counts.bytes += record.size;
      if (record.stage === 'staged') counts.undelivered++;
      found.set(record.volume, counts);
    }
  } finally {
    await ledger.close();
  }
  return found;
}

/**
 * Releases the planned volumes. The caller holds the state directory's lock, taken before it
 * planned (`withLock`): no apply of this state directory writes to them meanwhile, and the plan
 * shown is the one carried out. A claim that changed since (another config's release) is left
 * alone. Returns the roots released.
 */
export async function executeRelease(config: Config, plan: ReleasePlan): Promise<string[]> {
  // An s5cmd left by a killed run may still write into a volume this is about to change (invariant 13).
  await stopEarlierChildren(config.stateDir);
  const released: string[] = [];
  for (const volume of plan.release) {
    if (volume.claim !== undefined) {
      const current = await readClaim(volume.root);
      if (current?.stateDirId !== volume.claim.stateDirId) continue;
    }
    await removeClaim(volume.root);
    released.push(volume.root);
  }
  return released;
}
