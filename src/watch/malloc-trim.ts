/**
 * Gives glibc's freed memory back to the system after each `watch` cycle.
 *
 * Measured with bench/soak.ts (2,000 cycles at 1 s): V8's heap stays flat, and what a cycle frees
 * with malloc is freed, but glibc keeps the freed pages in the middle of its main heap, which then
 * grows by holes, ~0.7 MiB per 100 cycles, slowing but never stopping. No glibc setting
 * (MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, tcache) changed that; only
 * malloc_trim(0), which returns every free page of every arena, did. Node has no call for it, so
 * it is a small Node-API addon (native/malloc-trim.c), built at install by
 * scripts/build-native.ts and shipped beside the release's executable.
 *
 * Without the addon watch runs exactly as before; it says so once at start.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { packageFile } from '../sea.ts';

/** `DUALSYNC_MALLOC_TRIM=off` leaves memory as a cycle left it: no collection, no trim (to measure what they do). */
export const MALLOC_TRIM_VARIABLE = 'DUALSYNC_MALLOC_TRIM';

/** The addon's path: in the checkout's native/build, or beside the release executable. */
export const ADDON_PATH = 'native/build/malloc-trim.node';

/** What `watch` can do about glibc's free pages. */
export type MallocTrim = { trim: () => boolean; path: string } | { unavailable: string; path: string };

/** Where the addon is: beside the release executable, or in the checkout. */
export function addonPath(): string {
  return packageFile(ADDON_PATH, new URL(`../../${ADDON_PATH}`, import.meta.url));
}

/** Loads the addon at `path` (watch does it once per process); never throws. */
export function loadMallocTrim(path: string = addonPath()): MallocTrim {
  const module = { exports: {} as { trim?: unknown } };
  try {
    process.dlopen(module, path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ERR_DLOPEN_FAILED' && /No such file/.test((error as Error).message)
      ? `${path} is not built`
      : `${path} could not be loaded (${(error as Error).message})`;
    return { unavailable: reason, path };
  }
  const trim = module.exports.trim;
  if (typeof trim !== 'function') return { unavailable: `${path} has no trim function: rebuild it with \`npm run build:native\``, path };
  return { trim: trim as () => boolean, path };
}

/** The warning `watch` gives once at start when it cannot trim. */
export function trimUnavailableWarning(reason: string): string {
  return `cannot give freed memory back to the system after each cycle: ${reason}; watch works, but its RSS creeps up over months. Fix: install a C compiler (apt-get install gcc) and run \`npm run build:native\` in the checkout, or use the release archive, which ships it`;
}

/**
 * A full collection of V8's heap, made callable without starting Node with --expose-gc (a flag
 * the release executable could only take through NODE_OPTIONS): the flag set at run time gives
 * `gc` to a new context.
 */
export function fullCollection(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
  // The last-resort flavour is the collection V8 makes to reduce its footprint: it also shrinks
  // the new space and hands back its pages. A regular one leaves both semi-spaces resident (32 MiB
  // under watch's cap); measured in the soak (1 s, arrivals and updates alike), their resident
  // part crept from 18 to 22 MiB over 150 cycles and on toward the cap, the largest part of the
  // RSS growth after warm-up.
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** What handing memory back after one cycle did, as the memory trace records it. */
export interface MemoryReturned {
  /** What malloc_trim(0) said: true when it gave pages back; absent without the addon. */
  trimmed?: boolean;
  /** Milliseconds the collection and the trim took together. */
  returnMs: number;
}

/**
 * What `watch` does after each cycle to hand memory back, or undefined when `env` turns it off:
 * a full collection (the last-resort flavour, which also gives back the new space: see
 * fullCollection), then malloc_trim. The collection is there because at a short interval V8
 * never sees the idle time its memory reducer waits for: measured in the arrivals soak (1 s, a
 * few thousand objects), the old space swung between 21 and 70 MiB from cycle ~350 on, each
 * cycle's garbage promoted and collected late, and RSS rose by 60 MiB with it. Without the addon
 * only the collection is made (`warn` is told once).
 */
export function memoryReturn(env: NodeJS.ProcessEnv, warn: (message: string) => void): (() => MemoryReturned) | undefined {
  if (env[MALLOC_TRIM_VARIABLE] === 'off') return undefined;
  const collect = fullCollection();
  const trimmer = loadMallocTrim();
  if ('unavailable' in trimmer) warn(trimUnavailableWarning(trimmer.unavailable));
  return () => {
    const started = performance.now();
    collect();
    const trimmed = 'trim' in trimmer ? trimmer.trim() : undefined;
    const returnMs = Math.round((performance.now() - started) * 10) / 10;
    return trimmed === undefined ? { returnMs } : { trimmed, returnMs };
  };
}
