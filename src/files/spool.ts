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
 *
 * A spool is the plan: one that reads back other than it was written would be applied as
 * another plan. So every write is whole or an error (a full disk), a spool checks its file's
 * length when it is ended, and a read checks each line's fields and the count of lines at the
 * end: a cut or changed file is an error (E_SPOOL_CORRUPT), never a shorter plan.
 */
import { closeSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { opError } from '../errors.ts';
import type { Action, ActionKind } from '../model/plan.ts';
import type { RankedSpool, SpoolFactory } from '../model/spool.ts';
import { removeAtExit } from './at-exit.ts';
import { fileLines, LineFileError } from './lines.ts';
import { writeWhole } from './write-whole.ts';

/** Entries a spool holds in memory before it moves to a file. */
export const DEFAULT_MEMORY_ENTRIES = 8192;
const WRITE_CHUNK = 1 << 20;

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

/** One spool line (newline included). */
export function encodeLine(rank: number, a: Action): string {
  return `${rank}\t${a.kind}\t${escape(a.key)}\t${a.size}\t${escape(a.etag)}\t${optional(a.volume)}\t${a.afterDownload === true ? '1' : ''}\t${optional(a.reason === undefined ? undefined : JSON.stringify(a.reason))}\t${optional(a.adoptBy)}\t${optional(a.destinationEtag)}\t${optional(a.localProof)}\t${optional(a.replaces)}\n`;
}

const KINDS: ReadonlySet<string> = new Set<ActionKind>(['download', 'redownload', 'upload', 'purge', 'adopt', 'skip']);
const FIELDS = 12;

/** A whole number written by {@link encodeLine}: digits only, within 2^53 (a NaN, a sign or a cut number is refused). */
function wholeNumber(field: string, name: string): number {
  const value = /^\d{1,16}$/.test(field) ? Number(field) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new Error(`its ${name} ${JSON.stringify(field.slice(0, 40))} is not a whole number of at least 0`);
  return value;
}

/** An optional field: empty when absent, else `=` and the text. */
function present(field: string, name: string): string | undefined {
  if (field === '') return undefined;
  if (field.charCodeAt(0) !== 0x3d) throw new Error(`its ${name} field does not start with '='`);
  return unescape(field.slice(1));
}

/** The rank and action of one spool line (newline excluded); an Error saying what is wrong with a line {@link encodeLine} did not write. */
export function decodeLine(line: string): [number, Action] {
  const f = line.split('\t');
  if (f.length !== FIELDS) throw new Error(`it has ${f.length} fields, not ${FIELDS}`);
  const rank = wholeNumber(f[0] as string, 'rank');
  if (!KINDS.has(f[1] as string)) throw new Error(`its kind ${JSON.stringify((f[1] as string).slice(0, 40))} is not an action's`);
  const action: Action = { kind: f[1] as Action['kind'], key: unescape(f[2] as string), size: wholeNumber(f[3] as string, 'size'), etag: unescape(f[4] as string) };
  const volume = present(f[5] as string, 'volume');
  if (volume !== undefined) action.volume = volume;
  if (f[6] === '1') action.afterDownload = true;
  else if (f[6] !== '') throw new Error('its afterDownload field is neither 1 nor empty');
  const reason = present(f[7] as string, 'reason');
  // A reason is JSON (its code and facts), which holds no tab or line break.
  if (reason !== undefined) action.reason = JSON.parse(reason) as Action['reason'];
  const adoptBy = present(f[8] as string, 'adoptBy');
  if (adoptBy !== undefined) action.adoptBy = adoptBy as Action['adoptBy'];
  const destinationEtag = present(f[9] as string, 'destinationEtag');
  if (destinationEtag !== undefined) action.destinationEtag = destinationEtag;
  const localProof = present(f[10] as string, 'localProof');
  if (localProof !== undefined) action.localProof = localProof as Action['localProof'];
  const replaces = present(f[11] as string, 'replaces');
  if (replaces !== undefined) action.replaces = replaces;
  return [rank, action];
}

/** A spool file that does not read back as it was written: the run stops before it acts on another plan. */
function spoolCorrupt(file: string, why: string, cause?: unknown): Error {
  return opError('E_SPOOL_CORRUPT', `the spool file ${file} does not read back as it was written: ${why}`, {
    hint: "run again (the plan is made anew); if it happens again, check the disk that holds the state directory (dmesg, its free space, fsck)",
    retryable: false,
    cause,
  });
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
  /** Bytes written to the file, all of them (a write is whole or an error). */
  #written = 0;
  /** The write that failed: the file lacks lines, so the spool refuses every later use. */
  #failed: unknown;

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
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#pending.length === 0 || this.#fd === undefined) return;
    const bytes = Buffer.from(this.#pending.join(''), 'utf8');
    this.#pending = [];
    this.#pendingLength = 0;
    try {
      // Named in the error, so that a full disk is told as the state directory's.
      writeWhole(this.#fd, bytes, this.#file as string);
    } catch (error) {
      // Lines were lost: this spool can never again read back as the plan.
      this.#failed = error;
      throw error;
    }
    this.#written += bytes.length;
  }

  /** The entries in rank order; may be called again. Writing after reading is allowed (the next read sees it). */
  *entries(): Generator<[rank: number, action: Action]> {
    if (this.#file === undefined) {
      for (let i = 0; i < this.#actions.length; i++) yield [this.#ranks[i] as number, this.#actions[i] as Action];
      return;
    }
    this.#flush();
    const file = this.#file;
    let read = 0;
    try {
      for (const line of fileLines(file, { unterminated: 'error' })) {
        let entry: [number, Action];
        try {
          entry = decodeLine(line);
        } catch (error) {
          throw spoolCorrupt(file, `line ${read + 1}: ${(error as Error).message}`);
        }
        read += 1;
        yield entry;
      }
    } catch (error) {
      if (error instanceof LineFileError) throw spoolCorrupt(file, error.message.slice(file.length + 2), error);
      throw error;
    }
    // Every line is whole, yet lines are missing (or added): the count kept while writing tells.
    if (read !== this.#length) throw spoolCorrupt(file, `${read} entries read back of the ${this.#length} written`);
  }

  /** Closes the file (kept until its folder is removed), once it is checked to hold every byte written to it. */
  end(): void {
    this.#flush();
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      const size = fstatSync(fd).size;
      if (size !== this.#written) throw spoolCorrupt(this.#file as string, `it holds ${size} bytes of the ${this.#written} written to it`);
    } finally {
      closeSync(fd);
    }
  }
}
