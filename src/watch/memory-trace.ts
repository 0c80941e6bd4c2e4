/**
 * A per-cycle record of watch's memory, for the soak bench (bench/soak.ts) and for a site that
 * wants to know what grows: `DUALSYNC_MEMORY_TRACE=FILE` appends one JSON line per cycle with
 * process.memoryUsage(), V8's heap spaces and, on Linux, /proc/self/smaps_rollup. Unset, watch
 * makes no tracer at all, so it costs nothing.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import type { MemoryReturned } from './malloc-trim.ts';

/** The variable that names the trace file. */
export const MEMORY_TRACE_VARIABLE = 'DUALSYNC_MEMORY_TRACE';

/** One cycle's memory, in bytes. */
export interface MemorySample {
  cycle: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Committed size of each V8 heap space (new_space, old_space, code_space, ...). */
  spaces: Record<string, number>;
  /** What V8 itself holds through malloc (compiler zones and the like), outside its heap. */
  v8Malloced: number;
  /** From /proc/self/smaps_rollup: anonymous memory and private dirty pages (absent off Linux). */
  anonymous?: number;
  privateDirty?: number;
  /** Resident pages of the C allocator's main heap (the `[heap]` mapping of /proc/self/smaps): malloc's, not V8's. */
  mallocHeap?: number;
  /** What handing memory back after the cycle did, just before this sample (malloc-trim.ts); absent when turned off. */
  trimmed?: MemoryReturned['trimmed'];
  returnMs?: MemoryReturned['returnMs'];
}

/** The fields of smaps_rollup that say where resident memory is (kB in the file, bytes here). */
function smapsRollup(): Pick<MemorySample, 'anonymous' | 'privateDirty'> {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps_rollup', 'utf8');
  } catch {
    return {};
  }
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const anonymous = field('Anonymous');
  const privateDirty = field('Private_Dirty');
  return { ...(anonymous !== undefined && { anonymous }), ...(privateDirty !== undefined && { privateDirty }) };
}

/** Resident bytes of the `[heap]` mapping (glibc's main arena grows there with brk), or undefined off Linux. */
export function mallocHeapRss(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined;
  }
  const match = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** This process's memory now, as one sample. */
export function sampleMemory(cycle: number): MemorySample {
  const usage = process.memoryUsage();
  const spaces: Record<string, number> = {};
  for (const space of getHeapSpaceStatistics()) spaces[space.space_name] = space.space_size;
  const sample: MemorySample = { cycle, rss: usage.rss, heapTotal: usage.heapTotal, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, v8Malloced: getHeapStatistics().malloced_memory, spaces, ...smapsRollup() };
  const mallocHeap = mallocHeapRss();
  return mallocHeap === undefined ? sample : { ...sample, mallocHeap };
}

/**
 * A function that appends one cycle's sample to the file that `env` names, or undefined when it
 * names none. A trace that cannot be written is given up with one warning: it must never stop watch.
 */
export function memoryTracer(env: NodeJS.ProcessEnv, warn: (message: string) => void): ((cycle: number, returned?: MemoryReturned) => void) | undefined {
  const file = env[MEMORY_TRACE_VARIABLE];
  if (file === undefined || file === '') return undefined;
  let broken = false;
  return (cycle, returned) => {
    if (broken) return;
    try {
      appendFileSync(file, `${JSON.stringify({ ...sampleMemory(cycle), ...returned })}\n`);
    } catch (error) {
      broken = true;
      warn(`${MEMORY_TRACE_VARIABLE}: cannot append to ${file} (${(error as Error).message}); memory is no longer traced`);
    }
  };
}
