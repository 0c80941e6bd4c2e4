/**
 * A state directory's identity: a random id kept in `<stateDir>/id`. Staging volumes are claimed
 * in its name (src/inventory/claims.ts), so it must outlive everything else in the folder: a
 * reset moves the ledger into a backup but leaves the id, and moving the whole state directory
 * to another path keeps it. A path would not do: the same folder has many paths (links, mounts),
 * and a deleted and recreated folder at the same path is not the same ledger.
 *
 * An id alone does not make a state directory one place: `cp -a` copies it with the ledger. So a
 * claim also records the id file's device and inode (`idFileIdentity`): a `mv` on the same
 * filesystem keeps them, a copy gets a new inode (DESIGN invariant 14).
 */
import { randomUUID } from 'node:crypto';
import { link, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, opError } from '../errors.ts';
import { fsyncDirectory } from '../files/fsync.ts';

export const STATE_ID_FILE = 'id';

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The id of the state directory, or undefined when it has none yet (a state directory that never claimed a volume). */
export async function readStateId(stateDir: string): Promise<string | undefined> {
  const path = join(stateDir, STATE_ID_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw opError('E_STATE_ID', `cannot read the state directory's id ${path}: ${describeError(error)}`, { cause: error });
  }
  const id = text.trim();
  if (!ID_PATTERN.test(id)) {
    throw opError('E_STATE_ID', `the state directory's id ${path} holds ${JSON.stringify(text.slice(0, 60))}, not an id`, {
      hint: 'it was edited or damaged; restore it from a backup of the state directory (the volumes it claimed name it in their .dualsync-volume file)',
    });
  }
  return id;
}

/**
 * The id of the state directory, created on first use. It is written to a temporary file, synced,
 * and linked into place: link() fails when `id` exists, so two first runs at the same instant
 * agree on one id, and a crash never leaves a half-written one.
 */
export async function ensureStateId(stateDir: string): Promise<string> {
  const existing = await readStateId(stateDir);
  if (existing !== undefined) return existing;
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, STATE_ID_FILE);
  const temporary = `${path}.tmp-${process.pid}-${randomUUID()}`;
  const handle = await open(temporary, 'wx', 0o644);
  try {
    await handle.writeFile(`${randomUUID()}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  await fsyncDirectory(stateDir);
  const id = await readStateId(stateDir);
  if (id === undefined) throw opError('E_STATE_ID', `the state directory's id ${path} vanished right after it was written`);
  return id;
}

/** The device and inode of a file, as decimal strings (inode numbers may pass 2^53). */
export interface FileIdentity {
  dev: string;
  ino: string;
}

/**
 * The device and inode of `<stateDir>/id` and how many names the file has, or undefined when there
 * is none. A file with more than one name (a copy made with `cp -al`) cannot prove which
 * directory is the original.
 */
export async function idFileIdentity(stateDir: string): Promise<(FileIdentity & { links: number }) | undefined> {
  const info = await lstat(join(stateDir, STATE_ID_FILE), { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw opError('E_STATE_ID', `cannot read the state directory's id ${join(stateDir, STATE_ID_FILE)}: ${describeError(error)}`, { cause: error });
  });
  if (info === undefined) return undefined;
  return { dev: String(info.dev), ino: String(info.ino), links: Number(info.nlink) };
}

