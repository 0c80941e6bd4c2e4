/** Waiting for a condition the way a loaded 2-core machine needs: poll until a deadline, never a fixed sleep. */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';

/**
 * Polls `probe` every `everyMs` until it gives a value (a probe that throws counts as not yet),
 * and returns it; past `timeoutMs` throws "not reached in N ms: WHAT".
 */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A recursive listing of a folder that a running apply or watch changes meanwhile: a folder that vanishes mid-walk (ENOENT) means walk again. */
export async function walkWhileChanging(folder: string): Promise<Dirent[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readdir(folder, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 50) throw error;
    }
  }
}
