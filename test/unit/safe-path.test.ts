import { lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkStagedFile, checkTempFolder, moveIntoPlace, removeEmptyFolder, removeEntry, removeFile, resetTempFolder, resolveRoot, VolumeRoots, type ResolvedRoot,
} from '../../src/apply/safe-path.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

/** A volume and, beside it, a folder that is not dualsync's, holding a file that must survive. */
async function setting(): Promise<{ volume: ResolvedRoot; elsewhere: string; precious: string }> {
  const base = await tempDir('safe-path-');
  const root = join(base, 'volume');
  const elsewhere = join(base, 'elsewhere');
  await mkdir(root);
  await mkdir(elsewhere);
  const precious = join(elsewhere, 'x.bin');
  await writeFile(precious, 'not dualsync');
  return { volume: await resolveRoot(root), elsewhere, precious };
}

async function put(path: string, body: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('safe-path: the volume root', () => {
  it('a root that is itself a link (to a mount) is resolved once, and works', async () => {
    const { volume, elsewhere } = await setting();
    const linkedRoot = join(elsewhere, 'mounted-here');
    await symlink(volume.real, linkedRoot);
    const roots = new VolumeRoots();
    const resolved = await roots.resolve(linkedRoot);
    expect(resolved).toEqual({ root: linkedRoot, real: volume.real });
    expect(await roots.resolve(linkedRoot)).toBe(resolved);
    await put(join(volume.real, '.dualsync-tmp/a/b.bin'), 'data');
    await moveIntoPlace(resolved, 'a/b.bin');
    expect(await readFile(join(linkedRoot, 'a/b.bin'), 'utf8')).toBe('data');
  });
});

describe('safe-path: moveIntoPlace', () => {
  it('creates the folders on the way and moves the verified file', async () => {
    const { volume } = await setting();
    await put(join(volume.real, '.dualsync-tmp/d1/d2/file.bin'), 'data');
    await moveIntoPlace(volume, 'd1/d2/file.bin');
    expect(await readFile(join(volume.real, 'd1/d2/file.bin'), 'utf8')).toBe('data');
    expect(await readdir(join(volume.real, '.dualsync-tmp/d1/d2'))).toEqual([]);
  });

  it('replaces an older regular file at the same path (a re-download)', async () => {
    const { volume } = await setting();
    await put(join(volume.real, 'k.bin'), 'old');
    await put(join(volume.real, '.dualsync-tmp/k.bin'), 'new');
    await moveIntoPlace(volume, 'k.bin');
    expect(await readFile(join(volume.real, 'k.bin'), 'utf8')).toBe('new');
  });

  const linkCases: { name: string; key: string; link: string; linkTo: (elsewhere: string) => string; shows: string }[] = [
    { name: 'a folder link at the top of the volume', key: 'evil/x.bin', link: 'evil', linkTo: (e) => e, shows: '/evil is a symbolic link' },
    { name: 'a folder link two levels down', key: 'a/b/evil/x.bin', link: 'a/b/evil', linkTo: (e) => e, shows: '/a/b/evil is a symbolic link' },
    { name: 'a link in place of the file itself', key: 'a/x.bin', link: 'a/x.bin', linkTo: (e) => join(e, 'x.bin'), shows: '/a/x.bin is a symbolic link' },
  ];
  for (const c of linkCases) {
    it(`${c.name}: refused, nothing written through it, the link left as it is`, async () => {
      const { volume, elsewhere, precious } = await setting();
      await mkdir(dirname(join(volume.real, c.link)), { recursive: true });
      await symlink(c.linkTo(elsewhere), join(volume.real, c.link));
      await put(join(volume.real, '.dualsync-tmp', c.key), 'from the bucket');
      const error = await refusal(moveIntoPlace(volume, c.key));
      expect(error.code).toBe('E_PATH_SYMLINK');
      expect(error.message).toContain(`${volume.root}${c.shows}`);
      expect(error.message).toContain('not moved into place');
      expect(await readFile(precious, 'utf8')).toBe('not dualsync');
      expect(await readdir(elsewhere)).toEqual(['x.bin']);
      expect((await lstat(join(volume.real, c.link))).isSymbolicLink()).toBe(true);
    });
  }

  it('a link inside the temporary folder is not followed either', async () => {
    const { volume, elsewhere, precious } = await setting();
    await mkdir(join(volume.real, '.dualsync-tmp'));
    await symlink(elsewhere, join(volume.real, '.dualsync-tmp/evil'));
    const error = await refusal(moveIntoPlace(volume, 'evil/x.bin'));
    expect(error.code).toBe('E_PATH_SYMLINK');
    expect(await readFile(precious, 'utf8')).toBe('not dualsync');
    expect(await readdir(volume.real)).toEqual(['.dualsync-tmp']);
  });

  it('a file where a folder should be: refused, not replaced', async () => {
    const { volume } = await setting();
    await put(join(volume.real, 'a'), 'a file named a');
    await put(join(volume.real, '.dualsync-tmp/a/b'), 'data');
    const error = await refusal(moveIntoPlace(volume, 'a/b'));
    expect(error.code).toBe('E_PATH_NOT_FOLDER');
    expect(await readFile(join(volume.real, 'a'), 'utf8')).toBe('a file named a');
  });
});

describe('safe-path: removeFile (purges and temporary files)', () => {
  it('deletes a staged regular file; a missing one (or a missing folder) is absent', async () => {
    const { volume } = await setting();
    await put(join(volume.real, 'a/b.bin'), 'x');
    expect(await removeFile(volume, 'a/b.bin')).toBe('removed');
    expect(await removeFile(volume, 'a/b.bin')).toBe('absent');
    expect(await removeFile(volume, 'no/such/folder.bin')).toBe('absent');
  });

  it('through a folder link: refused, the file it points at survives', async () => {
    const { volume, elsewhere, precious } = await setting();
    await mkdir(join(volume.real, 'a'));
    await symlink(elsewhere, join(volume.real, 'a/evil'));
    const error = await refusal(removeFile(volume, 'a/evil/x.bin'));
    expect(error.code).toBe('E_PATH_SYMLINK');
    expect(error.message).toContain(`${volume.root}/a/evil is a symbolic link`);
    expect(await readFile(precious, 'utf8')).toBe('not dualsync');
  });

  it('a link in place of the staged file: refused, neither the link nor its target deleted', async () => {
    const { volume, precious } = await setting();
    await symlink(precious, join(volume.real, 'x.bin'));
    expect((await refusal(removeFile(volume, 'x.bin'))).code).toBe('E_PATH_SYMLINK');
    expect(await readlink(join(volume.real, 'x.bin'))).toBe(precious);
    expect(await readFile(precious, 'utf8')).toBe('not dualsync');
  });
});

describe('safe-path: checkStagedFile (before an upload)', () => {
  it('a regular file passes; a link in its place or on its way is refused', async () => {
    const { volume, elsewhere, precious } = await setting();
    await put(join(volume.real, 'ok/x.bin'), 'x');
    await checkStagedFile(volume, 'ok/x.bin');
    await checkStagedFile(volume, 'missing/x.bin');
    await symlink(precious, join(volume.real, 'leak.bin'));
    await symlink(elsewhere, join(volume.real, 'evil'));
    expect((await refusal(checkStagedFile(volume, 'leak.bin'))).message).toContain('not uploaded');
    expect((await refusal(checkStagedFile(volume, 'evil/x.bin'))).code).toBe('E_PATH_SYMLINK');
  });
});

describe('safe-path: removeEmptyFolder', () => {
  it('removes an empty real folder; leaves a full one, a link and what is behind a link', async () => {
    const { volume, elsewhere } = await setting();
    await mkdir(join(volume.real, 'a/empty'), { recursive: true });
    await put(join(volume.real, 'full/f'), 'x');
    await mkdir(join(elsewhere, 'empty-there'));
    await symlink(elsewhere, join(volume.real, 'evil'));
    expect(await removeEmptyFolder(volume, 'a/empty')).toBe(true);
    expect(await removeEmptyFolder(volume, 'full')).toBe(false);
    expect(await removeEmptyFolder(volume, 'evil/empty-there')).toBe(false);
    expect(await removeEmptyFolder(volume, 'evil')).toBe(false);
    expect((await stat(join(elsewhere, 'empty-there'))).isDirectory()).toBe(true);
    expect((await lstat(join(volume.real, 'evil'))).isSymbolicLink()).toBe(true);
  });
});

describe('safe-path: the temporary folder', () => {
  it('resetTempFolder removes it without following the links inside', async () => {
    const { volume, elsewhere, precious } = await setting();
    await put(join(volume.real, '.dualsync-tmp/a/b.bin123'), 'leftover');
    await symlink(elsewhere, join(volume.real, '.dualsync-tmp/evil'));
    await resetTempFolder(volume);
    await resetTempFolder(volume);
    expect(await readdir(volume.real)).toEqual([]);
    expect(await readdir(elsewhere)).toEqual(['x.bin']);
    expect(await readFile(precious, 'utf8')).toBe('not dualsync');
  });

  it('a link in place of .dualsync-tmp: refused by reset and by the check, nothing removed or created', async () => {
    const { volume, elsewhere, precious } = await setting();
    await symlink(elsewhere, join(volume.real, '.dualsync-tmp'));
    for (const step of [resetTempFolder(volume), checkTempFolder(volume)]) {
      const error = await refusal(step);
      expect(error.code).toBe('E_PATH_SYMLINK');
      expect(error.message).toContain(`${volume.root}/.dualsync-tmp is a symbolic link`);
    }
    expect(await readdir(elsewhere)).toEqual(['x.bin']);
    expect(await readFile(precious, 'utf8')).toBe('not dualsync');
  });

  it('checkTempFolder creates a missing one as a real folder only this user can write into (mode 0700), and accepts an existing one', async () => {
    const { volume } = await setting();
    await checkTempFolder(volume);
    expect((await lstat(join(volume.real, '.dualsync-tmp'))).isDirectory()).toBe(true);
    expect((await stat(join(volume.real, '.dualsync-tmp'))).mode & 0o777).toBe(0o700);
    await checkTempFolder(volume);
  });

  it('checkTempFolder refuses a file in place of .dualsync-tmp', async () => {
    const { volume } = await setting();
    await writeFile(join(volume.real, '.dualsync-tmp'), 'a file');
    expect((await refusal(checkTempFolder(volume))).code).toBe('E_PATH_NOT_FOLDER');
  });
});

describe('safe-path: removeEntry (reset)', () => {
  it('removes a folder tree without following links in it; a link at the top is left', async () => {
    const { volume, elsewhere, precious } = await setting();
    await put(join(volume.real, 'tree/a/b.bin'), 'x');
    await symlink(elsewhere, join(volume.real, 'tree/a/evil'));
    await symlink(elsewhere, join(volume.real, 'evil'));
    expect(await removeEntry(volume, 'tree')).toBe('removed');
    expect(await removeEntry(volume, 'evil')).toBe('link');
    expect(await readdir(volume.real)).toEqual(['evil']);
    expect(await readFile(precious, 'utf8')).toBe('not dualsync');
  });
});
