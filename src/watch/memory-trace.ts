/**
 * A per-cycle record of watch's memory, for the soak bench (bench/soak.ts) and for a site that
 * wants to know what grows: `DUALSYNC_MEMORY_TRACE=FILE` appends one JSON line per cycle with
 * process.memoryUsage(), V8's heap spaces and, on Linux, /proc/self/smaps_rollup, the anonymous
 * memory of /proc/self/smaps by kind (`mappings`) and the threads by name; when the ledger's
 * writer runs, its worker's V8 heap too. Unset, watch makes no tracer at all, so it costs nothing.
 */
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics, type HeapInfo } from 'node:v8';
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
  /** Resident size of each V8 heap space: a space fills its committed size as its pages are first touched. */
  spacesPhysical?: Record<string, number>;
  /** What V8 itself holds through malloc (compiler zones and the like), outside its heap. */
  v8Malloced: number;
  /** Resident part of V8's heap (total_physical_size): with the writer's, what of `mappings.other` is V8's. */
  v8Physical: number;
  /** From /proc/self/smaps_rollup: anonymous memory and private dirty pages (absent off Linux). */
  anonymous?: number;
  privateDirty?: number;
  /** Resident pages of the C allocator's main heap (the `[heap]` mapping of /proc/self/smaps): malloc's, not V8's. */
  mallocHeap?: number;
  /** What handing memory back after the cycle did, just before this sample (malloc-trim.ts); absent when turned off. */
  trimmed?: MemoryReturned['trimmed'];
  returnMs?: MemoryReturned['returnMs'];
  /** Resident anonymous memory by kind of mapping (absent off Linux): see `anonymousMappings`. */
  mappings?: AnonymousMappings;
  /** This process's threads, counted by name (/proc/self/task/N/comm): a thread that leaks shows here. */
  threads?: Record<string, number>;
  /** The ledger writer's worker thread: its own V8 isolate, which watch's collection does not reach. */
  writer?: WriterHeap;
}

/** The ledger writer's V8 heap, in bytes (Worker#getHeapStatistics). */
export interface WriterHeap {
  totalHeapSize: number;
  /** Resident part of its heap: what the writer's isolate adds to `mappings.other`. */
  totalPhysicalSize: number;
  usedHeapSize: number;
  mallocedMemory: number;
  externalMemory: number;
}

/** Resident bytes and mapping count of one kind of anonymous mapping. */
export interface MappingKind {
  rss: number;
  count: number;
}

/**
 * Resident anonymous memory by kind, to tell apart what /proc/self/smaps_rollup sums:
 * - `mainHeap`: `[heap]`, glibc's main arena (the main thread's malloc);
 * - `arenas`: glibc's other arenas, one or more per thread that mallocs (the ledger writer,
 *   libuv's pool, V8's workers): each heap of such an arena is a 64 MiB reservation at a 64 MiB
 *   boundary, its used part readable and writable, the rest `---p`;
 * - `threadStacks`: writable mappings just above a small `---p` guard (pthread stacks), and `[stack]`;
 * - `other`: the rest (V8's heap pages, malloc's mmapped chunks above its threshold, buffers),
 *   with the largest few by resident size, so that one that grows can be followed.
 */
export interface AnonymousMappings {
  mainHeap: MappingKind;
  arenas: MappingKind;
  threadStacks: MappingKind;
  other: MappingKind;
  /** The largest `other` mappings by resident size: start address (hex), size and rss in bytes. */
  largestOther: { start: string; size: number; rss: number }[];
}

const ARENA_HEAP_SIZE = 64 * 1024 * 1024;
/** pthread's default guard is one page; anything up to this is taken as a guard. */
const GUARD_MAX = 64 * 1024;

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  rss: number;
  anonymous: number;
}

/** The mappings of an smaps text, in address order, with their resident and anonymous bytes. */
function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of text.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      current = { start: BigInt(`0x${header[1]!}`), end: BigInt(`0x${header[2]!}`), perms: header[3]!, name: header[4]!, rss: 0, anonymous: 0 };
      mappings.push(current);
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB$/.exec(line);
    if (field && current) current[field[1] === 'Rss' ? 'rss' : 'anonymous'] = Number(field[2]) * 1024;
  }
  return mappings;
}

/** Groups the anonymous mappings of an smaps text by kind (see AnonymousMappings). Exported for its test. */
export function anonymousMappings(text: string, largest = 5): AnonymousMappings {
  const mappings = parseSmaps(text);
  const kinds: AnonymousMappings = { mainHeap: { rss: 0, count: 0 }, arenas: { rss: 0, count: 0 }, threadStacks: { rss: 0, count: 0 }, other: { rss: 0, count: 0 }, largestOther: [] };
  const others: Mapping[] = [];
  const add = (kind: MappingKind, mapping: Mapping) => {
    kind.rss += mapping.rss;
    kind.count++;
  };
  for (let i = 0; i < mappings.length; i++) {
    const mapping = mappings[i]!;
    if (mapping.name === '[heap]') add(kinds.mainHeap, mapping);
    else if (mapping.name === '[stack]') add(kinds.threadStacks, mapping);
    else if (!isAnonymousName(mapping.name)) continue;
    else if (mapping.anonymous === 0 && mapping.rss === 0) continue;
    else if (isArenaHeap(mapping, mappings[i + 1])) add(kinds.arenas, mapping);
    else if (isThreadStack(mapping, mappings[i - 1])) add(kinds.threadStacks, mapping);
    else {
      add(kinds.other, mapping);
      others.push(mapping);
    }
  }
  others.sort((a, b) => b.rss - a.rss);
  kinds.largestOther = others.slice(0, largest).map((m) => ({ start: m.start.toString(16), size: Number(m.end - m.start), rss: m.rss }));
  return kinds;
}

