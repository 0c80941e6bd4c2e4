import { cp, link, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { checkClaims, claimStates, claimVolumes, classifyClaim, readClaim, type StateDirSelf, type VolumeClaim } from '../../src/inventory/claims.ts';
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

/** Config `name` whose state directory is at `stateDir`. */
function configAt(name: string, stateDir: string): Config {
  return { stateDir, file: join(dir, `${name}.yaml`) } as Config;
}

/** `cp -a`: a copy of a folder with the same contents (new inodes). */
async function copyFolder(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, preserveTimestamps: true });
}

describe('a claim names one state directory, not a copy of it (invariant 14)', () => {
  const id = '11111111-2222-4333-8444-555555555555';
  const claim: VolumeClaim = { format: 'dualsync volume claim 1', stateDirId: id, stateDir: '/s/a', idFile: { dev: '1', ino: '100' }, config: '/a.yaml', host: 'h', claimedAt: 't' };
  const self = (over: Partial<StateDirSelf>): StateDirSelf => ({ stateDir: '/s/b', id, idFile: { dev: '1', ino: '200', links: 1 }, directory: { dev: '1', ino: '20' }, ...over });
  const cases: { situation: string; self: StateDirSelf; recorded: { directory?: { dev: string; ino: string }; id?: string }; owner: string; extra?: object }[] = [
    { situation: 'another id: another state directory', self: self({ id: '99999999-2222-4333-8444-555555555555' }), recorded: {}, owner: 'other' },
    { situation: 'no id yet: another state directory', self: self({ id: undefined }), recorded: {}, owner: 'other' },
    { situation: 'the recorded directory itself (by inode, whatever the path): ours', self: self({ idFile: { dev: '1', ino: '100', links: 1 }, directory: { dev: '1', ino: '10' } }), recorded: { directory: { dev: '1', ino: '10' }, id }, owner: 'ours', extra: { outdated: false } },
    { situation: 'the recorded directory with a restored id file: ours, claim to refresh', self: self({ directory: { dev: '1', ino: '10' } }), recorded: { directory: { dev: '1', ino: '10' }, id }, owner: 'ours', extra: { outdated: true } },
    { situation: 'elsewhere while the recorded directory holds the id: a copy', self: self({}), recorded: { directory: { dev: '1', ino: '10' }, id }, owner: 'copy', extra: { originalPresent: true } },
    { situation: 'elsewhere, same id file inode, while the recorded one holds the id: still a copy (cp -al)', self: self({ idFile: { dev: '1', ino: '100', links: 2 } }), recorded: { directory: { dev: '1', ino: '10' }, id }, owner: 'copy', extra: { originalPresent: true } },
    { situation: 'recorded path gone, same id file: moved, ours', self: self({ idFile: { dev: '1', ino: '100', links: 1 } }), recorded: {}, owner: 'ours', extra: { outdated: true } },
    { situation: 'recorded path holds another id now, same id file: moved, ours', self: self({ idFile: { dev: '1', ino: '100', links: 1 } }), recorded: { directory: { dev: '1', ino: '10' }, id: '99999999-2222-4333-8444-555555555555' }, owner: 'ours', extra: { outdated: true } },
    { situation: 'recorded path gone, another id file: a copy or a move across filesystems', self: self({}), recorded: {}, owner: 'copy', extra: { originalPresent: false } },
    { situation: 'recorded path gone, id file with two names (cp -al): not proven', self: self({ idFile: { dev: '1', ino: '100', links: 2 } }), recorded: {}, owner: 'copy', extra: { originalPresent: false } },
    { situation: 'recorded path gone, an older claim without id file: the path decides, moved', self: self({}), recorded: {}, owner: 'ours', extra: { outdated: true } },
  ];
  for (const c of cases) {
    it(c.situation, () => {
      const used = c.situation.includes('older claim') ? { ...claim, idFile: undefined } : claim;
      expect(classifyClaim('/vol', used, c.self, c.recorded)).toMatchObject({ owner: c.owner, ...c.extra });
    });
  }

  it('cp -a of the owner: the copy is refused naming the original, its claim attempt writes nothing', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    const claim = await readFile(join(root, '.dualsync-volume'), 'utf8');
    const copy = join(dir, 'copy-state');
    await copyFolder(join(dir, 'a-state'), copy);
    expect((await claimStates([root], copy))[0]).toMatchObject({ owner: 'copy', originalPresent: true });
    expect((await claimStates([root], join(dir, 'a-state')))[0]).toMatchObject({ owner: 'ours', outdated: false });
    const error = await claimVolumes([root], configAt('copy', copy), now).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_STATE_DIR_COPY' });
    expect(isDualsyncError(error) && error.message).toContain(`state directory ${copy} is a copy of ${join(dir, 'a-state')}`);
    expect(isDualsyncError(error) && error.hint).toContain(`Use the original with its config (${join(dir, 'a.yaml')})`);
    await expect(checkClaims([root], configAt('copy', copy))).rejects.toMatchObject({ code: 'E_STATE_DIR_COPY' });
    expect(await readFile(join(root, '.dualsync-volume'), 'utf8')).toBe(claim);
  });

  it('a moved state directory is the owner; plan-time reads leave the claim, the next claim rewrites it whole', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    const before = (await readClaim(root))!;
    const moved = join(dir, 'moved-state');
    await rename(join(dir, 'a-state'), moved);
    expect((await claimStates([root], moved))[0]).toMatchObject({ owner: 'ours', outdated: true });
    expect(await readClaim(root)).toEqual(before);
    await claimVolumes([root], configAt('c', moved), now);
    expect(await readClaim(root)).toEqual({ ...before, stateDir: moved, config: join(dir, 'c.yaml') });
    expect(await readdir(join(root, '.dualsync-tmp'))).toEqual([]);
    expect((await claimStates([root], moved))[0]).toMatchObject({ owner: 'ours', outdated: false });
    // A copy of the moved one is now the copy.
    const copy = join(dir, 'copy-state');
    await copyFolder(moved, copy);
    expect((await claimStates([root], copy))[0]).toMatchObject({ owner: 'copy', originalPresent: true });
  });

  it('a copy whose original is gone is not proven the owner: refused, with release --force as the way out', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    const copy = join(dir, 'copy-state');
    await copyFolder(join(dir, 'a-state'), copy);
    await rm(join(dir, 'a-state'), { recursive: true });
    expect((await claimStates([root], copy))[0]).toMatchObject({ owner: 'copy', originalPresent: false });
    const error = await claimVolumes([root], configAt('copy', copy), now).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_STATE_DIR_COPY' });
    expect(isDualsyncError(error) && error.message).toContain(`state directory ${copy} may be a copy of ${join(dir, 'a-state')}`);
    expect(isDualsyncError(error) && error.hint).toContain(`dualsync volumes release --force -c ${join(dir, 'copy.yaml')}`);
  });

  it('a hard-linked copy (cp -al) whose original moved is not proven the owner either', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    const linked = join(dir, 'linked-state');
    await mkdir(linked);
    await link(join(dir, 'a-state', 'id'), join(linked, 'id'));
    await rename(join(dir, 'a-state'), join(dir, 'a-moved'));
    expect((await claimStates([root], linked))[0]).toMatchObject({ owner: 'copy', originalPresent: false });
    expect((await claimStates([root], join(dir, 'a-moved')))[0]).toMatchObject({ owner: 'copy', originalPresent: false });
  });

  it('mv A A2 then cp -a A2 A: the directory at the recorded path is the one owner', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    await rename(join(dir, 'a-state'), join(dir, 'a2-state'));
    await copyFolder(join(dir, 'a2-state'), join(dir, 'a-state'));
    expect((await claimStates([root], join(dir, 'a-state')))[0]).toMatchObject({ owner: 'ours' });
    expect((await claimStates([root], join(dir, 'a2-state')))[0]).toMatchObject({ owner: 'copy', originalPresent: true });
  });

  it('the same state directory through a link is the owner, and its claim is not rewritten', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    const before = await readClaim(root);
    await symlink(join(dir, 'a-state'), join(dir, 'a-link'));
    expect((await claimStates([root], join(dir, 'a-link')))[0]).toMatchObject({ owner: 'ours', outdated: false });
    await claimVolumes([root], configAt('a', join(dir, 'a-link')), now);
    expect(await readClaim(root)).toEqual(before);
  });

  it('an older claim without the id file is ours at its path; the next claim records the id file', async () => {
    const root = join(dir, 'vol');
    await claimVolumes([root], configOf('a'), now);
    const { idFile, ...older } = (await readClaim(root))!;
    expect(idFile).toBeDefined();
    await writeFile(join(root, '.dualsync-volume'), JSON.stringify(older));
    expect((await claimStates([root], join(dir, 'a-state')))[0]).toMatchObject({ owner: 'ours', outdated: true });
    await claimVolumes([root], configOf('a'), now);
    expect((await readClaim(root))?.idFile).toEqual(idFile);
  });
});
