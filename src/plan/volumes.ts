/**
 * Where downloads land: room per filesystem (free minus reserve minus what this plan already put
 * there), spreading so that several disks write at once, file/prefix collisions (`a` and `a/b`
 * cannot both be files on one volume), and symbolic links the scan met (no download goes through
 * one, nor replaces one). Volumes on one filesystem (one `st_dev`) share its room: its free space
 * minus the largest reserve of its volumes, booked once. Pure.
 */
import type { LocalFile, LocalLink, VolumeInfo } from '../model/objects.ts';
import { TEMP_DIR } from '../model/volume-layout.ts';
import { compareKeys } from './keys.ts';
import type { PlanWarning, VolumePlan } from '../model/plan.ts';

/** One filesystem's room while a plan is being made, shared by the books of its volumes. */
export interface DeviceBook {
  /** The least free space its volumes reported (they were measured one after the other). */
  freeBytes: number;
  /** The largest reserve of its volumes: the strictest one holds for the whole filesystem. */
  reserveBytes: number;
  plannedBytes: number;
  /** Roots of its volumes, in root order. */
  roots: string[];
}

/** One volume while a plan is being made. Key arrays stay in key order, so lookups are binary searches. */
export interface VolumeBook {
  info: VolumeInfo;
  /** The room this volume shares with the other volumes on its filesystem (its own when alone). */
  device: DeviceBook;
  plannedBytes: number;
  plannedCount: number;
  /** Keys of the files already on the volume (any state), sorted. */
  localKeys: string[];
  /** Keys this plan downloads to the volume, appended in key order. */
  plannedKeys: string[];
  /** Paths of the symbolic links below the root, sorted. */
  links: string[];
}

/**
 * Why a download found no volume: out of room everywhere, only volumes where its path collides,
 * or only volumes where its path passes through a symbolic link (`throughLink`: the link's path).
 */
export type Placement = { volume: VolumeBook } | { collidesWith: string } | { noRoom: true } | { throughLink: string };

/** Volume books in root order, one per distinct root (later duplicates are reported and dropped). */
export function openVolumeBooks(volumes: readonly VolumeInfo[], sortedLocals: readonly LocalFile[], warnings: PlanWarning[], links: readonly LocalLink[] = []): VolumeBook[] {
  const byRoot = new Map<string, VolumeBook>();
  const devices = new Map<string, DeviceBook>();
  for (const info of [...volumes].sort((a, b) => compareKeys(a.root, b.root))) {
    if (byRoot.has(info.root)) {
      warnings.push({ code: 'volume-listed-twice', volume: info.root });
      continue;
    }
    byRoot.set(info.root, { info, device: deviceBook(devices, info), plannedBytes: 0, plannedCount: 0, localKeys: [], plannedKeys: [], links: [] });
  }
  for (const file of sortedLocals) byRoot.get(file.volume)?.localKeys.push(file.key);
  for (const link of links) byRoot.get(link.volume)?.links.push(link.path);
  for (const book of byRoot.values()) book.links.sort(compareKeys);
  return [...byRoot.values()];
}

/** The device book of a volume: shared with earlier volumes of the same `st_dev`, else a new one. */
function deviceBook(devices: Map<string, DeviceBook>, info: VolumeInfo): DeviceBook {
  const own = { freeBytes: info.freeBytes, reserveBytes: info.reserveBytes, plannedBytes: 0, roots: [info.root] };
  if (info.device === undefined) return own;
  const shared = devices.get(info.device);
  if (shared === undefined) {
    devices.set(info.device, own);
    return own;
  }
  shared.freeBytes = Math.min(shared.freeBytes, info.freeBytes);
  shared.reserveBytes = Math.max(shared.reserveBytes, info.reserveBytes);
  shared.roots.push(info.root);
  return shared;
}

/**
 * Bytes the volume can still take in this plan: its filesystem's free space minus the largest
 * reserve there minus what this plan already put on any volume of it; negative when the reserve
 * is already eaten into.
 */
export function roomLeft(book: VolumeBook): number {
  return book.device.freeBytes - book.device.reserveBytes - book.device.plannedBytes;
}

