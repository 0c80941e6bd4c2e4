import { execFileSync, spawn } from 'node:child_process';
import { mkdir, statfs, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reserveBytes, scanVolumes } from '../../src/inventory/volumes.ts';
import type { Reserve } from '../../src/model/config.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';
import { dualsyncFailure } from '../harness/failures.ts';

afterAll(removeTempDirs);

const FIVE_PERCENT: Reserve = { kind: 'percent', percent: 5 };

/** Names a glob library could mistake for patterns or escapes; each must come back as written. */
const HOSTILE_NAMES = [
  'star*.bin',
  'question?.bin',
  'brackets[0].bin',
  'braces{a,b}.bin',
  'parens(1).bin',
  'bang!.bin',
  'ext@(a|b).bin',
  'back\\slash.bin',
  'trailing\\',
  '-leading-dash',
  ' leading space',
  '.hidden',
  'caf\u00e9',
  'cafe\u0301',
  'Case',
  'case',
  '%+#&=;|$`',
  'quote\'s "double"',
  'dir[1]/{x}/inside*.txt',
  '**/literal-stars',
  'line\u2028separator',
  'para\u2029graph/inside',
];

async function put(root: string, key: string, body: string | Buffer): Promise<void> {
  await mkdir(dirname(join(root, key)), { recursive: true });
  await writeFile(join(root, key), body);
}

