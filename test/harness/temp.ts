/** Temporary directories for tests, removed when the test file ends (or the process exits). */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();
let hooked = false;

function remember(dir: string): string {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    });
  }
  made.add(dir);
  return dir;
}

/** A new empty directory under os.tmpdir(); removed by removeTempDirs() or at process exit. */
export async function tempDir(prefix = 'dualsync-test-'): Promise<string> {
  return remember(await mkdtemp(join(tmpdir(), prefix)));
}

/** {@link tempDir} for synchronous set-up code. */
export function tempDirSync(prefix = 'dualsync-test-'): string {
  return remember(mkdtempSync(join(tmpdir(), prefix)));
}

/** Removes every directory tempDir() made so far; call it from afterAll. */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...made];
  made.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