/** Index of the first element >= target in an array sorted by {@link compareKeys}. */
function lowerBound(sorted: readonly string[], target: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(sorted[mid] as string, target) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Whether an array sorted by {@link compareKeys} holds `key` (binary search). */
export function sortedContains(sorted: readonly string[], key: string): boolean {
  return sorted[lowerBound(sorted, key)] === key;
}

function firstBelow(sorted: readonly string[], folder: string): string | undefined {
  const found = sorted[lowerBound(sorted, folder)];
  return found !== undefined && found.startsWith(folder) ? found : undefined;
}

/**
 * The key on this volume that stops `key` from becoming a file there: a file at one of its
 * parent folders (`a` for `a/b`), or a file below it (`a/b` for `a`). The same key is no
 * collision: a re-download replaces it.
 */
export function collision(book: VolumeBook, key: string): string | undefined {
  for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
    const parent = key.slice(0, slash);
    if (sortedContains(book.localKeys, parent) || sortedContains(book.plannedKeys, parent)) return parent;
  }
  const folder = `${key}/`;
  return firstBelow(book.localKeys, folder) ?? firstBelow(book.plannedKeys, folder);
}

/** The symbolic link on this volume that `key`'s path passes through: a parent folder, or the path itself. */
export function linkOnPath(book: VolumeBook, key: string): string | undefined {
  if (book.links.length === 0) return undefined;
  for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
    const parent = key.slice(0, slash);
    if (sortedContains(book.links, parent)) return parent;
  }
  return sortedContains(book.links, key) ? key : undefined;
}

/** The symbolic link on this volume that a download of `key` would pass through: the temporary folder, or one on its path. */
export function linkOnTheWay(book: VolumeBook, key: string): string | undefined {
  if (book.links.length === 0) return undefined;
  return sortedContains(book.links, TEMP_DIR) ? TEMP_DIR : linkOnPath(book, key);
}

/**
 * The volume a download of `size` bytes goes to: `preferred` when it has room (a re-download
 * stays where its copy was), else the volume with the fewest planned bytes on its filesystem, then
 * on itself, that has room and no collision (ties: lowest root), so the disks fill evenly and
 * write in parallel (two folders of one disk are one disk). Collisions are
 * looked for only when `mayCollide` (the caller knows most keys cannot collide at all).
 */
export function placeDownload(books: readonly VolumeBook[], key: string, size: number, preferred: string | undefined, mayCollide: boolean): Placement {
  let collidesWith: string | undefined;
  let throughLink: string | undefined;
  let outOfRoom = false;
  const usable = (book: VolumeBook): boolean => {
    const link = linkOnTheWay(book, key);
    if (link !== undefined) {
      throughLink ??= `${book.info.root}/${link}`;
      return false;
    }
    if (size > roomLeft(book)) {
      outOfRoom = true;
      return false;
    }
    if (!mayCollide) return true;
    const other = collision(book, key);
    if (other === undefined) return true;
    collidesWith ??= other;
    return false;
  };
  if (preferred !== undefined) {
    const book = books.find((candidate) => candidate.info.root === preferred);
    if (book !== undefined && usable(book)) return { volume: book };
  }
  const emptier = (book: VolumeBook, than: VolumeBook): boolean =>
    book.device.plannedBytes < than.device.plannedBytes || (book.device.plannedBytes === than.device.plannedBytes && book.plannedBytes < than.plannedBytes);
  let best: VolumeBook | undefined;
  for (const book of books) {
    if ((best === undefined || emptier(book, best)) && usable(book)) best = book;
  }
  if (best !== undefined) return { volume: best };
  // Room may come back and a collision may clear within a few plans; a link stays until someone removes it.
  if (collidesWith !== undefined) return { collidesWith };
  if (throughLink !== undefined && !outOfRoom) return { throughLink };
  return { noRoom: true };
}

/** Books the download on the volume. */
export function recordDownload(book: VolumeBook, key: string, size: number): void {
  book.plannedBytes += size;
  book.device.plannedBytes += size;
  book.plannedCount += 1;
  book.plannedKeys.push(key);
}

/** The per-volume part of a plan. */
export function volumePlans(books: readonly VolumeBook[]): VolumePlan[] {
  return books.map((book) => ({
    root: book.info.root,
    freeBytes: book.info.freeBytes,
    reserveBytes: book.info.reserveBytes,
    plannedDownloadBytes: book.plannedBytes,
    plannedDownloads: book.plannedCount,
    ...(book.device.roots.length > 1 && book.info.device !== undefined ? { device: book.info.device } : {}),
  }));
}