function isAnonymousName(name: string): boolean {
  return name === '' || name.startsWith('[anon');
}

/** A glibc arena heap: starts at a 64 MiB boundary, and with the `---p` rest after it spans 64 MiB. */
function isArenaHeap(mapping: Mapping, next: Mapping | undefined): boolean {
  if (mapping.perms !== 'rw-p' || mapping.start % BigInt(ARENA_HEAP_SIZE) !== 0n) return false;
  const size = mapping.end - mapping.start;
  if (size === BigInt(ARENA_HEAP_SIZE)) return true;
  return next !== undefined && next.start === mapping.end && next.perms === '---p' && isAnonymousName(next.name) && next.end - mapping.start === BigInt(ARENA_HEAP_SIZE);
}

/** A pthread stack: writable, right above a small `---p` guard. */
function isThreadStack(mapping: Mapping, previous: Mapping | undefined): boolean {
  return mapping.perms === 'rw-p' && previous !== undefined && previous.end === mapping.start && previous.perms === '---p' && isAnonymousName(previous.name) && previous.end - previous.start <= BigInt(GUARD_MAX);
}

/** This process's threads counted by name, or undefined off Linux. */
function threadNames(): Record<string, number> | undefined {
  try {
    const names: Record<string, number> = {};
    for (const task of readdirSync('/proc/self/task')) {
      let name = '?';
      try {
        name = readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim();
      } catch {
        // Ended between the listing and the read: counted unnamed.
      }
      names[name] = (names[name] ?? 0) + 1;
    }
    return names;
  } catch {
    return undefined;
  }
}

/** The figures of the writer's heap that the trace keeps. */
export function writerHeap(info: HeapInfo): WriterHeap {
  return { totalHeapSize: info.total_heap_size, totalPhysicalSize: info.total_physical_size, usedHeapSize: info.used_heap_size, mallocedMemory: info.malloced_memory, externalMemory: info.external_memory };
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

function readSmaps(): string | undefined {
  try {
    return readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined;
  }
}

/** Resident bytes of the `[heap]` mapping (glibc's main arena grows there with brk), or undefined off Linux. */
export function mallocHeapRss(text = readSmaps()): number | undefined {
  if (text === undefined) return undefined;
  const match = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** This process's memory now, as one sample; `writer` is the ledger writer's heap when it runs. */
export function sampleMemory(cycle: number, writer?: HeapInfo): MemorySample {
  const usage = process.memoryUsage();
  const spaces: Record<string, number> = {};
  const spacesPhysical: Record<string, number> = {};
  for (const space of getHeapSpaceStatistics()) {
    spaces[space.space_name] = space.space_size;
    spacesPhysical[space.space_name] = space.physical_space_size;
  }
  const heap = getHeapStatistics();
  const sample: MemorySample = { cycle, rss: usage.rss, heapTotal: usage.heapTotal, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, v8Malloced: heap.malloced_memory, v8Physical: heap.total_physical_size, spaces, spacesPhysical, ...smapsRollup() };
  const smaps = readSmaps();
  const mallocHeap = mallocHeapRss(smaps);
  if (mallocHeap !== undefined) sample.mallocHeap = mallocHeap;
  if (smaps !== undefined) sample.mappings = anonymousMappings(smaps);
  const threads = threadNames();
  if (threads !== undefined) sample.threads = threads;
  if (writer !== undefined) sample.writer = writerHeap(writer);
  return sample;
}

/** Appends one cycle's sample: with what handing memory back did, and the ledger writer's heap when it runs. */
export type MemoryTracer = (cycle: number, returned?: MemoryReturned, writer?: HeapInfo) => void;

/**
 * A function that appends one cycle's sample to the file that `env` names, or undefined when it
 * names none. A trace that cannot be written is given up with one warning: it must never stop watch.
 */
export function memoryTracer(env: NodeJS.ProcessEnv, warn: (message: string) => void): MemoryTracer | undefined {
  const file = env[MEMORY_TRACE_VARIABLE];
  if (file === undefined || file === '') return undefined;
  let broken = false;
  return (cycle, returned, writer) => {
    if (broken) return;
    try {
      appendFileSync(file, `${JSON.stringify({ ...sampleMemory(cycle, writer), ...returned })}\n`);
    } catch (error) {
      broken = true;
      warn(`${MEMORY_TRACE_VARIABLE}: cannot append to ${file} (${(error as Error).message}); memory is no longer traced`);
    }
  };
}
