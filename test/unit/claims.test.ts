import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { claimStates, claimVolumes, readClaim } from '../../src/inventory/claims.ts';
import { ensureStateId, readStateId } from '../../src/ledger/identity.ts';
import type { Config } from '../../src/model/config.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-claim-unit-'));
  await mkdir(join(dir, 'vol'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Only the fields the claim code reads. */
function configOf(name: string): Config {
  return { stateDir: join(dir, `${name}-state`), file: join(dir, `${name}.yaml`) } as Config;
}

const now = () => new Date('2026-11-29T10:00:00Z');

describe('state directory id', () => {
  it('is created once and then stays the same; none before first use', async () => {
    const stateDir = join(dir, 'state');
    expect(await readStateId(stateDir)).toBeUndefined();
    const first = await ensureStateId(stateDir);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(await ensureStateId(stateDir)).toBe(first);
    expect(await readdir(stateDir)).toEqual(['id']);
  });

  it('two first uses at the same instant agree on one id', async () => {
    const stateDir = join(dir, 'state');
    const ids = await Promise.all(Array.from({ length: 8 }, () => ensureStateId(stateDir)));
    expect(new Set(ids).size).toBe(1);
    expect(await readdir(stateDir)).toEqual(['id']);
  });

  it('an edited id is an error naming the file, never a new identity', async () => {
    const stateDir = join(dir, 'state');
    await mkdir(stateDir);
    await writeFile(join(stateDir, 'id'), 'not-an-id\n');
    const error = await readStateId(stateDir).catch((e: unknown) => e);
    expect(isDualsyncError(error) && error.message).toContain(`${join(stateDir, 'id')} holds "not-an-id\\n", not an id`);
  });
});

describe('volume claims', () => {
  it('the first claim wins; the owner sees it as its own, another state directory as foreign', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    const claim = await readClaim(root);
    expect(claim).toMatchObject({ stateDir: join(dir, 'a-state'), config: join(dir, 'a.yaml'), claimedAt: '2026-11-29T10:00:00.000Z' });
    expect(claim?.stateDirId).toBe(await readStateId(join(dir, 'a-state')));
    expect((await claimStates([root], join(dir, 'a-state')))[0]?.owner).toBe('ours');
    expect((await claimStates([root], join(dir, 'b-state')))[0]?.owner).toBe('other');
    // Claiming again is a no-op for the owner, a refusal for anyone else.
    await claimVolumes([root], configOf('a'), now);
    await expect(claimVolumes([root], configOf('b'), now)).rejects.toMatchObject({ code: 'E_VOLUME_CLAIMED' });
    expect(await readClaim(root)).toEqual(claim);
  });

  it('of two state directories claiming one free volume at the same instant, exactly one wins', async () => {
    const root = join(dir, 'vol');
    const results = await Promise.allSettled(['a', 'b', 'c', 'd'].map((name) => claimVolumes([root], configOf(name), now)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'E_VOLUME_CLAIMED' });
    const winner = ['a', 'b', 'c', 'd'][results.findIndex((r) => r.status === 'fulfilled')]!;
    expect((await readClaim(root))?.stateDir).toBe(join(dir, `${winner}-state`));
    // No temporary claim file is left behind.
    expect(await readdir(join(root, '.dualsync-tmp'))).toEqual([]);
  });

  it('a refused claim writes nothing on any volume', async () => {
    await mkdir(join(dir, 'vol-2'));
    await claimVolumes([join(dir, 'vol')], configOf('a'), now);
    await expect(claimVolumes([join(dir, 'vol-2'), join(dir, 'vol')], configOf('b'), now)).rejects.toMatchObject({ code: 'E_VOLUME_CLAIMED' });
    expect(await readdir(join(dir, 'vol-2'))).toEqual([]);
    expect(await readStateId(join(dir, 'b-state'))).toBeUndefined();
  });

  it('a claim file that is not a claim is an error, not a free volume', async () => {
    await writeFile(join(dir, 'vol', '.dualsync-volume'), 'garbage');
    await expect(claimStates([join(dir, 'vol')], join(dir, 'a-state'))).rejects.toMatchObject({ code: 'E_VOLUME_CLAIM' });
    await expect(claimVolumes([join(dir, 'vol')], configOf('a'), now)).rejects.toMatchObject({ code: 'E_VOLUME_CLAIM' });
    expect(await readFile(join(dir, 'vol', '.dualsync-volume'), 'utf8')).toBe('garbage');
  });
});
