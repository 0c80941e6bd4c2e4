/**
 * Spools on disk: a spool keeps its first entries in memory and, past a limit, moves them to a
 * file of one line per action in the run's spool folder, so a small site's plan never touches
 * the disk and a large one never holds its actions in memory. A line is the rank and the
 * action's fields in a fixed order, separated by tabs (tab, newline and backslash escaped; an
 * absent field empty, a present one after `=`): about three times faster to write and read
 * back than JSON, which was most of the cost of a plan of a million actions.
 *
 * Reads are synchronous, a megabyte at a time: the plan is iterated by plain `for..of` loops
 * (manifests, digests, the plan file, apply's feed), and one read per megabyte costs nothing
 * next to the parse of its lines.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Action } from '../model/plan.ts';
import type { RankedSpool, SpoolFactory } from '../manifest/spool.ts';
import { removeAtExit } from './at-exit.ts';

/** Entries a spool holds in memory before it moves to a file. */
export const DEFAULT_MEMORY_ENTRIES = 8192;
const WRITE_CHUNK = 1 << 20;
const READ_CHUNK = 1 << 20;

const ESCAPED = /[\t\n\\]/;
const ESCAPES = /[\t\n\\]/g;
const UNESCAPES = /\\[tn\\]/g;

function escape(text: string): string {
  return ESCAPED.test(text) ? text.replace(ESCAPES, (char) => (char === '\t' ? '\\t' : char === '\n' ? '\\n' : '\\\\')) : text;
}

function unescape(text: string): string {
  return text.includes('\\') ? text.replace(UNESCAPES, (pair) => (pair === '\\t' ? '\t' : pair === '\\n' ? '\n' : '\\')) : text;
}

function optional(text: string | undefined): string {
  return text === undefined ? '' : `=${escape(text)}`;
}

function present(field: string): string | undefined {
  return field === '' ? undefined : unescape(field.slice(1));
}

/** One spool line (newline included). */
export function encodeLine(rank: number, a: Action): string {
  return `${rank}\t${a.kind}\t${escape(a.key)}\t${a.size}\t${escape(a.etag)}\t${optional(a.volume)}\t${a.afterDownload === true ? '1' : ''}\t${optional(a.reason)}\t${optional(a.adoptBy)}\t${optional(a.destinationEtag)}\t${optional(a.localProof)}\t${optional(a.replaces)}\n`;
}

/** The rank and action of one spool line (newline excluded). */
export function decodeLine(line: string): [number, Action] {
  const f = line.split('\t');
  const action: Action = { kind: f[1] as Action['kind'], key: unescape(f[2] as string), size: Number(f[3]), etag: unescape(f[4] as string) };
  const volume = present(f[5] as string);
  if (volume !== undefined) action.volume = volume;
  if (f[6] === '1') action.afterDownload = true;
  const reason = present(f[7] as string);
  if (reason !== undefined) action.reason = reason;
  const adoptBy = present(f[8] as string);
  if (adoptBy !== undefined) action.adoptBy = adoptBy as Action['adoptBy'];
  const destinationEtag = present(f[9] as string);
  if (destinationEtag !== undefined) action.destinationEtag = destinationEtag;
  const localProof = present(f[10] as string);
  if (localProof !== undefined) action.localProof = localProof as Action['localProof'];
  const replaces = present(f[11] as string);
  if (replaces !== undefined) action.replaces = replaces;
  return [Number(f[0]), action];
}

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
  /** Cancels the removal at exit (a short command need not release its plan). */
  #forget: (() => void) | undefined;

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
      this.#forget = removeAtExit(() => this.remove());
    }
    this.#files += 1;
    return join(this.#path, `${this.#files}.tsv`);
  }

  /** A factory of spools that spill into this folder. */
  get spools(): SpoolFactory {
    return () => new FileSpool(this);
  }

  /** Removes the folder and its files; spools made here must not be read afterwards. */
  remove(): void {
    this.#forget?.();
    this.#forget = undefined;
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
    // A run's spool folder, or a listing's sort file (src/inventory/extsort.ts).
    const pid = /^(?:run|dualsync-sort)-(\d+)-/.exec(name)?.[1];
    if (pid !== undefined && !alive(Number(pid))) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/**
 * Lines of a file, read a chunk at a time. Each line is decoded from its own bytes (a newline
 * byte never occurs inside a UTF-8 sequence), so it is a string of its own: a slice of a
 * megabyte chunk would keep the whole chunk alive as long as any action read from it (measured:
 * 842 MiB and 5 s of garbage collection at a million actions).
 */
function* fileLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let rest: Buffer | undefined;
    for (;;) {
      const read = readSync(fd, buffer, 0, READ_CHUNK, null);
      if (read === 0) break;
      let start = 0;
      for (let end = buffer.indexOf(10, 0); end !== -1 && end < read; end = buffer.indexOf(10, start)) {
        if (rest !== undefined) {
          yield Buffer.concat([rest, buffer.subarray(0, end)]).toString('utf8');
          rest = undefined;
        } else {
          yield buffer.toString('utf8', start, end);
        }
        start = end + 1;
      }
      if (start < read) {
        // A line cut by the chunk: its bytes are copied, since the buffer is read into again.
        const tail = Buffer.from(buffer.subarray(start, read));
        rest = rest === undefined ? tail : Buffer.concat([rest, tail]);
      }
    }
    if (rest !== undefined && rest.length > 0) yield rest.toString('utf8');
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
    const line = encodeLine(rank, action);
    this.#pending.push(line);
    this.#pendingLength += line.length;
    if (this.#pendingLength >= WRITE_CHUNK) this.#flush();
  }

  #spill(folder: SpoolFolder): void {
    this.#file = folder.nextFile();
    this.#fd = openSync(this.#file, 'w', 0o600);
    for (let i = 0; i < this.#actions.length; i++) this.#pending.push(encodeLine(this.#ranks[i] as number, this.#actions[i] as Action));
    this.#ranks = [];
    this.#actions = [];
    this.#flush();
  }

  #flush(): void {
    if (this.#pending.length === 0 || this.#fd === undefined) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#pendingLength = 0;
    try {
      writeSync(this.#fd, text);
    } catch (error) {
      // A write through a descriptor names no file: name it, so that a full disk is told as the state directory's.
      const errno = error as NodeJS.ErrnoException;
      if (errno.code !== undefined && errno.path === undefined) errno.path = this.#file;
      throw error;
    }
  }

  /** The entries in rank order; may be called again. Writing after reading is allowed (the next read sees it). */
  *entries(): Generator<[rank: number, action: Action]> {
    if (this.#file === undefined) {
      for (let i = 0; i < this.#actions.length; i++) yield [this.#ranks[i] as number, this.#actions[i] as Action];
      return;
    }
    this.#flush();
    for (const line of fileLines(this.#file)) yield decodeLine(line);
  }

  /** Closes the file (kept until its folder is removed). */
  end(): void {
    this.#flush();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