describe('scanVolumes', () => {
  it('every regular file with its key and size, names byte-exact, across two volumes', async () => {
    const one = await tempDir('vol-a-');
    const two = await tempDir('vol-b-');
    for (const [index, name] of HOSTILE_NAMES.entries()) await put(one, name, 'x'.repeat(index));
    await put(two, 'deep/a/b/c/d/e/f.bin', Buffer.alloc(4096, 1));
    await put(two, 'empty', '');

    const scan = await scanVolumes([one, two], FIVE_PERCENT);
    const byKey = new Map(scan.local.map((file) => [`${file.volume}|${file.key}`, file.size]));
    expect(scan.local).toHaveLength(HOSTILE_NAMES.length + 2);
    for (const [index, name] of HOSTILE_NAMES.entries()) expect(byKey.get(`${one}|${name}`), name).toBe(index);
    expect(byKey.get(`${two}|deep/a/b/c/d/e/f.bin`)).toBe(4096);
    expect(byKey.get(`${two}|empty`)).toBe(0);
    expect(scan.leftovers).toEqual([]);
  });

  it('files under .dualsync-tmp are leftovers (absolute paths), never staged files', async () => {
    const root = await tempDir('vol-');
    await put(root, 'kept/log.1', 'real file whose name ends in a digit');
    await put(root, '.dualsync-tmp/kept/object.bin', 'half');
    await put(root, '.dualsync-tmp/kept/object.bin3817264', 'the download tool wrote this');
    await put(root, '.dualsync-tmp-not-ours/file', 'only the exact folder is ours');
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan.local.map((file) => file.key).sort()).toEqual(['.dualsync-tmp-not-ours/file', 'kept/log.1']);
    expect(scan.leftovers.sort()).toEqual([join(root, '.dualsync-tmp/kept/object.bin'), join(root, '.dualsync-tmp/kept/object.bin3817264')]);
  });

  it("the volume's claim file at the root is not a staged file; the same name deeper down is", async () => {
    const root = await tempDir('vol-');
    await put(root, '.dualsync-volume', '{"format":"dualsync volume claim 1"}');
    await put(root, 'a/.dualsync-volume', 'an object of that name below the root');
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan.local.map((file) => file.key)).toEqual(['a/.dualsync-volume']);
    expect(scan.leftovers).toEqual([]);
  });

  it('symbolic links and special files are not staged copies', async () => {
    const root = await tempDir('vol-');
    await put(root, 'real.bin', 'abc');
    await symlink(join(root, 'real.bin'), join(root, 'link-to-file'));
    await symlink('/etc', join(root, 'link-to-dir'));
    execFileSync('mkfifo', [join(root, 'fifo')]);
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan.local.map((file) => file.key)).toEqual(['real.bin']);
  });

  it('every symbolic link below the root is reported, at any depth and in the temporary folder, and none is followed', async () => {
    const root = await tempDir('vol-');
    const elsewhere = await tempDir('elsewhere-');
    await put(elsewhere, 'inside/secret.bin', 'not ours');
    await symlink(elsewhere, join(root, 'evil'));
    await put(root, 'a/b/real.bin', 'x');
    await symlink(elsewhere, join(root, 'a/b/deep'));
    await symlink(join(elsewhere, 'inside/secret.bin'), join(root, 'a/file-link'));
    await put(root, '.dualsync-tmp/kept.bin1', 'leftover');
    await symlink(elsewhere, join(root, '.dualsync-tmp/tmp-link'));
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan.local.map((file) => file.key)).toEqual(['a/b/real.bin']);
    expect(scan.links.map((link) => `${link.volume}:${link.path}`).sort()).toEqual(
      ['.dualsync-tmp/tmp-link', 'a/b/deep', 'a/file-link', 'evil'].map((path) => `${root}:${path}`),
    );
    expect(scan.leftovers).toEqual([join(root, '.dualsync-tmp/kept.bin1')]);
  });

  it('a link in place of .dualsync-tmp is reported, not scanned as leftovers', async () => {
    const root = await tempDir('vol-');
    const elsewhere = await tempDir('elsewhere-');
    await put(elsewhere, 'x.bin', 'not ours');
    await symlink(elsewhere, join(root, '.dualsync-tmp'));
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan).toMatchObject({ local: [], leftovers: [], links: [{ volume: root, path: '.dualsync-tmp' }] });
  });

  it('a root that is itself a link to a folder (a mount) is scanned, under the name it was given', async () => {
    const real = await tempDir('mount-');
    const base = await tempDir('links-');
    await put(real, 'd/f.bin', 'abc');
    const root = join(base, 'volume');
    await symlink(real, root);
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan.volumes[0]?.root).toBe(root);
    expect(scan.local).toEqual([{ volume: root, key: 'd/f.bin', size: 3 }]);
    expect(scan.links).toEqual([]);
  });

  it('volume space: size and free space from the filesystem, reserve resolved', async () => {
    const root = await tempDir('vol-');
    const fs = await statfs(root);
    const [volume] = (await scanVolumes([root], FIVE_PERCENT)).volumes;
    expect(volume?.root).toBe(root);
    expect(volume?.totalBytes).toBe(fs.blocks * fs.bsize);
    expect(volume?.freeBytes).toBeGreaterThan(0);
    expect(volume?.freeBytes).toBeLessThanOrEqual(volume?.totalBytes ?? 0);
    expect(volume?.reserveBytes).toBe(Math.ceil((fs.blocks * fs.bsize * 5) / 100));
    const [fixed] = (await scanVolumes([root], { kind: 'bytes', bytes: 20 * 2 ** 30 })).volumes;
    expect(fixed?.reserveBytes).toBe(20 * 2 ** 30);
  });

  it('an empty volume: no files, no leftovers', async () => {
    const root = await tempDir('vol-');
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan).toMatchObject({ local: [], leftovers: [] });
    expect(scan.volumes).toHaveLength(1);
  });

  it('a relative root is resolved to an absolute one', async () => {
    const root = await tempDir('vol-');
    await put(root, 'a', 'x');
    const scan = await scanVolumes([join(root, 'sub', '..')], FIVE_PERCENT);
    expect(scan.volumes[0]?.root).toBe(root);
    expect(scan.local[0]?.volume).toBe(root);
  });

  const refusals: { name: string; roots: (base: string) => Promise<string[]>; code: string; names: (base: string) => string }[] = [
    { name: 'missing root: user error naming the volume', roots: async (base) => [join(base, 'not-mounted')], code: 'E_VOLUME_MISSING', names: (base) => join(base, 'not-mounted') },
    {
      name: 'root is a file: user error',
      roots: async (base) => {
        await writeFile(join(base, 'file'), 'x');
        return [join(base, 'file')];
      },
      code: 'E_VOLUME_NOT_DIR',
      names: (base) => join(base, 'file'),
    },
    {
      name: 'one root inside another: user error',
      roots: async (base) => {
        await mkdir(join(base, 'inner'));
        return [base, join(base, 'inner')];
      },
      code: 'E_VOLUME_NESTED',
      names: (base) => join(base, 'inner'),
    },
    { name: 'the same root twice: user error', roots: async (base) => [base, `${base}/`], code: 'E_VOLUME_NESTED', names: (base) => base },
  ];
  for (const { name, roots, code, names } of refusals) {
    it(name, async () => {
      const base = await tempDir('vol-');
      const error = await dualsyncFailure(scanVolumes(await roots(base), FIVE_PERCENT));
      expect(error.code).toBe(code);
      expect(error.kind).toBe('user');
      expect(error.message).toContain(names(base));
      expect(error.hint).toBeTruthy();
    });
  }

  it('siblings whose names share a prefix are not nested', async () => {
    const base = await tempDir('vol-');
    await mkdir(join(base, 'vol1'));
    await mkdir(join(base, 'vol10'));
    await mkdir(join(base, '..vol'));
    const scan = await scanVolumes([join(base, 'vol1'), join(base, 'vol10'), join(base, '..vol')], FIVE_PERCENT);
    expect(scan.volumes).toHaveLength(3);
  });

  it('files and folders that a running apply renames or purges during the scan are absent, not a failed scan', async () => {
    // `status` scans the volumes while `apply` renames finished downloads out of .dualsync-tmp and
    // purges delivered files: an entry read from a folder can be gone by the time it is looked
    // at. Another process deletes while the scan runs, so the race is real, not staged.
    const root = await tempDir('vol-');
    for (let folder = 0; folder < 40; folder++) {
      await mkdir(join(root, `f${folder}`, 'sub'), { recursive: true });
      await Promise.all(Array.from({ length: 100 }, (_, i) => writeFile(join(root, `f${folder}`, i % 2 === 0 ? 'sub' : '', `o${i}`), 'x')));
    }
    const remover = spawn('rm', ['-rf', ...Array.from({ length: 40 }, (_, folder) => join(root, `f${folder}`))]);
    const removed = new Promise((resolve) => remover.on('exit', resolve));
    let scans = 0;
    let seen = 0;
    let running = true;
    void removed.then(() => (running = false));
    while (running || scans === 0) {
      const scan = await scanVolumes([root], FIVE_PERCENT);
      seen += scan.local.length;
      scans++;
    }
    await removed;
    const after = await scanVolumes([root], FIVE_PERCENT);
    expect(after.local).toEqual([]);
    expect(scans, `${scans} scans saw ${seen} files while rm ran`).toBeGreaterThan(0);
  });

  it('a symbolic link loop is not followed: the scan ends', async () => {
    const root = await tempDir('vol-');
    await mkdir(join(root, 'loop'));
    await symlink('..', join(root, 'loop', 'up'));
    await put(root, 'loop/file', 'x');
    const scan = await scanVolumes([root], FIVE_PERCENT);
    expect(scan.local.map((file) => file.key)).toEqual(['loop/file']);
  });
});

describe('reserveBytes', () => {
  it.each([
    [{ kind: 'percent', percent: 5 } as Reserve, 1000, 50],
    [{ kind: 'percent', percent: 5 } as Reserve, 1001, 51],
    [{ kind: 'percent', percent: 0 } as Reserve, 1000, 0],
    [{ kind: 'bytes', bytes: 7 } as Reserve, 1000, 7],
  ])('%j of %d bytes: %d', (reserve, total, expected) => {
    expect(reserveBytes(reserve, total)).toBe(expected);
  });
});
