/**
 * Spools on disk: a spool keeps its first entries in memory and, past a limit, moves them to a
 * file of one `rank<TAB>action JSON` line each in the run's spool folder, so a small site's plan
 * never touches the disk and a large one never holds its actions in memory.
 *
 * Reads are synchronous, a megabyte at a time: the plan is iterated by plain `for..of` loops
 * (manifests, digests, the plan file, apply's feed), and one read per megabyte costs nothing
 * next to the parse of its lines.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Action } from '../model/plan.ts';
import type { RankedSpool, SpoolFactory } from '../manifest/spool.ts';

/** Entries a spool holds in memory before it moves to a file. */
export const DEFAULT_MEMORY_ENTRIES = 8192;
const WRITE_CHUNK = 1 << 20;
const READ_CHUNK = 1 << 20;

/** Folders not yet removed, removed when the process exits (a short command need not release its plan). */
const open = new Set<SpoolFolder>();
let exitHook = false;

/**
 * Where a run's spools spill to: a folder of its own under `parent`, made at the first spill
 * only (a small plan creates nothing), named after this process so that a later run can tell a
 * dead run's folder ({@link removeDeadSpools}), and removed with every file in it by `remove()`
 * or when the process exits.
 */
export class SpoolFolder {
  readonly parent: string;
  readonly memoryEntries: number;
  #path: string | undefined;
  #files = 0;

  private constructor(parent: string, memoryEntries: number) {
    this.parent = parent;
    this.memoryEntries = memoryEntries;
  }

  static at(parent: string, memoryEntries = DEFAULT_MEMORY_ENTRIES): SpoolFolder {
    return new SpoolFolder(parent, memoryEntries);
  }

  /** The folder, once a spool spilled into it. */
  get path(): string | undefined {
    return this.#path;
  }

  nextFile(): string {
    if (this.#path === undefined) {
      mkdirSync(this.parent, { recursive: true, mode: 0o700 });
      this.#path = mkdtempSync(join(this.parent, `run-${process.pid}-`));
      open.add(this);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => {
          for (const folder of open) folder.remove();
        });
      }
    }
    this.#files += 1;
    return join(this.#path, `${this.#files}.jsonl`);
  }

  /** A factory of spools that spill into this folder. */
  get spools(): SpoolFactory {
    return () => new FileSpool(this);
  }

  /** Removes the folder and its files; spools made here must not be read afterwards. */
  remove(): void {
    open.delete(this);
    if (this.#path !== undefined) rmSync(this.#path, { recursive: true, force: true });
    this.#path = undefined;
  }
}

/** Removes spool folders of runs that are no longer alive (a killed run leaves its folder behind). */
export function removeDeadSpools(parent: string, alive: (pid: number) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^run-(\d+)-/.exec(name)?.[1];
    if (pid !== undefined && !alive(Number(pid))) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** Lines of a file, read a chunk at a time (UTF-8 split across chunks is joined by the decoder). */
function* fileLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for (;;) {
      const read = readSync(fd, buffer, 0, READ_CHUNK, null);
      if (read === 0) break;
      const text = rest + decoder.write(buffer.subarray(0, read));
      let start = 0;
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        yield text.slice(start, end);
        start = end + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest !== '') yield rest;
  } finally {
    closeSync(fd);
  }
}

/** One list of ranked actions in rank order: in memory while small, then in a file. */
export class FileSpool implements RankedSpool {
  readonly #folder: SpoolFolder;
  #ranks: number[] = [];
  #actions: Action[] = [];
  #file: string | undefined;
  #fd: number | undefined;
  #pending: string[] = [];
  #pendingLength = 0;
  #length = 0;
  bytes = 0;
  #lastRank = Number.NEGATIVE_INFINITY;

  constructor(folder: SpoolFolder) {
    this.#folder = folder;
  }

  get length(): number {
    return this.#length;
  }

  push(rank: number, action: Action): void {
    if (rank < this.#lastRank) throw new Error(`spool entries out of rank order: ${rank} after ${this.#lastRank}`);
    this.#lastRank = rank;
    this.#length += 1;
    this.bytes += action.size;
    if (this.#file === undefined) {
      this.#ranks.push(rank);
      this.#actions.push(action);
      if (this.#actions.length > this.#folder.memoryEntries) this.#spill(this.#folder);
      return;
    }
    const line = `${rank}\t${JSON.stringify(action)}\n`;
    this.#pending.push(line);
    this.#pendingLength += line.length;
    if (this.#pendingLength >= WRITE_CHUNK) this.#flush();
  }

  #spill(folder: SpoolFolder): void {
    this.#file = folder.nextFile();
    this.#fd = openSync(this.#file, 'w', 0o600);
    for (let i = 0; i < this.#actions.length; i++) this.#pending.push(`${this.#ranks[i]}\t${JSON.stringify(this.#actions[i])}\n`);
    this.#ranks = [];
    this.#actions = [];
    this.#flush();
  }

  #flush(): void {
    if (this.#pending.length === 0 || this.#fd === undefined) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#pendingLength = 0;
    writeSync(this.#fd, text);
  }

  /** The entries in rank order; may be called again. Writing after reading is allowed (the next read sees it). */
  *entries(): Generator<[rank: number, action: Action]> {
    if (this.#file === undefined) {
      for (let i = 0; i < this.#actions.length; i++) yield [this.#ranks[i] as number, this.#actions[i] as Action];
      return;
    }
    this.#flush();
    for (const line of fileLines(this.#file)) {
      const tab = line.indexOf('\t');
      yield [Number(line.slice(0, tab)), JSON.parse(line.slice(tab + 1)) as Action];
    }
  }

  /** Closes the file (kept until its folder is removed). */
  end(): void {
    this.#flush();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

