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
import { packageFile } from '../sea.ts';

/** `DUALSYNC_MALLOC_TRIM=off` leaves glibc's free pages where they are (to measure what the trim does). */
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
