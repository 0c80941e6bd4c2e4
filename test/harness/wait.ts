/** Waiting for a condition the way a loaded 2-core machine needs: poll until a deadline, never a fixed sleep. */

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
